//! `clerk-sync reconcile`, and `backfill --resume`, against the stand-in for Clerk's Backend
//! API, the real Redis and PostgreSQL, and a worker applying what they queue.

use std::process::Output;
use std::time::Duration;

use clerk_sync_test_support::{TestDatabase, eventually};
use tokio_util::sync::CancellationToken;

use crate::clerk_stub::{self, BASE_MS, Setup, Stub, json, stderr, stdout, user};

/// A worker applying what the CLI queues, until dropped.
pub(crate) struct Applying {
    stop: CancellationToken,
}

impl Applying {
    pub(crate) async fn start(setup: &Setup, db: &TestDatabase) -> Self {
        let worker = clerk_sync_worker::Worker::build(clerk_stub::worker_config(setup, &db.url))
            .await
            .unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(worker.run(stop.clone()));
        Self { stop }
    }
}

impl Drop for Applying {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub(crate) async fn cli(setup: &Setup, stub: &Stub, db: &TestDatabase, args: &[&str]) -> Output {
    let mut command = setup.cli(&stub.url);
    command
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("CLERK_API_RATE", "50");
    setup.run(command).await
}

async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Runs `command`, and kills it (as a crash would) once the progress hash `key` records
/// that the first page of users is queued.
async fn crash_after_first_page(mut command: std::process::Command, key: String) {
    let child = command.spawn().unwrap();
    let pid = child.id();
    eventually(
        Duration::from_secs(60),
        "the first page recorded",
        || async {
            let mut redis = clerk_sync_queue::redis::Client::open(clerk_stub::redis_url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let offset: Option<u64> = clerk_sync_queue::redis::cmd("HGET")
                .arg(&key)
                .arg("offset:users")
                .query_async(&mut redis)
                .await
                .unwrap();
            offset.is_some_and(|o| o >= 500)
        },
    )
    .await;
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let _ = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait()
    })
    .await;
}

/// Users 0..4 in Clerk. The database gets, through the worker: user 1 at an older version
/// (stale), user 2 level, user 9 whom Clerk no longer has (extra); users 0 and 3 never
/// arrived (missing).
async fn drifted(setup: &Setup, db: &TestDatabase) -> Vec<clerk_stub::StubObject> {
    let users: Vec<_> = (0..4).map(|n| user(n, BASE_MS, BASE_MS + 100)).collect();
    let event = |n: usize, updated_at: i64| {
        let body = serde_json::json!({
            "object": "event", "type": "user.updated", "timestamp": updated_at,
            "data": {"object": "user", "id": format!("user_{n:027}"), "first_name": "Old",
                     "updated_at": updated_at, "email_addresses": [], "primary_email_address_id": null}
        });
        (format!("msg_seed_{n}"), body.to_string())
    };
    setup.enqueue(event(1, BASE_MS + 50)).await;
    setup.enqueue(event(2, BASE_MS + 100)).await;
    setup.enqueue(event(9, BASE_MS + 100)).await;
    clerk_sync_worker::Worker::build(clerk_stub::worker_config(setup, &db.url))
        .await
        .unwrap()
        .drain(Duration::from_secs(60))
        .await
        .unwrap();
    users
}

