//! Batches of events about several objects at once — users, their sessions, organizations
//! and memberships — with redeliveries, leave the rows that applying the history in order,
//! one event per transaction, leaves.

use std::collections::HashSet;

use clerk_sync_db::{DeleteMode, Outcome};
use clerk_sync_events::Event;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{corpus, db, deleted_event, edited, user_body};

const T0: i64 = 1_716_883_200_000;

/// Three distinct times, so that versions tie often.
fn at(t: u8) -> i64 {
    T0 + i64::from(t) * 1000
}

fn user_id(user: u8) -> String {
    format!("user_mixed_{user}")
}

#[derive(Debug, Clone)]
enum Step {
    User {
        user: u8,
        created: bool,
        at: u8,
        name: u8,
        emails: u8,
    },
    UserDeleted {
        user: u8,
        at: u8,
    },
    Organization {
        org: u8,
        at: u8,
        name: u8,
    },
    OrganizationDeleted {
        org: u8,
        at: u8,
    },
    /// Membership `id` is always of user `id % 3` in organization `id % 2`; it carries its
    /// organization as of `org_at`. `kind`: created, updated, deleted.
    Membership {
        id: u8,
        kind: u8,
        at: u8,
        org_at: u8,
        role: u8,
    },
    /// Session `id` is always of user `id % 3`. `status`: active, ended, revoked.
    Session {
        id: u8,
        status: u8,
        at: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..3, any::<bool>(), 0u8..3, 0u8..4, 0u8..3).prop_map(
            |(user, created, at, name, emails)| Step::User { user, created, at, name, emails }
        ),
        1 => (0u8..3, 0u8..3).prop_map(|(user, at)| Step::UserDeleted { user, at }),
        2 => (0u8..2, 0u8..3, 0u8..4).prop_map(|(org, at, name)| Step::Organization { org, at, name }),
        1 => (0u8..2, 0u8..3).prop_map(|(org, at)| Step::OrganizationDeleted { org, at }),
        3 => (0u8..3, 0u8..3, 0u8..3, 0u8..3, 0u8..3).prop_map(
            |(id, kind, at, org_at, role)| Step::Membership { id, kind, at, org_at, role }
        ),
        2 => (0u8..3, 0u8..3, 0u8..3).prop_map(|(id, status, at)| Step::Session { id, status, at }),
    ]
}

/// A real Clerk shape for each step: the test builders for users, corpus payloads edited
/// for the rest.
fn event(step: &Step) -> Event {
    match *step {
        Step::User {
            user,
            created,
            at: t,
            name,
            emails,
        } => {
            let id = user_id(user);
            let address = |k: u8| {
                (
                    format!("idn_{id}_{k}"),
                    format!("{id}.{k}.{name}@example.com"),
                )
            };
            let (first, second) = (address(0), address(1));
            let (addresses, primary) = match emails {
                0 => (vec![first], "0"),
                1 => (vec![first, second], "1"),
                _ => (vec![second], "1"),
            };
            let pairs: Vec<(&str, &str)> = addresses
                .iter()
                .map(|(idn, email)| (idn.as_str(), email.as_str()))
                .collect();
            let kind = if created {
                "user.created"
            } else {
                "user.updated"
            };
            let primary = format!("idn_{id}_{primary}");
            let body = user_body(
                kind,
                &id,
                at(t),
                &format!("name{name}"),
                &pairs,
                Some(&primary),
            );
            clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
        }
        Step::UserDeleted { user, at: t } => deleted_event(&user_id(user), at(t)),
        Step::Organization { org, at: t, name } => edited(&corpus("organization.updated").0, |j| {
            j["data"]["id"] = json!(format!("org_mixed_{org}"));
            j["data"]["name"] = json!(format!("Org {org} v{name}"));
            j["data"]["slug"] = json!(format!("org-{org}-v{name}"));
            j["data"]["updated_at"] = json!(at(t));
            j["timestamp"] = json!(at(t));
        }),
        Step::OrganizationDeleted { org, at: t } => {
            edited(&corpus("organization.deleted").0, |j| {
                j["data"]["id"] = json!(format!("org_mixed_{org}"));
                j["data"]["slug"] = json!(format!("org-{org}"));
                j["timestamp"] = json!(at(t));
            })
        }
        Step::Membership {
            id,
            kind,
            at: t,
            org_at,
            role,
        } => {
            let kind = ["created", "updated", "deleted"][usize::from(kind % 3)];
            edited(&corpus("organizationMembership.updated").0, |j| {
                j["type"] = json!(format!("organizationMembership.{kind}"));
                j["timestamp"] = json!(at(t));
                let data = &mut j["data"];
                data["id"] = json!(format!("orgmem_mixed_{id}"));
                data["role"] = json!(format!("org:role{role}"));
                data["updated_at"] = json!(at(t));
                data["public_user_data"]["user_id"] = json!(user_id(id % 3));
                let org = &mut data["organization"];
                org["id"] = json!(format!("org_mixed_{}", id % 2));
                org["name"] = json!(format!("Org {} as of {org_at}", id % 2));
                org["updated_at"] = json!(at(org_at));
            })
        }
        Step::Session { id, status, at: t } => {
            let status = ["active", "ended", "revoked"][usize::from(status % 3)];
            let kind = if status == "active" {
                "created"
            } else {
                status
            };
            edited(&corpus("session.created").0, |j| {
                j["type"] = json!(format!("session.{kind}"));
                j["timestamp"] = json!(at(t));
                let data = &mut j["data"];
                data["id"] = json!(format!("sess_mixed_{id}"));
                data["user_id"] = json!(user_id(id % 3));
                data["user"]["id"] = json!(user_id(id % 3));
                data["status"] = json!(status);
                data["last_active_at"] = json!(at(t));
                data["updated_at"] = json!(at(t));
            })
        }
    }
}

