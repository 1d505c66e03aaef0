//! `clerk-sync verify` against the stand-in for Clerk's Backend API and a database seeded
//! by hand: each kind of drift, and the exit status that says so.

use std::process::Output;

use clerk_sync_test_support::TestDatabase;
use serde_json::Value;

use crate::clerk_stub::{BASE_MS, Setup, Stub, membership, organization, stderr, stdout, user};

/// `clerk-sync verify ARGS` against the stub and a database, with extra environment.
async fn verify(
    setup: &Setup,
    stub_url: &str,
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut command = setup.cli(stub_url);
    command
        .arg("verify")
        .args(args)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied());
    setup.run(command).await
}

async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// A row of `table` at version `ms`, deleted at `deleted` when given.
fn row(table: &str, id: &str, ms: i64, deleted: Option<i64>) -> String {
    let at = |ms: i64| format!("timestamptz 'epoch' + {ms} * interval '1 millisecond'");
    let deleted = deleted.map_or("NULL".to_owned(), at);
    match table {
        "users" => format!(
            "INSERT INTO users (clerk_id, updated_at, deleted_at, last_svix_id) VALUES ('{id}', {}, {deleted}, 'seed');",
            at(ms)
        ),
        "organizations" => format!(
            "INSERT INTO organizations (id, updated_at, deleted_at, last_svix_id) VALUES ('{id}', {}, {deleted}, 'seed');",
            at(ms)
        ),
        _ => {
            let (org, user) = id.split_once('/').unwrap();
            format!(
                "INSERT INTO organization_memberships (id, organization_id, user_id, updated_at, deleted_at, last_svix_id) \
                 VALUES ('orgmem_{user}_{org}', '{org}', '{user}', {}, {deleted}, 'seed');",
                at(ms)
            )
        }
    }
}

