//! A worker against a stream prefix and a database of its own.

use std::collections::HashMap;
use std::time::Duration;

use clerk_sync_queue::redis;
use clerk_sync_queue::{Enqueuer, EnqueuerConfig, Entry, Keys};
use clerk_sync_test_support::TestDatabase;
use clerk_sync_worker::{Backoff, Config, Worker};

pub use clerk_sync_test_support::redis_url;

/// A stream prefix and a database of their own, and a way to queue events the way the
/// receiver does. Keys and database are removed on drop.
pub struct Harness {
    pub db: TestDatabase,
    pub keys: Keys,
    pub prefix: String,
    enqueuer: Enqueuer,
}

impl Harness {
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        let prefix = clerk_sync_test_support::unique_prefix();
        let keys = Keys::new(&prefix);
        let pool = clerk_sync_queue::connect(
            &redis_url(),
            4,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        let enqueuer = Enqueuer::new(pool, keys.clone(), EnqueuerConfig::default());
        Self {
            db,
            keys,
            prefix,
            enqueuer,
        }
    }

    /// A worker configuration for this harness: fast retries, short claim times.
    pub fn config(&self, name: &str) -> Config {
        Config {
            api: None,
            clerk: None,
            reconcile_interval: std::time::Duration::ZERO,
            changes_retention: std::time::Duration::ZERO,
            processed_retention: std::time::Duration::ZERO,
            sessions_retention: std::time::Duration::ZERO,
            messages_retention: std::time::Duration::ZERO,
            redis_url: redis_url().into(),
            database_url: self.db.url.clone().into(),
            database_schema: Default::default(),
            stream_prefix: self.prefix.clone(),
            metrics_bind: "127.0.0.1:0".parse().unwrap(),
            consumer_name: name.to_owned(),
            max_attempts: 8,
            backoff: Backoff {
                base: Duration::from_millis(5),
                max: Duration::from_millis(50),
            },
            claim_idle: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(10),
            lock_timeout: None,
            idle_in_transaction_timeout: None,
            concurrency: 16,
            batch_size: 8,
            user_delete_mode: clerk_sync_db::DeleteMode::Soft,
            migrate_on_start: false,
            read_block: Duration::from_millis(100),
        }
    }

    pub async fn worker(&self) -> Worker {
        Worker::build(self.config("worker-1")).await.unwrap()
    }

    /// Queues a body as the receiver would after verifying it.
    pub async fn enqueue(&self, svix_id: &str, body: &[u8]) {
        let entry = Entry {
            svix_id: svix_id.to_owned(),
            svix_timestamp: "1716883200".into(),
            event_type: Entry::type_of(body),
            payload: body.to_vec(),
            received_at: now_ms(),
            attempt: 0,
        };
        self.enqueuer.enqueue(&entry).await.unwrap();
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Every entry of a stream, fields as text.
    pub async fn stream(&self, key: &str) -> Vec<(String, HashMap<String, String>)> {
        let mut conn = self.redis().await;
        clerk_sync_test_support::read_stream(&mut conn, key).await
    }

    pub async fn dlq(&self) -> Vec<(String, HashMap<String, String>)> {
        self.stream(&self.keys.dlq()).await
    }

    pub async fn retry_set(&self) -> Vec<serde_json::Value> {
        let mut conn = self.redis().await;
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.retry())
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        members
            .iter()
            .map(|m| serde_json::from_str(m).unwrap())
            .collect()
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// The first column of a query, which must be text (NULL as None).
    pub async fn column(&self, sql: &str) -> Vec<Option<String>> {
        let client = self.sql().await;
        client
            .query(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| row.get::<_, Option<String>>(0))
            .collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let client = self.sql().await;
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        clerk_sync_test_support::delete_keys(&redis_url(), &self.keys.pattern());
    }
}

/// The real worker binary for this harness, with a clean environment: the harness's Redis
/// prefix and database, a name, JSON logs, migrations off, and `extra` settings on top.
pub fn worker_command(h: &Harness, name: &str, extra: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-sync-worker"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .env("DATABASE_URL", &h.db.url)
        .env("STREAM_PREFIX", &h.prefix)
        .env("WORKER_METRICS_BIND", "127.0.0.1:0")
        .env("WORKER_CONSUMER_NAME", name)
        .env("MIGRATE_ON_START", "false")
        .env("LOG_FORMAT", "json");
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A `user.*` body as Clerk sends it, from the instance the Backend API stand-in reads.
pub fn user_body(kind: &str, id: &str, updated_at: i64, first_name: &str) -> Vec<u8> {
    serde_json::json!({
        "object": "event", "type": kind, "timestamp": updated_at,
        "instance_id": clerk_sync_test_support::clerk_stub::INSTANCE,
        "data": {
            "object": "user", "id": id, "first_name": first_name, "last_name": "Doe",
            "primary_email_address_id": format!("idn_{id}"),
            "email_addresses": [{"id": format!("idn_{id}"), "email_address": format!("{id}@example.com"),
                                 "verification": {"status": "verified"}}],
            "private_metadata": {"secret": "never stored"},
            "public_metadata": {}, "updated_at": updated_at, "created_at": updated_at
        }
    })
    .to_string()
    .into_bytes()
}

pub fn deleted_body(id: &str, timestamp: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "event", "type": "user.deleted", "timestamp": timestamp,
        "data": {"object": "user", "id": id, "deleted": true}
    })
    .to_string()
    .into_bytes()
}

/// How a test opens a connection of clerk-sync's own kind to its database.
pub fn pool(url: &str) -> clerk_sync_db::PoolConfig {
    clerk_sync_db::PoolConfig {
        url: url.to_owned(),
        max_size: 1,
        statement_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
        idle_in_transaction_timeout: Duration::from_secs(10),
        application_name: "clerk-sync-worker-tests".into(),
        connect_timeout: Duration::from_secs(5),
    }
}
