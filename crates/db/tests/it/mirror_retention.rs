//! `SESSIONS_RETENTION` and `MESSAGES_RETENTION`: the two tables that grow with every sign-in
//! and every email or SMS, pruned oldest first in small batches by one session at a time;
//! a session still going is kept however old, and a late event's row goes at the next turn.

use std::time::Duration;

use clerk_sync_db::{DeleteMode, Lock, Outcome, Pruned, Schema, prune_rows};
use diesel_async::RunQueryDsl as _;
use serde_json::{Value, json};

use crate::helpers::{Db, db};

const MONTH: Duration = Duration::from_secs(30 * 24 * 3600);

async fn ids(db: &mut Db, table: &str) -> Vec<String> {
    db.rows(&format!("SELECT id FROM clerk.{table} ORDER BY id"))
        .await
        .into_iter()
        .map(|row| row["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn execute(db: &mut Db, sql: &str) {
    diesel::sql_query(sql).execute(&mut db.conn).await.unwrap();
}

#[tokio::test]
async fn sessions_over_for_longer_than_the_retention_are_pruned_and_no_other() {
    let mut db = db().await;
    // (id, status, updated days ago, expire_at days from now, abandon_at days from now)
    type Session = (
        &'static str,
        Option<&'static str>,
        i32,
        Option<i32>,
        Option<i32>,
    );
    let sessions: [Session; 9] = [
        ("sess_ended_old", Some("ended"), 40, Some(-39), Some(20)),
        ("sess_revoked_old", Some("revoked"), 40, Some(5), None),
        ("sess_expired_old", Some("active"), 40, Some(-33), Some(50)),
        ("sess_abandoned_old", Some("active"), 40, None, Some(-35)),
        ("sess_ended_recently", Some("ended"), 2, Some(-1), None),
        (
            "sess_expired_recently",
            Some("active"),
            40,
            Some(-3),
            Some(50),
        ),
        ("sess_going", Some("active"), 40, Some(1), Some(50)),
        ("sess_pending_old", Some("pending"), 40, None, None),
        ("sess_unknown_old", None, 40, None, None),
    ];
    for (id, status, updated, expire, abandon) in sessions {
        let at = |days: Option<i32>| {
            days.map_or("NULL".to_owned(), |d| {
                format!("now() + make_interval(days => {d})")
            })
        };
        let status = status.map_or("NULL".to_owned(), |s| format!("'{s}'"));
        execute(
            &mut db,
            &format!(
                "INSERT INTO clerk.sessions (id, user_id, status, expire_at, abandon_at, updated_at, last_svix_id) \
                 VALUES ('{id}', 'user_1', {status}, {}, {}, now() - make_interval(days => {updated}), 'msg_{id}')",
                at(expire),
                at(abandon)
            ),
        )
        .await;
    }

    // Another worker is pruning sessions: this one leaves it be.
    let other = db.holding(Lock::PruneSessions).await;
    let schema = Schema::default();
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Sessions, MONTH, 2)
            .await
            .unwrap(),
        0
    );
    // Messages have a lock of their own.
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Messages, MONTH, 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(ids(&mut db, "sessions").await.len(), 9);
    drop(other);

    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Sessions, MONTH, 2)
            .await
            .unwrap(),
        4,
        "two batches of two"
    );
    assert_eq!(
        ids(&mut db, "sessions").await,
        [
            "sess_ended_recently",
            "sess_expired_recently",
            "sess_going",
            "sess_pending_old",
            "sess_unknown_old",
        ]
    );
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Sessions, MONTH, 2)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn messages_older_than_the_retention_are_pruned_in_batches() {
    let mut db = db().await;
    for (i, days) in [45, 40, 35, 31, 29, 1].into_iter().enumerate() {
        execute(
            &mut db,
            &format!(
                "INSERT INTO clerk.messages (id, channel, user_id, updated_at, last_svix_id) \
                 VALUES ('ema_{i}', 'email', 'user_1', now() - make_interval(days => {days}), 'msg_{i}')"
            ),
        )
        .await;
    }
    let schema = Schema::default();
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Messages, MONTH, 3)
            .await
            .unwrap(),
        4,
        "a batch of three, then one"
    );
    assert_eq!(ids(&mut db, "messages").await, ["ema_4", "ema_5"]);
}

fn corpus(name: &str) -> Value {
    let (_, body) = clerk_sync_test_support::clerk_payloads()
        .into_iter()
        .find(|(file, _)| file.starts_with(name))
        .unwrap_or_else(|| panic!("{name} in the corpus"));
    serde_json::from_slice(&body).unwrap()
}

async fn apply(db: &mut Db, svix_id: &str, event: &Value) -> Outcome {
    let event = clerk_sync_events::parse(&serde_json::to_vec(event).unwrap(), 0).unwrap();
    db.apply(svix_id, &event, DeleteMode::Soft).await
}

/// Clerk's own events: a session that ended, and one that expired without an event, go; a
/// late `session.created` for one of them (a dead letter replayed after the retention)
/// writes the row again, which goes at the next turn; a session still going stays, and so
/// does every message younger than the retention.
#[tokio::test]
async fn a_late_event_for_a_pruned_session_is_pruned_again() {
    let mut db = db().await;
    let schema = Schema::default();
    let created = corpus("session.created");
    let ended = corpus("session.ended");
    assert_eq!(
        apply(&mut db, "msg_created", &created).await,
        Outcome::Applied
    );
    assert_eq!(apply(&mut db, "msg_ended", &ended).await, Outcome::Applied);

    // Created in the same (published, 2024) second, but going for another day.
    let mut going = created.clone();
    going["data"]["id"] = json!("sess_going");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).timestamp_millis();
    going["data"]["expire_at"] = json!(tomorrow);
    going["data"]["abandon_at"] = json!(tomorrow);
    assert_eq!(apply(&mut db, "msg_going", &going).await, Outcome::Applied);
    let email = corpus("email.created");
    assert_eq!(apply(&mut db, "msg_email", &email).await, Outcome::Applied);

    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Sessions, MONTH, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids(&mut db, "sessions").await, ["sess_going"]);

    // Its `session.created` replayed under another id: back as it was then, over since.
    assert_eq!(
        apply(&mut db, "msg_replayed", &created).await,
        Outcome::Applied
    );
    assert_eq!(ids(&mut db, "sessions").await.len(), 2);
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Sessions, MONTH, 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids(&mut db, "sessions").await, ["sess_going"]);

    // The published email is from 2024: past a month, kept within ten years.
    let decade = Duration::from_secs(3650 * 24 * 3600);
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Messages, decade, 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        prune_rows(&mut db.conn, schema, Pruned::Messages, MONTH, 100)
            .await
            .unwrap(),
        1
    );
    assert!(ids(&mut db, "messages").await.is_empty());
}
