//! Hostile clients: slow, idle by the thousand, oversized, malformed, replayed. Each gets the
//! SPEC's answer (or is cut off), writes nothing to Redis, and leaves everyone else served.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clerk_sync_receiver::Clock;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{Delivery, SECRET, TestApp, config, now, redis_url, spawn_with};

async fn app() -> TestApp {
    let mut cfg = config(&redis_url());
    cfg.body_read_timeout = Duration::from_secs(2);
    spawn_with(cfg).await
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads whatever the server sends until it closes or `within` passes.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_slow_body_gets_408_while_other_clients_are_served() {
    let app = app().await;
    let delivery = Delivery::signed("msg_slow", &[b'x'; 100]);
    let mut slow = TcpStream::connect(host_port(&app)).await.unwrap();
    let head = format!(
        "POST /webhooks/clerk HTTP/1.1\r\nHost: x\r\nsvix-id: {}\r\nsvix-timestamp: {}\r\nsvix-signature: {}\r\ncontent-length: 100\r\n\r\nxxxxxxxxxx",
        delivery.id, delivery.timestamp, delivery.signature
    );
    slow.write_all(head.as_bytes()).await.unwrap();

    let started = Instant::now();
    let other = app.post(&Delivery::signed("msg_fast", b"{}")).await;
    assert_eq!(other.status(), 202);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the slow client held nobody up"
    );

    let answer = read_until_closed(&mut slow, Duration::from_secs(6))
        .await
        .expect("cut off in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let ids: Vec<String> = app
        .events()
        .await
        .into_iter()
        .map(|(_, f)| String::from_utf8(f["svix_id"].clone()).unwrap())
        .collect();
    assert_eq!(ids, vec!["msg_fast"]);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = app().await;
    let mut slow = TcpStream::connect(host_port(&app)).await.unwrap();
    slow.write_all(b"POST /webhooks/clerk HTTP/1.1\r\nHost: x\r\nsvix-id: msg_")
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        app.post(&Delivery::signed("msg_fast", b"{}"))
            .await
            .status(),
        202
    );
    let answer = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "the connection was closed");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn thousands_of_idle_connections_do_not_starve_a_real_delivery() {
    let app = app().await;
    let mut idle = Vec::new();
    for _ in 0..3000 {
        idle.push(TcpStream::connect(host_port(&app)).await.unwrap());
    }
    let started = Instant::now();
    let response = app.post(&Delivery::signed("msg_through", b"{}")).await;
    assert_eq!(response.status(), 202);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

#[tokio::test]
async fn heads_past_128_kib_are_refused_with_431_and_write_nothing() {
    let app = app().await;
    let good = Delivery::signed("msg_big_header", b"{}");
    let post = |name: &'static str, value: String| {
        app.client
            .post(format!("{}/webhooks/clerk", app.address))
            .header("svix-id", &good.id)
            .header("svix-timestamp", &good.timestamp)
            .header("svix-signature", &good.signature)
            .header(name, value)
            .body("{}")
            .send()
    };
    // A head under the bound is read: an unrelated large header does not spoil a delivery.
    let padded = post("x-padding", "p".repeat(64 * 1024)).await.unwrap();
    assert_eq!(padded.status(), 202);
    // Past it, the request is refused before any of it is verified or stored. The server
    // answers 431 and closes while the client may still be sending the head, so the client
    // sees either the 431 or the connection reset after it: HTTP allows both.
    for (name, value) in [
        ("x-padding", "p".repeat(200 * 1024)),
        ("svix-signature", format!("v1,{}", "A".repeat(200 * 1024))),
    ] {
        match post(name, value).await {
            Ok(refused) => assert_eq!(refused.status(), 431, "{name}"),
            Err(error) => assert!(
                !error.is_timeout() && (error.is_request() || error.is_connect()),
                "{name}: {error:?}"
            ),
        }
    }
    assert_eq!(app.events().await.len(), 1);
    assert_eq!(
        app.post(&Delivery::signed("msg_after", b"{}"))
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn a_signature_header_sent_twice_is_malformed() {
    let app = app().await;
    let good = Delivery::signed("msg_twice", b"{}");
    for (first, second) in [
        ("v1,AAAA", good.signature.as_str()),
        (good.signature.as_str(), "v1,AAAA"),
    ] {
        let response = app
            .client
            .post(format!("{}/webhooks/clerk", app.address))
            .header("svix-id", &good.id)
            .header("svix-timestamp", &good.timestamp)
            .header("svix-signature", first)
            .header("svix-signature", second)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["error"], "malformed_header");
        assert!(
            json["message"].as_str().unwrap().contains("more than once"),
            "{json}"
        );
    }
    let mixed = app
        .client
        .post(format!("{}/webhooks/clerk", app.address))
        .header("svix-id", &good.id)
        .header("webhook-id", &good.id)
        .header("svix-timestamp", &good.timestamp)
        .header("svix-signature", &good.signature)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        mixed.status(),
        400,
        "both spellings at once are two values too"
    );
    assert_eq!(app.key_count().await, 0);
}

