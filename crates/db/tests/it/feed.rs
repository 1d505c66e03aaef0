//! The change feed's contents: one row per applied change, none for the rest, ids only;
//! reading it after a cursor; retention.

use std::time::Duration;

use clerk_sync_db::{
    Change, DeleteMode, Op, Outcome, changes_pruned_through, prune_changes, read_changes,
};
use serde_json::{Value, json};

use crate::helpers::{Db, corpus, db, deleted_event, user_event};

const T1: i64 = 1_716_883_200_000;
const T2: i64 = T1 + 60_000;
const T3: i64 = T1 + 120_000;

/// The feed without its wall-clock column.
async fn feed(db: &mut Db) -> Vec<Value> {
    db.rows(
        "SELECT object_type, object_id, op, event_type, svix_id, \
         (extract(epoch FROM version) * 1000)::bigint AS version_ms \
         FROM sync_changes ORDER BY id",
    )
    .await
}

#[tokio::test]
async fn only_applied_events_are_in_the_feed_not_stale_duplicate_or_ignored_ones() {
    let mut db = db().await;
    let apply = async |db: &mut Db, id: &str, event| db.apply(id, event, DeleteMode::Soft).await;
    let newest = user_event("user.updated", "user_1", T3, "Janet");
    let older = user_event("user.updated", "user_1", T2, "Jenny");
    let created = user_event("user.created", "user_1", T1, "Jane");
    let unknown = clerk_sync_events::parse(br#"{"type":"something.new","data":{}}"#, 0).unwrap();

    assert_eq!(apply(&mut db, "msg_3", &newest).await, Outcome::Applied);
    assert_eq!(apply(&mut db, "msg_1", &created).await, Outcome::Stale);
    assert_eq!(apply(&mut db, "msg_2", &older).await, Outcome::Stale);
    assert_eq!(apply(&mut db, "msg_3", &newest).await, Outcome::Duplicate);
    assert_eq!(apply(&mut db, "msg_x", &unknown).await, Outcome::Ignored);
    // The same in one batch, as a worker applies them.
    let other = user_event("user.created", "user_2", T1, "Bob");
    let batch: Vec<(String, clerk_sync_events::Event)> = vec![
        ("msg_5".into(), other.clone()),
        ("msg_5".into(), other),
        ("msg_2".into(), older),
        ("msg_y".into(), unknown),
    ];
    db.apply_in_batches(&batch, &[4], DeleteMode::Soft).await;

    assert_eq!(
        feed(&mut db).await,
        vec![
            json!({"object_type": "user", "object_id": "user_1", "op": "upserted",
                   "event_type": "user.updated", "svix_id": "msg_3", "version_ms": T3}),
            json!({"object_type": "user", "object_id": "user_2", "op": "upserted",
                   "event_type": "user.created", "svix_id": "msg_5", "version_ms": T1}),
        ]
    );
}

#[tokio::test]
async fn a_deletion_is_a_deleted_change_and_so_is_the_end_of_a_membership() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &user_event("user.created", "user_1", T1, "Jane"),
        DeleteMode::Hard,
    )
    .await;
    let deletion = deleted_event("user_1", T2);
    assert_eq!(
        db.apply("msg_2", &deletion, DeleteMode::Hard).await,
        Outcome::Applied
    );
    let (_, ended) = corpus("organizationMembership.deleted");
    assert_eq!(
        db.apply("msg_3", &ended, DeleteMode::Hard).await,
        Outcome::Applied
    );
    let feed = feed(&mut db).await;
    assert_eq!(feed.len(), 3, "{feed:?}");
    assert_eq!(
        feed[1],
        json!({"object_type": "user", "object_id": "user_1", "op": "deleted",
               "event_type": "user.deleted", "svix_id": "msg_2", "version_ms": T2})
    );
    assert_eq!(feed[2]["object_type"], "organization_membership");
    assert_eq!(feed[2]["object_id"], ended.object_id().unwrap());
    assert_eq!(feed[2]["op"], "deleted");
    assert_eq!(feed[2]["event_type"], "organizationMembership.deleted");
}

