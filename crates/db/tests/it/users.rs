//! Users: newest wins, a deletion is final, and addresses follow the winning state.

use clerk_sync_db::{DeleteMode, Outcome};
use serde_json::json;

use crate::helpers::{db, deleted_event, user_body, user_event};

const T1: i64 = 1_716_883_200_000;
const T2: i64 = T1 + 60_000;
const T3: i64 = T1 + 120_000;

#[tokio::test]
async fn a_created_user_is_stored_with_its_primary_email_and_addresses() {
    let mut db = db().await;
    let body = user_body(
        "user.created",
        "user_1",
        T1,
        "Jane",
        &[("idn_a", "jane@example.com"), ("idn_b", "jd@work.example")],
        Some("idn_b"),
    );
    let event = clerk_sync_events::parse(body.as_bytes(), 0).unwrap();
    assert_eq!(
        db.apply("msg_1", &event, DeleteMode::Soft).await,
        Outcome::Applied
    );

    let user = db.user("user_1").await.unwrap();
    assert_eq!(user["email"], "jd@work.example");
    assert_eq!(user["first_name"], "Jane");
    assert_eq!(user["last_name"], "Doe");
    assert_eq!(user["image_url"], "https://img.clerk.com/x");
    assert_eq!(user["phone"], "+15555550100");
    assert_eq!(user["public_metadata"], json!({"plan": "pro"}));
    assert_eq!(user["external_id"], "ext_1");
    assert_eq!(user["deleted_at"], serde_json::Value::Null);
    assert_eq!(user["last_svix_id"], "msg_1");
    assert!(
        user["updated_at"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-28T08:00:00")
    );
    assert!(
        !user.to_string().contains("do-not-store"),
        "private_metadata is never stored"
    );

    let addresses = db
        .rows("SELECT id, user_id, email_address, verified, is_primary FROM user_email_addresses ORDER BY id")
        .await;
    assert_eq!(
        addresses,
        vec![
            json!({"id": "idn_a", "user_id": "user_1", "email_address": "jane@example.com", "verified": true, "is_primary": false}),
            json!({"id": "idn_b", "user_id": "user_1", "email_address": "jd@work.example", "verified": true, "is_primary": true}),
        ]
    );
    let processed = db
        .rows("SELECT svix_id, event_type, object_id FROM processed_webhooks")
        .await;
    assert_eq!(
        processed,
        vec![json!({"svix_id": "msg_1", "event_type": "user.created", "object_id": "user_1"})]
    );
}

#[tokio::test]
async fn a_primary_address_id_that_names_no_address_stores_a_null_email() {
    let mut db = db().await;
    let body = user_body(
        "user.created",
        "user_1",
        T1,
        "Jane",
        &[("idn_a", "jane@example.com")],
        Some("idn_gone"),
    );
    let event = clerk_sync_events::parse(body.as_bytes(), 0).unwrap();
    db.apply("msg_1", &event, DeleteMode::Soft).await;
    assert_eq!(
        db.user("user_1").await.unwrap()["email"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_newer_update_wins_and_an_older_one_changes_nothing() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &user_event("user.created", "user_1", T1, "Jane"),
        DeleteMode::Soft,
    )
    .await;
    assert_eq!(
        db.apply(
            "msg_3",
            &user_event("user.updated", "user_1", T3, "Janet"),
            DeleteMode::Soft
        )
        .await,
        Outcome::Applied
    );
    let before = db.snapshot().await;
    assert_eq!(
        db.apply(
            "msg_2",
            &user_event("user.updated", "user_1", T2, "Jenny"),
            DeleteMode::Soft
        )
        .await,
        Outcome::Stale
    );
    let user = db.user("user_1").await.unwrap();
    assert_eq!(user["first_name"], "Janet");
    assert_eq!(user["last_svix_id"], "msg_3");
    let after = db.snapshot().await;
    assert_eq!(
        before[0], after[0],
        "the stale event left the user untouched"
    );
    assert_eq!(
        after.last().unwrap().len(),
        3,
        "but it is recorded as processed"
    );
}

#[tokio::test]
async fn an_event_applied_twice_changes_nothing_the_second_time() {
    let mut db = db().await;
    let event = user_event("user.created", "user_1", T1, "Jane");
    assert_eq!(
        db.apply("msg_1", &event, DeleteMode::Soft).await,
        Outcome::Applied
    );
    let once = db.snapshot().await;
    assert_eq!(
        db.apply("msg_1", &event, DeleteMode::Soft).await,
        Outcome::Duplicate
    );
    assert_eq!(db.snapshot().await, once);
}

#[tokio::test]
async fn a_tie_on_updated_at_is_settled_by_the_event_id_in_any_order() {
    let a = user_event("user.updated", "user_1", T1, "Ann");
    let b = user_event("user.updated", "user_1", T1, "Bea");
    let mut db = db().await;
    db.apply("msg_a", &a, DeleteMode::Soft).await;
    db.apply("msg_b", &b, DeleteMode::Soft).await;
    let forward = db.snapshot().await;
    db.truncate().await;
    db.apply("msg_b", &b, DeleteMode::Soft).await;
    db.apply("msg_a", &a, DeleteMode::Soft).await;
    assert_eq!(db.snapshot().await, forward);
    assert_eq!(db.user("user_1").await.unwrap()["first_name"], "Bea");
}

#[tokio::test]
async fn a_soft_deletion_erases_personal_data_and_keeps_a_tombstone_row() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &user_event("user.created", "user_1", T1, "Jane"),
        DeleteMode::Soft,
    )
    .await;
    // Seconds, as some senders send them, become ms.
    let deletion = deleted_event("user_1", T2 / 1000);
    assert_eq!(
        db.apply("msg_2", &deletion, DeleteMode::Soft).await,
        Outcome::Applied
    );

    let user = db.user("user_1").await.unwrap();
    assert!(
        user["deleted_at"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-28T08:01:00")
    );
    assert_eq!(user["clerk_id"], "user_1");
    for field in [
        "email",
        "first_name",
        "last_name",
        "image_url",
        "phone",
        "username",
        "public_metadata",
        "last_sign_in_at",
    ] {
        assert_eq!(
            user[field],
            serde_json::Value::Null,
            "{field} must be erased"
        );
    }
    assert!(
        db.rows("SELECT * FROM user_email_addresses")
            .await
            .is_empty()
    );

    // An update that was delivered late cannot bring the user back.
    assert_eq!(
        db.apply(
            "msg_3",
            &user_event("user.updated", "user_1", T3, "Zombie"),
            DeleteMode::Soft
        )
        .await,
        Outcome::Stale
    );
    let after = db.user("user_1").await.unwrap();
    assert_eq!(after, user);
    assert!(
        db.rows("SELECT * FROM user_email_addresses")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_hard_deletion_leaves_no_personal_data_and_still_blocks_older_events() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &user_event("user.created", "user_1", T1, "Jane"),
        DeleteMode::Hard,
    )
    .await;
    assert_eq!(
        db.apply("msg_2", &deleted_event("user_1", T2), DeleteMode::Hard)
            .await,
        Outcome::Applied
    );
    assert_eq!(db.user("user_1").await, None);
    assert!(
        db.rows("SELECT * FROM user_email_addresses")
            .await
            .is_empty()
    );
    let tombstones = db
        .rows("SELECT object_type, object_id FROM tombstones")
        .await;
    assert_eq!(
        tombstones,
        vec![json!({"object_type": "user", "object_id": "user_1"})]
    );

    assert_eq!(
        db.apply(
            "msg_3",
            &user_event("user.updated", "user_1", T3, "Zombie"),
            DeleteMode::Hard
        )
        .await,
        Outcome::Stale
    );
    assert_eq!(db.user("user_1").await, None);
    let everything = db.snapshot().await.concat();
    assert!(
        !serde_json::Value::Array(everything)
            .to_string()
            .contains("jane@example.com")
    );
}

#[tokio::test]
async fn a_deletion_delivered_before_the_creation_wins() {
    let mut db = db().await;
    assert_eq!(
        db.apply("msg_2", &deleted_event("user_1", T2), DeleteMode::Soft)
            .await,
        Outcome::Applied
    );
    assert_eq!(
        db.apply(
            "msg_1",
            &user_event("user.created", "user_1", T1, "Jane"),
            DeleteMode::Soft
        )
        .await,
        Outcome::Stale
    );
    let user = db.user("user_1").await.unwrap();
    assert_eq!(user["first_name"], serde_json::Value::Null);
    assert!(user["deleted_at"].is_string());
}

#[tokio::test]
async fn concurrent_writers_of_one_user_end_on_the_newest_state() {
    let db = db().await;
    let mut handles = Vec::new();
    for writer in 0..4 {
        let mut conn = db.connection().await;
        handles.push(tokio::spawn(async move {
            for i in 0..25 {
                let version = T1 + i * 4 + writer;
                let event = user_event("user.updated", "user_1", version, &format!("v{version}"));
                let svix_id = format!("msg_{writer}_{i}");
                clerk_sync_db::apply_one(
                    &mut conn,
                    clerk_sync_db::Pending {
                        svix_id: &svix_id,
                        event: &event,
                    },
                    clerk_sync_db::ApplyOptions::default(),
                )
                .await
                .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let mut db = db;
    let user = db.user("user_1").await.unwrap();
    assert_eq!(user["first_name"], format!("v{}", T1 + 99));
    assert_eq!(db.rows("SELECT * FROM processed_webhooks").await.len(), 100);
}

#[tokio::test]
async fn a_batch_applies_all_its_events_in_one_transaction() {
    let mut db = db().await;
    let created = user_event("user.created", "user_1", T1, "Jane");
    let updated = user_event("user.updated", "user_1", T2, "Janet");
    let other = user_event("user.created", "user_2", T1, "Bob");
    let unknown = clerk_sync_events::parse(br#"{"type":"something.new","data":{}}"#, 0).unwrap();
    let batch = [
        clerk_sync_db::Pending {
            svix_id: "msg_2",
            event: &updated,
        },
        clerk_sync_db::Pending {
            svix_id: "msg_1",
            event: &created,
        },
        clerk_sync_db::Pending {
            svix_id: "msg_3",
            event: &other,
        },
        clerk_sync_db::Pending {
            svix_id: "msg_1",
            event: &created,
        },
        clerk_sync_db::Pending {
            svix_id: "msg_4",
            event: &unknown,
        },
    ];
    let outcomes = clerk_sync_db::apply_batch(&mut db.conn, &batch, Default::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Applied,
            Outcome::Stale,
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Ignored
        ]
    );
    assert_eq!(db.user("user_1").await.unwrap()["first_name"], "Janet");
    assert_eq!(db.rows("SELECT * FROM processed_webhooks").await.len(), 3);
}
