//! The duplicate guard: what it refuses, for how long, what it costs, and that a failed
//! group leaves nothing behind.

use std::time::Duration;

use clerk_sync_queue::redis;
use clerk_sync_queue::{EnqueueOutcome, Enqueuer, EnqueuerConfig, Entry};

use crate::helpers::Queue;

fn entry(svix_id: &str) -> Entry {
    Entry {
        svix_id: svix_id.into(),
        svix_timestamp: "1716883200".into(),
        event_type: "user.created".into(),
        payload: format!(r#"{{"type":"user.created","data":{{"id":"{svix_id}"}}}}"#).into_bytes(),
        received_at: 1_716_883_200_123,
        attempt: 0,
    }
}

fn enqueuer(queue: &Queue, config: EnqueuerConfig) -> Enqueuer {
    Enqueuer::new(queue.pool.clone(), queue.keys.clone(), config)
}

async fn guard_keys(queue: &Queue) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(queue.keys.guard_pattern())
        .query_async(&mut queue.conn().await)
        .await
        .unwrap()
}

/// The window number Redis's clock is in, for a window of `secs`.
async fn window(queue: &Queue, secs: u64) -> u64 {
    let (now, _): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut queue.conn().await)
        .await
        .unwrap();
    now / secs
}

#[tokio::test]
async fn a_repeat_is_a_duplicate_and_writes_nothing() {
    let queue = Queue::new();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    let first = enqueuer.enqueue(&entry("msg_a")).await.unwrap();
    assert!(matches!(first, EnqueueOutcome::Queued(_)), "{first:?}");
    let again = enqueuer.enqueue(&entry("msg_a")).await.unwrap();
    assert_eq!(again, EnqueueOutcome::Duplicate);
    assert_eq!(queue.len(&queue.keys.events()).await, 1);
}

#[tokio::test]
async fn a_group_answers_each_entry_and_queues_a_repeated_id_once() {
    let queue = Queue::new();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    enqueuer.enqueue(&entry("msg_before")).await.unwrap();
    let (a, b, before) = (entry("msg_a"), entry("msg_b"), entry("msg_before"));
    let outcomes = enqueuer.enqueue_group(&[&a, &b, &a, &before, &b]).await;
    let outcomes: Vec<EnqueueOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
    assert!(matches!(outcomes[0], EnqueueOutcome::Queued(_)));
    assert!(matches!(outcomes[1], EnqueueOutcome::Queued(_)));
    assert_eq!(outcomes[2..], [const { EnqueueOutcome::Duplicate }; 3]);

    let stream: Vec<(String, std::collections::HashMap<String, String>)> =
        clerk_sync_test_support::read_stream(&mut queue.conn().await, &queue.keys.events()).await;
    let ids: Vec<&str> = stream.iter().map(|(_, f)| f["svix_id"].as_str()).collect();
    assert_eq!(ids, ["msg_before", "msg_a", "msg_b"]);
    // Each request learns the entry id its event was queued under.
    assert_eq!(outcomes[0], EnqueueOutcome::Queued(stream[1].0.clone()));
    assert_eq!(outcomes[1], EnqueueOutcome::Queued(stream[2].0.clone()));
}