#[tokio::test]
async fn every_kind_of_event_names_its_own_object_and_the_feed_holds_no_personal_data() {
    let mut db = db().await;
    let mut applied = Vec::new();
    for (i, (_, body)) in clerk_sync_test_support::clerk_payloads().iter().enumerate() {
        let event = clerk_sync_events::parse(body, 0).unwrap();
        let svix_id = format!("msg_{i:02}");
        if db.apply(&svix_id, &event, DeleteMode::Soft).await == Outcome::Applied {
            applied.push((svix_id, event));
        }
    }
    let feed = feed(&mut db).await;
    // Every row is an applied event, in order; an applied update of an object the corpus
    // deleted before it (organization.updated after organization.deleted) is left out.
    let mut applied = applied.iter();
    for row in &feed {
        let (svix_id, event) = applied
            .find(|(svix_id, _)| row["svix_id"] == svix_id.as_str())
            .unwrap_or_else(|| panic!("{row} is no applied event, or out of order"));
        assert_eq!(row["svix_id"], svix_id.as_str());
        assert_eq!(row["event_type"], event.event_type.as_str());
        assert_eq!(row["object_id"], event.object_id().unwrap(), "{row}");
        let deletion = event.event_type.ends_with(".deleted");
        assert_eq!(row["op"], if deletion { "deleted" } else { "upserted" });
    }
    // Which object types the corpus makes the feed name, README's list says, and a test
    // there compares them (`readme::readme_lists_every_object_type_the_change_feed_names`).

    // Ids, types and times only: no column for anything else, and no address in any.
    let columns = db
        .rows(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'sync_changes' ORDER BY ordinal_position",
        )
        .await;
    assert_eq!(
        columns,
        [
            "id",
            "object_type",
            "object_id",
            "op",
            "event_type",
            "svix_id",
            "version",
            "committed_at"
        ]
        .map(|c| json!({ "column_name": c }))
    );
    let everything = db.rows("SELECT * FROM sync_changes").await;
    let text = Value::Array(everything).to_string();
    assert!(!text.contains('@'), "an address in the feed: {text}");
}

#[tokio::test]
async fn reading_after_a_cursor_by_type_returns_changes_in_id_order() {
    let mut db = db().await;
    for (i, user) in ["user_1", "user_2", "user_3"].iter().enumerate() {
        let event = user_event("user.created", user, T1, "Jane");
        db.apply(&format!("msg_{i}"), &event, DeleteMode::Soft)
            .await;
    }
    db.apply("msg_d", &deleted_event("user_1", T2), DeleteMode::Soft)
        .await;
    let (_, org) = corpus("organization.created");
    db.apply("msg_o", &org, DeleteMode::Soft).await;

    let all = read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 100, &[])
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let after = read_changes(
        &db.conn,
        clerk_sync_db::Schema::default(),
        all[1].id,
        2,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        after,
        all[2..4].to_vec(),
        "after the cursor, at most the limit"
    );

    let ids = |changes: Vec<Change>| -> Vec<String> {
        changes.into_iter().map(|c| c.object_id).collect()
    };
    let users = read_changes(
        &db.conn,
        clerk_sync_db::Schema::default(),
        0,
        100,
        &["user".into()],
    )
    .await
    .unwrap();
    assert_eq!(ids(users), ["user_1", "user_2", "user_3", "user_1"]);
    let deletions = read_changes(
        &db.conn,
        clerk_sync_db::Schema::default(),
        0,
        100,
        &["user.deleted".into()],
    )
    .await
    .unwrap();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0].op, Op::Deleted);
    let orgs = read_changes(
        &db.conn,
        clerk_sync_db::Schema::default(),
        0,
        100,
        &["organization".into()],
    )
    .await
    .unwrap();
    assert_eq!(ids(orgs), [org.object_id().unwrap()]);
}

