//! One settle call for a whole batch: acknowledgements, retries, dead letters and hand-backs at
//! once.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_sync_queue::{Settlement, redis};
use clerk_sync_test_support::read_stream;

use crate::helpers::Queue;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
}

async fn retry_set(q: &Queue) -> Vec<(serde_json::Value, f64)> {
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(q.keys.retry())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut q.conn().await)
        .await
        .unwrap();
    members
        .into_iter()
        .map(|(member, score)| (serde_json::from_str(&member).unwrap(), score))
        .collect()
}

/// The stream's entries as ordered field lists, so field order is checked too.
async fn entries(q: &Queue, key: &str) -> Vec<(String, Vec<(String, String)>)> {
    let reply: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(&mut q.conn().await)
        .await
        .unwrap();
    reply
        .into_iter()
        .map(|(id, flat)| {
            let pairs = flat
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect();
            (id, pairs)
        })
        .collect()
}

#[tokio::test]
async fn one_settle_call_acknowledges_parks_dead_letters_and_hands_back_a_batch() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    for i in 0..6 {
        q.enqueue(&format!("msg_{i}")).await;
    }
    let read = consumer.read(6, Duration::ZERO).await.unwrap();
    let ids: Vec<&str> = read.iter().map(|d| d.id.as_str()).collect();
    let originals = entries(&q, &q.keys.events()).await;

    let mut settlement = Settlement::new();
    settlement
        .ack(ids[0])
        .ack(ids[1])
        .retry(ids[2], Duration::from_secs(3600), "deadlock detected")
        .postpone(ids[3], Duration::ZERO, "lock held")
        .dead_letter(ids[4], "value out of range", 3)
        .hand_back(ids[5]);
    let before = now_ms();
    let done = consumer.settle(&settlement).await.unwrap();
    let after = now_ms();
    assert_eq!(done, [true; 6]);
    assert_eq!(q.pending().await, 0, "every entry settled");

    // Applied: gone. Handed back: the one entry left, a new one, byte for byte.
    let events = entries(&q, &q.keys.events()).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].0.as_str() > ids[5], "appended anew");
    assert_eq!(events[0].1, originals[5].1, "attempt unchanged");

    // Parked: the entry as JSON, `attempt` raised by one for a retry and not for a
    // postponement, the error, scored by the due time.
    let parked = retry_set(&q).await;
    assert_eq!(parked.len(), 2);
    let (retried, retried_due) = parked
        .iter()
        .find(|(m, _)| m["svix_id"] == "msg_2")
        .unwrap();
    assert_eq!(retried["attempt"], "1");
    assert_eq!(retried["error"], "deadlock detected");
    assert!(*retried_due >= before + 3_600_000.0 - 1_000.0);
    assert!(*retried_due <= after + 3_600_000.0 + 1_000.0);
    for (name, value) in &originals[2].1 {
        if name != "attempt" {
            assert_eq!(retried[name.as_str()], value.as_str(), "{name}");
        }
    }
    let (postponed, _) = parked
        .iter()
        .find(|(m, _)| m["svix_id"] == "msg_3")
        .unwrap();
    assert_eq!(postponed["attempt"], "0");
    assert_eq!(postponed["error"], "lock held");

    // Dead-lettered: every field of the entry in order, then error, failed_at, attempts.
    let dlq = entries(&q, &q.keys.dlq()).await;
    assert_eq!(dlq.len(), 1);
    let fields = &dlq[0].1;
    assert_eq!(fields[..6], originals[4].1[..]);
    let added: Vec<&str> = fields[6..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(added, ["error", "failed_at", "attempts"]);
    assert_eq!(fields[6].1, "value out of range");
    let failed_at: f64 = fields[7].1.parse().unwrap();
    assert!((before - 1_000.0..=after + 1_000.0).contains(&failed_at));
    assert_eq!(fields[8].1, "3");
}

#[tokio::test]
async fn a_settle_call_leaves_entries_claimed_away_to_their_new_owner() {
    let q = Queue::new();
    let first = q.consumer("first");
    let second = q.consumer("second");
    first.ensure_group().await.unwrap();
    for i in 0..5 {
        q.enqueue(&format!("msg_{i}")).await;
    }
    let read = first.read(5, Duration::ZERO).await.unwrap();
    let ids: Vec<&str> = read.iter().map(|d| d.id.as_str()).collect();
    // Another worker takes three over, its owner looking dead.
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(q.keys.events())
        .arg("workers")
        .arg("second")
        .arg(0)
        .arg(&ids[2..])
        .arg("JUSTID")
        .query_async(&mut q.conn().await)
        .await
        .unwrap();

    let mut settlement = Settlement::new();
    settlement
        .ack(ids[0])
        .ack(ids[2])
        .retry(ids[3], Duration::ZERO, "late")
        .dead_letter(ids[4], "late", 1)
        .dead_letter(ids[1], "poison", 1);
    let done = first.settle(&settlement).await.unwrap();
    assert_eq!(done, [true, false, false, false, true]);
    assert_eq!(q.zcard().await, 0, "nothing parked for another's entry");
    let dlq: Vec<(String, HashMap<String, String>)> =
        read_stream(&mut q.conn().await, &q.keys.dlq()).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].1["svix_id"], "msg_1");
    let events: Vec<(String, HashMap<String, String>)> =
        read_stream(&mut q.conn().await, &q.keys.events()).await;
    let left: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(left, ids[2..], "the claimed entries stay in the stream");
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(q.keys.events())
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(&mut q.conn().await)
        .await
        .unwrap();
    assert_eq!(pending.ids.len(), 3);
    assert!(pending.ids.iter().all(|p| p.consumer == "second"));

    // Their owner settles them.
    let mut settlement = Settlement::new();
    for id in &ids[2..] {
        settlement.ack(*id);
    }
    assert_eq!(second.settle(&settlement).await.unwrap(), [true; 3]);
    assert_eq!(q.pending().await, 0);
    assert_eq!(q.len(&q.keys.events()).await, 0);
}

#[tokio::test]
async fn a_malformed_settlement_changes_nothing() {
    let q = Queue::new();
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = consumer.read(1, Duration::ZERO).await.unwrap();
    let mut settlement = Settlement::new();
    settlement
        .ack(&read[0].id)
        .dead_letter("not an id", "poison", 1);
    assert!(consumer.settle(&settlement).await.is_err());
    assert_eq!(q.pending().await, 1, "the valid step was not made either");
    assert_eq!(q.len(&q.keys.events()).await, 1);
    assert_eq!(q.len(&q.keys.dlq()).await, 0);
}
