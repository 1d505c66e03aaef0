//! `clerk-sync migrate` against real databases: once, idempotent, and clear when it cannot
//! connect.

use std::process::Command;

use clerk_sync_test_support::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync");

fn cli(database_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().env("DATABASE_URL", database_url);
    command
}

#[tokio::test]
async fn migrate_brings_an_empty_database_to_the_current_schema_once() {
    let db = TestDatabase::new().await;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("DROP SCHEMA clerk CASCADE")
        .await
        .unwrap();

    let pending = cli(&db.url).args(["migrate", "--status"]).output().unwrap();
    assert_eq!(
        pending.status.code(),
        Some(1),
        "pending migrations make --status exit 1"
    );
    assert!(String::from_utf8_lossy(&pending.stdout).contains("pending"));

    let first = cli(&db.url).arg("migrate").output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = cli(&db.url).arg("migrate").output().unwrap();
    assert!(second.status.success());
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "schema clerk is current"
    );

    let status = cli(&db.url).args(["migrate", "--status"]).output().unwrap();
    assert!(status.status.success());
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = 'clerk' AND table_name IN ('users', 'processed_webhooks')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 2);
}

#[test]
fn an_unreachable_database_is_a_clear_error_without_its_password() {
    let output = cli("postgres://app:hunter2@127.0.0.1:1/clerk")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at postgres://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
