//! Workers that die holding entries: their entries are claimed and applied once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clerk_sync_db::lock_key;
use clerk_sync_queue::redis;
use clerk_sync_test_support::eventually;
use clerk_sync_worker::Worker;

use crate::helpers::{Harness, user_body, worker_command};

const T1: i64 = 1_716_883_200_000;
const WAIT: Duration = Duration::from_secs(60);

fn spawn_binary(h: &Harness, name: &str, extra: &[(&str, &str)]) -> Child {
    worker_command(h, name, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn pending_for(h: &Harness, consumer: &str) -> usize {
    let mut conn = h.redis().await;
    let reply: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(h.keys.events())
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(100)
        .arg(consumer)
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    reply.ids.len()
}

#[tokio::test]
async fn entries_of_a_killed_worker_are_claimed_and_applied_exactly_once() {
    let h = Harness::new().await;
    // The doomed worker's transaction waits on this lock, so it dies mid-batch.
    let lock = h.sql().await;
    lock.execute(
        "SELECT pg_advisory_lock($1)",
        &[&lock_key("user", "user_0")],
    )
    .await
    .unwrap();
    for i in 0..5 {
        h.enqueue(
            &format!("msg_{i}"),
            &user_body("user.created", &format!("user_{i}"), T1, "Once"),
        )
        .await;
    }
    let mut doomed = spawn_binary(
        &h,
        "doomed",
        &[
            ("CLAIM_IDLE_MS", "6000"),
            ("ATTEMPT_TIMEOUT_MS", "5000"),
            ("LOCK_TIMEOUT_MS", "4000"),
        ],
    );
    eventually(WAIT, "the doomed worker took the batch", || async {
        pending_for(&h, "doomed").await == 5
    })
    .await;
    doomed.kill().unwrap(); // SIGKILL: no chance to hand anything back
    doomed.wait().unwrap();
    lock.execute("SELECT pg_advisory_unlock_all()", &[])
        .await
        .unwrap();

    let mut config = h.config("rescuer");
    config.claim_idle = Duration::from_millis(1500);
    config.attempt_timeout = Duration::from_millis(1000);
    Worker::build(config)
        .await
        .unwrap()
        .drain(Duration::from_secs(20))
        .await
        .unwrap();

    assert_eq!(h.count("users").await, 5);
    assert_eq!(h.count("processed_webhooks").await, 5);
    assert!(h.dlq().await.is_empty());
    assert_eq!(pending_for(&h, "doomed").await, 0);
}

#[tokio::test]
async fn an_entry_that_keeps_crashing_its_workers_is_dead_lettered() {
    let h = Harness::new().await;
    h.enqueue(
        "msg_crashy",
        &user_body("user.created", "user_1", T1, "Crashy"),
    )
    .await;
    let mut conn = h.redis().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(h.keys.events())
        .arg("workers")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Three workers in a row took it and died: delivered three times.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("ghost-1")
        .arg("STREAMS")
        .arg(h.keys.events())
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let entry: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(h.keys.events())
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let id = entry[0].0.clone();
    for ghost in ["ghost-2", "ghost-3"] {
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(h.keys.events())
            .arg("workers")
            .arg(ghost)
            .arg(0)
            .arg(&id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    eventually(
        WAIT,
        "the entry idle past the survivor's CLAIM_IDLE_MS",
        || {
            let (h, id) = (&h, &id);
            async move {
                let mut conn = h.redis().await;
                let idle: Vec<redis::Value> = redis::cmd("XPENDING")
                    .arg(h.keys.events())
                    .arg("workers")
                    .arg("IDLE")
                    .arg(600)
                    .arg(id)
                    .arg(id)
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                idle.len() == 1
            }
        },
    )
    .await;

    let mut config = h.config("survivor");
    config.max_attempts = 3;
    config.claim_idle = Duration::from_millis(500);
    config.attempt_timeout = Duration::from_millis(400);
    Worker::build(config)
        .await
        .unwrap()
        .drain(Duration::from_secs(10))
        .await
        .unwrap();

    let dlq = h.dlq().await;
    assert_eq!(dlq.len(), 1);
    assert!(
        dlq[0].1["error"].starts_with("delivered 4 times"),
        "{}",
        dlq[0].1["error"]
    );
    assert_eq!(
        h.count("users").await,
        0,
        "a crashing event is not tried a fourth time"
    );
}

#[tokio::test]
async fn sigterm_finishes_the_work_in_hand_and_exits_zero() {
    let h = Harness::new().await;
    for i in 0..50 {
        h.enqueue(
            &format!("msg_{i}"),
            &user_body("user.created", &format!("user_{i}"), T1, "Term"),
        )
        .await;
    }
    let child = spawn_binary(&h, "terminated", &[]);
    eventually(WAIT, "the worker applying", || async {
        h.count("users").await > 0
    })
    .await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Whatever it took, it settled: nothing is left pending for it.
    assert_eq!(pending_for(&h, "terminated").await, 0);
}
