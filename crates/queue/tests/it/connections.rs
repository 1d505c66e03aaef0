//! Connections under load and loss: kept, not serialised, and remade after they are killed.

use std::time::Duration;

use clerk_sync_queue::{Consumer, Settlement};
use clerk_sync_test_support::eventually;

use crate::helpers::{OwnUser, Queue};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn reads_and_settles_keep_their_connections_and_never_ping() {
    let q = Queue::new();
    let user = OwnUser::new().await;
    let pool = user.pool();
    let consumer = Consumer::new(pool.clone(), q.keys.clone(), "c1");
    consumer.ensure_group().await.unwrap();
    for round in 0..20 {
        q.enqueue(&format!("msg_{round}")).await;
        let read = consumer.read(10, Duration::from_secs(5)).await.unwrap();
        assert_eq!(read.len(), 1);
        let done = consumer
            .settle(Settlement::new().ack(&read[0].id))
            .await
            .unwrap();
        assert_eq!(done, [true]);
        consumer.keep(&[]).await.unwrap();
    }
    assert_eq!(user.refused().await, Vec::<String>::new(), "no PING sent");
    let connections = user.connections().await;
    assert!(
        connections.len() <= 3,
        "one for reads and two shared at most, however many commands: {connections:#?}"
    );

    // The pool itself PINGs a connection it hands out again, as the log shows.
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    assert_eq!(user.refused().await, ["ping"]);
}

#[tokio::test]
async fn reads_that_run_at_once_do_not_wait_for_each_other() {
    let q = Queue::new();
    let user = OwnUser::new().await;
    let consumer = Consumer::new(user.pool(), q.keys.clone(), "c1");
    consumer.ensure_group().await.unwrap();
    // Four pipelines of one worker block on one consumer at once.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let consumer = consumer.clone();
            tokio::spawn(async move { consumer.read(1, Duration::from_secs(25)).await })
        })
        .collect();
    eventually(WAIT, "all four blocked", || async {
        user.connections()
            .await
            .iter()
            .filter(|c| c.contains(" cmd=xreadgroup ") && c.contains(" flags=b "))
            .count()
            == 4
    })
    .await;
    for i in 0..4 {
        q.enqueue(&format!("msg_{i}")).await;
    }
    for reader in readers {
        let read = tokio::time::timeout(WAIT, reader)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(read.len(), 1, "each read gets its own entry");
    }
    assert_eq!(q.pending().await, 4);
}

#[tokio::test]
async fn a_consumer_reconnects_after_its_connections_are_killed() {
    let q = Queue::new();
    let user = OwnUser::new().await;
    let consumer = Consumer::new(user.pool(), q.keys.clone(), "c1");
    consumer.ensure_group().await.unwrap();
    q.enqueue("msg_1").await;
    let read = consumer.read(1, Duration::from_secs(5)).await.unwrap();
    consumer.ack(&[&read[0].id]).await.unwrap();
    assert!(
        user.kill().await >= 2,
        "its read connection and a shared one"
    );

    // Neither a read nor a settle pays for a connection found dead: each is sent again on a
    // new one.
    q.enqueue("msg_2").await;
    let read = consumer.read(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(read[0].entry.as_ref().unwrap().svix_id, "msg_2");
    let done = consumer
        .settle(Settlement::new().retry(&read[0].id, Duration::from_secs(3600), "later"))
        .await
        .unwrap();
    assert_eq!(done, [true]);
    assert_eq!(q.zcard().await, 1);

    // A read blocked when its connection is killed is sent again, and gets what arrives.
    let blocked = tokio::spawn({
        let consumer = consumer.clone();
        async move { consumer.read(1, Duration::from_secs(25)).await }
    });
    eventually(WAIT, "the read blocks", || async {
        user.connections()
            .await
            .iter()
            .any(|c| c.contains(" cmd=xreadgroup ") && c.contains(" flags=b "))
    })
    .await;
    assert!(user.kill().await >= 1);
    q.enqueue("msg_3").await;
    let read = tokio::time::timeout(WAIT, blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(read[0].entry.as_ref().unwrap().svix_id, "msg_3");
    consumer.ack(&[&read[0].id]).await.unwrap();
    assert_eq!(q.pending().await, 0);
}
