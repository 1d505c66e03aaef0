//! Least privilege, with real roles: clerk-sync runs as a role with no privilege outside its
//! schema, and `clerk-sync grant-read` gives an application's role reading and nothing else.

use std::process::{Command, Output};
use std::time::Duration;

use clerk_sync_test_support::{TestDatabase, TestRole};

use crate::clerk_stub::{self, Setup};

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync");

fn cli(database_url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .args(args)
        .output()
        .unwrap()
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Applies a user's creation through the queue and a worker connected as `url`'s role.
async fn deliver(setup: &Setup, url: &str) {
    let body = serde_json::json!({
        "object": "event", "type": "user.created", "timestamp": 1_716_883_200_000i64,
        "instance_id": "ins_2privilegeTest000000000000",
        "data": {"object": "user", "id": "user_2least0privilege000000000", "first_name": "Ada",
                 "email_addresses": [], "primary_email_address_id": null,
                 "updated_at": 1_716_883_200_000i64}
    });
    setup
        .enqueue(("msg_least_privilege".into(), body.to_string()))
        .await;
    clerk_sync_worker::Worker::build(clerk_stub::worker_config(setup, url))
        .await
        .unwrap()
        .drain(Duration::from_secs(60))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_role_with_no_privilege_outside_its_schema_runs_the_pipeline_and_a_reader_only_reads() {
    // Roles first: they are dropped after the database they own objects in.
    let owner = TestRole::new().await;
    let reader = TestRole::new().await;
    let db = TestDatabase::new().await;
    db.batch(&format!(
        "DROP SCHEMA clerk CASCADE; \
         CREATE TABLE public.users (id bigint PRIMARY KEY, name text); \
         INSERT INTO public.users VALUES (1, 'the application''s own'); \
         REVOKE ALL ON SCHEMA public FROM PUBLIC; \
         GRANT CONNECT, CREATE ON DATABASE {} TO {};",
        db.name(),
        owner.name
    ))
    .await;
    let as_owner = owner.url(&db.url);
    assert_ok(&cli(&as_owner, &["migrate"]));
    let setup = Setup::new();
    deliver(&setup, &as_owner).await;
    let changes = cli(&as_owner, &["changes", "--json"]);
    assert_ok(&changes);
    assert!(String::from_utf8_lossy(&changes.stdout).contains("user_2least0privilege000000000"));
    assert_ok(&cli(&as_owner, &["instance"]));

    let granted = cli(&as_owner, &["grant-read", &reader.name]);
    assert_ok(&granted);
    let missing = cli(&as_owner, &["grant-read", "clerk_sync_no_such_role"]);
    assert_eq!(missing.status.code(), Some(2));

    let as_reader = client(&reader.url(&db.url)).await;
    let read = as_reader
        .query_one(
            "SELECT first_name FROM clerk.user_profiles WHERE clerk_id = 'user_2least0privilege000000000'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(read.get::<_, Option<String>>(0).as_deref(), Some("Ada"));
    for write in [
        "INSERT INTO clerk.users (clerk_id, updated_at, last_svix_id) VALUES ('user_x', now(), 'x')",
        "UPDATE clerk.users SET first_name = 'Mallory'",
        "DELETE FROM clerk.processed_webhooks",
        "TRUNCATE clerk.sync_changes",
        "CREATE TABLE clerk.mine (x int)",
        "SELECT * FROM public.users",
    ] {
        let refused = as_reader.batch_execute(write).await.unwrap_err();
        assert!(
            refused.to_string().contains("permission denied")
                || refused
                    .as_db_error()
                    .is_some_and(|e| e.code().code() == "42501"),
            "{write}: {refused}"
        );
    }
    // What a later migration adds is readable too, by the default privileges.
    client(&as_owner)
        .await
        .batch_execute(
            "CREATE TABLE clerk.added_later (x int); INSERT INTO clerk.added_later VALUES (1)",
        )
        .await
        .unwrap();
    let later: i64 = as_reader
        .query_one("SELECT count(*) FROM clerk.added_later", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(later, 1);
}

#[tokio::test]
async fn a_schema_an_administrator_made_for_the_role_is_all_it_needs() {
    let owner = TestRole::new().await;
    let db = TestDatabase::new().await;
    // No CREATE on the database: only the schema the administrator made for it.
    db.batch(&format!(
        "DROP SCHEMA clerk CASCADE; CREATE SCHEMA clerk AUTHORIZATION {}; \
         REVOKE ALL ON SCHEMA public FROM PUBLIC;",
        owner.name
    ))
    .await;
    let as_owner = owner.url(&db.url);
    assert_ok(&cli(&as_owner, &["migrate"]));
    let setup = Setup::new();
    deliver(&setup, &as_owner).await;
    let users: i64 = client(&db.url)
        .await
        .query_one("SELECT count(*) FROM clerk.users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);
}
