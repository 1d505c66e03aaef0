//! What the dead-letter, stats and send tests share: a stream prefix of their own, the real
//! binary with a clean environment, and Redis reads.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::Duration;

use clerk_sync_queue::redis;
use clerk_sync_queue::{Enqueuer, EnqueuerConfig, Entry, Keys};

pub const BIN: &str = env!("CARGO_BIN_EXE_clerk-sync");
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub use clerk_sync_test_support::redis_url;

/// A prefix of its own; its keys are deleted on drop.
pub struct Prefix {
    pub name: String,
    pub keys: Keys,
}

impl Prefix {
    pub fn new() -> Self {
        let name = clerk_sync_test_support::unique_prefix();
        Self {
            keys: Keys::new(&name),
            name,
        }
    }

    /// The CLI with only what it needs in its environment.
    pub fn cli(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("REDIS_URL", redis_url())
            .env("STREAM_PREFIX", &self.name);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cli().args(args).output().unwrap()
    }

    /// Runs the CLI off the async runtime, so a server the test runs in-process can answer.
    pub async fn run_async(&self, mut command: Command) -> Output {
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    pub async fn enqueue(&self, svix_id: &str, body: &[u8]) {
        let pool = clerk_sync_queue::connect(
            &redis_url(),
            2,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        let entry = Entry {
            svix_id: svix_id.to_owned(),
            svix_timestamp: "1716883200".into(),
            event_type: Entry::type_of(body),
            payload: body.to_vec(),
            received_at: 1_716_883_200_000,
            attempt: 0,
        };
        Enqueuer::new(pool, self.keys.clone(), EnqueuerConfig::default())
            .enqueue(&entry)
            .await
            .unwrap();
    }

    /// Every entry of a stream, fields as text.
    pub async fn stream(&self, key: &str) -> Vec<(String, HashMap<String, String>)> {
        clerk_sync_test_support::read_stream(&mut self.conn().await, key).await
    }
}

impl Drop for Prefix {
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

/// A worker configuration for a prefix and a database: fast retries, impatient attempts.
pub fn worker_config(prefix: &Prefix, database_url: &str) -> clerk_sync_worker::Config {
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
        stream_prefix: prefix.name.clone(),
        metrics_bind: "127.0.0.1:0".parse().unwrap(),
        consumer_name: "cli-test-worker".into(),
        max_attempts: 1,
        backoff: clerk_sync_worker::Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        claim_idle: Duration::from_secs(60),
        attempt_timeout: Duration::from_millis(300),
        lock_timeout: None,
        idle_in_transaction_timeout: None,
        concurrency: 8,
        batch_size: 8,
        user_delete_mode: clerk_sync_db::DeleteMode::Soft,
        migrate_on_start: false,
        read_block: Duration::from_millis(100),
    }
}

/// A `user.created` body.
pub fn user_body(id: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "event", "type": "user.created", "timestamp": 1_716_883_200_000i64,
        "data": {"object": "user", "id": id, "first_name": "Dee", "updated_at": 1_716_883_200_000i64,
                 "email_addresses": [], "primary_email_address_id": null}
    })
    .to_string()
    .into_bytes()
}
