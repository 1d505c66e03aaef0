use std::collections::HashMap;
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::streams::{
    StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use deadpool_redis::redis::{self, AsyncCommands as _, RedisError, Script, Value};

use crate::{CONSUMER_GROUP, Entry, EntryError, Keys};

/// One stream entry held by this consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry id in `{prefix}:events`.
    pub id: String,
    /// The entry, or why it is not one of ours (then it can only be dead-lettered).
    pub entry: Result<Entry, EntryError>,
    /// How many times the group has delivered it, this delivery included. Known for
    /// claimed entries; 1 for entries read fresh.
    pub deliveries: u64,
}

/// Why a queue operation failed. Every step is atomic, so a failure leaves the entry where
/// it was: pending for this consumer, to be settled again or claimed by another.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis did not answer, or answered an error.
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// No connection could be had from the pool in time.
    #[error("redis is unavailable: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    /// Redis did not answer within the bound on one operation.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A member of the `workers` group: reads, acknowledges, claims and settles entries.
///
/// Settling moves are scripts that first check that the entry is still pending for this
/// consumer, so an entry claimed away by another worker is settled by its new owner only.
#[derive(Clone)]
pub struct Consumer {
    pool: Pool,
    keys: Keys,
    name: String,
    retry: Script,
    dead_letter: Script,
    hand_back: Script,
    keep: Script,
}

impl Consumer {
    /// A consumer named `name` (unique per process: two processes sharing a name would
    /// share pending entries).
    pub fn new(pool: Pool, keys: Keys, name: impl Into<String>) -> Self {
        Self {
            pool,
            keys,
            name: name.into(),
            retry: Script::new(include_str!("scripts/retry.lua")),
            dead_letter: Script::new(include_str!("scripts/dead_letter.lua")),
            hand_back: Script::new(include_str!("scripts/hand_back.lua")),
            keep: Script::new(include_str!("scripts/keep.lua")),
        }
    }

