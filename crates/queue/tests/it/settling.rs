//! Settling one entry: acknowledge, retry, hand back, and only by its owner.

use std::collections::HashSet;
use std::time::Duration;

use clerk_sync_queue::{Promoter, redis};

use crate::helpers::Queue;

#[tokio::test]
async fn an_acknowledged_entry_leaves_the_stream_and_an_unacknowledged_one_stays() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    for i in 0..4 {
        q.enqueue(&format!("msg_{i}")).await;
    }
    let read = consumer.read(4, Duration::ZERO).await.unwrap();
    assert_eq!(read.len(), 4);
    assert_eq!(read[0].deliveries, 1);
    assert_eq!(read[0].entry.as_ref().unwrap().svix_id, "msg_0");
    consumer.ack(&[&read[0].id, &read[1].id]).await.unwrap();
    assert_eq!(
        q.len(&q.keys.events()).await,
        2,
        "only the acknowledged are trimmed"
    );
    assert_eq!(q.pending().await, 2);
    let stats = clerk_sync_queue::queue_stats(&q.pool, &q.keys)
        .await
        .unwrap();
    assert_eq!(
        stats.lag,
        Some(0),
        "the group's lag stays meaningful after trimming"
    );
    q.enqueue("msg_new").await;
    let stats = clerk_sync_queue::queue_stats(&q.pool, &q.keys)
        .await
        .unwrap();
    assert_eq!(stats.lag, Some(1));
}

#[tokio::test]
async fn a_retry_acknowledges_and_parks_the_entry_with_its_attempt_raised() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = consumer.read(1, Duration::ZERO).await.unwrap();
    assert!(
        consumer
            .retry(&read[0].id, Duration::from_secs(3600), "deadlock detected")
            .await
            .unwrap()
    );
    assert_eq!(q.len(&q.keys.events()).await, 0);
    assert_eq!(q.pending().await, 0);
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(q.keys.retry())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut q.conn().await)
        .await
        .unwrap();
    let member: serde_json::Value = serde_json::from_str(&members[0].0).unwrap();
    assert_eq!(member["attempt"], "1");
    assert_eq!(member["error"], "deadlock detected");
    assert_eq!(member["svix_id"], "msg_1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert!(
        (members[0].1 - now - 3_600_000.0).abs() < 60_000.0,
        "scored by its due time"
    );
}

#[tokio::test]
async fn only_the_entrys_owner_can_settle_it() {
    let q = Queue::new();
    let first = q.consumer("first");
    let second = q.consumer("second");
    first.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = first.read(1, Duration::ZERO).await.unwrap();
    // Idle for no time at all is idle enough: the claim needs no wait.
    let claimed = second.claim_idle(Duration::ZERO, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].deliveries, 2);
    // The first owner, slow, tries to settle what is no longer its own.
    assert!(
        !first
            .retry(&read[0].id, Duration::ZERO, "late")
            .await
            .unwrap()
    );
    assert!(!first.dead_letter(&read[0].id, "late", 1).await.unwrap());
    assert_eq!(first.hand_back(&[&read[0].id]).await.unwrap(), 0);
    assert_eq!(q.zcard().await, 0);
    assert_eq!(q.len(&q.keys.dlq()).await, 0);
    assert!(
        second
            .dead_letter(&claimed[0].id, "poison", 2)
            .await
            .unwrap()
    );
    assert_eq!(q.len(&q.keys.dlq()).await, 1);
}

#[tokio::test]
async fn handing_back_requeues_without_using_an_attempt() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = consumer.read(1, Duration::ZERO).await.unwrap();
    assert_eq!(consumer.hand_back(&[&read[0].id]).await.unwrap(), 1);
    assert_eq!(q.pending().await, 0);
    let again = q.consumer("c2").read(1, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, read[0].id);
    assert_eq!(
        again[0].entry.as_ref().unwrap(),
        read[0].entry.as_ref().unwrap(),
        "byte for byte, attempt unchanged"
    );
}

