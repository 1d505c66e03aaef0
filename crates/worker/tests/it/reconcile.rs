//! Scheduled reconciliation: drift healed with nobody running anything, by one worker at a
//! time, at a pace Clerk's limits allow.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use clerk_sync_test_support::clerk_stub::{self, BASE_MS, KEY, Stub};
use clerk_sync_test_support::eventually;
use clerk_sync_worker::{Clerk, Worker};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Harness, user_body};

const WAIT: Duration = Duration::from_secs(90);

fn clerk(stub: &Stub, rate: u32) -> Clerk {
    Clerk::new(
        stub.url.parse().unwrap(),
        clerk_sync_clerk_api::SecretKey::parse(KEY).unwrap(),
        NonZeroU32::new(rate).unwrap(),
    )
}

#[tokio::test]
async fn a_database_that_lost_events_heals_itself_and_two_workers_never_reconcile_at_once() {
    let h = Harness::new().await;
    let users: Vec<_> = (0..3)
        .map(|n| clerk_stub::user(n, BASE_MS, BASE_MS + 100))
        .collect();
    // The database has user 0 only, at an older version, and user 7 whom Clerk deleted;
    // user 1 and 2's webhooks were lost.
    h.enqueue(
        "msg_0",
        &user_body("user.updated", &users[0].id, BASE_MS + 50, "Old"),
    )
    .await;
    let gone = format!("user_{:027}", 7);
    h.enqueue(
        "msg_7",
        &user_body("user.updated", &gone, BASE_MS + 50, "Gone"),
    )
    .await;
    h.worker().await.drain(WAIT).await.unwrap();
    let stub = Stub::start(users.clone(), vec![], vec![]).await;
    // Slow enough that two runs at once would interleave their requests.
    stub.set_latency(Duration::from_millis(50));

    let stop = CancellationToken::new();
    let mut running = Vec::new();
    let mut metrics_port = 0;
    for name in ["reconciler-1", "reconciler-2"] {
        let mut config = h.config(name);
        config.clerk = Some(clerk(&stub, 100));
        config.reconcile_interval = Duration::from_secs(3600);
        let worker = Worker::build(config).await.unwrap();
        metrics_port = worker.metrics_port().unwrap();
        running.push(tokio::spawn(worker.run(stop.clone())));
    }

    eventually(
        WAIT,
        "users 1 and 2 back, user 0 current, user 7 deleted",
        || async {
            let live = h
                .column("SELECT clerk_id FROM users WHERE deleted_at IS NULL ORDER BY clerk_id")
                .await;
            let names = h
                .column(&format!(
                    "SELECT first_name FROM users WHERE clerk_id = '{}'",
                    users[0].id
                ))
                .await;
            live == users.iter().map(|u| Some(u.id.clone())).collect::<Vec<_>>()
                && names == vec![Some("User 0".to_owned())]
        },
    )
    .await;
    let scrape = || async {
        reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let last_success = |metrics: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("clerk_sync_reconcile_last_success_timestamp_seconds "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    eventually(WAIT, "the run recorded as a success", || async {
        last_success(&scrape().await) > 1.7e9
    })
    .await;
    let metrics = scrape().await;
    assert!(
        metrics.contains(r#"clerk_sync_drift_objects{kind="users",drift="missing"} 2"#),
        "{metrics}"
    );
    // Process-wide, and other tests' workers in this process set it too: present is all.
    assert!(metrics.contains("clerk_sync_reconcile_interval_seconds "));
    stop.cancel();
    for run in running {
        run.await.unwrap().unwrap();
    }

    // One run: the users list read once from its first page, then each extra asked by id.
    let requests = stub.requests();
    let first_pages = requests
        .iter()
        .filter(|r| r.starts_with("/v1/users?") && r.contains("offset=0"))
        .count();
    assert_eq!(first_pages, 1, "{requests:#?}");
}

#[tokio::test]
async fn the_client_keeps_its_pace_under_a_burst() {
    let users: Vec<_> = (0..30)
        .map(|n| clerk_stub::user(n, BASE_MS, BASE_MS))
        .collect();
    let stub = Stub::start(users.clone(), vec![], vec![]).await;
    let client = clerk(&stub, 10)
        .client(clerk_sync_clerk_api::RetryPolicy::PATIENT)
        .unwrap();
    let started = Instant::now();
    let calls = users.iter().map(|u| client.user(&u.id, None));
    let answers = futures_util::future::join_all(calls).await;
    assert!(answers.iter().all(|a| matches!(a, Ok(Some(_)))));
    // 30 requests at 10 a second, the first at once: never sooner than 2.9 s.
    assert!(
        started.elapsed() >= Duration::from_millis(2_850),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.requests().len(), 30);
}
