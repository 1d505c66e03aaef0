//! The change feed's promises about time: a notification only after commit, and a reader
//! following `id` never skips a change, however transactions interleave.

use std::time::Duration;

use clerk_sync_db::{
    ApplyOptions, AsyncPgConnection, ChangeListener, DbError, Op, Pending, apply_batch, apply_one,
    read_changes,
};
use clerk_sync_events::Event;
use clerk_sync_test_support::{eventually, try_eventually};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Integer};
use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::helpers::{db, user_body, user_event};

const T1: i64 = 1_716_883_200_000;
const WITHIN: Duration = Duration::from_secs(10);

/// A plain tokio-postgres session that `LISTEN`s on the feed's channel, as any consumer
/// would, and hands over each payload.
async fn listen(url: &str) -> (tokio_postgres::Client, mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    client
        .batch_execute("LISTEN clerk_sync_changes")
        .await
        .unwrap();
    (client, rx)
}

#[tokio::test]
async fn a_listener_is_notified_of_a_change_only_once_its_transaction_commits() {
    let db = db().await;
    let (_listening, mut notices) = listen(&db.database.url).await;
    let mut writer = db.connection().await;
    let event = user_event("user.created", "user_1", T1, "Jane");
    let (applied, applied_rx) = oneshot::channel();
    let (commit, commit_rx) = oneshot::channel::<()>();

    // The writer applies the event inside a transaction the test ends.
    let write = writer.transaction::<_, DbError, _>(async |conn| {
        let pending = Pending {
            svix_id: "msg_1",
            event: &event,
        };
        apply_one(conn, pending, ApplyOptions::default()).await?;
        let _ = applied.send(());
        let _ = commit_rx.await;
        Ok(())
    });
    let observe = async {
        applied_rx.await.unwrap();
        let early = try_eventually(Duration::from_millis(500), || {
            let empty = notices.is_empty();
            async move { !empty }
        })
        .await;
        assert!(!early, "notified before the commit");
        assert!(
            read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 10, &[])
                .await
                .unwrap()
                .is_empty(),
            "the row is visible before the commit"
        );
        commit.send(()).unwrap();
    };
    let (written, ()) = tokio::join!(write, observe);
    written.unwrap();

    let payload = tokio::time::timeout(WITHIN, notices.recv())
        .await
        .expect("no notification after the commit")
        .unwrap();
    let row = read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 10, &[])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        payload,
        format!(
            r#"{{"id":{},"object_type":"user","object_id":"user_1","op":"upserted"}}"#,
            row.id
        )
    );
    let parsed: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        parsed,
        json!({"id": row.id, "object_type": "user", "object_id": "user_1", "op": "upserted"})
    );
    assert!(notices.is_empty(), "one notification per row");
}

#[tokio::test]
async fn the_listener_wakes_on_each_commit_and_reads_it_by_id() {
    let mut db = db().await;
    let mut listener =
        ChangeListener::start(db.connection().await, clerk_sync_db::Schema::default())
            .await
            .unwrap();
    assert!(listener.read(0, 10, &[]).await.unwrap().is_empty());

    let event = user_event("user.created", "user_1", T1, "Jane");
    db.apply("msg_1", &event, Default::default()).await;
    let notice = tokio::time::timeout(WITHIN, listener.notified())
        .await
        .expect("no notification")
        .unwrap()
        .expect("the feed's payload");
    assert_eq!(
        (notice.object_id.as_str(), notice.op),
        ("user_1", Op::Upserted)
    );
    let read = listener.read(0, 10, &[]).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, notice.id);
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = Bool)]
    waiting: bool,
}

/// Whether session `pid` is waiting for a lock.
async fn waiting_for_a_lock(conn: &AsyncPgConnection, pid: i32) -> bool {
    let row: Waiting = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted) AS waiting",
    )
    .bind::<Integer, _>(pid)
    .get_result(&mut &*conn)
    .await
    .unwrap();
    row.waiting
}

/// A new user with an address of its own.
fn user(id: &str, address: &str) -> Event {
    let email = format!("{id}@example.com");
    let body = user_body(
        "user.created",
        id,
        T1,
        "Ada",
        &[(address, &email)],
        Some(address),
    );
    clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
}

/// Applies one event in a transaction of its own.
async fn apply_alone(mut conn: AsyncPgConnection, svix_id: &str, event: Event) {
    let batch = [Pending {
        svix_id,
        event: &event,
    }];
    apply_batch(&mut conn, &batch, ApplyOptions::default())
        .await
        .unwrap();
}

/// The outbox bug, staged: transaction A writes its feed row first and stays open; B, on
/// another connection, then writes its own and tries to commit; a reader following by id
/// reads in between, moves its cursor to the largest id it saw, and reads again once both
/// have committed. Had B's larger id committed before A's smaller one, the reader would
/// have moved past A's for good. With the feed's lock B waits for A, and the reader, who
/// saw neither in between, reads both afterwards.
#[tokio::test]
async fn a_reader_following_by_id_never_skips_a_change_committed_out_of_order() {
    let db = db().await;
    let reader = &db.conn;
    let watcher = db.connection().await;
    let mut conn_a = db.connection().await;
    let conn_b = db.connection().await;
    let Pid { pid: pid_b } = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut &conn_b)
        .await
        .unwrap();
    // Nothing shared (not even an address id), so only the feed can order them.
    let event_a = user("user_a", "idn_a");
    let event_b = user("user_b", "idn_b");
    let (a_written, a_written_rx) = oneshot::channel();
    let (commit_a, commit_a_rx) = oneshot::channel::<()>();

    let a = conn_a.transaction::<_, DbError, _>(async |conn| {
        let batch = [Pending {
            svix_id: "msg_a",
            event: &event_a,
        }];
        apply_batch(conn, &batch, ApplyOptions::default()).await?;
        let _ = a_written.send(());
        let _ = commit_a_rx.await;
        Ok(())
    });
    let rest = async {
        a_written_rx.await.unwrap();
        // A has drawn its id and holds on. B goes ahead: it either commits or waits.
        let b = tokio::spawn(apply_alone(conn_b, "msg_b", event_b));
        eventually(WITHIN, "B committed or waiting", || {
            let done = b.is_finished();
            let waiting = waiting_for_a_lock(&watcher, pid_b);
            async move { done || waiting.await }
        })
        .await;

        let first = read_changes(reader, clerk_sync_db::Schema::default(), 0, 100, &[])
            .await
            .unwrap();
        let cursor = first.last().map_or(0, |c| c.id);
        commit_a.send(()).unwrap();
        (b, first, cursor)
    };
    let (committed, (b, first, cursor)) = tokio::join!(a, rest);
    committed.unwrap();
    tokio::time::timeout(WITHIN, b)
        .await
        .expect("B never committed")
        .unwrap();

    let second = read_changes(reader, clerk_sync_db::Schema::default(), cursor, 100, &[])
        .await
        .unwrap();
    let mut seen: Vec<String> = first.into_iter().chain(second).map(|c| c.svix_id).collect();
    seen.sort();
    let all = read_changes(reader, clerk_sync_db::Schema::default(), 0, 100, &[])
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(seen, ["msg_a", "msg_b"], "the reader skipped a change");
    assert_eq!(all[0].svix_id, "msg_a", "ids are in commit order");
}