/// The first delivery of an id is applied or stale; every later one is a duplicate.
fn outcomes_follow_the_ids(delivery: &[(String, Event)], outcomes: &[Outcome]) -> bool {
    let mut seen = HashSet::new();
    outcomes.len() == delivery.len()
        && delivery.iter().zip(outcomes).all(|((id, _), outcome)| {
            if seen.insert(id.as_str()) {
                matches!(outcome, Outcome::Applied | Outcome::Stale)
            } else {
                *outcome == Outcome::Duplicate
            }
        })
}

/// The first row of the feed that announces an object as upserted after its deletion: a
/// consumer following the feed would take the object to be back.
fn revival(feed: &[Value]) -> Option<&Value> {
    let mut deleted = HashSet::new();
    feed.iter().find(|row| {
        let object = (row["object_type"].to_string(), row["object_id"].to_string());
        if row["op"] == "deleted" {
            deleted.insert(object);
            false
        } else {
            deleted.contains(&object)
        }
    })
}

/// A history, and its delivery: shuffled, with some events delivered again, anywhere or
/// right after themselves; and how a worker cuts the delivery into batches.
type Case = (Vec<(String, Step)>, Vec<(String, Step)>, Vec<usize>);

fn case() -> impl Strategy<Value = Case> {
    let history = proptest::collection::vec(step(), 1..14).prop_map(|steps| {
        steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| (format!("msg_{i:02}"), step))
            .collect::<Vec<_>>()
    });
    history.prop_flat_map(|history| {
        (
            Just(history.clone()),
            Just(history).prop_shuffle(),
            proptest::collection::vec((any::<Index>(), any::<Index>(), any::<bool>()), 0..5),
            proptest::collection::vec(1usize..7, 1..4),
        )
            .prop_map(|(history, mut delivery, repeats, sizes)| {
                for (which, place, twin) in repeats {
                    let original = which.index(delivery.len());
                    let copy = delivery[original].clone();
                    let place = if twin {
                        original + 1
                    } else {
                        place.index(delivery.len() + 1)
                    };
                    delivery.insert(place, copy);
                }
                (history, delivery, sizes)
            })
    })
}

fn mixed_batches_leave_the_rows_of_the_history(mode: DeleteMode) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = std::cell::RefCell::new(runtime.block_on(db()));
    let events = |steps: &[(String, Step)]| -> Vec<(String, Event)> {
        steps
            .iter()
            .map(|(id, step)| (id.clone(), event(step)))
            .collect()
    };
    TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    })
    .run(&case(), |(history, delivery, sizes)| {
        let mut db = db.borrow_mut();
        let (history, delivery) = (events(&history), events(&delivery));
        runtime.block_on(async {
            db.clear().await;
            for (id, event) in &history {
                db.apply(id, event, mode).await;
            }
            let expected = db.snapshot().await;

            // (a) The delivery, one event per transaction.
            db.clear().await;
            let mut outcomes = Vec::new();
            for (id, event) in &delivery {
                outcomes.push(db.apply(id, event, mode).await);
            }
            prop_assert_eq!(db.snapshot().await, expected.clone(), "one by one");
            let feed = db.feed().await;
            prop_assert_eq!(revival(&feed), None, "one by one: {:?}", feed);
            prop_assert!(
                outcomes_follow_the_ids(&delivery, &outcomes),
                "{:?}",
                outcomes
            );

            // (b) The same delivery in batches of the drawn sizes, and all in one batch.
            for sizes in [sizes.as_slice(), &[delivery.len()]] {
                db.clear().await;
                let mut outcomes = Vec::new();
                let mut cycle = sizes.iter().cycle();
                let mut rest = delivery.as_slice();
                while !rest.is_empty() {
                    let size = cycle.next().copied().unwrap_or(1).clamp(1, rest.len());
                    let (batch, after) = rest.split_at(size);
                    outcomes.extend(db.apply_batch(batch, mode).await);
                    rest = after;
                }
                prop_assert_eq!(
                    db.snapshot().await,
                    expected.clone(),
                    "in batches of {:?}",
                    sizes
                );
                prop_assert!(
                    outcomes_follow_the_ids(&delivery, &outcomes),
                    "in batches of {:?}: {:?}",
                    sizes,
                    outcomes
                );
                let feed = db.feed().await;
                prop_assert_eq!(
                    revival(&feed),
                    None,
                    "in batches of {:?}: {:?}",
                    sizes,
                    feed
                );
            }

            // Delivered all over again: nothing changes, and the feed announces nothing.
            let feed = db.feed().await;
            let again = db.apply_batch(&delivery, mode).await;
            prop_assert!(
                again.iter().all(|o| *o == Outcome::Duplicate),
                "{:?}",
                again
            );
            prop_assert_eq!(db.snapshot().await, expected, "after a redelivery");
            prop_assert_eq!(db.feed().await, feed, "a redelivery writes no feed row");
            Ok(())
        })
    })
    .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn mixed_batches_with_redeliveries_leave_the_rows_of_the_history_in_soft_mode() {
    mixed_batches_leave_the_rows_of_the_history(DeleteMode::Soft);
}

#[test]
fn mixed_batches_with_redeliveries_leave_the_rows_of_the_history_in_hard_mode() {
    mixed_batches_leave_the_rows_of_the_history(DeleteMode::Hard);
}
