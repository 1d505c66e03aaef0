//! Objects other events carry (a membership's organization), ties between versions, and
//! deletions that find the user already deleted: where a batch could end otherwise than
//! the same events applied one per transaction.

use clerk_sync_db::{DeleteMode, Outcome};
use clerk_sync_events::Event;
use serde_json::json;

use crate::helpers::{corpus, db, deleted_event, edited, user_event};

const T0: i64 = 1_716_883_200_000;

fn organization(updated_at: i64, name: &str) -> Event {
    let (body, _) = corpus("organization.updated");
    edited(&body, |v| {
        v["data"]["id"] = json!("org_carried");
        v["data"]["name"] = json!(name);
        v["data"]["updated_at"] = json!(updated_at);
    })
}

fn membership(updated_at: i64, org_updated_at: i64, org_name: &str) -> Event {
    let (body, _) = corpus("organizationMembership.updated");
    edited(&body, |v| {
        v["data"]["id"] = json!("orgmem_carried");
        v["data"]["updated_at"] = json!(updated_at);
        v["data"]["organization"]["id"] = json!("org_carried");
        v["data"]["organization"]["name"] = json!(org_name);
        v["data"]["organization"]["updated_at"] = json!(org_updated_at);
    })
}

/// A membership that carries a newer state of its organization than the organization's own
/// event in the same batch: the organization changed, and the feed says so under its own
/// event, as it does when the two are applied one after the other in that order.
#[tokio::test]
async fn an_organization_changed_by_a_carried_state_is_announced_by_its_own_event() {
    let mut db = db().await;
    let own = organization(T0 + 1000, "Own");
    let carried = membership(T0 + 2000, T0 + 2000, "Carried");
    let outcomes = db
        .apply_batch(
            &[
                ("msg_org".to_owned(), own.clone()),
                ("msg_mem".to_owned(), carried.clone()),
            ],
            DeleteMode::Soft,
        )
        .await;
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Applied]);
    let rows = db.rows("SELECT name FROM organizations").await;
    assert_eq!(
        rows,
        [json!({"name": "Carried"})],
        "the newest state is kept"
    );
    let feed: Vec<(String, String)> = db
        .feed()
        .await
        .iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (field("object_type"), field("svix_id"))
        })
        .collect();
    assert!(
        feed.contains(&("organization".to_owned(), "msg_org".to_owned())),
        "the organization's change is in the feed: {feed:?}"
    );
}

/// Ties between two versions at one `updated_at` are settled by the event id, byte by byte,
/// in the batch and in the database alike, whatever the database's collation: ids that
/// differ in letter case sort differently under a linguistic collation.
#[tokio::test]
async fn version_ids_compare_by_bytes_in_every_table() {
    let mut db = db().await;
    let columns = db
        .rows(
            "SELECT table_name::text AS table, collation_name::text AS collation \
             FROM information_schema.columns WHERE table_schema = 'clerk' \
             AND (column_name = 'last_svix_id' OR (table_name = 'tombstones' AND column_name = 'svix_id'))",
        )
        .await;
    // Every table has one but the addresses, which follow their user's version.
    assert_eq!(
        columns.len(),
        crate::helpers::TABLES.len() - 1,
        "{columns:?}"
    );
    for column in &columns {
        assert_eq!(column["collation"], "C", "{column}");
    }
    // And the tie itself: the same organization at one time from two events whose ids
    // differ in case, in one batch and one by one, in both orders.
    let lower = ("msg_2aX".to_owned(), organization(T0, "lower"));
    let upper = ("msg_2B7".to_owned(), organization(T0, "upper"));
    let mut kept = Vec::new();
    for batch in [
        vec![lower.clone(), upper.clone()],
        vec![upper.clone(), lower.clone()],
    ] {
        db.clear().await;
        db.apply_batch(&batch, DeleteMode::Soft).await;
        kept.push(
            db.rows("SELECT name, last_svix_id FROM organizations")
                .await,
        );
        db.clear().await;
        for event in &batch {
            db.apply_batch(std::slice::from_ref(event), DeleteMode::Soft)
                .await;
        }
        kept.push(
            db.rows("SELECT name, last_svix_id FROM organizations")
                .await,
        );
    }
    // By bytes, 'a' (0x61) sorts after 'B' (0x42).
    let expected = vec![json!({"name": "lower", "last_svix_id": "msg_2aX"})];
    for rows in kept {
        assert_eq!(rows, expected);
    }
}

/// A deletion delivered again under another id after a switch from `soft` to `hard` is
/// stale: it leaves the row the first deletion left.
#[tokio::test]
async fn a_stale_deletion_in_hard_mode_leaves_the_soft_deleted_row() {
    let mut db = db().await;
    let created = user_event("user.created", "user_switch", T0, "Jane");
    db.apply("msg_created", &created, DeleteMode::Soft).await;
    db.apply(
        "msg_deleted",
        &deleted_event("user_switch", T0 + 1000),
        DeleteMode::Soft,
    )
    .await;
    let again = db
        .apply(
            "msg_again",
            &deleted_event("user_switch", T0 + 5000),
            DeleteMode::Hard,
        )
        .await;
    assert_eq!(again, Outcome::Stale);
    let rows = db
        .rows("SELECT clerk_id, deleted_at IS NOT NULL AS deleted FROM users")
        .await;
    assert_eq!(rows, [json!({"clerk_id": "user_switch", "deleted": true})]);
}
