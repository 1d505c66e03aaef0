//! The dead letters' index: kept by the same scripts that add and remove dead letters, so
//! groups, counts and pages by type, reason, svix_id or object always agree with the stream.

use std::time::Duration;

use clerk_sync_queue::{DeadLetterFilter, DeadLetters, redis};

use crate::helpers::Queue;

/// Dead-letters `n` fresh events with `error`; returns their dead-letter ids, oldest first.
async fn dead_letter(q: &Queue, first: usize, n: usize, error: &str) {
    let consumer = q.consumer("c1");
    consumer.ensure_group().await.unwrap();
    for i in first..first + n {
        q.enqueue(&format!("msg_{i}")).await;
    }
    for delivery in consumer.read(n, Duration::ZERO).await.unwrap() {
        consumer.dead_letter(&delivery.id, error, 8).await.unwrap();
    }
}

fn filter(event_type: Option<&str>, reason: Option<&str>, q: Option<&str>) -> DeadLetterFilter {
    DeadLetterFilter {
        event_type: event_type.map(str::to_owned),
        reason: reason.map(str::to_owned),
        q: q.map(str::to_owned),
    }
}

#[tokio::test]
async fn groups_count_by_type_and_reason_and_follow_replays_and_purges() {
    let q = Queue::new();
    dead_letter(&q, 0, 3, "gave up after 8 attempts: deadlock detected").await;
    dead_letter(&q, 3, 2, "body is not JSON").await;
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());
    let groups = letters.groups(10).await.unwrap();
    let summary: Vec<(&str, &str, u64)> = groups
        .iter()
        .map(|g| (g.event_type.as_str(), g.reason.as_str(), g.count))
        .collect();
    assert_eq!(
        summary,
        [
            ("user.created", "gave up after N attempts", 3),
            ("user.created", "body is not JSON", 2)
        ]
    );
    let all = letters.ids(None).await.unwrap();
    assert_eq!(groups[0].first.as_deref(), Some(all[0].as_str()));
    assert_eq!(groups[0].last.as_deref(), Some(all[2].as_str()));

    let stale = filter(Some("user.created"), Some("gave up after N attempts"), None);
    let ids = letters.matching(&stale, None).await.unwrap();
    assert_eq!(ids, [all[2].clone(), all[1].clone(), all[0].clone()]);
    assert!(letters.replay(&ids[0]).await.unwrap().is_some());
    assert!(letters.purge(&ids[1]).await.unwrap());
    assert_eq!(letters.groups(10).await.unwrap()[0].count, 2);
    assert_eq!(
        letters.matching(&stale, None).await.unwrap(),
        [ids[2].clone()]
    );
    // Purging the rest of a group removes the group.
    assert!(letters.purge(&ids[2]).await.unwrap());
    let groups = letters.groups(10).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].reason, "body is not JSON");
    let mut conn = q.conn().await;
    let members: u64 = redis::cmd("ZCARD")
        .arg(q.keys.dlq_index())
        .query_async(&mut conn)
        .await
        .unwrap();
    // Two dead letters left, each under g, t, r, s and o.
    assert_eq!(members, 10);
}

#[tokio::test]
async fn pages_find_a_dead_letter_by_svix_id_object_or_error_text_newest_first() {
    let q = Queue::new();
    dead_letter(&q, 0, 5, "instance_mismatch: from ins_other").await;
    dead_letter(&q, 5, 5, "body is not JSON").await;
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());

    let by_svix = letters
        .page(&filter(None, None, Some("msg_7")), None, 10, 1000)
        .await
        .unwrap();
    assert_eq!(by_svix.letters.len(), 1);
    assert_eq!(by_svix.letters[0].text("svix_id"), "msg_7");
    // The helper's payloads name their svix id as the object's id too.
    let by_object = letters
        .matching(&filter(None, None, Some("msg_2")), None)
        .await
        .unwrap();
    assert_eq!(by_object.len(), 1);
    let by_text = letters
        .matching(&filter(None, None, Some("INS_OTHER")), None)
        .await
        .unwrap();
    assert_eq!(by_text.len(), 5);

    // Pages of two, newest first, cover everything once.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = letters
            .page(&DeadLetterFilter::default(), before.as_deref(), 2, 1000)
            .await
            .unwrap();
        seen.extend(page.letters.iter().map(|l| l.text("svix_id")));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..10).rev().map(|i| format!("msg_{i}")).collect();
    assert_eq!(seen, expected);

    // A bounded look: a budget of 3 candidates gives at most 3 and says where to go on.
    let page = letters
        .page(&filter(None, None, Some("JSON")), None, 10, 3)
        .await
        .unwrap();
    assert_eq!(page.letters.len(), 3);
    assert!(page.next.is_some());
    // Only up to a plan's newest entry.
    let all = letters.ids(None).await.unwrap();
    let upto = letters
        .matching(&DeadLetterFilter::default(), Some(&all[4]))
        .await
        .unwrap();
    assert_eq!(upto.len(), 5);
}

#[tokio::test]
async fn reindex_groups_dead_letters_written_before_the_index_once() {
    let q = Queue::new();
    dead_letter(&q, 0, 2, "body is not JSON").await;
    // As a version before the index wrote them: the stream entry alone.
    let mut conn = q.conn().await;
    for i in 0..3 {
        let payload = format!(r#"{{"type":"user.updated","data":{{"id":"user_old{i}"}}}}"#);
        let _: String = redis::cmd("XADD")
            .arg(q.keys.dlq())
            .arg("*")
            .arg(&[
                ("svix_id", format!("msg_old{i}")),
                ("svix_timestamp", "1716883200".to_owned()),
                ("type", "user.updated".to_owned()),
                ("payload", payload),
                ("received_at", "1716883200123".to_owned()),
                ("attempt", "7".to_owned()),
                (
                    "error",
                    format!("gave up after {} attempts: deadlock detected", 8 + i),
                ),
                ("failed_at", "1716883300000".to_owned()),
                ("attempts", "8".to_owned()),
            ])
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let letters = DeadLetters::new(q.pool.clone(), q.keys.clone());
    let counts = |groups: Vec<clerk_sync_queue::DeadLetterGroup>| -> Vec<(String, u64)> {
        groups
            .into_iter()
            .map(|g| (format!("{} / {}", g.event_type, g.reason), g.count))
            .collect()
    };
    assert_eq!(
        counts(letters.groups(10).await.unwrap()),
        [("user.created / body is not JSON".to_owned(), 2)],
        "the old ones are in no group"
    );

    assert_eq!(letters.reindex().await.unwrap(), 3);
    let mut grouped = counts(letters.groups(10).await.unwrap());
    grouped.sort();
    assert_eq!(
        grouped,
        [
            ("user.created / body is not JSON".to_owned(), 2),
            ("user.updated / gave up after N attempts".to_owned(), 3)
        ]
    );
    let found = letters
        .matching(&filter(None, None, Some("user_old1")), None)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "found by the object it names");

    assert_eq!(
        letters.reindex().await.unwrap(),
        0,
        "a second run adds nothing"
    );
    assert_eq!(letters.groups(10).await.unwrap().len(), 2);
    assert_eq!(letters.count().await.unwrap(), 5, "nothing moved");
}
