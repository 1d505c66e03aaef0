//! A receiver on a free port with a prefix of its own, and deliveries signed as Svix signs
//! them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_sync_queue::redis;
use clerk_sync_queue::{EnqueuerConfig, Keys};
use clerk_sync_receiver::{Application, Config};
use clerk_sync_signature::{SigningSecret, sign};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub use clerk_sync_test_support::redis_url;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A receiver on a free port with its own stream prefix; its keys are deleted on drop.
pub struct TestApp {
    pub address: String,
    pub keys: Keys,
    pub client: reqwest::Client,
    redis_url: String,
}

pub fn config(redis_url: &str) -> Config {
    Config {
        secrets: SECRET.parse().unwrap(),
        bind: "127.0.0.1:0".parse().unwrap(),
        tolerance_secs: 300,
        max_body_bytes: 1024 * 1024,
        redis_url: redis_url.to_owned().into(),
        stream_prefix: clerk_sync_test_support::unique_prefix(),
        enqueue: EnqueuerConfig {
            timeout: Duration::from_millis(500),
            ..EnqueuerConfig::default()
        },
        body_read_timeout: Duration::from_secs(2),
        clock: clerk_sync_receiver::Clock::system(),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(config(&redis_url())).await
}

pub async fn spawn_with(config: Config) -> TestApp {
    let prefix = config.stream_prefix.clone();
    let url = config.redis_url.expose().to_owned();
    let app = Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.into_server());
    TestApp {
        address,
        keys: Keys::new(&prefix),
        client: reqwest::Client::new(),
        redis_url: url,
    }
}

/// A signed delivery, as Svix would send it.
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn signed(id: &str, body: &[u8]) -> Self {
        Self::signed_at(id, body, now(), SECRET)
    }

    pub fn signed_at(id: &str, body: &[u8], timestamp: u64, secret: &str) -> Self {
        let secret: SigningSecret = secret.parse().unwrap();
        Self {
            id: id.to_owned(),
            timestamp: timestamp.to_string(),
            signature: sign(&secret, id, timestamp, body),
            body: body.to_vec(),
        }
    }
}

impl TestApp {
    pub async fn post(&self, delivery: &Delivery) -> reqwest::Response {
        self.client
            .post(format!("{}/webhooks/clerk", self.address))
            .header("svix-id", &delivery.id)
            .header("svix-timestamp", &delivery.timestamp)
            .header("svix-signature", &delivery.signature)
            .header("content-type", "application/json")
            .body(delivery.body.clone())
            .send()
            .await
            .unwrap()
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Every entry of `{prefix}:events`, fields as raw bytes.
    pub async fn events(&self) -> Vec<(String, HashMap<String, Vec<u8>>)> {
        let mut conn = self.redis().await;
        clerk_sync_test_support::read_stream(&mut conn, &self.keys.events()).await
    }

    pub async fn key_count(&self) -> usize {
        let mut conn = self.redis().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(self.keys.pattern())
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        clerk_sync_test_support::delete_keys(&self.redis_url, &self.keys.pattern());
    }
}