    /// This consumer's name in the group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys it works under.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, QueueError> {
        Ok(self.pool.get().await?)
    }

    /// Creates the group (and the stream) when absent. It starts at the stream's first
    /// entry, so events the receiver queued before any worker ran are not skipped.
    pub async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        let created: Result<(), RedisError> = conn
            .xgroup_create_mkstream(self.keys.events(), CONSUMER_GROUP, "0")
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Reads up to `count` entries never delivered to the group, waiting up to `block`
    /// for the first (not at all when `block` is zero). A group lost with its Redis
    /// (`NOGROUP`) is recreated, not retried in a loop.
    pub async fn read(&self, count: usize, block: Duration) -> Result<Vec<Delivery>, QueueError> {
        let mut options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.name)
            .count(count);
        if !block.is_zero() {
            options = options.block(block.as_millis().try_into().unwrap_or(usize::MAX));
        }
        let events = self.keys.events();
        let mut conn = self.conn().await?;
        let reply: Result<Option<StreamReadReply>, RedisError> =
            conn.xread_options(&[&events], &[">"], &options).await;
        let reply = match reply {
            Err(e) if e.code() == Some("NOGROUP") => {
                tracing::warn!("consumer group missing (Redis restarted without it?); recreating");
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            // Nothing arrived within `block`.
            other => match other? {
                Some(reply) => reply,
                None => return Ok(Vec::new()),
            },
        };
        Ok(reply
            .keys
            .into_iter()
            .flat_map(|key| key.ids)
            .map(|id| delivery(id, 1))
            .collect())
    }

    /// Acknowledges applied entries and removes them from the stream in one MULTI: the
    /// stream holds only what is not yet settled, so its length is the real backlog.
    pub async fn ack(&self, ids: &[&str]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let events = self.keys.events();
        let mut conn = self.conn().await?;
        redis::pipe()
            .atomic()
            .xack(&events, CONSUMER_GROUP, ids)
            .ignore()
            .xdel(&events, ids)
            .ignore()
            .query_async::<()>(&mut *conn)
            .await?;
        Ok(())
    }

    /// Takes over up to `count` entries that other consumers (crashed, or stuck) have held
    /// unacknowledged for at least `min_idle`, with how often each was delivered.
    pub async fn claim_idle(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        let events = self.keys.events();
        let mut conn = self.conn().await?;
        let reply: Result<StreamAutoClaimReply, RedisError> = redis::cmd("XAUTOCLAIM")
            .arg(&events)
            .arg(CONSUMER_GROUP)
            .arg(&self.name)
            .arg(u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut *conn)
            .await;
        let reply = match reply {
            // Nothing can be pending in a group that is not there; recreate it.
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other?,
        };
        if reply.claimed.is_empty() {
            return Ok(Vec::new());
        }
        // XAUTOCLAIM does not say how often an entry was delivered; XPENDING does.
        let first = &reply.claimed[0].id;
        let last = &reply.claimed[reply.claimed.len() - 1].id;
        let pending: StreamPendingCountReply = conn
            .xpending_consumer_count(
                &events,
                CONSUMER_GROUP,
                first,
                last,
                reply.claimed.len(),
                &self.name,
            )
            .await?;
        let counts: HashMap<String, u64> = pending
            .ids
            .into_iter()
            .map(|p| (p.id, p.times_delivered as u64))
            .collect();
        Ok(reply
            .claimed
            .into_iter()
            .map(|id| {
                let deliveries = counts.get(&id.id).copied().unwrap_or(1);
                delivery(id, deliveries)
            })
            .collect())
    }

    /// Acknowledges the entry and parks it in `{prefix}:retry`, due in `delay`, with
    /// `attempt` raised by one. `false` when the entry is no longer this consumer's.
    pub async fn retry(&self, id: &str, delay: Duration, error: &str) -> Result<bool, QueueError> {
        self.park(id, delay, error, 1).await
    }

    /// Like [`Consumer::retry`], with `attempt` unchanged: for an event that could not be
    /// tried through no fault of its own (a lock another worker holds), which must never
    /// use up attempts on its way to the dead-letter stream.
    pub async fn postpone(
        &self,
        id: &str,
        delay: Duration,
        error: &str,
    ) -> Result<bool, QueueError> {
        self.park(id, delay, error, 0).await
    }

    async fn park(
        &self,
        id: &str,
        delay: Duration,
        error: &str,
        counted: u32,
    ) -> Result<bool, QueueError> {
        let mut conn = self.conn().await?;
        let moved: i64 = self
            .retry
            .key(self.keys.events())
            .key(self.keys.retry())
            .arg(CONSUMER_GROUP)
            .arg(id)
            .arg(&self.name)
            .arg(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
            .arg(error)
            .arg(counted)
            .invoke_async(&mut *conn)
            .await?;
        Ok(moved == 1)
    }

    /// Tells the group this consumer is still working on `ids`: their idle time starts
    /// again, so [`Consumer::claim_idle`] elsewhere does not take them. Entries another
    /// consumer has claimed meanwhile stay with it. Returns how many are still ours.
    pub async fn keep(&self, ids: &[&str]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let mut invocation = self.keep.key(self.keys.events());
        invocation.arg(CONSUMER_GROUP).arg(&self.name);
        for id in ids {
            invocation.arg(*id);
        }
        Ok(invocation.invoke_async(&mut *conn).await?)
    }

    /// Acknowledges the entry and appends it to `{prefix}:dlq` with `error`, `failed_at` and
    /// `attempts`. `false` when the entry is no longer this consumer's.
    pub async fn dead_letter(
        &self,
        id: &str,
        error: &str,
        attempts: u64,
    ) -> Result<bool, QueueError> {
        let mut conn = self.conn().await?;
        let moved: i64 = self
            .dead_letter
            .key(self.keys.events())
            .key(self.keys.dlq())
            .arg(CONSUMER_GROUP)
            .arg(id)
            .arg(&self.name)
            .arg(error)
            .arg(attempts)
            .invoke_async(&mut *conn)
            .await?;
        Ok(moved == 1)
    }

    /// Gives entries back to the group as new entries, their `attempt` unchanged, for
    /// another worker to take at once. Returns how many were handed back.
    pub async fn hand_back(&self, ids: &[&str]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let mut invocation = self.hand_back.key(self.keys.events());
        invocation.arg(CONSUMER_GROUP).arg(&self.name);
        for id in ids {
            invocation.arg(*id);
        }
        Ok(invocation.invoke_async(&mut *conn).await?)
    }
}

fn delivery(id: StreamId, deliveries: u64) -> Delivery {
    let fields: HashMap<String, Vec<u8>> = id
        .map
        .into_iter()
        .filter_map(|(name, value)| bytes(value).map(|bytes| (name, bytes)))
        .collect();
    Delivery {
        entry: Entry::from_fields(&fields),
        id: id.id,
        deliveries,
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}
