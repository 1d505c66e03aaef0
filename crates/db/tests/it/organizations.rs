//! Organizations and memberships obey the user rules: any permutation of their events,
//! children before parents included, leaves the same rows.

use clerk_sync_db::DeleteMode;
use clerk_sync_events::Event;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::helpers::{corpus, db, edited};

const T0: i64 = 1_716_883_200_000;

#[derive(Debug, Clone)]
enum Step {
    Organization { at: i64, name: u8 },
    OrganizationDeleted { at: i64 },
    Membership { id: u8, at: i64, role: u8 },
    MembershipDeleted { id: u8, at: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    let at = (0i64..4).prop_map(|t| T0 + t * 1000);
    prop_oneof![
        4 => (at.clone(), any::<u8>()).prop_map(|(at, name)| Step::Organization { at, name }),
        1 => at.clone().prop_map(|at| Step::OrganizationDeleted { at }),
        4 => (0u8..2, at.clone(), 0u8..3).prop_map(|(id, at, role)| Step::Membership { id, at, role }),
        1 => (0u8..2, at).prop_map(|(id, at)| Step::MembershipDeleted { id, at }),
    ]
}

fn event(step: &Step) -> Event {
    let (org_body, _) = corpus("organization.updated");
    let (deleted_body, _) = corpus("organization.deleted");
    let (membership_body, _) = corpus("organizationMembership.updated");
    match step {
        Step::Organization { at, name } => edited(&org_body, |j| {
            j["data"]["name"] = json!(format!("Org {name}"));
            j["data"]["updated_at"] = json!(at);
        }),
        Step::OrganizationDeleted { at } => edited(&deleted_body, |j| j["timestamp"] = json!(at)),
        Step::Membership { id, at, role } => edited(&membership_body, |j| {
            j["data"]["id"] = json!(format!("orgmem_{id}"));
            j["data"]["role"] = json!(format!("org:role{role}"));
            j["data"]["updated_at"] = json!(at);
            j["data"]["organization"]["updated_at"] = json!(T0 - 1000);
        }),
        Step::MembershipDeleted { id, at } => edited(&membership_body, |j| {
            j["type"] = json!("organizationMembership.deleted");
            j["timestamp"] = json!(at);
            j["data"]["id"] = json!(format!("orgmem_{id}"));
            j["data"]["updated_at"] = json!(at);
            j["data"]["organization"]["updated_at"] = json!(T0 - 1000);
        }),
    }
}

#[test]
fn any_permutation_of_organization_and_membership_events_leaves_the_same_rows() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = std::cell::RefCell::new(runtime.block_on(db()));
    let strategy = proptest::collection::vec(step(), 1..8).prop_flat_map(|steps| {
        let events: Vec<(String, Step)> = steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("msg_{i:02}"), s))
            .collect();
        (
            Just(events.clone()),
            Just(events).prop_shuffle(),
            proptest::collection::vec(1usize..6, 1..4),
        )
    });
    TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    })
    .run(&strategy, |(in_order, shuffled, batches)| {
        let mut db = db.borrow_mut();
        runtime.block_on(async {
            db.clear().await;
            for (id, step) in &in_order {
                db.apply(id, &event(step), DeleteMode::Soft).await;
            }
            let expected = db.snapshot().await;
            db.clear().await;
            for (id, step) in &shuffled {
                db.apply(id, &event(step), DeleteMode::Soft).await;
            }
            prop_assert_eq!(
                db.snapshot().await,
                expected.clone(),
                "delivered as {:?}",
                shuffled
            );
            db.clear().await;
            let events: Vec<(String, Event)> = shuffled
                .iter()
                .map(|(id, step)| (id.clone(), event(step)))
                .collect();
            db.apply_in_batches(&events, &batches, DeleteMode::Soft)
                .await;
            prop_assert_eq!(
                db.snapshot().await,
                expected,
                "batched {:?} as {:?}",
                batches,
                shuffled
            );
            Ok(())
        })
    })
    .unwrap();
}

#[tokio::test]
async fn a_membership_before_its_organization_and_user_is_kept_and_joined_later() {
    let mut db = db().await;
    let (membership, _) = corpus("organizationMembership.created");
    let membership = edited(&membership, |j| {
        // The event's own copy of the organization is older than the organization's event.
        j["data"]["organization"]["updated_at"] = json!(T0 - 60_000);
        j["data"]["public_user_data"]["user_id"] = json!("user_member");
    });
    db.apply("msg_m", &membership, DeleteMode::Soft).await;
    assert_eq!(
        db.rows("SELECT id FROM organization_memberships")
            .await
            .len(),
        1
    );

    let (org, _) = corpus("organization.updated");
    let org = edited(&org, |j| j["data"]["name"] = json!("Acme Renamed"));
    db.apply("msg_o", &org, DeleteMode::Soft).await;
    let user = crate::helpers::user_event("user.created", "user_member", T0, "Member");
    db.apply("msg_u", &user, DeleteMode::Soft).await;

    let profile = db
        .rows("SELECT organizations FROM user_profiles WHERE clerk_id = 'user_member'")
        .await;
    assert_eq!(
        profile[0]["organizations"],
        json!([{
            "id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "name": "Acme Renamed", "slug": "acme-corp-updated",
            "role": "org:member", "role_name": "Member",
            "permissions": ["org:posts:read", "org:posts:write"]
        }])
    );
}

#[tokio::test]
async fn a_deleted_organization_keeps_its_last_state_and_cannot_come_back() {
    let mut db = db().await;
    let (deleted, _) = corpus("organization.deleted");
    let (updated, _) = corpus("organization.updated");
    db.apply(
        "msg_d",
        &edited(&deleted, |j| j["timestamp"] = json!(T0 + 5000)),
        DeleteMode::Soft,
    )
    .await;
    let row = db
        .rows("SELECT name, slug, deleted_at FROM organizations")
        .await;
    assert_eq!(
        row[0],
        json!({"name": null, "slug": "acme-corp", "deleted_at": "2024-05-28T08:00:05+00:00"})
    );
    // A late update, older or newer, fills the fields in but never undoes the deletion.
    db.apply(
        "msg_u",
        &edited(&updated, |j| j["data"]["updated_at"] = json!(T0 + 9000)),
        DeleteMode::Soft,
    )
    .await;
    let row = db.rows("SELECT name, deleted_at FROM organizations").await;
    assert_eq!(
        row[0],
        json!({"name": "Acme Corp Updated", "deleted_at": "2024-05-28T08:00:05+00:00"})
    );
}
