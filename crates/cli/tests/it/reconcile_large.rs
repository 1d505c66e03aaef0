//! `clerk-sync reconcile` past the sizes a run keeps whole: more drift than its report
//! names, and more repairs than one round of its wait asks PostgreSQL about.

use clerk_sync_test_support::TestDatabase;

use crate::clerk_stub::{BASE_MS, Setup, Stub, json, stderr, user};
use crate::reconcile::{Applying, cli};

/// Ids a report names per sort of drift (`clerk_sync_mirror::reconcile::SAMPLE`).
const SAMPLE: usize = 1_000;

#[tokio::test]
async fn a_report_counts_all_the_drift_names_the_first_thousand_and_the_run_waits_for_every_repair()
{
    let users: Vec<_> = (0..SAMPLE + 200)
        .map(|n| user(n, BASE_MS + n as i64, BASE_MS + n as i64))
        .collect();
    let stub = Stub::start(users, vec![], vec![]).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;

    // Drift found by a dry run exits 1.
    let dry = cli(
        &setup,
        &stub,
        &db,
        &["reconcile", "--only", "users", "--dry-run", "--json"],
    )
    .await;
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let kind = &dry["kinds"][0];
    assert_eq!(kind["counts"]["missing"], SAMPLE + 200, "{kind}");
    assert_eq!(kind["missing"].as_array().unwrap().len(), SAMPLE);
    assert_eq!(dry["level"], false);

    let _worker = Applying::start(&setup, &db).await;
    let run = json(
        &cli(
            &setup,
            &stub,
            &db,
            &["reconcile", "--only", "users", "--json"],
        )
        .await,
    );
    assert_eq!(run["queued"], SAMPLE + 200, "{run}");
    assert_eq!(run["applied"], SAMPLE + 200, "{run}");
    assert_eq!(run["level"], true);
}