fn ids(kind: &Value, drift: &str) -> Vec<String> {
    let mut ids: Vec<String> = kind[drift]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn each_kind_of_drift_is_reported_and_exits_1() {
    let users: Vec<_> = (0..4)
        .map(|n| user(n, BASE_MS, BASE_MS + 1_000 + n as i64))
        .collect();
    let organizations = vec![
        organization(1, BASE_MS, BASE_MS + 10),
        organization(2, BASE_MS, BASE_MS + 20),
    ];
    let memberships = vec![
        membership(1, &organizations[0], 0, BASE_MS + 30),
        membership(2, &organizations[1], 1, BASE_MS + 40),
    ];
    let stub = Stub::start(users.clone(), organizations.clone(), memberships.clone()).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let seed = [
        // In step.
        row("users", &users[0].id, users[0].updated_at, None),
        // Stale: an update never arrived.
        row("users", &users[1].id, users[1].updated_at - 500, None),
        // users[2]: missing. users[3]: deleted here, though Clerk has it.
        row("users", &users[3].id, users[3].updated_at, Some(BASE_MS)),
        // Extra: deleted in Clerk, live here.
        row("users", "user_gone", BASE_MS, None),
        // Not extra: deleted here too, or newer than the read of Clerk.
        row("users", "user_deleted", BASE_MS, Some(BASE_MS + 1)),
        row("users", "user_created_meanwhile", now_ms + 60_000, None),
        row(
            "organizations",
            &organizations[0].id,
            organizations[0].updated_at,
            None,
        ),
        row(
            "organizations",
            &organizations[1].id,
            organizations[1].updated_at,
            None,
        ),
        row("organizations", "org_gone", BASE_MS, None),
        // memberships[0] is here in step, under its own id; memberships[1] is missing.
        format!(
            "INSERT INTO organization_memberships (id, organization_id, user_id, updated_at, last_svix_id) \
             VALUES ('{}', '{}', 'user_0', timestamptz 'epoch' + {} * interval '1 millisecond', 'seed');",
            memberships[0].id, organizations[0].id, memberships[0].updated_at
        ),
        row("memberships", "org_gone2/user_x", BASE_MS, None),
        // Not extra: its organization is deleted here.
        row("organizations", "org_deleted", BASE_MS, Some(BASE_MS)),
        row("memberships", "org_deleted/user_y", BASE_MS, None),
    ];
    sql(&db).await.batch_execute(&seed.concat()).await.unwrap();

    let output = verify(&setup, &stub.url, &db.url, &["--json"], &[]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["in_step"], false);
    assert_eq!(report["drift"], 7);
    let u = &report["kinds"]["users"];
    assert_eq!(
        (u["in_clerk"].as_u64(), u["in_database"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(
        ids(u, "missing"),
        vec![users[2].id.clone(), users[3].id.clone()]
    );
    assert_eq!(ids(u, "extra"), vec!["user_gone".to_owned()]);
    assert_eq!(ids(u, "stale"), vec![users[1].id.clone()]);
    let stale = &u["stale"][0];
    assert_eq!(stale["clerk_updated_at"], users[1].updated_at);
    assert_eq!(stale["database_updated_at"], users[1].updated_at - 500);
    let deleted_here = u["missing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == users[3].id.as_str())
        .unwrap();
    assert_eq!(deleted_here["deleted_in_database"], true);
    let o = &report["kinds"]["organizations"];
    assert_eq!(ids(o, "extra"), vec!["org_gone".to_owned()]);
    assert!(ids(o, "missing").is_empty() && ids(o, "stale").is_empty());
    let m = &report["kinds"]["memberships"];
    assert_eq!(ids(m, "missing"), vec![memberships[1].id.clone()]);
    assert_eq!(ids(m, "extra"), vec!["orgmem_user_x_org_gone2".to_owned()]);

    let human = verify(&setup, &stub.url, &db.url, &[], &[]).await;
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    for expected in [
        "missing",
        "extra",
        "stale",
        "user_gone",
        users[1].id.as_str(),
        "drift: 7",
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }

    let only = verify(
        &setup,
        &stub.url,
        &db.url,
        &["--json"],
        &[("VERIFY_ONLY", "organizations")],
    )
    .await;
    let only: Value = serde_json::from_slice(&only.stdout).unwrap();
    assert_eq!(only["drift"], 1);
    assert!(only["kinds"].get("users").is_none());
}

#[tokio::test]
async fn a_database_in_step_exits_0() {
    let users: Vec<_> = (0..3).map(|n| user(n, BASE_MS, BASE_MS + 1_000)).collect();
    let organizations = vec![organization(1, BASE_MS, BASE_MS + 10)];
    let memberships = vec![membership(1, &organizations[0], 0, BASE_MS + 30)];
    let stub = Stub::start(users.clone(), organizations.clone(), memberships.clone()).await;
    stub.without_instance_memberships();
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let mut seed: Vec<String> = users
        .iter()
        .map(|u| row("users", &u.id, u.updated_at, None))
        .collect();
    // Ahead of Clerk's list (a webhook came since): not drift.
    seed[2] = row("users", &users[2].id, users[2].updated_at + 5, None);
    seed.push(row(
        "organizations",
        &organizations[0].id,
        organizations[0].updated_at,
        None,
    ));
    seed.push(format!(
        "INSERT INTO organization_memberships (id, organization_id, user_id, updated_at, last_svix_id) \
         VALUES ('{}', '{}', 'user_0', timestamptz 'epoch' + {} * interval '1 millisecond', 'seed');",
        memberships[0].id, organizations[0].id, memberships[0].updated_at
    ));
    sql(&db).await.batch_execute(&seed.concat()).await.unwrap();

    let human = verify(&setup, &stub.url, &db.url, &[], &[]).await;
    assert_eq!(
        human.status.code(),
        Some(0),
        "{}{}",
        stdout(&human),
        stderr(&human)
    );
    assert!(stdout(&human).contains("in step"));
    let report = verify(&setup, &stub.url, &db.url, &["--json"], &[]).await;
    assert_eq!(report.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["in_step"], true);
    assert_eq!(report["kinds"]["memberships"]["in_clerk"], 1);
}

#[tokio::test]
async fn a_check_that_cannot_be_made_exits_2_without_secrets() {
    let stub = Stub::start(vec![user(0, BASE_MS, BASE_MS)], Vec::new(), Vec::new()).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;

    let mut command = setup.cli(&stub.url);
    command
        .arg("verify")
        .env("DATABASE_URL", &db.url)
        .env_remove("CLERK_SECRET_KEY");
    let missing = setup.run(command).await;
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing).trim(),
        "error: CLERK_SECRET_KEY is required"
    );

    let wrong = "sk_test_not_the_right_one_0123456789";
    let refused = verify(
        &setup,
        &stub.url,
        &db.url,
        &[],
        &[("CLERK_SECRET_KEY", wrong)],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("refused CLERK_SECRET_KEY (401"),
        "{message}"
    );
    assert!(!message.contains(wrong), "{message}");

    let unreachable = verify(
        &setup,
        &stub.url,
        "postgres://app:hunter2@127.0.0.1:1/clerk",
        &[],
        &[],
    )
    .await;
    assert_eq!(unreachable.status.code(), Some(2));
    let message = stderr(&unreachable);
    assert!(
        message.contains("cannot connect to PostgreSQL at postgres://127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}
