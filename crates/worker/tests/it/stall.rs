//! Stalled workers and held locks: waiting is contention, never a failed attempt, and a live
//! worker keeps the entries it is applying.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clerk_sync_db::lock_key;
use clerk_sync_queue::{Consumer, Keys};
use clerk_sync_test_support::{eventually, try_eventually};
use clerk_sync_worker::Worker;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Harness, redis_url, user_body, worker_command};

const T0: i64 = 1_716_883_200_000;
const WAIT: Duration = Duration::from_secs(60);

/// A worker process, killed (and so resumed) if the test fails before stopping it.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_binary(h: &Harness, name: &str, extra: &[(&str, &str)]) -> Process {
    let child = worker_command(h, name, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

fn signal(Process(child): &Process, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

async fn wait_exit(Process(child): &mut Process) -> Option<i32> {
    let mut code = None;
    let exited = try_eventually(WAIT, || {
        let status = child.try_wait().unwrap();
        code = status.and_then(|s| s.code());
        std::future::ready(status.is_some())
    })
    .await;
    assert!(exited, "the worker did not exit");
    code
}

async fn waiting_on_a_lock(h: &Harness, application: &str) -> bool {
    let client = h.sql().await;
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'";
    let n: i64 = client.query_one(sql, &[&application]).await.unwrap().get(0);
    n == 1
}

async fn processed(h: &Harness, svix_id: &str) -> bool {
    let client = h.sql().await;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM processed_webhooks WHERE svix_id = $1",
            &[&svix_id],
        )
        .await
        .unwrap()
        .get(0);
    n == 1
}

#[tokio::test]
async fn a_worker_frozen_inside_its_transaction_gets_nothing_dead_lettered() {
    let h = Harness::new().await;
    // The user exists, so the frozen worker's upsert needs its row.
    h.enqueue("msg_s0", &user_body("user.created", "user_s", T0, "Zero"))
        .await;
    h.worker().await.drain(WAIT).await.unwrap();

    // Hold the row, so W1 stops inside its transaction holding the user's advisory lock.
    let mut row = h.sql().await;
    let hold = row.transaction().await.unwrap();
    hold.execute(
        "SELECT 1 FROM users WHERE clerk_id = 'user_s' FOR UPDATE",
        &[],
    )
    .await
    .unwrap();

    // W1 may wait on a lock for long (so it is surely caught waiting), but a session of it
    // left idle inside a transaction is ended after one second.
    let mut w1 = spawn_binary(
        &h,
        "w1",
        &[
            ("CLAIM_IDLE_MS", "30000"),
            ("ATTEMPT_TIMEOUT_MS", "25000"),
            ("LOCK_TIMEOUT_MS", "20000"),
            ("IDLE_IN_TRANSACTION_TIMEOUT_MS", "1000"),
        ],
    );
    h.enqueue(
        "msg_s1",
        &user_body("user.updated", "user_s", T0 + 1, "One"),
    )
    .await;
    eventually(WAIT, "W1 waits on the row inside its transaction", || {
        let h = &h;
        async move { waiting_on_a_lock(h, "clerk-sync-worker w1").await }
    })
    .await;
    // Frozen (a paused container, a partition): its session stays open, holding the lock.
    signal(&w1, "STOP");
    hold.commit().await.unwrap();

    let mut config = h.config("w2");
    config.claim_idle = Duration::from_secs(3);
    config.attempt_timeout = Duration::from_secs(2);
    config.max_attempts = 3;
    let w2 = Worker::build(config).await.unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(w2.run(stop.clone()));
    h.enqueue(
        "msg_s2",
        &user_body("user.updated", "user_s", T0 + 2, "Two"),
    )
    .await;

    eventually(WAIT, "both events applied by W2", || {
        let h = &h;
        async move { processed(h, "msg_s1").await && processed(h, "msg_s2").await }
    })
    .await;
    signal(&w1, "CONT");
    signal(&w1, "TERM");
    assert_eq!(wait_exit(&mut w1).await, Some(0));
    stop.cancel();
    running.await.unwrap().unwrap();

    assert!(h.dlq().await.is_empty(), "{:?}", h.dlq().await);
    assert_eq!(
        h.column("SELECT first_name FROM users WHERE clerk_id = 'user_s'")
            .await,
        vec![Some("Two".to_owned())]
    );
    assert!(h.stream(&h.keys.events()).await.is_empty());
    assert!(h.retry_set().await.is_empty());
}

#[tokio::test]
async fn waiting_for_a_held_lock_uses_up_no_attempt_and_a_live_worker_keeps_its_entries() {
    let h = Harness::new().await;
    let users = ["user_l1", "user_l2", "user_l3"];
    for (i, user) in users.iter().enumerate() {
        h.enqueue(
            &format!("msg_l{i}"),
            &user_body("user.created", user, T0, "Locked"),
        )
        .await;
    }
    // Another session holds all three users, as a slow worker would.
    let mut locks = h.sql().await;
    let hold = locks.transaction().await.unwrap();
    for user in users {
        hold.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key("user", user)],
        )
        .await
        .unwrap();
    }

    // One attempt at most: a lock wait counted as a failure would dead-letter at once. The
    // batch, then each event alone, waits a lock timeout: longer in all than CLAIM_IDLE_MS.
    let mut config = h.config("holder");
    config.max_attempts = 1;
    config.claim_idle = Duration::from_millis(2000);
    config.attempt_timeout = Duration::from_millis(1500);
    config.lock_timeout = Some(Duration::from_millis(1000));
    config.backoff.base = Duration::from_secs(60);
    config.backoff.max = Duration::from_secs(60);
    let worker = Worker::build(config).await.unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    // Another worker looks for idle entries all along; it must find none of the holder's.
    let rival = Consumer::new(
        clerk_sync_queue::connect(
            &redis_url(),
            2,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap(),
        Keys::new(&h.prefix),
        "rival",
    );
    eventually(WAIT, "all three postponed", || {
        let (h, rival) = (&h, &rival);
        async move {
            let claimed = rival
                .claim_idle(Duration::from_millis(2000), 10)
                .await
                .unwrap();
            assert!(claimed.is_empty(), "a live worker's entry was claimed");
            h.retry_set().await.len() == 3
        }
    })
    .await;
    for member in h.retry_set().await {
        assert_eq!(member["attempt"], "0", "no attempt used up: {member}");
        assert!(
            member["error"].as_str().unwrap_or("").contains("lock"),
            "{member}"
        );
    }
    assert!(h.dlq().await.is_empty());

    hold.commit().await.unwrap();
    // Their postponement is long; make them due now, as time passing would.
    let mut conn = h.redis().await;
    let _: () = clerk_sync_queue::redis::cmd("ZUNIONSTORE")
        .arg(h.keys.retry())
        .arg(1)
        .arg(h.keys.retry())
        .arg("WEIGHTS")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    eventually(WAIT, "all three applied", || {
        let h = &h;
        async move { h.count("users").await == 3 }
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(h.dlq().await.is_empty());
}

#[tokio::test]
async fn sigterm_while_waiting_for_postgres_at_start_exits_0() {
    let h = Harness::new().await;
    let mut child = spawn_binary(
        &h,
        "starting",
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("MIGRATE_ON_START", "true"),
        ],
    );
    // Started and waiting: its consumer group exists once it got past Redis.
    eventually(WAIT, "the worker created its group", || {
        let h = &h;
        async move {
            let mut conn = h.redis().await;
            let exists: i64 = clerk_sync_queue::redis::cmd("EXISTS")
                .arg(h.keys.events())
                .query_async(&mut conn)
                .await
                .unwrap();
            exists == 1
        }
    })
    .await;
    signal(&child, "TERM");
    assert_eq!(wait_exit(&mut child).await, Some(0));
}
