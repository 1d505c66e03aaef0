//! Guarantee 3: any permutation of a user's events, duplicates included, leaves the rows
//! that delivering them in order leaves.

use clerk_sync_db::DeleteMode;
use clerk_sync_events::Event;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::helpers::{db, deleted_event, user_event};

const T0: i64 = 1_716_883_200_000;

#[derive(Debug, Clone)]
enum Step {
    Upsert { at: i64, name: u8 },
    Delete { at: i64 },
}

fn history() -> impl Strategy<Value = Vec<(String, Step)>> {
    // Few distinct times, so ties happen; a deletion in about a third of histories.
    let step = prop_oneof![
        5 => (0i64..4, any::<u8>()).prop_map(|(t, name)| Step::Upsert { at: T0 + t * 1000, name }),
        1 => (0i64..4).prop_map(|t| Step::Delete { at: T0 + t * 1000 }),
    ];
    proptest::collection::vec(step, 1..7).prop_map(|steps| {
        steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| (format!("msg_{i:02}"), step))
            .collect()
    })
}

fn event(step: &Step) -> Event {
    match step {
        Step::Upsert { at, name } => {
            user_event("user.updated", "user_1", *at, &format!("name{name}"))
        }
        Step::Delete { at } => deleted_event("user_1", *at),
    }
}

fn permutations_leave_the_same_rows(mode: DeleteMode) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = std::cell::RefCell::new(runtime.block_on(db()));
    let strategy = history().prop_flat_map(|events| {
        let shuffled = Just(events.clone()).prop_shuffle();
        // Some redeliveries: the same event again, anywhere; and how a worker batches them.
        (
            Just(events),
            shuffled,
            proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            proptest::collection::vec(1usize..5, 1..4),
        )
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&strategy, |(in_order, shuffled, repeats, batches)| {
            let mut db = db.borrow_mut();
            runtime.block_on(async {
                db.truncate().await;
                for (id, step) in &in_order {
                    db.apply(id, &event(step), mode).await;
                }
                let expected = db.snapshot().await;

                db.truncate().await;
                let mut delivery = shuffled.clone();
                for index in &repeats {
                    delivery.push(index.get(&shuffled).clone());
                }
                for (id, step) in &delivery {
                    db.apply(id, &event(step), mode).await;
                }
                let actual = db.snapshot().await;
                prop_assert_eq!(actual, expected.clone(), "delivered as {:?}", delivery);

                // The same delivery, applied in batches as a worker applies it.
                db.truncate().await;
                let events: Vec<(String, Event)> = delivery
                    .iter()
                    .map(|(id, step)| (id.clone(), event(step)))
                    .collect();
                db.apply_in_batches(&events, &batches, mode).await;
                prop_assert_eq!(
                    db.snapshot().await,
                    expected,
                    "batched {:?} as {:?}",
                    batches,
                    delivery
                );
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn any_permutation_of_a_users_events_leaves_the_same_rows_in_soft_mode() {
    permutations_leave_the_same_rows(DeleteMode::Soft);
}

#[test]
fn any_permutation_of_a_users_events_leaves_the_same_rows_in_hard_mode() {
    permutations_leave_the_same_rows(DeleteMode::Hard);
}
