//! `clerk-sync console`: refuses to start without an operator token, and once started
//! answers its probes and sends a visitor without a session to the login form.

use std::process::{Command, Stdio};
use std::time::Duration;

use clerk_sync_test_support::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync");

#[test]
fn without_a_token_or_with_a_short_one_it_exits_2_naming_the_variable() {
    for token in [None, Some("short-secret")] {
        let mut command = Command::new(BIN);
        command.env_clear().arg("console");
        if let Some(token) = token {
            command.env("CLERK_SYNC_CONSOLE_TOKEN", token);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("CLERK_SYNC_CONSOLE_TOKEN"), "{stderr}");
        assert!(!stderr.contains("short-secret"), "{stderr}");
    }
}

#[tokio::test]
async fn it_serves_probes_and_sends_visitors_to_login() {
    let db = TestDatabase::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", clerk_sync_test_support::redis_url())
        .env("STREAM_PREFIX", clerk_sync_test_support::unique_prefix())
        .env("CONSOLE_BIND", &bind)
        .env("CLERK_SYNC_CONSOLE_TOKEN", "console-test-token-0001")
        .args(["console"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ready = format!("http://{bind}/readyz");
    clerk_sync_test_support::eventually(Duration::from_secs(30), "the console is ready", || {
        let (http, ready) = (http.clone(), ready.clone());
        async move {
            http.get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    let page = http.get(format!("http://{bind}/")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login?next=%2F");
    let probe = Command::new(BIN)
        .env_clear()
        .env("CONSOLE_BIND", &bind)
        .env("CLERK_SYNC_CONSOLE_TOKEN", "console-test-token-0001")
        .args(["console", "--healthcheck"])
        .status()
        .unwrap();
    assert!(probe.success());
    child.kill().unwrap();
    child.wait().unwrap();
}
