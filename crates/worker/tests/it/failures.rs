use std::time::Duration;

use clerk_sync_db::lock_key;
use clerk_sync_worker::Worker;

use crate::helpers::{Harness, user_body};

const T1: i64 = 1_716_883_200_000;

#[tokio::test]
async fn a_body_that_is_not_json_is_dead_lettered_at_once_with_every_field_kept() {
    let h = Harness::new().await;
    h.enqueue("msg_poison", b"\x00not json at all").await;
    h.enqueue("msg_good", &user_body("user.created", "user_1", T1, "Good"))
        .await;
    h.worker()
        .await
        .drain(Duration::from_secs(10))
        .await
        .unwrap();

    let dlq = h.dlq().await;
    assert_eq!(dlq.len(), 1);
    let fields = &dlq[0].1;
    assert_eq!(fields["svix_id"], "msg_poison");
    assert_eq!(fields["payload"], "\u{0}not json at all");
    assert_eq!(fields["attempt"], "0");
    assert_eq!(fields["attempts"], "1");
    assert!(
        fields["error"].starts_with("body is not JSON"),
        "{}",
        fields["error"]
    );
    assert!(fields["failed_at"].parse::<u64>().unwrap() > 1_700_000_000_000);
    for name in ["svix_timestamp", "type", "received_at"] {
        assert!(fields.contains_key(name), "{name} kept");
    }
    // The good event in the same batch was applied regardless.
    assert_eq!(h.count("users").await, 1);
    assert!(
        h.retry_set().await.is_empty(),
        "a permanent failure is never retried"
    );
}

#[tokio::test]
async fn a_missing_or_mistyped_required_field_is_dead_lettered_naming_it() {
    let h = Harness::new().await;
    h.enqueue(
        "msg_noid",
        br#"{"type":"user.created","data":{"first_name":"Jane"}}"#,
    )
    .await;
    h.enqueue("msg_badid", br#"{"type":"user.updated","data":{"id":42}}"#)
        .await;
    h.enqueue(
        "msg_nul",
        br#"{"type":"user.updated","data":{"id":"user_1","first_name":"a\u0000b"}}"#,
    )
    .await;
    h.worker()
        .await
        .drain(Duration::from_secs(10))
        .await
        .unwrap();
    let mut errors: Vec<(String, String)> = h
        .dlq()
        .await
        .into_iter()
        .map(|(_, f)| (f["svix_id"].clone(), f["error"].clone()))
        .collect();
    errors.sort();
    assert_eq!(errors[0].0, "msg_badid");
    assert!(
        errors[0]
            .1
            .starts_with("user.updated: data.id: invalid type"),
        "{}",
        errors[0].1
    );
    assert_eq!(errors[1].0, "msg_noid");
    assert_eq!(errors[1].1, "user.created: data: missing field `id`");
    assert_eq!(errors[2].0, "msg_nul");
    assert!(errors[2].1.contains("NUL"), "{}", errors[2].1);
    assert_eq!(h.count("users").await, 0);
    assert_eq!(h.count("processed_webhooks").await, 0);
}

#[tokio::test]
async fn a_type_the_worker_does_not_apply_is_acknowledged_not_dead_lettered() {
    let h = Harness::new().await;
    h.enqueue(
        "msg_new",
        br#"{"type":"something.brand_new","data":{"x":1}}"#,
    )
    .await;
    let worker = h.worker().await;
    worker.drain(Duration::from_secs(10)).await.unwrap();
    assert!(h.dlq().await.is_empty());
    assert!(h.stream(&h.keys.events()).await.is_empty());
    let metrics = clerk_sync_worker::metrics::handle().render();
    assert!(
        metrics.contains(r#"clerk_sync_worker_events_total{type="other",outcome="ignored"}"#),
        "{metrics}"
    );
}

/// Holds the advisory lock of one user, as a long transaction elsewhere would, so the
/// worker's attempts on that user time out: a real transient failure.
async fn hold_user_lock(h: &Harness, user: &str) -> tokio_postgres::Client {
    let client = h.sql().await;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&lock_key("user", user)])
        .await
        .unwrap();
    client
}

fn impatient(h: &Harness, name: &str, max_attempts: u32) -> clerk_sync_worker::Config {
    let mut config = h.config(name);
    config.attempt_timeout = Duration::from_millis(300);
    config.max_attempts = max_attempts;
    config
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_its_attempt_counted_and_then_applied() {
    let h = Harness::new().await;
    let lock = hold_user_lock(&h, "user_1").await;
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "Patient"))
        .await;
    let worker = Worker::build(impatient(&h, "worker-retry", 8))
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    // The first attempt times out on the lock and parks the event for a retry.
    let mut seen_retry = None;
    for _ in 0..100 {
        if let Some(member) = h.retry_set().await.into_iter().next() {
            seen_retry = Some(member);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let member = seen_retry.expect("the event was parked for a retry");
    assert_eq!(member["svix_id"], "msg_1");
    assert!(member["attempt"].as_str().unwrap().parse::<u32>().unwrap() >= 1);
    assert!(
        member["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("timeout"),
        "{member}"
    );

    lock.execute("SELECT pg_advisory_unlock_all()", &[])
        .await
        .unwrap();
    let mut applied = false;
    for _ in 0..200 {
        if h.count("users").await == 1 {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(
        applied,
        "the retried event was applied once the lock was gone"
    );
    assert!(h.dlq().await.is_empty());
    assert_eq!(h.count("processed_webhooks").await, 1);
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_max_attempts() {
    let h = Harness::new().await;
    let _lock = hold_user_lock(&h, "user_1").await;
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "Doomed"))
        .await;
    let worker = Worker::build(impatient(&h, "worker-giveup", 3))
        .await
        .unwrap();
    worker.drain(Duration::from_secs(20)).await.unwrap();
    let dlq = h.dlq().await;
    assert_eq!(dlq.len(), 1);
    let fields = &dlq[0].1;
    assert_eq!(fields["attempts"], "3");
    assert_eq!(
        fields["attempt"], "2",
        "the entry as it was on its last attempt"
    );
    assert!(
        fields["error"].starts_with("gave up after 3 attempts: "),
        "{}",
        fields["error"]
    );
    assert!(h.retry_set().await.is_empty());
    assert_eq!(h.count("users").await, 0);
}
