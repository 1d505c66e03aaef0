//! Dead letters keep the entry and the reason; replay and purge move each one exactly once.

use std::time::Duration;

use clerk_sync_queue::DeadLetters;

use crate::helpers::Queue;

async fn with_dead_letters(q: &Queue, n: usize) {
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    for i in 0..n {
        q.enqueue(&format!("msg_{i}")).await;
    }
    for delivery in consumer.read(n, Duration::ZERO).await.unwrap() {
        consumer
            .dead_letter(&delivery.id, "body is not JSON", 3)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_dead_letter_keeps_the_entry_and_says_why() {
    let q = Queue::new();
    with_dead_letters(&q, 1).await;
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());
    let listed = letters.list(10, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    let letter = &listed[0];
    assert_eq!(letter.text("svix_id"), "msg_0");
    assert_eq!(letter.text("error"), "body is not JSON");
    assert_eq!(letter.number("attempts"), Some(3));
    assert_eq!(letter.text("received_at"), "1716883200123");
    assert!(letter.number("failed_at").unwrap() > 1_700_000_000_000);
    let names: Vec<&str> = letter.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "svix_id",
            "svix_timestamp",
            "type",
            "payload",
            "received_at",
            "attempt",
            "error",
            "failed_at",
            "attempts"
        ]
    );
}

#[tokio::test]
async fn a_replay_moves_each_dead_letter_back_once_as_a_fresh_event() {
    let q = Queue::new();
    with_dead_letters(&q, 3).await;
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());
    let ids = letters.ids(None).await.unwrap();
    assert_eq!(ids.len(), 3);
    // Two operators replaying at once: each letter goes back exactly once.
    let (a, b) = tokio::join!(
        async {
            let mut n = 0;
            for id in &ids {
                if letters.replay(id).await.unwrap().is_some() {
                    n += 1
                }
            }
            n
        },
        async {
            let mut n = 0;
            for id in &ids {
                if letters.replay(id).await.unwrap().is_some() {
                    n += 1
                }
            }
            n
        },
    );
    assert_eq!(a + b, 3);
    assert_eq!(letters.count().await.unwrap(), 0);
    let fresh = q.consumer("c2").read(10, Duration::ZERO).await.unwrap();
    assert_eq!(fresh.len(), 3);
    for delivery in fresh {
        let entry = delivery.entry.unwrap();
        assert_eq!(entry.attempt, 0);
        assert!(entry.payload.starts_with(br#"{"type":"user.created""#));
    }
}

#[tokio::test]
async fn listing_filters_by_type_and_purging_removes() {
    let q = Queue::new();
    with_dead_letters(&q, 5).await;
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());
    assert_eq!(letters.list(2, None).await.unwrap().len(), 2);
    assert_eq!(
        letters.list(10, Some("user.created")).await.unwrap().len(),
        5
    );
    assert!(
        letters
            .list(10, Some("session.created"))
            .await
            .unwrap()
            .is_empty()
    );
    let first = letters.list(1, None).await.unwrap().remove(0);
    assert!(letters.purge(&first.id).await.unwrap());
    assert!(!letters.purge(&first.id).await.unwrap(), "purged once");
    assert_eq!(letters.count().await.unwrap(), 4);
    assert_eq!(letters.get(&first.id).await.unwrap(), None);
}
