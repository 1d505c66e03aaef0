//! The console served in-process against a test database and prefix, with sessions of each role.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_console::{Console, ConsoleArgs, ConsoleConfig, parse_tokens};
use clerk_sync_db::{PoolConfig, Schema};
use clerk_sync_queue::{Consumer, Enqueuer, EnqueuerConfig, Entry, Keys, Pool};
use clerk_sync_test_support::TestDatabase;

pub const OPERATOR: &str = "operator-token-0001";
pub const VIEWER: &str = "viewer-token-000001";
/// The console in-process, as the server serves it.
#[macro_export]
macro_rules! app {
    ($h:expr) => {
        actix_web::test::init_service(
            actix_web::App::new().configure(clerk_sync_console::routes($h.console.clone())),
        )
        .await
    };
}

pub const HOST: &str = "localhost:8082";

/// A console over a database and a key prefix of its own.
pub struct Harness {
    pub db: TestDatabase,
    pub keys: Keys,
    pub pool: Pool,
    pub console: Console,
}

impl Harness {
    pub async fn new() -> Self {
        Self::build(None).await
    }

    /// A console whose object pages offer "sync now" against this stand-in for Clerk.
    #[allow(dead_code)] // The browser test shares these helpers without syncing.
    pub async fn with_clerk(stub: &clerk_sync_test_support::clerk_stub::Stub) -> Self {
        Self::build(Some(stub)).await
    }

    async fn build(stub: Option<&clerk_sync_test_support::clerk_stub::Stub>) -> Self {
        let db = TestDatabase::new().await;
        let keys = Keys::new(&clerk_sync_test_support::unique_prefix());
        let pool = clerk_sync_queue::connect(
            &clerk_sync_test_support::redis_url(),
            8,
            Duration::from_secs(2),
            Duration::from_secs(5),
        )
        .unwrap();
        let database = PoolConfig {
            url: db.url.clone(),
            max_size: 4,
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(5),
            idle_in_transaction_timeout: Duration::from_secs(30),
            application_name: "console test".into(),
            connect_timeout: Duration::from_secs(5),
        };
        let syncer = stub.map(|stub| {
            let clerk = clerk_sync_mirror::Clerk::new(
                stub.url.parse().unwrap(),
                clerk_sync_clerk_api::SecretKey::parse(clerk_sync_test_support::clerk_stub::KEY)
                    .unwrap(),
                std::num::NonZeroU32::new(100).unwrap(),
            );
            let pool = clerk_sync_db::build_pool(&database).unwrap();
            let guard = clerk_sync_mirror::instance::KeyGuard::new(
                clerk.client(RetryPolicy::PROMPT).unwrap(),
                pool.clone(),
                Schema::default(),
            );
            clerk_sync_mirror::ondemand::Syncer::new(
                pool,
                clerk.client(RetryPolicy::PROMPT).unwrap(),
                std::sync::Arc::new(guard),
                clerk_sync_db::ApplyOptions {
                    user_delete_mode: clerk_sync_db::DeleteMode::Soft,
                    schema: Schema::default(),
                },
            )
        });
        let console = Console::start(ConsoleConfig {
            redis: pool.clone(),
            keys: keys.clone(),
            database,
            schema: Schema::default(),
            args: ConsoleArgs {
                bind: "127.0.0.1:0".parse().unwrap(),
                operator_tokens: parse_tokens(OPERATOR).unwrap(),
                viewer_tokens: Some(parse_tokens(VIEWER).unwrap()),
            },
            syncer,
        })
        .unwrap();
        Self {
            db,
            keys,
            pool,
            console,
        }
    }

    /// Enqueues events `first..first + n` of `event_type` about user `user_<i>` and
    /// dead-letters them with `error`.
    pub async fn dead_letter(&self, first: usize, n: usize, event_type: &str, error: &str) {
        let consumer = Consumer::new(self.pool.clone(), self.keys.clone(), "c1");
        consumer.ensure_group().await.unwrap();
        let enqueuer = Enqueuer::new(
            self.pool.clone(),
            self.keys.clone(),
            EnqueuerConfig::default(),
        );
        for i in first..first + n {
            let entry = Entry {
                svix_id: format!("msg_{i}"),
                svix_timestamp: "1716883200".into(),
                event_type: event_type.into(),
                payload: format!(r#"{{"type":"{event_type}","data":{{"id":"user_{i}"}}}}"#)
                    .into_bytes(),
                received_at: 1_716_883_200_123,
                attempt: 0,
            };
            enqueuer.enqueue(&entry).await.unwrap();
        }
        for delivery in consumer.read(n, Duration::ZERO).await.unwrap() {
            consumer.dead_letter(&delivery.id, error, 8).await.unwrap();
        }
    }

    pub async fn dlq_len(&self) -> u64 {
        clerk_sync_queue::DeadLetters::new(self.pool.clone(), self.keys.clone())
            .count()
            .await
            .unwrap()
    }

    pub async fn events_len(&self) -> u64 {
        clerk_sync_queue::queue_stats(&self.pool, &self.keys)
            .await
            .unwrap()
            .stream_length
    }

    /// The audit rows: (token, action, affected).
    pub async fn audit(&self) -> Vec<(String, String, i64)> {
        let (client, connection) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query(
                "SELECT token, action, affected FROM console_audit ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        clerk_sync_test_support::delete_keys(
            &clerk_sync_test_support::redis_url(),
            &self.keys.pattern(),
        );
    }
}

/// A GET with a bearer token, asking for JSON.
pub fn get_json(path: &str, token: &str) -> TestRequest {
    TestRequest::get()
        .uri(path)
        .insert_header(("Host", HOST))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Accept", "application/json"))
}

/// A form POST from the console's own origin with a bearer token.
pub fn post_form(path: &str, token: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("Host", HOST))
        .insert_header(("Origin", format!("http://{HOST}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body.to_owned())
}

pub async fn json(response: ServiceResponse<impl MessageBody>) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let body = test::read_body(response).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}