#[tokio::test]
async fn rows_older_than_the_retention_are_pruned_in_batches_by_one_session_at_a_time() {
    let mut db = db().await;
    for i in 0..7 {
        let event = user_event("user.created", &format!("user_{i}"), T1, "Jane");
        db.apply(&format!("msg_{i}"), &event, DeleteMode::Soft)
            .await;
    }
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(
        "UPDATE clerk.sync_changes SET committed_at = now() - interval '8 days' \
         WHERE id IN (SELECT id FROM clerk.sync_changes ORDER BY id LIMIT 5)",
    )
    .execute(&mut db.conn)
    .await
    .unwrap();
    let week = Duration::from_secs(7 * 24 * 3600);

    // Another worker is pruning: this one leaves it be.
    let other = db.connection().await;
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({}, {})",
        clerk_sync_db::Schema::default()
            .lock(clerk_sync_db::Lock::Prune)
            .0,
        clerk_sync_db::Schema::default()
            .lock(clerk_sync_db::Lock::Prune)
            .1
    ))
    .execute(&mut &other)
    .await
    .unwrap();
    assert_eq!(
        prune_changes(&mut db.conn, clerk_sync_db::Schema::default(), week, 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 100, &[])
            .await
            .unwrap()
            .len(),
        7
    );
    diesel::sql_query("SELECT pg_advisory_unlock_all()")
        .execute(&mut &other)
        .await
        .unwrap();

    let pruned = prune_changes(&mut db.conn, clerk_sync_db::Schema::default(), week, 2)
        .await
        .unwrap();
    assert_eq!(pruned, 5, "three batches: 2, 2, 1");
    let left = read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 100, &[])
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|c| c.svix_id.as_str()).collect::<Vec<_>>(),
        ["msg_5", "msg_6"]
    );
    // A consumer can tell its cursor fell behind: the largest id deleted is recorded.
    assert_eq!(
        changes_pruned_through(&db.conn, clerk_sync_db::Schema::default())
            .await
            .unwrap(),
        left[0].id - 1
    );
    assert_eq!(
        prune_changes(&mut db.conn, clerk_sync_db::Schema::default(), week, 2)
            .await
            .unwrap(),
        0
    );
    // The lock was released: a second pruner is not locked out.
    let mut free = db.connection().await;
    assert_eq!(
        prune_changes(
            &mut free,
            clerk_sync_db::Schema::default(),
            Duration::ZERO,
            100
        )
        .await
        .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_deletion_delivered_again_under_another_id_is_stale_and_not_in_the_feed() {
    let mut db = db().await;
    for kind in [
        "organization.deleted",
        "organizationMembership.deleted",
        "role.deleted",
    ] {
        let (_, deletion) = corpus(kind);
        assert_eq!(
            db.apply(&format!("msg_{kind}_1"), &deletion, DeleteMode::Soft)
                .await,
            Outcome::Applied,
            "{kind}"
        );
        assert_eq!(
            db.apply(&format!("msg_{kind}_2"), &deletion, DeleteMode::Soft)
                .await,
            Outcome::Stale,
            "{kind}: the same deletion again changes nothing"
        );
    }
    let feed = feed(&mut db).await;
    assert!(
        feed.iter()
            .all(|row| !row["svix_id"].as_str().unwrap_or("").ends_with("_2")),
        "{feed:?}"
    );
}

#[tokio::test]
async fn an_update_after_a_deletion_is_not_announced_as_upserted() {
    let mut db = db().await;
    let (_, deleted) = corpus("organization.deleted");
    let (_, updated) = corpus("organization.updated");
    let id = match &deleted.data {
        clerk_sync_events::EventData::OrganizationDeleted(d) => d.id.clone(),
        other => panic!("{other:?}"),
    };
    // The same organization, updated after its deletion was recorded.
    let mut late = updated.clone();
    if let clerk_sync_events::EventData::OrganizationUpserted(o) = &mut late.data {
        o.id = id.clone();
        o.updated_at = Some(deleted.timestamp + 60_000);
    }
    assert_eq!(
        db.apply("msg_del", &deleted, DeleteMode::Soft).await,
        Outcome::Applied
    );
    db.apply("msg_late", &late, DeleteMode::Soft).await;
    let feed = feed(&mut db).await;
    let ops: Vec<&str> = feed
        .iter()
        .filter(|row| row["object_id"] == id.as_str())
        .map(|row| row["op"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ops, vec!["deleted"], "{feed:?}");
}

/// A fetched state (`fetch:…`) and the webhook of the same version tie: the webhook's larger
/// id wins the tie and rewrites the row as it was, and the feed, which announced that
/// version once, does not announce it again.
#[tokio::test]
async fn one_version_of_an_object_is_announced_once() {
    let mut db = db().await;
    let fetched = user_event("user.updated", "user_tie", T1, "Jane");
    let webhook = user_event("user.updated", "user_tie", T1, "Jane");
    let newer = user_event("user.updated", "user_tie", T1 + 1, "Janet");
    let fetch_id = format!("fetch:user:user_tie:{T1}");
    assert_eq!(
        db.apply(&fetch_id, &fetched, DeleteMode::Soft).await,
        Outcome::Applied
    );
    let before = db.snapshot().await;
    assert_eq!(
        db.apply("msg_tie", &webhook, DeleteMode::Soft).await,
        Outcome::Applied,
        "the tie is won by the larger id, so every order ends in the same row"
    );
    db.apply("msg_newer", &newer, DeleteMode::Soft).await;
    let announced: Vec<(String, String)> =
        read_changes(&db.conn, clerk_sync_db::Schema::default(), 0, 100, &[])
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.svix_id, c.version.timestamp_millis().to_string()))
            .collect();
    assert_eq!(
        announced,
        [
            (fetch_id, T1.to_string()),
            ("msg_newer".to_owned(), (T1 + 1).to_string())
        ]
    );
    assert_ne!(before, db.snapshot().await, "the newer version was written");

    // Every other object table ties the same way (its statement is built for all of them).
    let (_, organization) = crate::helpers::corpus("organization.updated");
    db.apply("fetch:organization:tie", &organization, DeleteMode::Soft)
        .await;
    db.apply("msg_organization_tie", &organization, DeleteMode::Soft)
        .await;
    let organizations = read_changes(
        &db.conn,
        clerk_sync_db::Schema::default(),
        0,
        100,
        &["organization".to_owned()],
    )
    .await
    .unwrap();
    assert_eq!(organizations.len(), 1, "{organizations:?}");
}
