//! Batches as a worker applies them: several versions of one object in one batch, the whole
//! corpus in one batch, and batches delivered again.

mod mixed;

use clerk_sync_db::{DeleteMode, Outcome};
use clerk_sync_events::{Event, EventData};
use serde_json::{Value, json};

use crate::helpers::{corpus, db, deleted_event, edited, user_body, user_event};

const T0: i64 = 1_716_883_200_000;
const USER: &str = "user_batched";

fn pairs(events: &[(&str, &Event)]) -> Vec<(String, Event)> {
    events
        .iter()
        .map(|(id, event)| ((*id).to_owned(), (*event).clone()))
        .collect()
}

/// Every order of three items.
fn orders<T: Clone>([a, b, c]: [T; 3]) -> Vec<[T; 3]> {
    vec![
        [a.clone(), b.clone(), c.clone()],
        [a.clone(), c.clone(), b.clone()],
        [b.clone(), a.clone(), c.clone()],
        [b.clone(), c.clone(), a.clone()],
        [c.clone(), a.clone(), b.clone()],
        [c, b, a],
    ]
}

#[tokio::test]
async fn two_versions_and_the_deletion_of_a_user_in_one_batch_end_erased_in_every_order() {
    let mut db = db().await;
    let older = {
        let body = user_body(
            "user.created",
            USER,
            T0,
            "Jane",
            &[("idn_old", "jane@example.com")],
            Some("idn_old"),
        );
        clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
    };
    let newer = {
        let body = user_body(
            "user.updated",
            USER,
            T0 + 2000,
            "Janet",
            &[
                ("idn_old", "jane@example.com"),
                ("idn_new", "janet@example.com"),
            ],
            Some("idn_new"),
        );
        clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
    };
    // A deletion is final whatever its time: after both versions, or between them.
    for deleted_at in [T0 + 60_000, T0 + 1000] {
        let deletion = deleted_event(USER, deleted_at);
        let three = [
            ("msg_older", &older),
            ("msg_newer", &newer),
            ("msg_deleted", &deletion),
        ];
        for mode in [DeleteMode::Soft, DeleteMode::Hard] {
            for order in orders(three) {
                let ids = order.map(|(id, _)| id);
                let case = format!("{mode:?}, deleted at +{} ms, {ids:?}", deleted_at - T0);
                let batch = pairs(&order);
                db.clear().await;
                let outcomes = db.apply_batch(&batch, mode).await;

                for ((id, _), outcome) in batch.iter().zip(&outcomes) {
                    if id == "msg_deleted" {
                        assert_eq!(*outcome, Outcome::Applied, "{case}: the deletion");
                    } else {
                        assert!(
                            matches!(outcome, Outcome::Applied | Outcome::Stale),
                            "{case}: {id} is {outcome:?}"
                        );
                    }
                }
                let users = db.rows("SELECT * FROM users").await;
                match mode {
                    DeleteMode::Soft => {
                        assert_eq!(users.len(), 1, "{case}: {users:?}");
                        let kept = [
                            "clerk_id",
                            "external_id",
                            "updated_at",
                            "deleted_at",
                            "last_svix_id",
                        ];
                        for (column, value) in users[0].as_object().unwrap() {
                            if !kept.contains(&column.as_str()) {
                                assert_eq!(*value, Value::Null, "{case}: {column} survived");
                            }
                        }
                        let at = db
                            .rows("SELECT (extract(epoch FROM deleted_at) * 1000)::bigint AS ms FROM users")
                            .await;
                        assert_eq!(at, vec![json!({ "ms": deleted_at })], "{case}");
                    }
                    DeleteMode::Hard => {
                        assert!(users.is_empty(), "{case}: {users:?}");
                        let tombstones = db
                            .rows(
                                "SELECT object_id, (extract(epoch FROM deleted_at) * 1000)::bigint \
                                 AS ms FROM tombstones WHERE object_type = 'user'",
                            )
                            .await;
                        assert_eq!(
                            tombstones,
                            vec![json!({ "object_id": USER, "ms": deleted_at })],
                            "{case}"
                        );
                    }
                }
                assert!(
                    db.rows("SELECT * FROM user_email_addresses")
                        .await
                        .is_empty(),
                    "{case}: addresses left"
                );
                assert!(
                    db.rows("SELECT * FROM user_profiles").await.is_empty(),
                    "{case}: a deleted user has a profile"
                );
                let everything = Value::Array(db.snapshot().await.concat()).to_string();
                assert!(
                    !everything.to_lowercase().contains("jane"),
                    "{case}: a name or an address survived: {everything}"
                );
                let processed = db
                    .rows("SELECT svix_id FROM processed_webhooks ORDER BY svix_id")
                    .await;
                assert_eq!(
                    processed,
                    ["msg_deleted", "msg_newer", "msg_older"].map(|id| json!({ "svix_id": id })),
                    "{case}"
                );
            }
        }
    }
}

/// Every Clerk payload of the corpus, each with an id of its own, in the corpus's order.
fn the_corpus() -> Vec<(String, Event)> {
    clerk_sync_test_support::clerk_payloads()
        .iter()
        .enumerate()
        .map(|(i, (_, body))| {
            (
                format!("msg_corpus_{i:02}"),
                clerk_sync_events::parse(body, 0).unwrap(),
            )
        })
        .collect()
}

