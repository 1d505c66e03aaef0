//! A worker's side of the stream: read as a group member, claim what others abandoned, settle
//! each entry.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::streams::{
    StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadOptions, StreamReadReply,
};
use deadpool_redis::redis::{self, AsyncCommands as _, RedisError, Script, Value};

use crate::shared::Shared;
use crate::{CONSUMER_GROUP, Entry, EntryError, Keys};

mod reads;
mod settle;

use reads::Readers;
pub use settle::Settlement;

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

/// The bound on every operation but a read's block, connecting included, unless
/// [`Consumer::with_timeout`] says otherwise. Redis answers them in far less; past it Redis
/// is taken for unreachable and the entries stay pending.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections shared by everything but blocking reads: settling scripts, refreshes and
/// claims of every pipeline go through them, pipelined. Two, so that one connection gone
/// half-open holds up only half the calls until it is replaced.
const SHARED_CONNECTIONS: usize = 2;

/// A member of the `workers` group: reads, acknowledges, claims and settles entries.
///
/// Settling moves are scripts that first check that the entry is still pending for this
/// consumer, so an entry claimed away by another worker is settled by its new owner only.
///
/// Clones share their connections: blocking reads take one of their own each; every other
/// command goes over a couple of shared multiplexed connections.
/// Both kinds leave the pool for good and are replaced when they fail, so no command pays
/// for the pool's PING on checkout.
#[derive(Clone)]
pub struct Consumer {
    keys: Keys,
    name: String,
    timeout: Duration,
    shared: Shared,
    readers: Readers,
    settle: Script,
    keep: Script,
}

impl Consumer {
    /// A consumer named `name` (unique per process: two processes sharing a name would
    /// share pending entries), connecting through `pool`.
    pub fn new(pool: Pool, keys: Keys, name: impl Into<String>) -> Self {
        Self {
            keys,
            name: name.into(),
            timeout: DEFAULT_TIMEOUT,
            shared: Shared::new(pool.clone(), SHARED_CONNECTIONS),
            readers: Readers::new(pool),
            settle: Script::new(concat!(
                include_str!("scripts/dlq_index.lua"),
                include_str!("scripts/settle.lua")
            )),
            keep: Script::new(include_str!("scripts/keep.lua")),
        }
    }

    /// The same consumer with every operation bounded by `timeout` (a read by its block
    /// plus `timeout`) instead of 5 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// This consumer's name in the group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys it works under.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Creates the group (and the stream) when absent. It starts at the stream's first
    /// entry, so events the receiver queued before any worker ran are not skipped.
    pub async fn ensure_group(&self) -> Result<(), QueueError> {
        let events = &self.keys.events();
        let created = self
            .shared
            .call(self.timeout, |mut conn| async move {
                conn.xgroup_create_mkstream::<_, _, _, ()>(events, CONSUMER_GROUP, "0")
                    .await
            })
            .await;
        match created {
            Err(QueueError::Redis(e)) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Reads up to `count` entries never delivered to the group, waiting up to `block`
    /// for the first (not at all when `block` is zero). A group lost with its Redis
    /// (`NOGROUP`) is recreated, not retried in a loop.
    ///
    /// A read sent again on a new connection after the first one broke may leave the
    /// entries the first delivered pending for this consumer, unseen: they are not lost,
    /// [`Consumer::claim_idle`] hands them out again after the claim timeout.
    pub async fn read(&self, count: usize, block: Duration) -> Result<Vec<Delivery>, QueueError> {
        let mut options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.name)
            .count(count);
        if !block.is_zero() {
            options = options.block(block.as_millis().try_into().unwrap_or(usize::MAX));
        }
        let (events, options) = (&self.keys.events(), &options);
        let command = |mut conn: MultiplexedConnection| async move {
            conn.xread_options::<_, _, Option<StreamReadReply>>(&[events], &[">"], options)
                .await
        };
        // Only a read that blocks needs a connection of its own; one that answers at once
        // is pipelined with everything else.
        let reply = if block.is_zero() {
            self.shared.call(self.timeout, command).await
        } else {
            self.readers
                .run(block.saturating_add(self.timeout), command)
                .await
        };
        let reply = match reply {
            Err(QueueError::Redis(e)) if e.code() == Some("NOGROUP") => {
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

    /// Takes over up to `count` entries that other consumers (crashed, or stuck) have held
    /// unacknowledged for at least `min_idle`, with how often each was delivered.
    pub async fn claim_idle(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        let events = &self.keys.events();
        let mut autoclaim = redis::cmd("XAUTOCLAIM");
        autoclaim
            .arg(events)
            .arg(CONSUMER_GROUP)
            .arg(&self.name)
            .arg(u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(count);
        let (autoclaim, name) = (&autoclaim, &self.name);
        // Sent again on a new connection, a claim that had been made finds its entries idle
        // no more; they stay pending for this consumer, for the next claim after `min_idle`.
        let reply = self
            .shared
            .call(self.timeout, |mut conn| async move {
                let reply: StreamAutoClaimReply = autoclaim.query_async(&mut conn).await?;
                let (Some(first), Some(last)) = (reply.claimed.first(), reply.claimed.last())
                else {
                    return Ok((reply, None));
                };
                // XAUTOCLAIM does not say how often an entry was delivered; XPENDING does.
                let pending: StreamPendingCountReply = conn
                    .xpending_consumer_count(
                        events,
                        CONSUMER_GROUP,
                        &first.id,
                        &last.id,
                        reply.claimed.len(),
                        name,
                    )
                    .await?;
                Ok((reply, Some(pending)))
            })
            .await;
        let (reply, pending) = match reply {
            // Nothing can be pending in a group that is not there; recreate it.
            Err(QueueError::Redis(e)) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other?,
        };
        let counts: HashMap<String, u64> = pending
            .map(|pending| pending.ids)
            .unwrap_or_default()
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

    /// Tells the group this consumer is still working on `ids`: their idle time starts
    /// again, so [`Consumer::claim_idle`] elsewhere does not take them. Entries another
    /// consumer has claimed meanwhile stay with it. Returns how many are still ours.
    pub async fn keep(&self, ids: &[&str]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = self.keep.key(self.keys.events());
        invocation.arg(CONSUMER_GROUP).arg(&self.name);
        for id in ids {
            invocation.arg(*id);
        }
        let invocation = &invocation;
        self.shared
            .call(self.timeout, |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await
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
