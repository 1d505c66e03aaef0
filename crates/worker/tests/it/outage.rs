//! PostgreSQL and Redis going away and coming back: nothing lost, nothing dead-lettered.

use std::time::Duration;

use clerk_sync_test_support::{Proxy, eventually, with_database};
use clerk_sync_worker::Worker;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Harness, user_body};

const T1: i64 = 1_716_883_200_000;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_postgres_outage_uses_no_attempts_dead_letters_nothing_and_recovers() {
    let h = Harness::new().await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let mut config = h.config("worker-outage");
    let server = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port());
    config.database_url = with_database(&server, h.db.name()).into();
    let worker = Worker::build(config).await.unwrap();
    let port = worker.metrics_port().unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    h.enqueue(
        "msg_before",
        &user_body("user.created", "user_0", T1, "Before"),
    )
    .await;
    eventually(WAIT, "the first event", || async {
        h.count("users").await == 1
    })
    .await;

    proxy.down();
    for i in 1..=20 {
        h.enqueue(
            &format!("msg_{i}"),
            &user_body("user.created", &format!("user_{i}"), T1, "During"),
        )
        .await;
    }
    let ready = format!("http://127.0.0.1:{port}/readyz");
    eventually(WAIT, "the worker to notice", || async {
        reqwest::get(&ready)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            == 503
    })
    .await;
    // The worker has tried and found PostgreSQL gone: had that cost attempts, the retry set
    // or the dead-letter stream would show it now, and again after recovery below.
    assert!(h.dlq().await.is_empty(), "an outage dead-letters nothing");
    assert!(
        h.retry_set().await.is_empty(),
        "an outage parks nothing for a retry"
    );
    let attempts: Vec<String> = h
        .stream(&h.keys.events())
        .await
        .into_iter()
        .map(|(_, f)| f["attempt"].clone())
        .collect();
    assert!(
        attempts.iter().all(|a| a == "0"),
        "no attempt was used up: {attempts:?}"
    );

    proxy.up();
    eventually(WAIT, "every event after the outage", || async {
        h.count("users").await == 21
    })
    .await;
    eventually(WAIT, "the worker to be ready again", || async {
        reqwest::get(&ready)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            == 200
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(h.dlq().await.is_empty());
    assert_eq!(h.count("processed_webhooks").await, 21);
}

#[tokio::test]
async fn a_redis_outage_pauses_the_worker_and_it_resumes_by_itself() {
    let h = Harness::new().await;
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let mut config = h.config("worker-redis-outage");
    config.redis_url = format!("redis://127.0.0.1:{}", proxy.port()).into();
    let worker = Worker::build(config).await.unwrap();
    let ready = format!("http://127.0.0.1:{}/readyz", worker.metrics_port().unwrap());
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    proxy.down();
    eventually(WAIT, "the worker to lose Redis", || async {
        reqwest::get(&ready)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            == 503
    })
    .await;
    // Queued straight into Redis while the worker cannot reach it.
    for i in 0..10 {
        h.enqueue(
            &format!("msg_{i}"),
            &user_body("user.created", &format!("user_{i}"), T1, "Late"),
        )
        .await;
    }
    assert_eq!(h.count("users").await, 0);
    proxy.up();
    eventually(WAIT, "the events after Redis came back", || async {
        h.count("users").await == 10
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(h.dlq().await.is_empty());
}
