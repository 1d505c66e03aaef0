//! `clerk-sync stats`: the queue as an operator reads it, and one clear line when Redis is
//! away.

use std::time::Duration;

use clerk_sync_queue::Consumer;

use crate::queue::{Prefix, redis_url, stderr, stdout, user_body};

#[tokio::test]
async fn stats_report_backlog_pending_retries_and_dead_letters() {
    let prefix = Prefix::new();
    let empty: serde_json::Value =
        serde_json::from_slice(&prefix.run(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(empty["stream_length"], 0);
    assert_eq!(empty["group_exists"], false);

    let pool = clerk_sync_queue::connect(
        &redis_url(),
        4,
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .unwrap();
    let consumer = Consumer::new(pool, prefix.keys.clone(), "worker-a");
    consumer.ensure_group().await.unwrap();
    for i in 0..10 {
        prefix
            .enqueue(&format!("msg_{i}"), &user_body(&format!("user_{i}")))
            .await;
    }
    let held = consumer.read(4, Duration::ZERO).await.unwrap();
    consumer
        .retry(&held[0].id, Duration::from_secs(600), "deadlock detected")
        .await
        .unwrap();
    consumer
        .dead_letter(&held[1].id, "body is not JSON", 1)
        .await
        .unwrap();

    let output = prefix.run(&["stats", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["stream_length"], 8, "10 queued, 2 settled");
    assert_eq!(stats["undelivered"], 6);
    assert_eq!(stats["pending"], 2);
    assert_eq!(stats["consumers"][0]["name"], "worker-a");
    assert_eq!(stats["consumers"][0]["pending"], 2);
    assert!(stats["oldest_pending_age_ms"].as_u64().is_some());
    assert_eq!(stats["retry_set_size"], 1);
    let next = stats["next_retry_in_ms"].as_u64().unwrap();
    assert!(next > 590_000 && next <= 600_000, "{next}");
    assert_eq!(stats["dlq_length"], 1);

    let table = stdout(&prefix.run(&["stats"]));
    for label in [
        "stream length",
        "not yet delivered",
        "pending",
        "oldest pending",
        "waiting for a retry",
        "dead letters",
        "worker-a",
    ] {
        assert!(table.contains(label), "{label} missing:\n{table}");
    }
}

#[test]
fn an_unreachable_redis_is_one_clear_line() {
    let prefix = Prefix::new();
    let output = prefix
        .cli()
        .env("REDIS_URL", "redis://:hunter2@127.0.0.1:1")
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.contains("cannot read the queue at redis://127.0.0.1:1"),
        "{error}"
    );
    assert!(!error.contains("hunter2"));
}
