//! Events through the whole worker: applied in any order, once, to the newest state.

use std::time::Duration;

use crate::helpers::{Harness, deleted_body, user_body};

const T1: i64 = 1_716_883_200_000;

#[tokio::test]
async fn every_corpus_event_is_applied() {
    let h = Harness::new().await;
    let payloads = clerk_sync_test_support::clerk_payloads();
    for (i, (_, body)) in payloads.iter().enumerate() {
        h.enqueue(&format!("msg_{i}"), body).await;
    }
    let worker = h.worker().await;
    let drained = worker.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(drained.deliveries, payloads.len());

    assert!(
        h.dlq().await.is_empty(),
        "nothing is dead-lettered: {:?}",
        h.dlq().await
    );
    assert!(
        h.stream(&h.keys.events()).await.is_empty(),
        "every entry was settled and trimmed"
    );
    // The docs' example is one user; the specification's user.* examples are another, whose
    // deletion comes at the same instant as its creation and wins.
    let users = h.column("SELECT clerk_id || ':' || coalesce(email, '-') || ':' || (deleted_at IS NOT NULL)::text FROM users ORDER BY clerk_id").await;
    assert_eq!(
        users,
        vec![
            Some("user_29w83sxmDNGwOuEthce5gg56FcC:example@example.org:false".into()),
            Some("user_2g7np7Hrk0SN6kj5EDMLDaKNL0S:-:true".into()),
        ]
    );
    assert_eq!(
        h.count("processed_webhooks").await,
        payloads.len() as i64,
        "every type is applied"
    );
    for table in [
        "sessions",
        "organizations",
        "organization_memberships",
        "messages",
        "subscription_items",
    ] {
        assert!(h.count(table).await > 0, "{table} is empty");
    }
}

#[tokio::test]
async fn events_of_one_user_in_any_order_end_in_the_newest_state() {
    let h = Harness::new().await;
    h.enqueue(
        "msg_3",
        &user_body("user.updated", "user_1", T1 + 2, "Third"),
    )
    .await;
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "First"))
        .await;
    h.enqueue(
        "msg_2",
        &user_body("user.updated", "user_1", T1 + 1, "Second"),
    )
    .await;
    h.worker()
        .await
        .drain(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        h.column("SELECT first_name FROM users").await,
        vec![Some("Third".into())]
    );
    assert_eq!(
        h.column("SELECT email FROM users").await,
        vec![Some("user_1@example.com".into())]
    );
}

#[tokio::test]
async fn a_replayed_event_is_applied_once() {
    let h = Harness::new().await;
    let body = user_body("user.created", "user_1", T1, "First");
    h.enqueue("msg_1", &body).await;
    let worker = h.worker().await;
    worker.drain(Duration::from_secs(10)).await.unwrap();
    // An operator replays it (the receiver's guard would stop Svix; a replay goes around).
    let mut conn = h.redis().await;
    let _: String = clerk_sync_queue::redis::cmd("XADD")
        .arg(h.keys.events())
        .arg("*")
        .arg("svix_id")
        .arg("msg_1")
        .arg("svix_timestamp")
        .arg("1716883200")
        .arg("type")
        .arg("user.created")
        .arg("payload")
        .arg(&body)
        .arg("received_at")
        .arg("1")
        .arg("attempt")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    worker.drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(h.count("processed_webhooks").await, 1);
    assert_eq!(h.count("users").await, 1);
    assert!(h.dlq().await.is_empty());
}

#[tokio::test]
async fn a_deletion_in_hard_mode_removes_the_user() {
    let h = Harness::new().await;
    h.enqueue("msg_2", &deleted_body("user_1", T1 + 10)).await;
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "First"))
        .await;
    let mut config = h.config("worker-hard");
    config.user_delete_mode = clerk_sync_db::DeleteMode::Hard;
    clerk_sync_worker::Worker::build(config)
        .await
        .unwrap()
        .drain(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(h.count("users").await, 0);
    assert_eq!(h.count("user_email_addresses").await, 0);
    assert_eq!(h.count("tombstones").await, 1);
}

#[tokio::test]
async fn events_queued_before_any_worker_existed_are_not_skipped() {
    let h = Harness::new().await;
    // No group yet: the receiver created the stream alone.
    h.enqueue(
        "msg_early",
        &user_body("user.created", "user_1", T1, "Early"),
    )
    .await;
    let worker = h.worker().await;
    worker.drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(h.count("users").await, 1);
}

#[tokio::test]
async fn a_lost_consumer_group_is_recreated_and_consumption_goes_on() {
    let h = Harness::new().await;
    let worker = h.worker().await;
    let mut conn = h.redis().await;
    // Redis restarted without persistence: the stream and its group are gone.
    let _: () = clerk_sync_queue::redis::cmd("DEL")
        .arg(h.keys.events())
        .query_async(&mut conn)
        .await
        .unwrap();
    h.enqueue("msg_1", &user_body("user.created", "user_1", T1, "First"))
        .await;
    // The first read meets NOGROUP and recreates the group from the stream's start.
    worker.drain(Duration::from_secs(10)).await.unwrap();
    worker.drain(Duration::from_secs(10)).await.unwrap();
    assert_eq!(h.count("users").await, 1);
}

#[tokio::test]
async fn feed_rows_past_changes_retention_are_deleted_by_a_running_worker() {
    let h = Harness::new().await;
    for i in 0..3 {
        h.enqueue(
            &format!("msg_ret_{i}"),
            &user_body("user.created", &format!("user_ret{i}"), T1, "Kept"),
        )
        .await;
    }
    h.worker()
        .await
        .drain(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(h.count("sync_changes").await, 3);

    let mut config = h.config("pruner");
    config.changes_retention = Duration::from_secs(2);
    let worker = clerk_sync_worker::Worker::build(config).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    clerk_sync_test_support::eventually(Duration::from_secs(60), "the old rows pruned", || async {
        h.count("sync_changes").await == 0
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(h.count("users").await, 3, "only the feed is pruned");
}

#[tokio::test]
async fn sessions_and_messages_past_their_retention_are_deleted_by_a_running_worker() {
    let h = Harness::new().await;
    // Clerk's published session and email, from 2024: over and sent long ago.
    for (i, (name, body)) in clerk_sync_test_support::clerk_payloads()
        .into_iter()
        .filter(|(name, _)| name.starts_with("session.created") || name.starts_with("email."))
        .enumerate()
    {
        h.enqueue(&format!("msg_old_{i}_{name}"), &body).await;
    }
    h.enqueue(
        "msg_user",
        &user_body("user.created", "user_kept", T1, "Kept"),
    )
    .await;
    h.worker()
        .await
        .drain(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        (h.count("sessions").await, h.count("messages").await),
        (1, 1)
    );

    let mut config = h.config("pruner");
    // Short, so the first turn comes within seconds; the rows are years old either way.
    config.sessions_retention = Duration::from_secs(2);
    config.messages_retention = Duration::from_secs(2);
    let worker = clerk_sync_worker::Worker::build(config).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    clerk_sync_test_support::eventually(Duration::from_secs(60), "the old rows pruned", || async {
        h.count("sessions").await == 0 && h.count("messages").await == 0
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        h.count("users").await,
        1,
        "only sessions and messages are pruned"
    );
}
