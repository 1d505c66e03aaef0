//! One event that can never be applied, inside a batch of many valid ones: it alone is
//! dead-lettered, and every other event of its batch is applied, once.

use std::time::Duration;

use clerk_sync_test_support::eventually;
use clerk_sync_worker::Worker;

use crate::helpers::{Harness, user_body};

const T1: i64 = 1_716_883_200_000;
const WAIT: Duration = Duration::from_secs(60);
const VALID: usize = 200;

/// A `user.updated` that parses, but whose `updated_at` (the year 31 million or so) no
/// timestamp can hold: every attempt at it fails the same way.
fn poison() -> Vec<u8> {
    let mut json: serde_json::Value =
        serde_json::from_slice(&user_body("user.updated", "user_poison", T1, "Poison")).unwrap();
    json["data"]["updated_at"] = serde_json::json!(1_000_000_000_000_000_000i64);
    json.to_string().into_bytes()
}

#[tokio::test]
async fn a_poison_event_inside_a_large_batch_is_dead_lettered_alone_and_the_rest_applied_once() {
    let h = Harness::new().await;
    let valid: Vec<String> = (0..VALID).map(|i| format!("msg_valid_{i:03}")).collect();
    for (i, svix_id) in valid.iter().enumerate() {
        if i == VALID / 2 {
            h.enqueue("msg_poison", &poison()).await;
        }
        let body = user_body("user.created", &format!("user_{i:03}"), T1, "Valid");
        h.enqueue(svix_id, &body).await;
    }
    assert!(
        clerk_sync_events::parse(&poison(), 0).is_ok(),
        "the poison parses"
    );

    // Everything is queued before the worker starts, and one read takes up to the batch
    // size: the poison shares its batch with every valid event.
    let mut config = h.config("worker-poison");
    config.batch_size = 256;
    config.concurrency = 256;
    assert_eq!(config.pipelines(), 1);
    let worker = Worker::build(config).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    // Settled, one way or another: the stream holds only entries not yet settled, and an
    // entry parked for a retry is in the retry set until it is due.
    eventually(WAIT, "every entry settled", || async {
        h.stream(&h.keys.events()).await.is_empty() && h.retry_set().await.is_empty()
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();

    let dlq = h.dlq().await;
    let dead: Vec<(&str, &str)> = dlq
        .iter()
        .map(|(_, f)| (f["svix_id"].as_str(), f["error"].as_str()))
        .collect();
    assert_eq!(dead.len(), 1, "nothing else is dead-lettered: {dead:?}");
    let fields = &dlq[0].1;
    assert_eq!(fields["svix_id"], "msg_poison");
    assert_eq!(fields["type"], "user.updated");
    assert!(
        fields["error"].contains("out of range"),
        "{}",
        fields["error"]
    );
    assert_eq!(
        fields["attempts"], "1",
        "dead-lettered at its first attempt"
    );

    let processed = h
        .column("SELECT svix_id FROM processed_webhooks ORDER BY svix_id")
        .await;
    assert_eq!(
        processed,
        valid.iter().cloned().map(Some).collect::<Vec<_>>()
    );
    let users = h
        .column("SELECT clerk_id || ':' || first_name FROM users ORDER BY clerk_id")
        .await;
    let expected: Vec<Option<String>> = (0..VALID)
        .map(|i| Some(format!("user_{i:03}:Valid")))
        .collect();
    assert_eq!(users, expected, "every valid user, and not the poison's");
    // Applied once: one change each in the feed, and none for the poison.
    let announced = h
        .column(
            "SELECT svix_id FROM sync_changes GROUP BY svix_id \
             HAVING count(*) = 1 ORDER BY svix_id",
        )
        .await;
    assert_eq!(announced, processed);
    assert_eq!(h.count("sync_changes").await, VALID as i64);
}
