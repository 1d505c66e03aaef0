//! The real binary: configuration errors, log hygiene and graceful shutdown.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Delivery, SECRET, redis_url};

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync-receiver");

fn receiver() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn a_missing_secret_stops_the_receiver_with_one_line_and_status_2() {
    let output = receiver().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CLERK_WEBHOOK_SIGNING_SECRET"), "{stderr}");
}

#[test]
fn a_malformed_secret_is_named_but_never_printed() {
    let output = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_sup3r*secret*value")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CLERK_WEBHOOK_SIGNING_SECRET"), "{stderr}");
    assert!(!stderr.contains("sup3r"), "{stderr}");
}

#[test]
fn a_malformed_number_is_named() {
    let output = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("MAX_BODY_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("MAX_BODY_BYTES"), "{stderr}");
}

#[test]
fn a_malformed_redis_url_is_named_but_never_printed() {
    let output = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("REDIS_URL", "http://:hunter2@cache:6379")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn help_never_shows_the_secret() {
    let output = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("CLERK_WEBHOOK_SIGNING_SECRET"));
    assert!(!stdout.contains("MfKQ9r8"), "{stdout}");
}

#[tokio::test]
async fn a_full_request_cycle_logs_the_id_but_never_the_secret_or_an_email() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = clerk_sync_test_support::unique_prefix();
    let child = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("RECEIVER_BIND", format!("127.0.0.1:{port}"))
        .env("STREAM_PREFIX", &prefix)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    clerk_sync_test_support::eventually(Duration::from_secs(30), "the receiver ready", || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    let body = std::fs::read(
        clerk_sync_test_support::corpus_dir().join("clerk/user.created__clerk-docs.json"),
    )
    .unwrap();
    let email = "example@example.org";
    assert!(String::from_utf8_lossy(&body).contains(email));
    let delivery = Delivery::signed("msg_logcheck", &body);
    let response = client
        .post(format!("{base}/webhooks/clerk"))
        .header("svix-id", &delivery.id)
        .header("svix-timestamp", &delivery.timestamp)
        .header("svix-signature", &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let mut bad = Delivery::signed("msg_logcheck_bad", &body);
    bad.signature = "v1,AAAA".into();
    client
        .post(format!("{base}/webhooks/clerk"))
        .header("svix-id", &bad.id)
        .header("svix-timestamp", &bad.timestamp)
        .header("svix-signature", &bad.signature)
        .body(bad.body.clone())
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Each request counted once, under its status: the series exist at 0 from start, so
    // only the count shows the handles the route holds are the ones /metrics reads.
    for series in [
        "clerk_sync_receiver_requests_total{status=\"202\"} 1",
        "clerk_sync_receiver_requests_total{status=\"401\"} 1",
        "clerk_sync_receiver_verification_failures_total{reason=\"invalid_signature\"} 1",
        "clerk_sync_receiver_enqueue_duration_seconds_count 1",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "SIGTERM is a clean exit");

    let logs = String::from_utf8(output.stdout).unwrap();
    assert!(logs.contains("msg_logcheck"), "{logs}");
    assert!(
        logs.contains("published development secret"),
        "running with the compose file's secret is warned about: {logs}"
    );
    assert!(logs.contains("user.created"), "{logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
    for forbidden in [
        email,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "private_metadata",
        &delivery.signature,
    ] {
        assert!(
            !logs.contains(forbidden),
            "log contains {forbidden}: {logs}"
        );
    }

    clerk_sync_test_support::delete_keys(&redis_url(), &format!("{{{prefix}}}:*"));
}

#[tokio::test]
async fn every_refusal_reason_is_exported_at_zero_before_the_first_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = clerk_sync_test_support::unique_prefix();
    let mut child = receiver()
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("RECEIVER_BIND", format!("127.0.0.1:{port}"))
        .env("STREAM_PREFIX", &prefix)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let scrape = || async {
        match client.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    clerk_sync_test_support::eventually(Duration::from_secs(30), "metrics served", || async {
        !scrape().await.is_empty()
    })
    .await;
    let metrics = scrape().await;
    for reason in [
        "missing_header",
        "malformed_header",
        "invalid_signature",
        "timestamp_out_of_tolerance",
    ] {
        let line =
            format!("clerk_sync_receiver_verification_failures_total{{reason=\"{reason}\"}} 0");
        assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
    }
    assert!(
        metrics.contains("clerk_sync_receiver_requests_total{status=\"401\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("clerk_sync_receiver_last_accepted_timestamp_seconds 0"),
        "{metrics}"
    );

    let delivery = Delivery::signed("msg_metrics_zero", b"{\"type\":\"user.created\"}");
    let response = client
        .post(format!("{base}/webhooks/clerk"))
        .header("svix-id", &delivery.id)
        .header("svix-timestamp", &delivery.timestamp)
        .header("svix-signature", &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let metrics = scrape().await;
    let accepted: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("clerk_sync_receiver_last_accepted_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - accepted).abs() < 300.0, "{accepted} vs {now}");

    let _ = child.kill();
    let _ = child.wait();
    clerk_sync_test_support::delete_keys(&redis_url(), &format!("{{{prefix}}}:*"));
}