#[tokio::test]
async fn concurrent_promoters_never_promote_one_retry_twice() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    for i in 0..300 {
        q.enqueue(&format!("msg_{i}")).await;
    }
    let read = consumer.read(300, Duration::ZERO).await.unwrap();
    for delivery in &read {
        consumer
            .retry(&delivery.id, Duration::ZERO, "transient")
            .await
            .unwrap();
    }
    assert_eq!(q.zcard().await, 300);

    let promoters: Vec<Promoter> = (0..6)
        .map(|_| Promoter::new(q.pool.clone(), q.keys.clone()))
        .collect();
    let moved = futures_util::future::join_all(promoters.iter().map(|p| async move {
        let mut total = 0;
        loop {
            let promoted = p.promote(7).await.unwrap();
            total += promoted.moved;
            if promoted.moved == 0 {
                return total;
            }
        }
    }))
    .await;
    assert_eq!(moved.iter().sum::<u64>(), 300);
    let entries = consumer.read(1000, Duration::ZERO).await.unwrap();
    let ids: HashSet<String> = entries
        .iter()
        .map(|d| d.entry.as_ref().unwrap().svix_id.clone())
        .collect();
    assert_eq!(entries.len(), 300, "each retry promoted exactly once");
    assert_eq!(ids.len(), 300);
    assert!(
        entries
            .iter()
            .all(|d| d.entry.as_ref().unwrap().attempt == 1)
    );
}

#[tokio::test]
async fn a_retry_set_member_that_is_not_an_entry_is_dead_lettered_not_stuck() {
    let q = Queue::new();
    let _: () = redis::cmd("ZADD")
        .arg(q.keys.retry())
        .arg(0)
        .arg("{not json")
        .query_async(&mut q.conn().await)
        .await
        .unwrap();
    let promoted = Promoter::new(q.pool.clone(), q.keys.clone())
        .promote(10)
        .await
        .unwrap();
    assert_eq!(promoted.moved, 1);
    assert_eq!(promoted.next_due_ms, None);
    assert_eq!(q.zcard().await, 0);
    assert_eq!(q.len(&q.keys.dlq()).await, 1);
}

#[tokio::test]
async fn a_postponed_entry_keeps_its_attempt() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = consumer.read(1, Duration::ZERO).await.unwrap();
    assert!(
        consumer
            .postpone(&read[0].id, Duration::ZERO, "lock held")
            .await
            .unwrap()
    );
    assert_eq!(q.pending().await, 0);
    let mut conn = q.conn().await;
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(q.keys.retry())
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let member: serde_json::Value = serde_json::from_str(&members[0]).unwrap();
    assert_eq!(member["attempt"], "0");
    assert_eq!(member["error"], "lock held");
}

#[tokio::test]
async fn keeping_entries_resets_their_idle_time_but_never_takes_one_back() {
    let q = Queue::new();
    let first = q.consumer("first");
    let second = q.consumer("second");
    first.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    q.enqueue("msg_2").await;
    let read = first.read(2, Duration::ZERO).await.unwrap();
    let ids: Vec<&str> = read.iter().map(|d| d.id.as_str()).collect();
    // Another worker takes the second over (its owner looked dead).
    let mut conn = q.conn().await;
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(q.keys.events())
        .arg("workers")
        .arg("second")
        .arg(0)
        .arg(ids[1])
        .query_async(&mut conn)
        .await
        .unwrap();
    clerk_sync_test_support::eventually(Duration::from_secs(30), "both idle", || async {
        let mut conn = q.conn().await;
        let idle: Vec<redis::Value> = redis::cmd("XPENDING")
            .arg(q.keys.events())
            .arg("workers")
            .arg("IDLE")
            .arg(200)
            .arg("-")
            .arg("+")
            .arg(10)
            .query_async(&mut conn)
            .await
            .unwrap();
        idle.len() == 2
    })
    .await;

    assert_eq!(
        first.keep(&ids).await.unwrap(),
        1,
        "only the first is still its own"
    );
    let idle_claim = second
        .claim_idle(Duration::from_millis(200), 10)
        .await
        .unwrap();
    let claimed: Vec<&str> = idle_claim.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        claimed,
        vec![ids[1]],
        "the kept entry is not idle; the other stays claimed"
    );
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(q.keys.events())
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(&mut conn)
        .await
        .unwrap();
    let first_entry = pending.ids.iter().find(|p| p.id == ids[0]).unwrap();
    assert_eq!(first_entry.consumer, "first");
    assert_eq!(first_entry.times_delivered, 1, "keeping is no redelivery");
}
