//! `clerk-sync dlq`: list, show, replay and purge dead letters that a real worker made.

use std::process::Command;
use std::time::Duration;

use clerk_sync_queue::redis;
use clerk_sync_test_support::TestDatabase;
use clerk_sync_worker::Worker;

use crate::queue::{Prefix, stderr, stdout, user_body, worker_config};

/// Dead letters made the real way: a worker gives up on them.
async fn dead_letters(prefix: &Prefix, db: &TestDatabase) {
    prefix.enqueue("msg_notjson", b"{ this is not json").await;
    prefix
        .enqueue(
            "msg_noid",
            br#"{"type":"user.updated","data":{"first_name":"x"}}"#,
        )
        .await;
    // This one is fine, but the database refuses its user for now: with one attempt
    // allowed, it is dead-lettered, and it will apply once replayed.
    db.obstruct_user("user_busy").await;
    prefix.enqueue("msg_busy", &user_body("user_busy")).await;
    Worker::build(worker_config(prefix, &db.url))
        .await
        .unwrap()
        .drain(Duration::from_secs(20))
        .await
        .unwrap();
    db.clear_obstacle().await;
}

#[tokio::test]
async fn list_shows_each_dead_letter_with_its_reason() {
    let prefix = Prefix::new();
    let db = TestDatabase::new().await;
    dead_letters(&prefix, &db).await;

    let table = prefix.run(&["dlq", "list"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    for expected in [
        "msg_notjson",
        "msg_noid",
        "msg_busy",
        "body is not JSON",
        "missing field `id`",
        "user.updated",
        "attempts",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    let json: serde_json::Value =
        serde_json::from_slice(&prefix.run(&["dlq", "list", "--json"]).stdout).unwrap();
    let letters = json.as_array().unwrap();
    assert_eq!(letters.len(), 3);
    let busy = letters.iter().find(|l| l["svix_id"] == "msg_busy").unwrap();
    assert_eq!(busy["type"], "user.created");
    assert_eq!(busy["attempts"], 1);
    assert!(
        busy["error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 1 attempts"),
        "{busy}"
    );

    let only: serde_json::Value = serde_json::from_slice(
        &prefix
            .run(&["dlq", "list", "--type", "user.created", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(only.as_array().unwrap().len(), 1);
    let limited: serde_json::Value = serde_json::from_slice(
        &prefix
            .run(&["dlq", "list", "--limit", "2", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 2);

    // The settings as flags, before or after the verb, in place of the environment.
    let url = crate::queue::redis_url();
    for args in [
        vec![
            "--redis-url",
            &url,
            "--stream-prefix",
            &prefix.name,
            "dlq",
            "list",
            "--json",
        ],
        vec![
            "dlq",
            "list",
            "--json",
            "--redis-url",
            &url,
            "--stream-prefix",
            &prefix.name,
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_clerk-sync"))
            .env_clear()
            .args(&args)
            .output()
            .unwrap();
        let listed: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{args:?}: {}", stderr(&output)));
        assert_eq!(listed.as_array().unwrap().len(), 3, "{args:?}");
    }
}

#[tokio::test]
async fn show_prints_every_field_and_the_payload_pretty() {
    let prefix = Prefix::new();
    let db = TestDatabase::new().await;
    dead_letters(&prefix, &db).await;
    let letters = prefix.stream(&prefix.keys.dlq()).await;
    let (id, _) = letters
        .iter()
        .find(|(_, f)| f["svix_id"] == "msg_busy")
        .unwrap();

    let shown = prefix.run(&["dlq", "show", id]);
    assert!(shown.status.success());
    let text = stdout(&shown);
    for field in [
        "svix_id",
        "svix_timestamp",
        "type",
        "received_at",
        "attempt",
        "error",
        "failed_at",
        "attempts",
    ] {
        assert!(text.contains(field), "{field} missing:\n{text}");
    }
    assert!(
        text.contains("\"id\": \"user_busy\""),
        "the payload is pretty-printed:\n{text}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&prefix.run(&["dlq", "show", id, "--json"]).stdout).unwrap();
    assert_eq!(
        json["payload"]["data"]["id"], "user_busy",
        "the payload is JSON, not a string"
    );
    assert_eq!(json["entry"], id.as_str());

    let missing = prefix.run(&["dlq", "show", "1-1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no dead letter 1-1"));
}

#[tokio::test]
async fn a_replayed_dead_letter_is_applied_once_the_cause_is_gone() {
    let prefix = Prefix::new();
    let db = TestDatabase::new().await;
    dead_letters(&prefix, &db).await;
    let letters = prefix.stream(&prefix.keys.dlq()).await;
    let (id, _) = letters
        .iter()
        .find(|(_, f)| f["svix_id"] == "msg_busy")
        .unwrap();

    let replayed = prefix.run(&["dlq", "replay", id]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    assert_eq!(stdout(&replayed).trim(), "replayed 1 dead letter");
    let events = prefix.stream(&prefix.keys.events()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["attempt"], "0", "a replay is a fresh event");
    assert_eq!(events[0].1["svix_id"], "msg_busy");
    assert!(!events[0].1.contains_key("error"));
    assert_eq!(prefix.stream(&prefix.keys.dlq()).await.len(), 2);

    Worker::build(worker_config(&prefix, &db.url))
        .await
        .unwrap()
        .drain(Duration::from_secs(20))
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let users: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE clerk_id = 'user_busy'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);

    let again = prefix.run(&["dlq", "replay", id]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a dead letter is replayed once"
    );
    assert!(stderr(&again).contains(&format!("no dead letter {id}")));
}

#[tokio::test]
async fn replaying_or_purging_all_moves_each_dead_letter_exactly_once() {
    let prefix = Prefix::new();
    let consumer = clerk_sync_queue::Consumer::new(
        clerk_sync_queue::connect(
            &crate::queue::redis_url(),
            4,
            Duration::from_secs(2),
            Duration::from_secs(5),
        )
        .unwrap(),
        prefix.keys.clone(),
        "seeder",
    );
    consumer.ensure_group().await.unwrap();
    for i in 0..1500 {
        let body = if i % 3 == 0 {
            user_body(&format!("user_{i}"))
        } else {
            b"{}".to_vec()
        };
        prefix.enqueue(&format!("msg_{i}"), &body).await;
    }
    for delivery in consumer.read(2000, Duration::ZERO).await.unwrap() {
        consumer
            .dead_letter(&delivery.id, "seeded", 1)
            .await
            .unwrap();
    }

    let replayed = prefix.run(&["dlq", "replay", "--all", "--type", "user.created", "--json"]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    let json: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    assert_eq!(json["replayed"].as_array().unwrap().len(), 500);
    assert_eq!(prefix.stream(&prefix.keys.events()).await.len(), 500);
    assert_eq!(prefix.stream(&prefix.keys.dlq()).await.len(), 1000);

    let purged = prefix.run(&["dlq", "purge", "--all"]);
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert_eq!(stdout(&purged).trim(), "purged 1000 dead letters");
    assert!(prefix.stream(&prefix.keys.dlq()).await.is_empty());
    assert_eq!(
        prefix.stream(&prefix.keys.events()).await.len(),
        500,
        "purging touches only dead letters"
    );
}

#[tokio::test]
async fn purge_removes_the_named_dead_letters_and_says_which_were_not_there() {
    let prefix = Prefix::new();
    let db = TestDatabase::new().await;
    dead_letters(&prefix, &db).await;
    let ids: Vec<String> = prefix
        .stream(&prefix.keys.dlq())
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let purged = prefix.run(&["dlq", "purge", &ids[0], &ids[1], "9-9"]);
    assert_eq!(purged.status.code(), Some(1));
    assert_eq!(stdout(&purged).trim(), "purged 2 dead letters");
    assert!(stderr(&purged).contains("no dead letter 9-9"));
    assert_eq!(prefix.stream(&prefix.keys.dlq()).await.len(), 1);
}

#[test]
fn replay_needs_entries_or_all() {
    let prefix = Prefix::new();
    let output = prefix.run(&["dlq", "replay"]);
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn reindex_puts_dead_letters_from_before_the_index_in_their_groups_once() {
    let prefix = Prefix::new();
    // As a version before the index wrote one: the stream entry alone.
    let mut conn = prefix.conn().await;
    let _: String = redis::cmd("XADD")
        .arg(prefix.keys.dlq())
        .arg("*")
        .arg(&[
            ("svix_id", "msg_old"),
            ("svix_timestamp", "1716883200"),
            ("type", "user.updated"),
            (
                "payload",
                r#"{"type":"user.updated","data":{"id":"user_old"}}"#,
            ),
            ("received_at", "1716883200123"),
            ("attempt", "7"),
            ("error", "gave up after 8 attempts: deadlock detected"),
            ("failed_at", "1716883300000"),
            ("attempts", "8"),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();

    let first = prefix.run(&["dlq", "reindex"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("1 dead letters indexed"),
        "{}",
        stdout(&first)
    );
    let groups: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(prefix.keys.dlq_groups())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        groups,
        [(
            "user.updated\ngave up after N attempts".to_owned(),
            "1".to_owned()
        )]
    );
    let again = prefix.run(&["dlq", "reindex"]);
    assert!(
        stdout(&again).starts_with("0 dead letters indexed"),
        "{}",
        stdout(&again)
    );
}
