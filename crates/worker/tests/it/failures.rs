//! Events that fail: dead-lettered at once when they never can apply, retried when they may.

use std::time::Duration;

use clerk_sync_worker::Worker;

use crate::helpers::{Harness, user_body};

const T1: i64 = 1_716_883_200_000;
const WAIT: Duration = Duration::from_secs(60);

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

fn impatient(h: &Harness, name: &str, max_attempts: u32) -> clerk_sync_worker::Config {
    let mut config = h.config(name);
    config.attempt_timeout = Duration::from_millis(300);
    config.max_attempts = max_attempts;
    config
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_its_attempt_counted_and_then_applied() {
    let h = Harness::new().await;
    h.db.obstruct_user("user_1").await;
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "Patient"))
        .await;
    let worker = Worker::build(impatient(&h, "worker-retry", 8))
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    // The first attempt fails and parks the event for a retry.
    // Caught as it waits: with the harness's short backoff it does not wait long.
    let parked = std::sync::Mutex::new(None);
    clerk_sync_test_support::eventually(WAIT, "the event parked for a retry", || async {
        let first = h.retry_set().await.into_iter().next();
        let found = first.is_some();
        if found {
            *parked.lock().unwrap() = first;
        }
        found
    })
    .await;
    let member = parked.into_inner().unwrap().unwrap();
    assert_eq!(member["svix_id"], "msg_1");
    assert!(member["attempt"].as_str().unwrap().parse::<u32>().unwrap() >= 1);
    assert!(
        member["error"]
            .as_str()
            .unwrap()
            .contains("being reorganised"),
        "{member}"
    );

    h.db.clear_obstacle().await;
    let applied =
        clerk_sync_test_support::try_eventually(WAIT, || async { h.count("users").await == 1 })
            .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(
        applied,
        "the retried event was applied once the obstacle was gone"
    );
    assert!(h.dlq().await.is_empty());
    assert_eq!(h.count("processed_webhooks").await, 1);
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_max_attempts() {
    let h = Harness::new().await;
    h.db.obstruct_user("user_1").await;
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
