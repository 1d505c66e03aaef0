//! Redis away, slow or full: 503 with Retry-After within a bound, no guard left behind,
//! recovery on its own.

use std::time::{Duration, Instant};

use clerk_sync_test_support::Proxy;
use tokio::net::TcpListener;

use crate::helpers::{Delivery, config, spawn_with};

#[tokio::test]
async fn redis_unreachable_is_503_with_retry_after_within_a_bound() {
    // A port nothing listens on: bind one, learn its number, close it.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_with(config(&format!("redis://127.0.0.1:{port}"))).await;

    let started = Instant::now();
    let response = app.post(&Delivery::signed("msg_down", b"{}")).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"], "queue_unavailable");

    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let live = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn the_receiver_recovers_by_itself_when_redis_comes_back() {
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let app = spawn_with(config(&format!("redis://127.0.0.1:{}", proxy.port()))).await;

    assert_eq!(
        app.post(&Delivery::signed("msg_a", b"{}")).await.status(),
        202
    );

    proxy.down();
    let started = Instant::now();
    let during = app.post(&Delivery::signed("msg_b", b"{}")).await;
    assert_eq!(during.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5));

    proxy.up();
    // Redelivered until accepted, as Svix does.
    clerk_sync_test_support::eventually(
        Duration::from_secs(30),
        "the retried delivery accepted once Redis is back",
        || async { app.post(&Delivery::signed("msg_b", b"{}")).await.status() == 202 },
    )
    .await;
    assert_eq!(app.events().await.len(), 2);
}

#[tokio::test]
async fn a_failed_xadd_leaves_no_duplicate_guard_behind() {
    let app = crate::helpers::spawn_app().await;
    let mut conn = app.redis().await;
    // A key of the wrong type makes XADD fail inside the script.
    let _: () = clerk_sync_queue::redis::cmd("SET")
        .arg(app.keys.events())
        .arg("not a stream")
        .query_async(&mut conn)
        .await
        .unwrap();
    let delivery = Delivery::signed("msg_wrongtype", b"{}");
    assert_eq!(app.post(&delivery).await.status(), 503);
    let guards: Vec<String> = clerk_sync_queue::redis::cmd("KEYS")
        .arg(app.keys.guard_pattern())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        guards.is_empty(),
        "the guard must not outlive a failed XADD: {guards:?}"
    );

    let _: () = clerk_sync_queue::redis::cmd("DEL")
        .arg(app.keys.events())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        app.post(&delivery).await.status(),
        202,
        "the retry is not a duplicate"
    );
}

#[tokio::test]
async fn a_stream_at_its_high_water_mark_is_503() {
    let mut cfg = config(&crate::helpers::redis_url());
    cfg.enqueue.high_water = 2;
    let app = spawn_with(cfg).await;
    for i in 0..2 {
        let d = Delivery::signed(&format!("msg_hw_{i}"), b"{}");
        assert_eq!(app.post(&d).await.status(), 202);
    }
    let refused = app.post(&Delivery::signed("msg_hw_2", b"{}")).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_redis_that_accepts_and_never_answers_is_503_within_the_bound() {
    // Accepts connections and reads nothing: a Redis stalled by a long command or a network
    // that swallows packets.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let app = spawn_with(config(&format!("redis://127.0.0.1:{port}"))).await;
    let started = Instant::now();
    let response = app.post(&Delivery::signed("msg_stalled", b"{}")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_connection_cut_while_idle_costs_no_request_a_503() {
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let app = spawn_with(config(&format!("redis://127.0.0.1:{}", proxy.port()))).await;
    // Enough deliveries that every shared connection is open.
    for n in 0..4 {
        let delivery = Delivery::signed(&format!("msg_before_{n}"), b"{}");
        assert_eq!(app.post(&delivery).await.status(), 202);
    }

    // As when Redis restarts or a load balancer drops idle connections.
    proxy.down();
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.up();

    for n in 0..4 {
        let delivery = Delivery::signed(&format!("msg_after_{n}"), b"{}");
        assert_eq!(
            app.post(&delivery).await.status(),
            202,
            "delivery {n} after the cut"
        );
    }
    assert_eq!(app.events().await.len(), 8);
}
