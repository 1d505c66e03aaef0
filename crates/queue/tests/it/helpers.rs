use std::time::Duration;

use clerk_sync_queue::redis;
use clerk_sync_queue::{Consumer, Enqueuer, EnqueuerConfig, Entry, Keys, Pool};

pub use clerk_sync_test_support::redis_url;

/// A prefix of its own, deleted on drop.
pub struct Queue {
    pub keys: Keys,
    pub pool: Pool,
}

impl Queue {
    pub fn new() -> Self {
        let keys = Keys::new(&clerk_sync_test_support::unique_prefix());
        let pool = clerk_sync_queue::connect(
            &redis_url(),
            16,
            Duration::from_secs(2),
            Duration::from_secs(5),
        )
        .unwrap();
        Self { keys, pool }
    }

    pub fn consumer(&self, name: &str) -> Consumer {
        Consumer::new(self.pool.clone(), self.keys.clone(), name)
    }

    pub async fn enqueue(&self, svix_id: &str) -> String {
        let entry = Entry {
            svix_id: svix_id.into(),
            svix_timestamp: "1716883200".into(),
            event_type: "user.created".into(),
            payload: format!(r#"{{"type":"user.created","data":{{"id":"{svix_id}"}}}}"#)
                .into_bytes(),
            received_at: 1_716_883_200_123,
            attempt: 0,
        };
        match Enqueuer::new(
            self.pool.clone(),
            self.keys.clone(),
            EnqueuerConfig::default(),
        )
        .enqueue(&entry)
        .await
        .unwrap()
        {
            clerk_sync_queue::EnqueueOutcome::Queued(id) => id,
            other => panic!("{other:?}"),
        }
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    pub async fn len(&self, key: &str) -> u64 {
        redis::cmd("XLEN")
            .arg(key)
            .query_async(&mut self.conn().await)
            .await
            .unwrap()
    }

    pub async fn zcard(&self) -> u64 {
        redis::cmd("ZCARD")
            .arg(self.keys.retry())
            .query_async(&mut self.conn().await)
            .await
            .unwrap()
    }

    pub async fn pending(&self) -> u64 {
        clerk_sync_queue::queue_stats(&self.pool, &self.keys)
            .await
            .unwrap()
            .pending
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        clerk_sync_test_support::delete_keys(&redis_url(), &self.keys.pattern());
    }
}
