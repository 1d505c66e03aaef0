//! Nothing destroyed on doubt, from the command line: a key is held to the instance the
//! database mirrors before anything is read, only Clerk's own 404 deletes, and a
//! reconciliation deletes at most a tenth of a kind per run. Against the real Redis and
//! PostgreSQL and the Backend API stand-in.

use std::process::Output;
use std::time::Duration;

use clerk_sync_test_support::TestDatabase;

use crate::clerk_stub::{
    self, BASE_MS, INSTANCE, Setup, Stub, StubObject, membership, organization, stderr, stdout,
    user,
};

const INSTANCE_A: &str = "ins_2instanceA00000000000000A";
const INSTANCE_B: &str = "ins_2instanceB00000000000000B";

async fn cli(setup: &Setup, stub: &Stub, db: &TestDatabase, args: &[&str]) -> Output {
    let mut command = setup.cli(&stub.url);
    command
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("CLERK_API_RATE", "50");
    setup.run(command).await
}

async fn scalar(db: &TestDatabase, sql: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Users, organizations and memberships `from..to`: users n, organizations n, memberships
/// of user n in organization n.
fn objects(from: usize, to: usize) -> (Vec<StubObject>, Vec<StubObject>, Vec<StubObject>) {
    let users: Vec<_> = (from..to).map(|n| user(n, BASE_MS, BASE_MS + 10)).collect();
    let organizations: Vec<_> = (from..to)
        .map(|n| organization(n, BASE_MS, BASE_MS + 10))
        .collect();
    let memberships = organizations
        .iter()
        .enumerate()
        .map(|(i, o)| membership(from + i, o, from + i, BASE_MS + 10))
        .collect();
    (users, organizations, memberships)
}

/// Delivers the objects as the webhooks of `instance` would, and applies them.
async fn delivered(
    setup: &Setup,
    db: &TestDatabase,
    instance: Option<&str>,
    objects: &(Vec<StubObject>, Vec<StubObject>, Vec<StubObject>),
) {
    let (users, organizations, memberships) = objects;
    let kinds = [
        ("user.updated", users),
        ("organization.updated", organizations),
        ("organizationMembership.updated", memberships),
    ];
    for (event_type, list) in kinds {
        for object in list {
            let data: serde_json::Value = serde_json::from_str(&object.raw).unwrap();
            let mut body = serde_json::json!({
                "object": "event", "type": event_type, "timestamp": BASE_MS + 10, "data": data,
            });
            if let Some(instance) = instance {
                body["instance_id"] = instance.into();
            }
            setup
                .enqueue((format!("msg_{}", object.id), body.to_string()))
                .await;
        }
    }
    clerk_sync_worker::Worker::build(clerk_stub::worker_config(setup, &db.url))
        .await
        .unwrap()
        .drain(Duration::from_secs(60))
        .await
        .unwrap();
}

async fn live(db: &TestDatabase) -> (i64, i64, i64) {
    (
        scalar(db, "SELECT count(*) FROM users WHERE deleted_at IS NULL").await,
        scalar(
            db,
            "SELECT count(*) FROM organizations WHERE deleted_at IS NULL",
        )
        .await,
        scalar(
            db,
            "SELECT count(*) FROM organization_memberships WHERE deleted_at IS NULL",
        )
        .await,
    )
}

#[tokio::test]
async fn another_instances_key_is_refused_by_every_command_before_anything_is_read() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    // Eight of each, delivered by instance A's webhooks, which pin it.
    let ours = objects(0, 8);
    delivered(&setup, &db, Some(INSTANCE_A), &ours).await;
    assert_eq!(live(&db).await, (8, 8, 8));
    // Instance B's key, where three of each live.
    let (users, organizations, memberships) = objects(100, 103);
    let stub = Stub::start(users, organizations, memberships).await;
    stub.set_instance(INSTANCE_B, "production");

    for args in [
        &["reconcile"][..],
        &["backfill"],
        &["verify"],
        &["sync", "user", &ours.0[0].id],
    ] {
        let output = cli(&setup, &stub, &db, args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stdout(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains(INSTANCE_A) && message.contains(INSTANCE_B),
            "{args:?} names both instances: {message}"
        );
    }
    assert!(setup.events().await.is_empty(), "nothing imported");
    assert_eq!(live(&db).await, (8, 8, 8), "nothing deleted");
    assert_eq!(
        stub.requests(),
        vec!["/v1/instance?"; 4],
        "only the key's instance was asked, once per command"
    );

    let shown = cli(&setup, &stub, &db, &["instance"]).await;
    assert_eq!(shown.status.code(), Some(1), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains(&format!("pinned: {INSTANCE_A}")), "{text}");
    assert!(
        text.contains(INSTANCE_B) && text.contains("ANOTHER INSTANCE"),
        "{text}"
    );

    // Instance A's key again: everything A has is still here, and nothing is "deleted here".
    let stub_a = Stub::start(ours.0.clone(), ours.1.clone(), ours.2.clone()).await;
    stub_a.set_instance(INSTANCE_A, "production");
    let level = cli(&setup, &stub_a, &db, &["reconcile", "--dry-run"]).await;
    assert_eq!(
        level.status.code(),
        Some(0),
        "{}{}",
        stdout(&level),
        stderr(&level)
    );
}

#[tokio::test]
async fn the_first_key_used_pins_its_instance_and_only_a_confirmed_pin_changes_it() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let stub = Stub::start(vec![user(1, BASE_MS, BASE_MS)], vec![], vec![]).await;
    let mut keyless = setup.cli(&stub.url);
    keyless
        .env_remove("CLERK_SECRET_KEY")
        .env("DATABASE_URL", &db.url)
        .arg("instance");
    let before = setup.run(keyless).await;
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(
        stdout(&before).contains("not pinned yet"),
        "{}",
        stdout(&before)
    );

    let verify = cli(&setup, &stub, &db, &["verify", "--only", "users"]).await;
    assert_eq!(verify.status.code(), Some(1), "drift: the user is missing");
    let pinned = crate::clerk_stub::json(&cli(&setup, &stub, &db, &["instance", "--json"]).await);
    assert_eq!(pinned["pinned"]["instance_id"], INSTANCE);
    assert_eq!(pinned["pinned"]["environment_type"], "development");
    assert_eq!(pinned["key_matches"], true);

    let unconfirmed = cli(&setup, &stub, &db, &["instance", "pin", INSTANCE_B]).await;
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(
        stderr(&unconfirmed).contains("--confirm"),
        "{}",
        stderr(&unconfirmed)
    );
    let malformed = cli(&setup, &stub, &db, &["instance", "pin", "B", "--confirm"]).await;
    assert_eq!(malformed.status.code(), Some(2));
    assert_eq!(
        crate::clerk_stub::json(&cli(&setup, &stub, &db, &["instance", "--json"]).await)["pinned"]
            ["instance_id"],
        INSTANCE,
        "unchanged"
    );

    let confirmed = cli(
        &setup,
        &stub,
        &db,
        &["instance", "pin", INSTANCE_B, "--confirm"],
    )
    .await;
    assert!(confirmed.status.success(), "{}", stderr(&confirmed));
    let refused = cli(&setup, &stub, &db, &["verify", "--only", "users"]).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains(&format!("clerk-sync instance pin {INSTANCE} --confirm")));
}