#[tokio::test]
async fn an_id_guarded_by_an_earlier_version_is_still_refused() {
    let queue = Queue::new();
    // What receivers before the bucketed guard wrote for a queued event.
    let _: () = redis::cmd("SET")
        .arg(queue.keys.seen("msg_old"))
        .arg("1716883200123-0")
        .arg("EX")
        .arg(86_400)
        .query_async(&mut queue.conn().await)
        .await
        .unwrap();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    assert_eq!(
        enqueuer.enqueue(&entry("msg_old")).await.unwrap(),
        EnqueueOutcome::Duplicate
    );
    assert!(matches!(
        enqueuer.enqueue(&entry("msg_new")).await.unwrap(),
        EnqueueOutcome::Queued(_)
    ));
    assert_eq!(queue.len(&queue.keys.events()).await, 1);

    // In one group with new ids, the old guard still answers for its id alone (the script
    // asks for every id's old key at once, then one by one only when one exists).
    let (fresh, again) = (entry("msg_fresh"), entry("msg_old"));
    let outcomes = enqueuer.enqueue_group(&[&fresh, &again]).await;
    assert!(
        matches!(outcomes[0], Ok(EnqueueOutcome::Queued(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], Ok(EnqueueOutcome::Duplicate)),
        "{outcomes:?}"
    );
    assert_eq!(queue.len(&queue.keys.events()).await, 2);
}

#[tokio::test]
async fn the_guard_forgets_an_id_after_its_window_and_the_next() {
    let queue = Queue::new();
    let enqueuer = enqueuer(
        &queue,
        EnqueuerConfig {
            dedupe_ttl: Duration::from_secs(1),
            ..EnqueuerConfig::default()
        },
    );
    enqueuer.enqueue(&entry("msg_a")).await.unwrap();
    // Within one window of being queued it is always refused.
    assert_eq!(
        enqueuer.enqueue(&entry("msg_a")).await.unwrap(),
        EnqueueOutcome::Duplicate
    );
    clerk_sync_test_support::eventually(
        Duration::from_secs(10),
        "msg_a accepted again once its guard expired",
        || async {
            matches!(
                enqueuer.enqueue(&entry("msg_a")).await,
                Ok(EnqueueOutcome::Queued(_))
            )
        },
    )
    .await;
    assert_eq!(queue.len(&queue.keys.events()).await, 2);
    // Every guard key expires on its own.
    clerk_sync_test_support::eventually(
        Duration::from_secs(10),
        "the guard's keys expired",
        || async { guard_keys(&queue).await.is_empty() },
    )
    .await;
}

#[tokio::test]
async fn guarded_ids_live_in_few_compact_hashes() {
    let queue = Queue::new();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    let entries: Vec<Entry> = (0..3000).map(|n| entry(&format!("msg_{n:027}"))).collect();
    for chunk in entries.chunks(200) {
        let refs: Vec<&Entry> = chunk.iter().collect();
        for outcome in enqueuer.enqueue_group(&refs).await {
            assert!(matches!(outcome, Ok(EnqueueOutcome::Queued(_))));
        }
    }
    let keys = guard_keys(&queue).await;
    assert!(keys.len() < 300, "{} guard keys for 3000 ids", keys.len());
    let mut conn = queue.conn().await;
    for key in keys.iter().filter(|k| k.contains(":h")) {
        let encoding: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(encoding, "listpack", "{key}");
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 2 * 86_400, "{key} expires in {ttl} s");
    }
    // Every one of them is still refused.
    let refs: Vec<&Entry> = entries.iter().step_by(7).collect();
    for outcome in enqueuer.enqueue_group(&refs).await {
        assert_eq!(outcome.unwrap(), EnqueueOutcome::Duplicate);
    }
    assert_eq!(queue.len(&queue.keys.events()).await, 3000);
}

#[tokio::test]
async fn a_group_that_fails_halfway_through_its_checks_writes_nothing() {
    let queue = Queue::new();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    // A guard bucket of the wrong type, where the group's new ids would be written (level 0
    // of this window, and of the next should the window turn during the test): the checks
    // pass for every id, and the step that would write the guards cannot.
    let now = window(&queue, 86_400).await;
    let mut conn = queue.conn().await;
    for w in [now, now + 1] {
        let _: () = redis::cmd("SET")
            .arg(format!("{}:guard:{w}:h", queue.keys.tag()))
            .arg("not a hash")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let entries: Vec<Entry> = (0..10).map(|n| entry(&format!("msg_{n}"))).collect();
    let refs: Vec<&Entry> = entries.iter().collect();
    for outcome in enqueuer.enqueue_group(&refs).await {
        assert!(outcome.is_err(), "{outcome:?}");
    }
    assert_eq!(queue.len(&queue.keys.events()).await, 0, "no entry written");
    let left: Vec<String> = guard_keys(&queue)
        .await
        .into_iter()
        .filter(|k| !k.ends_with(":h"))
        .collect();
    assert!(left.is_empty(), "no guard written: {left:?}");

    for w in [now, now + 1] {
        let _: () = redis::cmd("DEL")
            .arg(format!("{}:guard:{w}:h", queue.keys.tag()))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    // Redelivered, every one is new.
    for outcome in enqueuer.enqueue_group(&refs).await {
        assert!(matches!(outcome, Ok(EnqueueOutcome::Queued(_))));
    }
    assert_eq!(queue.len(&queue.keys.events()).await, 10);
}

#[tokio::test]
async fn concurrent_requests_each_get_their_own_outcome() {
    let queue = Queue::new();
    let enqueuer = enqueuer(&queue, EnqueuerConfig::default());
    // Every id sent twice at once: exactly one of each pair is queued.
    let requests = (0..400).map(|n| {
        let enqueuer = enqueuer.clone();
        async move {
            let id = format!("msg_{}", n % 200);
            (id.clone(), enqueuer.enqueue(&entry(&id)).await.unwrap())
        }
    });
    let outcomes = futures_util::future::join_all(requests).await;
    let stream: Vec<(String, std::collections::HashMap<String, String>)> =
        clerk_sync_test_support::read_stream(&mut queue.conn().await, &queue.keys.events()).await;
    assert_eq!(stream.len(), 200);
    let by_entry: std::collections::HashMap<&str, &str> = stream
        .iter()
        .map(|(entry, f)| (entry.as_str(), f["svix_id"].as_str()))
        .collect();
    let mut queued = std::collections::HashMap::new();
    for (id, outcome) in &outcomes {
        if let EnqueueOutcome::Queued(entry) = outcome {
            assert_eq!(by_entry.get(entry.as_str()), Some(&id.as_str()));
            *queued.entry(id.clone()).or_insert(0) += 1;
        }
    }
    assert_eq!(queued.len(), 200);
    assert!(queued.values().all(|&n| n == 1));
}
