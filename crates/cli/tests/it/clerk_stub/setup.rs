//! What the backfill and verify tests share besides the stub: the real binary with a
//! clean environment and a stream prefix of its own, Redis reads, and a worker.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::Duration;

use clerk_sync_queue::Keys;
use clerk_sync_queue::redis;

use super::KEY;

pub use clerk_sync_test_support::redis_url;

/// A stream prefix of its own, the CLI run against it and a stub, and Redis reads. Its keys
/// are deleted on drop, and so is the database it makes for commands that need one.
pub struct Setup {
    pub prefix: String,
    pub keys: Keys,
    database: tokio::sync::OnceCell<clerk_sync_test_support::TestDatabase>,
}

impl Setup {
    pub fn new() -> Self {
        let prefix = clerk_sync_test_support::unique_prefix();
        Self {
            keys: Keys::new(&prefix),
            prefix,
            database: tokio::sync::OnceCell::new(),
        }
    }

    /// A database of this setup's own (made on first use), for commands that read the
    /// pinned instance but whose test needs no database of its own.
    pub async fn database_url(&self) -> String {
        self.database
            .get_or_init(clerk_sync_test_support::TestDatabase::new)
            .await
            .url
            .clone()
    }

    /// The real binary with only what it needs in its environment.
    pub fn cli(&self, stub_url: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clerk-sync"));
        command
            .env_clear()
            .env("REDIS_URL", redis_url())
            .env("STREAM_PREFIX", &self.prefix)
            .env("CLERK_SECRET_KEY", KEY)
            .env("CLERK_API_URL", stub_url);
        command
    }

    /// Runs the CLI off the test's runtime, so the stub keeps answering meanwhile.
    pub async fn run(&self, mut command: Command) -> Output {
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// Queues a webhook `(svix_id, body)` as the receiver does after verifying it.
    pub async fn enqueue(&self, (svix_id, body): (String, String)) {
        let pool = clerk_sync_queue::connect(
            &redis_url(),
            1,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        let entry = clerk_sync_queue::Entry {
            svix_id,
            svix_timestamp: (now_ms() / 1000).to_string(),
            event_type: clerk_sync_queue::Entry::type_of(body.as_bytes()),
            payload: body.into_bytes(),
            received_at: now_ms(),
            attempt: 0,
        };
        let enqueuer = clerk_sync_queue::Enqueuer::new(pool, self.keys.clone(), Default::default());
        enqueuer.enqueue(&entry).await.unwrap();
    }

    /// Every entry of `{prefix}:events`, fields as text.
    pub async fn events(&self) -> Vec<HashMap<String, String>> {
        let mut conn = redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        clerk_sync_test_support::read_stream(&mut conn, &self.keys.events())
            .await
            .into_iter()
            .map(|(_, fields)| fields)
            .collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        clerk_sync_test_support::delete_keys(&redis_url(), &self.keys.pattern());
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The standard output of a run that must have succeeded, as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        stderr(output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// A worker for a setup's prefix and a database: quick retries, large batches.
pub fn worker_config(setup: &Setup, database_url: &str) -> clerk_sync_worker::Config {
    clerk_sync_worker::Config {
        api: None,
        clerk: None,
        reconcile_interval: std::time::Duration::ZERO,
        changes_retention: std::time::Duration::ZERO,
        processed_retention: std::time::Duration::ZERO,
        sessions_retention: std::time::Duration::ZERO,
        messages_retention: std::time::Duration::ZERO,
        redis_url: redis_url().into(),
        database_url: database_url.to_owned().into(),
        database_schema: Default::default(),
        stream_prefix: setup.prefix.clone(),
        metrics_bind: "127.0.0.1:0".parse().unwrap(),
        consumer_name: "clerk-stub-test-worker".into(),
        max_attempts: 3,
        backoff: clerk_sync_worker::Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        claim_idle: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(10),
        lock_timeout: None,
        idle_in_transaction_timeout: None,
        concurrency: 8,
        batch_size: 64,
        user_delete_mode: clerk_sync_db::DeleteMode::Soft,
        migrate_on_start: false,
        read_block: Duration::from_millis(100),
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