#[tokio::test]
async fn a_proxys_404_for_users_missing_from_the_list_deletes_nothing() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let all = objects(0, 5);
    delivered(&setup, &db, None, &all).await;
    // Clerk lists users 0 to 2; a proxy in front of it answers 404 pages for 3 and 4.
    let stub = Stub::start(all.0[..3].to_vec(), all.1.clone(), all.2.clone()).await;
    for gone in &all.0[3..] {
        stub.proxy_404(&format!("/v1/users/{}", gone.id));
    }
    let output = cli(&setup, &stub, &db, &["reconcile", "--only", "users"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stderr(&output).contains("proxy"), "{}", stderr(&output));
    assert_eq!(live(&db).await.0, 5, "nobody deleted");
    assert_eq!(scalar(&db, "SELECT count(*) FROM tombstones").await, 0);
}

#[tokio::test]
async fn a_run_deletes_at_most_a_tenth_of_a_kind_unless_told_more() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let all = objects(0, 5);
    delivered(&setup, &db, None, &all).await;
    // Clerk deleted users 3 and 4 (its own 404): two of five, more than max(1, 5 / 10).
    let stub = Stub::start(all.0[..3].to_vec(), all.1.clone(), all.2.clone()).await;
    let capped = cli(
        &setup,
        &stub,
        &db,
        &["reconcile", "--only", "users", "--json"],
    )
    .await;
    assert_eq!(capped.status.code(), Some(1), "{}", stderr(&capped));
    let report: serde_json::Value = serde_json::from_slice(&capped.stdout).unwrap();
    assert_eq!(report["kinds"][0]["deletions_refused"], true, "{report}");
    assert_eq!(report["kinds"][0]["extra"].as_array().unwrap().len(), 2);
    assert!(
        stderr(&capped).contains("--max-deletions 2"),
        "says what to run: {}",
        stderr(&capped)
    );
    assert_eq!(live(&db).await.0, 5, "none deleted");

    let _worker = Applying::start(&setup, &db).await;
    let told = cli(
        &setup,
        &stub,
        &db,
        &["reconcile", "--only", "users", "--max-deletions", "2"],
    )
    .await;
    assert_eq!(
        told.status.code(),
        Some(0),
        "{}{}",
        stdout(&told),
        stderr(&told)
    );
    assert_eq!(live(&db).await.0, 3);
}

#[tokio::test]
async fn a_small_table_sharing_no_id_with_clerk_gets_nothing_queued() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    delivered(&setup, &db, None, &objects(0, 3)).await;
    let (users, organizations, memberships) = objects(50, 55);
    let stub = Stub::start(users, organizations, memberships).await;
    let output = cli(&setup, &stub, &db, &["reconcile"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stderr(&output).contains("nothing of them was queued or deleted"));
    assert!(setup.events().await.is_empty());
    assert_eq!(live(&db).await, (3, 3, 3));
}

/// A worker applying what the CLI queues, until dropped.
struct Applying {
    stop: tokio_util::sync::CancellationToken,
}

impl Applying {
    async fn start(setup: &Setup, db: &TestDatabase) -> Self {
        let worker = clerk_sync_worker::Worker::build(clerk_stub::worker_config(setup, &db.url))
            .await
            .unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(worker.run(stop.clone()));
        Self { stop }
    }
}

impl Drop for Applying {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