#[tokio::test]
async fn reconcile_repairs_missing_stale_and_extra_objects_and_a_second_run_finds_nothing() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let users = drifted(&setup, &db).await;
    let stub = Stub::start(users.clone(), vec![], vec![]).await;
    let _worker = Applying::start(&setup, &db).await;

    let output = cli(
        &setup,
        &stub,
        &db,
        &["reconcile", "--only", "users", "--json"],
    )
    .await;
    let report = json(&output);
    let kind = &report["kinds"][0];
    assert_eq!(kind["kind"], "users");
    let ids = |field: &str| {
        let mut ids: Vec<String> = kind[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids("missing"),
        vec![users[0].id.clone(), users[3].id.clone()]
    );
    assert_eq!(ids("stale"), vec![users[1].id.clone()]);
    assert_eq!(ids("extra"), vec![format!("user_{:027}", 9)]);
    assert_eq!(
        (report["queued"].clone(), report["level"].clone()),
        (4.into(), true.into())
    );

    let client = sql(&db).await;
    let live: i64 = client
        .query_one("SELECT count(*) FROM users WHERE deleted_at IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 4);
    let name: String = client
        .query_one(
            "SELECT first_name FROM users WHERE clerk_id = $1",
            &[&users[1].id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "User 1", "the stale row took Clerk's state");

    let again = json(&cli(&setup, &stub, &db, &["reconcile", "--json"]).await);
    assert_eq!(again["queued"], 0, "{again}");
    assert_eq!(again["level"], true);
    let verify = cli(&setup, &stub, &db, &["verify"]).await;
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

#[tokio::test]
async fn a_dry_run_reports_drift_with_exit_1_and_queues_nothing() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let users = drifted(&setup, &db).await;
    let stub = Stub::start(users, vec![], vec![]).await;
    let output = cli(&setup, &stub, &db, &["reconcile", "--dry-run"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("nothing queued"),
        "{}",
        stdout(&output)
    );
    assert!(setup.events().await.is_empty());
}

#[tokio::test]
async fn a_row_deleted_by_hand_after_its_backfill_comes_back() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let users = vec![user(0, BASE_MS, BASE_MS + 100)];
    let stub = Stub::start(users.clone(), vec![], vec![]).await;
    let _worker = Applying::start(&setup, &db).await;
    let backfill = cli(&setup, &stub, &db, &["backfill"]).await;
    assert!(backfill.status.success(), "{}", stderr(&backfill));
    let client = sql(&db).await;
    let count = || async {
        let n: i64 = client
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .unwrap()
            .get(0);
        n
    };
    eventually(Duration::from_secs(60), "the backfill applied", || async {
        count().await == 1
    })
    .await;
    client
        .batch_execute("DELETE FROM user_email_addresses; DELETE FROM users")
        .await
        .unwrap();

    let output = cli(&setup, &stub, &db, &["reconcile", "--json"]).await;
    assert_eq!(json(&output)["level"], true);
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn a_check_that_cannot_be_made_exits_2() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let stub = Stub::start(vec![], vec![], vec![]).await;
    stub.fail_next(1_000);
    let mut command = setup.cli(&stub.url);
    command
        .args(["reconcile"])
        .env("DATABASE_URL", &db.url)
        .env("CLERK_API_RATE", "1000")
        .env("CLERK_SECRET_KEY", "sk_test_wrong");
    let output = setup.run(command).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!stderr(&output).contains("sk_test_wrong"));
}

#[tokio::test]
async fn an_interrupted_backfill_resumed_makes_fewer_calls_than_a_fresh_one_and_ends_level() {
    let users: Vec<_> = (0..1_500)
        .map(|n| user(n, BASE_MS + n as i64, BASE_MS + n as i64))
        .collect();
    let stub = Stub::start(users, vec![], vec![]).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    // The pages of the users list asked for so far; each run also asks for the instance.
    let pages = || -> Vec<String> {
        stub.requests()
            .into_iter()
            .filter(|r| r.starts_with("/v1/users?"))
            .collect()
    };
    let fresh = cli(&setup, &stub, &db, &["backfill", "--only", "users"]).await;
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    let fresh_calls = pages().len();
    assert_eq!(
        fresh_calls,
        4,
        "three full pages and an empty one: {:?}",
        stub.requests()
    );

    // Interrupted: killed (as a crash would) once its first page is queued and recorded,
    // while Clerk is slow to answer the next.
    let resumed_setup = Setup::new();
    let before = pages().len();
    stub.set_latency(Duration::from_millis(400));
    let mut command = resumed_setup.cli(&stub.url);
    command
        .args(["backfill", "--only", "users"])
        .env("DATABASE_URL", &db.url)
        .env("CLERK_API_RATE", "1000");
    crash_after_first_page(command, resumed_setup.keys.backfill()).await;
    stub.set_latency(Duration::ZERO);
    let interrupted_calls = pages().len() - before;
    let queued_before = resumed_setup.events().await.len();
    assert!(
        queued_before < 1_500,
        "interrupted before the end: {queued_before}"
    );

    let resume_start = pages().len();
    let resumed = cli(
        &resumed_setup,
        &stub,
        &db,
        &["backfill", "--only", "users", "--resume"],
    )
    .await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let resumed_calls = pages().len() - resume_start;
    assert!(
        resumed_calls < fresh_calls,
        "a resumed run ({resumed_calls} calls after {interrupted_calls}) made fewer than a fresh one ({fresh_calls})"
    );
    assert!(
        pages()[resume_start].contains("offset=500")
            || pages()[resume_start].contains("offset=1000"),
        "{:?}",
        &pages()[resume_start..]
    );
    assert_eq!(
        resumed_setup.events().await.len(),
        1_500,
        "every user queued once"
    );
}

#[tokio::test]
async fn a_key_for_another_instance_queues_nothing_and_exits_2() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    // The database holds twelve users of one instance...
    for n in 100..112 {
        let body = serde_json::json!({
            "object": "event", "type": "user.created", "timestamp": BASE_MS,
            "data": {"object": "user", "id": format!("user_{n:027}"), "updated_at": BASE_MS,
                     "email_addresses": [], "primary_email_address_id": null}
        });
        setup.enqueue((format!("msg_{n}"), body.to_string())).await;
    }
    clerk_sync_worker::Worker::build(clerk_stub::worker_config(&setup, &db.url))
        .await
        .unwrap()
        .drain(Duration::from_secs(60))
        .await
        .unwrap();
    // ...and the key reads another, with twelve others.
    let others: Vec<_> = (0..12).map(|n| user(n, BASE_MS, BASE_MS)).collect();
    let stub = Stub::start(others, vec![], vec![]).await;
    let output = cli(&setup, &stub, &db, &["reconcile", "--only", "users"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("CLERK_SECRET_KEY"),
        "{}",
        stderr(&output)
    );
    assert!(setup.events().await.is_empty(), "nothing imported");
    let client = sql(&db).await;
    let live: i64 = client
        .query_one("SELECT count(*) FROM users WHERE deleted_at IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 12, "nothing deleted");
}

#[tokio::test]
async fn a_membership_clerk_no_longer_has_is_ended_and_one_it_has_is_kept() {
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    let org = clerk_stub::organization(1, BASE_MS, BASE_MS);
    let users: Vec<_> = (1..=2).map(|n| user(n, BASE_MS, BASE_MS)).collect();
    let kept = clerk_stub::membership(1, &org, 1, BASE_MS);
    let ended = clerk_stub::membership(2, &org, 2, BASE_MS);
    // The database saw both memberships; Clerk has only the first now.
    for (n, m) in [(1, &kept), (2, &ended)] {
        let body = format!(
            r#"{{"object":"event","type":"organizationMembership.created","timestamp":{BASE_MS},"data":{}}}"#,
            m.raw
        );
        setup.enqueue((format!("msg_m{n}"), body)).await;
    }
    let stub = Stub::start(users, vec![org], vec![kept.clone()]).await;
    let _worker = Applying::start(&setup, &db).await;
    eventually(
        Duration::from_secs(60),
        "both memberships applied",
        || async {
            let n: i64 = sql(&db)
                .await
                .query_one("SELECT count(*) FROM organization_memberships", &[])
                .await
                .unwrap()
                .get(0);
            n == 2
        },
    )
    .await;
    let report = json(
        &cli(
            &setup,
            &stub,
            &db,
            &["reconcile", "--only", "memberships", "--json"],
        )
        .await,
    );
    assert_eq!(
        report["kinds"][0]["extra"],
        serde_json::json!([ended.id]),
        "{report}"
    );
    assert_eq!(report["level"], true);
    let client = sql(&db).await;
    let live: Vec<String> = client
        .query(
            "SELECT id FROM organization_memberships WHERE deleted_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(live, vec![kept.id.clone()]);
}

#[tokio::test]
async fn an_interrupted_reconciliation_resumes_from_its_last_page() {
    let users: Vec<_> = (0..1_500)
        .map(|n| user(n, BASE_MS + n as i64, BASE_MS + n as i64))
        .collect();
    let stub = Stub::start(users, vec![], vec![]).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    stub.set_latency(Duration::from_millis(400));
    let mut command = setup.cli(&stub.url);
    command
        .args(["reconcile", "--only", "users"])
        .env("DATABASE_URL", &db.url)
        .env("CLERK_API_RATE", "1000");
    crash_after_first_page(command, setup.keys.reconcile()).await;
    stub.set_latency(Duration::ZERO);

    let _worker = Applying::start(&setup, &db).await;
    let resume_start = stub.requests().len();
    let resumed = json(
        &cli(
            &setup,
            &stub,
            &db,
            &["reconcile", "--only", "users", "--resume", "--json"],
        )
        .await,
    );
    let first = stub.requests()[resume_start..]
        .iter()
        .find(|r| !r.starts_with("/v1/instance?"))
        .cloned()
        .unwrap_or_default();
    assert!(
        first.starts_with("/v1/users?")
            && !first.contains("offset=0&")
            && !first.ends_with("offset=0"),
        "resumed past the first page: {first}"
    );
    assert_eq!(resumed["kinds"][0]["extras_checked"], false);
    assert_eq!(resumed["level"], true, "{resumed}");
    let client = sql(&db).await;
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1_500, "every user in, across both runs");
}