#[tokio::test]
async fn header_bytes_that_are_not_utf8_are_malformed() {
    let app = app().await;
    let good = Delivery::signed("msg_bytes", b"{}");
    let response = app
        .client
        .post(format!("{}/webhooks/clerk", app.address))
        .header(
            "svix-id",
            reqwest::header::HeaderValue::from_bytes(b"msg_\xff\xfe").unwrap(),
        )
        .header("svix-timestamp", &good.timestamp)
        .header("svix-signature", &good.signature)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "malformed_header"
    );
    assert_eq!(app.key_count().await, 0);
}

#[tokio::test]
async fn deeply_nested_json_is_queued_without_being_judged() {
    let app = app().await;
    let depth = 100_000;
    let mut body = "[".repeat(depth);
    body.push_str(&"]".repeat(depth));
    let started = Instant::now();
    let response = app
        .post(&Delivery::signed("msg_deep", body.as_bytes()))
        .await;
    assert_eq!(response.status(), 202);
    assert!(started.elapsed() < Duration::from_secs(2));
    let nested_type = format!(
        r#"{{"type":"user.created","data":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert_eq!(
        app.post(&Delivery::signed("msg_deep_typed", nested_type.as_bytes()))
            .await
            .status(),
        202
    );
    assert_eq!(
        app.events().await.len(),
        2,
        "the worker, not the receiver, dead-letters what it cannot parse"
    );
}

#[tokio::test]
async fn timestamps_beyond_any_integer_are_refused() {
    let app = app().await;
    for (timestamp, status, code) in [
        (
            "99999999999999999999999999999999",
            401,
            "timestamp_out_of_tolerance",
        ),
        ("-99999999999999999999999999999999", 400, "malformed_header"),
        ("1e400", 400, "malformed_header"),
        ("NaN", 400, "malformed_header"),
    ] {
        let mut delivery = Delivery::signed("msg_ts", b"{}");
        delivery.timestamp = timestamp.into();
        let response = app.post(&delivery).await;
        assert_eq!(response.status().as_u16(), status, "{timestamp}");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["error"],
            code,
            "{timestamp}"
        );
    }
    assert_eq!(app.key_count().await, 0);
}

#[tokio::test]
async fn a_valid_request_replayed_after_the_tolerance_is_refused() {
    // The receiver's clock, moved forward by the test instead of slept through.
    let skew = Arc::new(AtomicU64::new(0));
    let mut cfg = config(&redis_url());
    cfg.tolerance_secs = 1;
    cfg.clock = Clock::from_fn({
        let skew = skew.clone();
        move || Clock::system().now_ms() + skew.load(Ordering::Relaxed)
    });
    let app = spawn_with(cfg).await;
    let delivery = Delivery::signed_at("msg_replayed", b"{}", now(), SECRET);
    assert_eq!(app.post(&delivery).await.status(), 202);
    skew.store(2_500, Ordering::Relaxed);
    let replay = app.post(&delivery).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap()["error"],
        "timestamp_out_of_tolerance"
    );
    assert_eq!(app.events().await.len(), 1);
}

/// The barrage above, against the real binary: its memory stays bounded.
#[tokio::test]
async fn the_receivers_memory_stays_bounded_under_a_barrage() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = clerk_sync_test_support::unique_prefix();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-sync-receiver"))
        .env_clear()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("REDIS_URL", redis_url())
        .env("STREAM_PREFIX", &prefix)
        .env("RECEIVER_BIND", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    clerk_sync_test_support::eventually(Duration::from_secs(30), "the receiver up", || async {
        client.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;

    let idle: Vec<TcpStream> = futures_util::future::join_all(
        (0..1000).map(|_| TcpStream::connect(format!("127.0.0.1:{port}"))),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let over_limit = (0..30).map(|i| {
        let d = Delivery::signed(&format!("msg_big_{i}"), b"x");
        let chunks = futures_util::stream::iter(
            (0..5).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024 * 1024])),
        );
        client
            .post(format!("{base}/webhooks/clerk"))
            .header("svix-id", d.id)
            .header("svix-timestamp", d.timestamp)
            .header("svix-signature", d.signature)
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
    });
    let _ = futures_util::future::join_all(over_limit).await;
    let valid = (0..300).map(|i| {
        let d = Delivery::signed(&format!("msg_ok_{i}"), &[b' '; 4096]);
        client
            .post(format!("{base}/webhooks/clerk"))
            .header("svix-id", d.id)
            .header("svix-timestamp", d.timestamp)
            .header("svix-signature", d.signature)
            .body(d.body)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(valid)
        .await
        .into_iter()
        .map(|r| r.map(|r| r.status().as_u16()).unwrap_or(0))
        .collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");

    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    drop(idle);
    let _ = child.kill();
    let _ = child.wait();
    clerk_sync_test_support::delete_keys(&redis_url(), &format!("{{{prefix}}}:*"));
    // 150 MB of oversized bodies went by; what stayed is the receiver's own footprint.
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
}
