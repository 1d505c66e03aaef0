//! The console in a real browser: headless Chromium, driven through chromedriver, logs in,
//! finds a planted group of dead letters, replays it with the plan, and watches the object's
//! page show the row a worker (running in this process) applied. The browser's console must
//! stay free of errors (a script error, a Content-Security-Policy violation, a failed load).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Set
//! `CONSOLE_SCREENSHOTS=<dir>` to keep a screenshot of each page, as README shows them.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

#[path = "../it/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use clerk_sync_queue::{Consumer, Enqueuer, EnqueuerConfig, Entry};
use clerk_sync_worker::{Backoff, Config, Worker};
use tokio_util::sync::CancellationToken;

use helpers::{Harness, OPERATOR};
use webdriver::{Driver, Session};

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(30);

/// A user event as Clerk sends it, which the worker applies.
fn user_created(id: &str, updated_at: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "event", "type": "user.created", "timestamp": updated_at,
        "data": {
            "object": "user", "id": id, "first_name": "Ada", "last_name": "Lovelace",
            "primary_email_address_id": format!("idn_{id}"),
            "email_addresses": [{"id": format!("idn_{id}"), "email_address": format!("{id}@example.com"),
                                 "verification": {"status": "verified"}}],
            "public_metadata": {}, "updated_at": updated_at, "created_at": updated_at
        }
    })
    .to_string()
    .into_bytes()
}

/// Dead-letters three valid events (a deadlock outlasted their attempts) and two that can
/// never apply.
async fn plant(h: &Harness) {
    let consumer = Consumer::new(h.pool.clone(), h.keys.clone(), "worker-gone");
    consumer.ensure_group().await.unwrap();
    let enqueuer = Enqueuer::new(h.pool.clone(), h.keys.clone(), EnqueuerConfig::default());
    let now = clerk_sync_runtime::unix_ms() as i64;
    for i in 0..3 {
        let entry = Entry {
            svix_id: format!("msg_browser_{i}"),
            svix_timestamp: (now / 1000).to_string(),
            event_type: "user.created".into(),
            payload: user_created(&format!("user_browser{i}"), now),
            received_at: now as u64,
            attempt: 0,
        };
        enqueuer.enqueue(&entry).await.unwrap();
    }
    for delivery in consumer.read(3, Duration::ZERO).await.unwrap() {
        consumer
            .dead_letter(
                &delivery.id,
                "gave up after 8 attempts: deadlock detected",
                8,
            )
            .await
            .unwrap();
    }
    h.dead_letter(10, 2, "user.updated", "body is not JSON")
        .await;
}

fn worker_config(h: &Harness) -> Config {
    Config {
        api: None,
        clerk: None,
        reconcile_interval: Duration::ZERO,
        changes_retention: Duration::ZERO,
        processed_retention: Duration::ZERO,
        sessions_retention: Duration::ZERO,
        messages_retention: Duration::ZERO,
        redis_url: clerk_sync_test_support::redis_url().into(),
        database_url: h.db.url.clone().into(),
        database_schema: Default::default(),
        stream_prefix: h
            .keys
            .events()
            .trim_start_matches('{')
            .split('}')
            .next()
            .unwrap()
            .to_owned(),
        metrics_bind: "127.0.0.1:0".parse().unwrap(),
        consumer_name: "browser-worker".to_owned(),
        max_attempts: 8,
        backoff: Backoff {
            base: Duration::from_millis(5),
            max: Duration::from_millis(50),
        },
        claim_idle: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(10),
        lock_timeout: None,
        idle_in_transaction_timeout: None,
        concurrency: 4,
        batch_size: 8,
        user_delete_mode: clerk_sync_db::DeleteMode::Soft,
        migrate_on_start: false,
        read_block: Duration::from_millis(100),
    }
}

/// Keeps a screenshot where `CONSOLE_SCREENSHOTS` says, and only then.
async fn screenshot(session: &Session, name: &str) {
    let Some(dir) = std::env::var_os("CONSOLE_SCREENSHOTS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), session.screenshot().await).unwrap();
}

/// Whether the tools are here; in CI (`CLERK_SYNC_BROWSER_TEST=required`) their absence fails.
fn browser_available() -> bool {
    let found = std::process::Command::new(CHROMEDRIVER)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && std::path::Path::new(CHROMIUM).exists();
    if !found {
        assert_ne!(
            std::env::var("CLERK_SYNC_BROWSER_TEST").as_deref(),
            Ok("required"),
            "chromium and chromium-driver are required here (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: the browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_a_dead_letter_group_and_sees_the_row_applied() {
    if !browser_available() {
        return;
    }
    let h = Harness::new().await;
    plant(&h).await;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let console = tokio::spawn(clerk_sync_console::serve(
        h.console.clone(),
        listener,
        stop.clone().cancelled_owned(),
    ));
    let worker = Worker::build(worker_config(&h)).await.unwrap();
    let worker = tokio::spawn(worker.run(stop.clone()));

    let driver = Driver::start(CHROMEDRIVER).await;
    let session = Session::new(&driver, CHROMIUM).await;

    // Any page sends to the login form first.
    session.goto(&format!("{origin}/dead-letters")).await;
    let token = session.wait_for("#token", WAIT).await;
    screenshot(&session, "login").await;
    session.type_into(&token, OPERATOR).await;
    let submit = session
        .wait_for("form.login button[type=submit]", WAIT)
        .await;
    session.click(&submit).await;

    // The planted group, with its count.
    let group = session
        .wait_for(
            "table.groups a[href*='reason=gave+up+after+N+attempts']",
            WAIT,
        )
        .await;
    assert_eq!(session.text(&group).await, "user.created");
    screenshot(&session, "dead-letters").await;
    session.click(&group).await;

    // The plan: three, and nothing moved yet.
    let plan = session.wait_for("#plan-replay", WAIT).await;
    session.click(&plan).await;
    let count = session.wait_for("#plan-count", WAIT).await;
    assert_eq!(session.text(&count).await, "3");
    assert_eq!(h.dlq_len().await, 5, "the plan moves nothing");
    screenshot(&session, "plan").await;
    let confirm = session.wait_for("#confirm", WAIT).await;
    session.click(&confirm).await;
    let affected = session.wait_for("td.affected", WAIT).await;
    assert_eq!(session.text(&affected).await, "3");
    assert_eq!(h.dlq_len().await, 2, "exactly the group was replayed");

    // The object's page refreshes itself until the worker's row is there.
    session
        .goto(&format!("{origin}/objects/user_browser1"))
        .await;
    session.wait_for("main[data-refresh]", WAIT).await;
    let row = session
        .wait_for("section.row[data-table='users']", WAIT)
        .await;
    assert!(session.text(&row).await.contains("Ada"));
    screenshot(&session, "object").await;

    session.goto(&format!("{origin}/")).await;
    session.wait_for("figure.chart svg", WAIT).await;
    screenshot(&session, "overview").await;
    session.goto(&format!("{origin}/changes")).await;
    session.wait_for("#live-status", WAIT).await;
    screenshot(&session, "changes").await;

    let errors: Vec<(String, String)> = session
        .log()
        .await
        .into_iter()
        .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
        .collect();
    assert!(errors.is_empty(), "the browser's console: {errors:?}");

    session.close().await;
    stop.cancel();
    worker.await.unwrap().unwrap();
    console.await.unwrap().unwrap();
}
