//! `clerk-sync send`: signed test events that a real receiver accepts, and refusals it
//! explains.

use std::process::Command;
use std::time::Duration;

use clerk_sync_queue::EnqueuerConfig;
use clerk_sync_receiver::{Application, Config};

use crate::queue::{Prefix, SECRET, redis_url, stderr, stdout};

/// A receiver in this process, under the test's prefix; returns its webhook URL.
async fn receiver(prefix: &Prefix) -> String {
    let config = Config {
        secrets: SECRET.parse().unwrap(),
        bind: "127.0.0.1:0".parse().unwrap(),
        tolerance_secs: 300,
        max_body_bytes: 1024 * 1024,
        redis_url: redis_url().into(),
        stream_prefix: prefix.name.clone(),
        enqueue: EnqueuerConfig {
            timeout: Duration::from_secs(2),
            ..EnqueuerConfig::default()
        },
        body_read_timeout: Duration::from_secs(5),
        clock: clerk_sync_receiver::Clock::system(),
    };
    let app = Application::build(config).await.unwrap();
    let url = format!("http://127.0.0.1:{}/webhooks/clerk", app.port());
    tokio::spawn(app.into_server());
    url
}

fn send(prefix: &Prefix, url: &str, secret: &str, args: &[&str]) -> Command {
    let mut command = prefix.cli();
    command
        .env("CLERK_WEBHOOK_SIGNING_SECRET", secret)
        .env("RECEIVER_URL", url)
        .arg("send")
        .args(args);
    command
}

#[tokio::test]
async fn send_signs_a_realistic_event_the_receiver_accepts() {
    let prefix = Prefix::new();
    let url = receiver(&prefix).await;
    let output = prefix
        .run_async(send(
            &prefix,
            &url,
            SECRET,
            &["user.created", "--count", "3"],
        ))
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.lines()
            .all(|l| l.starts_with("202 {\"status\":\"queued\"")),
        "{text}"
    );

    let entries = prefix.stream(&prefix.keys.events()).await;
    assert_eq!(entries.len(), 3);
    let mut ids = std::collections::HashSet::new();
    for (_, fields) in &entries {
        let event = clerk_sync_events::parse(fields["payload"].as_bytes(), 0).unwrap();
        assert_eq!(event.event_type, "user.created");
        let id = event.object_id().unwrap().to_owned();
        assert!(id.starts_with("user_") && id.len() == 32, "{id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "each send is a new user");
}

#[tokio::test]
async fn every_clerk_type_can_be_sent_and_is_accepted() {
    let prefix = Prefix::new();
    let url = receiver(&prefix).await;
    for event_type in clerk_sync_events::CLERK_EVENT_TYPES {
        let output = prefix
            .run_async(send(&prefix, &url, SECRET, &[event_type, "--json"]))
            .await;
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json[0]["status"], 202, "{event_type}: {json}");
    }
    for (_, fields) in prefix.stream(&prefix.keys.events()).await {
        let event = clerk_sync_events::parse(fields["payload"].as_bytes(), 0).unwrap();
        assert_ne!(
            event.data,
            clerk_sync_events::EventData::Unhandled,
            "{}",
            event.event_type
        );
    }
}

#[tokio::test]
async fn send_posts_a_file_byte_for_byte_and_checks_its_type() {
    let prefix = Prefix::new();
    let url = receiver(&prefix).await;
    let file = clerk_sync_test_support::corpus_dir()
        .join("clerk/session.created__clerk-openapi-specs.json");
    let file_arg = file.to_string_lossy().into_owned();
    let sent = prefix
        .run_async(send(
            &prefix,
            &url,
            SECRET,
            &["session.created", "--file", &file_arg, "--json"],
        ))
        .await;
    assert!(sent.status.success(), "{}", stderr(&sent));
    let json: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(json[0]["status"], 202);
    assert_eq!(json[0]["body"]["status"], "queued");
    let entries = prefix.stream(&prefix.keys.events()).await;
    assert_eq!(
        entries[0].1["payload"].as_bytes(),
        std::fs::read(&file).unwrap().as_slice()
    );

    let wrong = prefix
        .run_async(send(
            &prefix,
            &url,
            SECRET,
            &["user.created", "--file", &file_arg],
        ))
        .await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr(&wrong).contains("holds a session.created event, not user.created"));
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_reported() {
    let prefix = Prefix::new();
    let url = receiver(&prefix).await;
    let other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let output = prefix
        .run_async(send(&prefix, &url, other, &["user.updated"]))
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("401 {\"error\":\"invalid_signature\"}"),
        "{}",
        stdout(&output)
    );
    assert!(prefix.stream(&prefix.keys.events()).await.is_empty());
}

#[test]
fn send_refuses_an_unknown_type_and_a_missing_secret() {
    let prefix = Prefix::new();
    let unknown = prefix
        .cli()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .args(["send", "user.exploded"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("user.exploded is not a Clerk event type"));

    let no_secret = prefix.run(&["send", "user.created"]);
    assert_eq!(no_secret.status.code(), Some(2));
    assert_eq!(stderr(&no_secret).trim().lines().count(), 1);
    assert!(stderr(&no_secret).contains("CLERK_WEBHOOK_SIGNING_SECRET"));
}