fn delivered_again(event: &Event) -> Outcome {
    match event.data {
        EventData::Unhandled => Outcome::Ignored,
        _ => Outcome::Duplicate,
    }
}

#[tokio::test]
async fn the_whole_corpus_in_one_batch_leaves_the_rows_of_one_transaction_per_event() {
    let mut db = db().await;
    let corpus = the_corpus();
    for mode in [DeleteMode::Soft, DeleteMode::Hard] {
        db.clear().await;
        for (id, event) in &corpus {
            db.apply(id, event, mode).await;
        }
        let expected = db.snapshot().await;

        db.clear().await;
        let outcomes = db.apply_batch(&corpus, mode).await;
        assert!(
            outcomes.iter().all(|o| *o != Outcome::Duplicate),
            "{mode:?}: distinct ids are no duplicates: {outcomes:?}"
        );
        assert_eq!(db.snapshot().await, expected, "{mode:?}");

        let feed = db.feed().await;
        let again = db.apply_batch(&corpus, mode).await;
        for ((id, event), outcome) in corpus.iter().zip(&again) {
            assert_eq!(*outcome, delivered_again(event), "{mode:?}: {id} again");
        }
        assert_eq!(
            db.snapshot().await,
            expected,
            "{mode:?}: after the second batch"
        );
        assert_eq!(
            db.feed().await,
            feed,
            "{mode:?}: the second batch wrote to the feed"
        );
    }
}

#[tokio::test]
async fn a_batch_delivered_again_in_any_order_changes_nothing_and_announces_nothing() {
    let mut db = db().await;
    let (membership, _) = corpus("organizationMembership.created");
    let membership = |kind: &str, at: i64| {
        edited(&membership, |j| {
            j["type"] = json!(kind);
            j["timestamp"] = json!(at);
            j["data"]["updated_at"] = json!(at);
            j["data"]["public_user_data"]["user_id"] = json!(USER);
        })
    };
    let session = edited(&corpus("session.created").0, |j| {
        j["data"]["user_id"] = json!(USER);
    });
    let unknown = clerk_sync_events::parse(br#"{"type":"something.new","data":{}}"#, 0).unwrap();
    let created = user_event("user.created", USER, T0, "Jane");
    let batch: Vec<(String, Event)> = vec![
        ("msg_user_1".into(), created.clone()),
        (
            "msg_user_2".into(),
            user_event("user.updated", USER, T0 + 1000, "Janet"),
        ),
        (
            "msg_other".into(),
            user_event("user.created", "user_other", T0, "Bob"),
        ),
        (
            "msg_other_gone".into(),
            deleted_event("user_other", T0 + 5000),
        ),
        ("msg_session".into(), session),
        ("msg_org".into(), corpus("organization.updated").1),
        (
            "msg_member".into(),
            membership("organizationMembership.created", T0),
        ),
        (
            "msg_member_end".into(),
            membership("organizationMembership.deleted", T0 + 3000),
        ),
        ("msg_new_type".into(), unknown),
        // Delivered twice within the batch.
        ("msg_user_1".into(), created),
    ];

    for mode in [DeleteMode::Soft, DeleteMode::Hard] {
        db.clear().await;
        let first = db.apply_batch(&batch, mode).await;
        assert_eq!(first[9], Outcome::Duplicate, "{mode:?}: twice in one batch");
        assert_eq!(first[8], Outcome::Ignored, "{mode:?}");
        let expected = db.snapshot().await;
        let feed = db.feed().await;
        assert!(
            !feed.is_empty(),
            "{mode:?}: the first delivery is announced"
        );

        let mut reversed = batch.clone();
        reversed.reverse();
        let mut rotated = batch.clone();
        rotated.rotate_left(4);
        for (how, again) in [
            ("again", &batch),
            ("reversed", &reversed),
            ("rotated", &rotated),
        ] {
            let outcomes = db.apply_batch(again, mode).await;
            for ((id, event), outcome) in again.iter().zip(&outcomes) {
                assert_eq!(*outcome, delivered_again(event), "{mode:?}, {how}: {id}");
            }
            assert_eq!(db.snapshot().await, expected, "{mode:?}, {how}");
            assert_eq!(
                db.feed().await,
                feed,
                "{mode:?}, {how}: a feed row for a redelivery"
            );
        }

        // Redeliveries beside new events: only the new ones are applied and announced.
        let fresh = (
            "msg_fresh".to_owned(),
            user_event("user.created", "user_fresh", T0, "Pat"),
        );
        let mixed = vec![batch[1].clone(), fresh, batch[6].clone(), batch[3].clone()];
        let outcomes = db.apply_batch(&mixed, mode).await;
        assert_eq!(
            outcomes,
            [
                Outcome::Duplicate,
                Outcome::Applied,
                Outcome::Duplicate,
                Outcome::Duplicate
            ],
            "{mode:?}"
        );
        let now = db.feed().await;
        assert_eq!(now[..feed.len()], feed[..], "{mode:?}");
        let added: Vec<&Value> = now[feed.len()..]
            .iter()
            .map(|row| &row["svix_id"])
            .collect();
        assert_eq!(added, [&json!("msg_fresh")], "{mode:?}");
    }
}
