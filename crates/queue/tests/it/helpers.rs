//! A prefix and a Redis user of each test's own, cleaned up on drop.

use std::collections::HashMap;
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
        Self::admin().await
    }

    /// A connection of the default user, outside any pool.
    pub async fn admin() -> redis::aio::MultiplexedConnection {
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

/// A Redis user of a test's own, so that the test can kill exactly its own connections and
/// see what they sent while other tests share the server. PING is denied to it, so that
/// every PING its connections send is in the ACL log.
pub struct OwnUser {
    pub name: String,
}

impl OwnUser {
    pub async fn new() -> Self {
        let name = clerk_sync_test_support::unique_prefix();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&name)
            .arg("on")
            .arg("nopass")
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .arg("-ping")
            .query_async(&mut Queue::admin().await)
            .await
            .unwrap();
        Self { name }
    }

    /// A pool connecting as this user, its replies bounded well past the tests' blocks.
    pub fn pool(&self) -> Pool {
        let url = redis_url();
        let (scheme, rest) = url.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        // With `nopass`, any password is this user's.
        let url = format!("{scheme}://{}:any@{host}", self.name);
        clerk_sync_queue::connect(&url, 8, Duration::from_secs(2), Duration::from_secs(30)).unwrap()
    }

    /// Closes every connection of this user, as a Redis restart or a proxy would. Returns
    /// how many there were.
    pub async fn kill(&self) -> u64 {
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("USER")
            .arg(&self.name)
            .query_async(&mut Queue::admin().await)
            .await
            .unwrap()
    }

    /// This user's connections, as `CLIENT LIST` shows them.
    pub async fn connections(&self) -> Vec<String> {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut Queue::admin().await)
            .await
            .unwrap();
        let user = format!(" user={} ", self.name);
        list.lines()
            .filter(|line| line.contains(&user))
            .map(str::to_owned)
            .collect()
    }

    /// The commands this user was refused (each PING sent, with this user).
    pub async fn refused(&self) -> Vec<String> {
        let log: Vec<HashMap<String, redis::Value>> = redis::cmd("ACL")
            .arg("LOG")
            .query_async(&mut Queue::admin().await)
            .await
            .unwrap();
        let text = |value: Option<&redis::Value>| {
            value
                .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                .unwrap_or_default()
        };
        log.iter()
            .filter(|entry| text(entry.get("username")) == self.name)
            .map(|entry| text(entry.get("object")))
            .collect()
    }
}

impl Drop for OwnUser {
    fn drop(&mut self) {
        // Deleting the user also closes its connections.
        if let Ok(mut conn) = redis::Client::open(redis_url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
        {
            let _: Result<(), _> = redis::cmd("ACL")
                .arg("DELUSER")
                .arg(&self.name)
                .query(&mut conn);
        }
    }
}
