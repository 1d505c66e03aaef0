//! `clerk-sync sync`: the application API's forced refresh, from the command line.

use clerk_sync_test_support::TestDatabase;

use crate::clerk_stub::{BASE_MS, Setup, Stub, json, organization, stderr, user};

#[tokio::test]
async fn sync_fetches_applies_and_prints_the_row_and_a_second_run_changes_nothing() {
    let db = TestDatabase::new().await;
    let setup = Setup::new();
    let fetched = user(1, BASE_MS, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    let mut command = setup.cli(&stub.url);
    command
        .env("DATABASE_URL", &db.url)
        .args(["sync", "user", &fetched.id, "--json"]);
    let row = json(&setup.run(command).await);
    assert_eq!(row["clerk_id"], fetched.id.as_str());
    assert_eq!(row["email"], "user1@example.com");

    let mut human = setup.cli(&stub.url);
    human
        .env("DATABASE_URL", &db.url)
        .args(["sync", "user", &fetched.id]);
    let output = setup.run(human).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("clerk_id") && l.ends_with(&fetched.id)),
        "{text}"
    );
    assert_eq!(
        stub.calls_to(&format!("/v1/users/{}", fetched.id)),
        2,
        "each run is a forced refresh"
    );
}

#[tokio::test]
async fn an_organization_is_printed_with_its_members() {
    let db = TestDatabase::new().await;
    let setup = Setup::new();
    let org = organization(1, BASE_MS, BASE_MS + 10);
    let stub = Stub::start(vec![], vec![org.clone()], vec![]).await;
    let mut command = setup.cli(&stub.url);
    command
        .env("DATABASE_URL", &db.url)
        .args(["sync", "organization", &org.id, "--json"]);
    let row = json(&setup.run(command).await);
    assert_eq!(row["id"], org.id.as_str());
    assert_eq!(row["members"], serde_json::json!([]));
}

#[tokio::test]
async fn what_clerk_lacks_exits_1_and_what_cannot_be_asked_exits_2() {
    let db = TestDatabase::new().await;
    let setup = Setup::new();
    let stub = Stub::start(vec![], vec![], vec![]).await;

    let mut missing = setup.cli(&stub.url);
    missing
        .env("DATABASE_URL", &db.url)
        .args(["sync", "user", "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"]);
    let output = setup.run(missing).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing written"));

    let mut malformed = setup.cli(&stub.url);
    malformed
        .env("DATABASE_URL", &db.url)
        .args(["sync", "user", "org_2abc"]);
    assert_eq!(setup.run(malformed).await.status.code(), Some(2));

    let mut keyless = setup.cli(&stub.url);
    keyless
        .env_remove("CLERK_SECRET_KEY")
        .env("DATABASE_URL", &db.url)
        .args(["sync", "user", "user_2abc"]);
    let output = setup.run(keyless).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("CLERK_SECRET_KEY"),
        "{}",
        stderr(&output)
    );
    let users_asked = stub
        .requests()
        .iter()
        .filter(|r| r.starts_with("/v1/users/"))
        .count();
    assert_eq!(users_asked, 1, "{:?}", stub.requests());
}
