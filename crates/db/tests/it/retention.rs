//! `PROCESSED_RETENTION`: `processed_webhooks` pruned in small batches by one session at a
//! time, and the proof that makes pruning it safe: every kind of event delivered again after
//! its record went changes nothing, neither the tables nor the change feed.

use std::time::Duration;

use clerk_sync_db::{DeleteMode, Lock, Outcome, Pruned, Schema, prune_rows};
use diesel_async::RunQueryDsl as _;

use crate::helpers::{Db, db, user_event};

const T1: i64 = 1_716_883_200_000;

async fn processed(db: &mut Db) -> usize {
    db.rows("SELECT svix_id FROM processed_webhooks")
        .await
        .len()
}

#[tokio::test]
async fn processed_rows_past_the_retention_are_pruned_in_batches_by_one_session_at_a_time() {
    let mut db = db().await;
    for i in 0..7 {
        let event = user_event("user.created", &format!("user_{i}"), T1, "Jane");
        db.apply(&format!("msg_{i}"), &event, DeleteMode::Soft)
            .await;
    }
    diesel::sql_query(
        "UPDATE clerk.processed_webhooks SET processed_at = now() - interval '31 days' \
         WHERE svix_id IN ('msg_0', 'msg_1', 'msg_2', 'msg_3', 'msg_4')",
    )
    .execute(&mut db.conn)
    .await
    .unwrap();
    let month = Duration::from_secs(30 * 24 * 3600);

    // Another worker is pruning: this one leaves it be.
    let other = db.holding(Lock::PruneProcessed).await;
    let schema = Schema::default();
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Processed, month, 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(processed(&mut db).await, 7);
    // The feed's pruner is another lock: it is not held up by this one.
    assert_eq!(
        clerk_sync_db::prune_changes(&mut db.conn, schema, month, 2)
            .await
            .unwrap(),
        0
    );
    drop(other);

    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Processed, month, 2)
            .await
            .unwrap(),
        5,
        "three batches: 2, 2, 1"
    );
    assert_eq!(
        db.rows("SELECT svix_id FROM processed_webhooks ORDER BY 1")
            .await,
        [
            serde_json::json!({"svix_id": "msg_5"}),
            serde_json::json!({"svix_id": "msg_6"})
        ]
    );
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Processed, month, 2)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn concurrent_pruners_delete_each_row_once() {
    let mut db = db().await;
    for i in 0..40 {
        let event = user_event("user.created", &format!("user_{i}"), T1, "Jane");
        db.apply(&format!("msg_{i}"), &event, DeleteMode::Soft)
            .await;
    }
    let mut pruners = Vec::new();
    for _ in 0..4 {
        let mut conn = db.connection().await;
        pruners.push(tokio::spawn(async move {
            prune_rows(
                &mut conn,
                Schema::default(),
                Pruned::Processed,
                Duration::ZERO,
                3,
            )
            .await
            .unwrap()
        }));
    }
    let mut deleted = 0;
    for pruner in pruners {
        deleted += pruner.await.unwrap();
    }
    // A pruner that finds the lock taken stops; whoever holds it goes on to the end.
    let rest = prune_rows(
        &mut db.conn,
        Schema::default(),
        Pruned::Processed,
        Duration::ZERO,
        3,
    )
    .await
    .unwrap();
    assert_eq!(deleted + rest, 40);
    assert_eq!(processed(&mut db).await, 0);
}

/// Every event of the corpus, alone: applied, its record pruned, delivered again under the
/// same id. The tables (their records included, written again) and the feed end as they
/// were: every row keeps its newest version, and a tie changes nothing.
#[tokio::test]
async fn an_event_delivered_again_after_its_record_was_pruned_changes_nothing() {
    let mut db = db().await;
    for mode in [DeleteMode::Soft, DeleteMode::Hard] {
        for (name, body) in clerk_sync_test_support::clerk_payloads() {
            db.clear().await;
            let event = clerk_sync_events::parse(&body, 0).unwrap();
            let first = db.apply("msg_again", &event, mode).await;
            let tables = db.snapshot().await;
            let feed = db.feed().await;
            assert_eq!(
                prune_rows(
                    &mut db.conn,
                    Schema::default(),
                    Pruned::Processed,
                    Duration::ZERO,
                    100
                )
                .await
                .unwrap(),
                u64::from(first != Outcome::Ignored),
                "{name}"
            );
            let again = db.apply("msg_again", &event, mode).await;
            assert_ne!(again, Outcome::Applied, "{name}: applied twice");
            assert_eq!(
                db.snapshot().await,
                tables,
                "{name}, {mode:?}: the tables moved"
            );
            assert_eq!(db.feed().await, feed, "{name}, {mode:?}: announced twice");
        }
    }
}
