//! The real binary: configuration errors, the healthcheck, metrics and log hygiene.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Harness, redis_url, user_body};

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync-worker");

fn worker() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn refused(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn a_claim_timeout_shorter_than_an_attempt_is_refused_at_start() {
    let stderr = refused(
        worker()
            .env("CLAIM_IDLE_MS", "1000")
            .env("ATTEMPT_TIMEOUT_MS", "2000"),
    );
    assert!(stderr.contains("CLAIM_IDLE_MS"), "{stderr}");
    assert!(stderr.contains("ATTEMPT_TIMEOUT_MS"), "{stderr}");
}

#[test]
fn contradicting_session_bounds_are_refused_at_start() {
    let stderr = refused(
        worker()
            .env("ATTEMPT_TIMEOUT_MS", "2000")
            .env("LOCK_TIMEOUT_MS", "2000"),
    );
    assert!(stderr.contains("LOCK_TIMEOUT_MS"), "{stderr}");
    let stderr = refused(
        worker()
            .env("CLAIM_IDLE_MS", "10000")
            .env("ATTEMPT_TIMEOUT_MS", "5000")
            .env("IDLE_IN_TRANSACTION_TIMEOUT_MS", "10000"),
    );
    assert!(
        stderr.contains("IDLE_IN_TRANSACTION_TIMEOUT_MS"),
        "{stderr}"
    );
}

#[test]
fn the_api_and_the_schedule_need_a_key_and_tokens_are_never_printed() {
    let token = "app-token-0123456789abcdef";
    let stderr = refused(worker().env("CLERK_SYNC_API_TOKEN", token));
    assert!(stderr.contains("CLERK_SECRET_KEY"), "{stderr}");
    assert!(!stderr.contains(token), "{stderr}");
    let stderr = refused(worker().env("RECONCILE_INTERVAL", "1h"));
    assert!(stderr.contains("CLERK_SECRET_KEY"), "{stderr}");
    let stderr = refused(worker().env("CLERK_SYNC_API_TOKEN", "short-secret"));
    assert!(stderr.contains("CLERK_SYNC_API_TOKEN"), "{stderr}");
    assert!(!stderr.contains("short-secret"), "{stderr}");
    let help = worker()
        .env("CLERK_SYNC_API_TOKEN", token)
        .env("CLERK_SECRET_KEY", "sk_test_hunter2hunter2")
        .arg("--help")
        .output()
        .unwrap();
    let stdout = String::from_utf8(help.stdout).unwrap();
    assert!(stdout.contains("CLERK_SYNC_API_TOKEN"), "{stdout}");
    assert!(
        !stdout.contains(token) && !stdout.contains("hunter2"),
        "{stdout}"
    );
}

#[test]
fn malformed_settings_are_named_and_exit_2() {
    for (var, value) in [
        ("MAX_ATTEMPTS", "0"),
        ("MAX_ATTEMPTS", "many"),
        ("USER_DELETE_MODE", "maybe"),
        ("WORKER_CONCURRENCY", "0"),
        ("RETRY_BASE_MS", "-1"),
        ("STREAM_PREFIX", "a}b"),
        ("WORKER_METRICS_BIND", "nowhere"),
        ("API_BIND", "nowhere"),
        ("RECONCILE_INTERVAL", "soon"),
        ("CLERK_API_RATE", "0"),
        ("CLERK_SECRET_KEY", "pk_test_hunter2"),
        ("CLERK_API_URL", "ftp://hunter2@clerk"),
        ("REDIS_URL", "http://:hunter2@cache:6379"),
        ("DATABASE_URL", "postgres://app:hunter2@db:notaport/clerk"),
    ] {
        let stderr = refused(worker().env(var, value));
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{var}: {stderr}");
    }
}

#[test]
fn help_never_shows_the_database_password() {
    let output = worker()
        .env("DATABASE_URL", "postgres://app:hunter2@db/clerk")
        .arg("--help")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("DATABASE_URL"));
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[tokio::test]
async fn a_running_worker_is_healthy_exports_metrics_and_logs_no_personal_data() {
    let h = Harness::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let child = worker()
        .env("DATABASE_URL", &h.db.url)
        .env("STREAM_PREFIX", &h.prefix)
        .env("WORKER_METRICS_BIND", &bind)
        .env("LOG_FORMAT", "json")
        .env("RETRY_BASE_MS", "1")
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    clerk_sync_test_support::eventually(Duration::from_secs(30), "the worker ready", || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let health = worker()
        .env("WORKER_METRICS_BIND", &bind)
        .arg("healthcheck")
        .status()
        .unwrap();
    assert!(
        health.success(),
        "healthcheck passes against a running worker"
    );

    h.enqueue(
        "msg_log_ok",
        &user_body("user.created", "user_log", 1_716_883_200_000, "Secretive"),
    )
    .await;
    // A poison payload holding an address: dead-lettered, and its address must not be logged.
    h.enqueue(
        "msg_log_bad",
        br#"{"type":"user.updated","data":{"id":"user_x","banned":"jane.doe@example.com"}}"#,
    )
    .await;
    clerk_sync_test_support::eventually(
        Duration::from_secs(30),
        "one applied, one dead-lettered",
        || async { h.count("users").await == 1 && h.dlq().await.len() == 1 },
    )
    .await;
    assert_eq!(h.count("users").await, 1);

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        r#"clerk_sync_worker_events_total{type="user.created",outcome="applied"} 1"#,
        r#"clerk_sync_worker_events_total{type="user.updated",outcome="dead_lettered"} 1"#,
        "clerk_sync_worker_apply_duration_seconds_bucket",
        "clerk_sync_worker_end_to_end_seconds_bucket",
        "clerk_sync_worker_dlq_length 1",
        "clerk_sync_worker_stream_length 0",
        "clerk_sync_worker_pending 0",
        "clerk_sync_worker_retry_set_size 0",
        "clerk_sync_worker_postgres_up 1",
        // Series no event has touched are there, at 0.
        r#"clerk_sync_worker_events_total{type="user.deleted",outcome="postponed"} 0"#,
        r#"clerk_sync_worker_events_total{type="other",outcome="dead_lettered"} 0"#,
        "clerk_sync_worker_claimed_total 0",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let logs = String::from_utf8(output.stdout).unwrap();
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
    assert!(
        logs.contains("msg_log_bad"),
        "a dead letter is logged with its svix_id: {logs}"
    );
    for forbidden in [
        "jane.doe@example.com",
        "user_log@example.com",
        "Secretive",
        "never stored",
        "postgres@",
    ] {
        assert!(
            !logs.contains(forbidden),
            "log contains {forbidden}: {logs}"
        );
    }
    let health = worker()
        .env("WORKER_METRICS_BIND", &bind)
        .arg("healthcheck")
        .status()
        .unwrap();
    assert!(
        !health.success(),
        "healthcheck fails once the worker is gone"
    );
}
