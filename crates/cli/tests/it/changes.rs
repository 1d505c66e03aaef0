//! `clerk-sync changes`: the change feed, printed once or followed.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use clerk_sync_db::{ApplyOptions, AsyncPgConnection, Pending, PoolConfig, apply_one};
use clerk_sync_test_support::{TestDatabase, eventually};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync");
const T1: i64 = 1_716_883_200_000;
const WITHIN: Duration = Duration::from_secs(20);

fn cli(database_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().env("DATABASE_URL", database_url);
    command
}

async fn connect(db: &TestDatabase) -> AsyncPgConnection {
    clerk_sync_db::connect(&PoolConfig {
        url: db.url.clone(),
        max_size: 1,
        statement_timeout: Duration::from_secs(10),
        lock_timeout: Duration::ZERO,
        idle_in_transaction_timeout: Duration::ZERO,
        application_name: "clerk-sync-cli-tests".into(),
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap()
}

/// Applies an event of `kind` for `data`, as the worker would.
async fn apply(conn: &mut AsyncPgConnection, svix_id: &str, kind: &str, data: Value) {
    let body = serde_json::json!({"object": "event", "type": kind, "timestamp": T1, "data": data});
    let event = clerk_sync_events::parse(body.to_string().as_bytes(), 0).unwrap();
    let pending = Pending {
        svix_id,
        event: &event,
    };
    apply_one(conn, pending, ApplyOptions::default())
        .await
        .unwrap();
}

fn user(id: &str) -> Value {
    serde_json::json!({"object": "user", "id": id, "first_name": "Ada", "email_addresses": [],
                       "created_at": T1, "updated_at": T1})
}

/// The JSON lines a run printed.
fn json_lines(command: &mut Command) -> Vec<Value> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn ids(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["object_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn changes_prints_the_feed_after_a_cursor_and_by_type_as_lines_or_json() {
    let db = TestDatabase::new().await;
    let mut conn = connect(&db).await;
    apply(&mut conn, "msg_1", "user.created", user("user_1")).await;
    apply(&mut conn, "msg_2", "user.created", user("user_2")).await;
    let org = serde_json::json!({"object": "organization", "id": "org_1", "name": "Acme",
                                 "slug": "acme", "created_at": T1, "updated_at": T1});
    apply(&mut conn, "msg_3", "organization.created", org).await;
    let deleted = serde_json::json!({"object": "user", "id": "user_1", "deleted": true});
    apply(&mut conn, "msg_4", "user.deleted", deleted).await;

    let all = json_lines(cli(&db.url).args(["changes", "--json"]));
    assert_eq!(ids(&all), ["user_1", "user_2", "org_1", "user_1"]);
    let last = &all[3];
    assert_eq!(last["op"], "deleted");
    assert_eq!(last["object_type"], "user");
    assert_eq!(last["event_type"], "user.deleted");
    assert_eq!(last["svix_id"], "msg_4");
    assert!(last["version"].is_string() && last["committed_at"].is_string());
    let first_id = all[0]["id"].as_i64().unwrap();
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64())
    );

    let after = all[1]["id"].to_string();
    let later = json_lines(cli(&db.url).args(["changes", "--json", "--after", &after]));
    assert_eq!(ids(&later), ["org_1", "user_1"]);
    let users = json_lines(cli(&db.url).args(["changes", "--json", "--type", "user"]));
    assert_eq!(ids(&users), ["user_1", "user_2", "user_1"]);
    let several =
        json_lines(cli(&db.url).args(["changes", "--json", "--type", "organization,user.deleted"]));
    assert_eq!(ids(&several), ["org_1", "user_1"]);

    let human = cli(&db.url).arg("changes").output().unwrap();
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "a header and four changes: {text}");
    assert!(lines[0].contains("OBJECT ID") && lines[0].contains("EVENT"));
    assert!(lines[1].trim_start().starts_with(&first_id.to_string()));
    assert!(
        lines[4].contains("deleted") && lines[4].contains("user_1") && lines[4].contains("msg_4"),
        "{text}"
    );
}

#[tokio::test]
async fn follow_prints_what_commits_after_it_started_and_stops_cleanly_on_sigterm() {
    let db = TestDatabase::new().await;
    let mut conn = connect(&db).await;
    apply(&mut conn, "msg_1", "user.created", user("user_1")).await;

    let mut child = cli(&db.url)
        .args(["changes", "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    // A thread of its own: reading a pipe blocks.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next = async || -> Value {
        let line = tokio::time::timeout(WITHIN, lines.recv())
            .await
            .expect("nothing printed")
            .expect("stdout closed");
        serde_json::from_str(&line).unwrap()
    };

    assert_eq!(next().await["object_id"], "user_1", "what was there first");
    apply(&mut conn, "msg_2", "user.created", user("user_2")).await;
    let followed = next().await;
    assert_eq!(
        followed["object_id"], "user_2",
        "committed after it started"
    );
    assert_eq!(followed["svix_id"], "msg_2");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    eventually(WITHIN, "changes --follow exits on SIGTERM", || {
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        async move { exited }
    })
    .await;
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "SIGTERM is a clean exit"
    );
}

#[tokio::test]
async fn a_cursor_behind_retention_exits_3_saying_how_far_and_one_at_it_reads_on() {
    let db = TestDatabase::new().await;
    let mut conn = connect(&db).await;
    for n in 0..4 {
        apply(
            &mut conn,
            &format!("msg_{n}"),
            "user.created",
            user(&format!("user_{n}")),
        )
        .await;
    }
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "UPDATE sync_changes SET committed_at = now() - interval '8 days' \
             WHERE id IN (SELECT id FROM sync_changes ORDER BY id LIMIT 2)",
            &[],
        )
        .await
        .unwrap();
    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(
        clerk_sync_db::prune_changes(&mut conn, clerk_sync_db::Schema::default(), week, 100)
            .await
            .unwrap(),
        2
    );
    let through = clerk_sync_db::changes_pruned_through(&conn, clerk_sync_db::Schema::default())
        .await
        .unwrap();
    assert!(through >= 2, "{through}");

    let behind = cli(&db.url)
        .args(["changes", "--after", "0", "--json"])
        .output()
        .unwrap();
    assert_eq!(behind.status.code(), Some(3));
    assert!(
        behind.stdout.is_empty(),
        "nothing printed from a cursor that missed changes"
    );
    let message = String::from_utf8_lossy(&behind.stderr);
    assert!(
        message.contains(&format!("changes up to id {through} were deleted")),
        "{message}"
    );

    let at = json_lines(cli(&db.url).args(["changes", "--after", &through.to_string(), "--json"]));
    assert_eq!(ids(&at), ["user_2", "user_3"]);
    // Without a cursor: whatever is kept, from the oldest.
    let all = json_lines(cli(&db.url).args(["changes", "--json"]));
    assert_eq!(ids(&all), ["user_2", "user_3"]);
}
