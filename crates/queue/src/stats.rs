//! How the queue stands (backlog, pending, consumers, retries, dead letters), read in one round
//! trip.

use deadpool_redis::Pool;
use deadpool_redis::redis::streams::{StreamInfoGroupsReply, StreamPendingReply};
use deadpool_redis::redis::{self, RedisError, Value};

use crate::{CONSUMER_GROUP, Keys, QueueError};

/// How the queue stands, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Entries in `{prefix}:events`: not yet delivered, or delivered and not yet settled.
    pub stream_length: u64,
    /// Entries the group has not been given yet (`None` when Redis cannot tell, or there is
    /// no group yet).
    pub lag: Option<u64>,
    /// Entries delivered and not yet acknowledged.
    pub pending: u64,
    /// The oldest pending entry's id; its age is in its id.
    pub oldest_pending_id: Option<String>,
    /// Pending entries per consumer: (name, count).
    pub consumers: Vec<(String, u64)>,
    /// Events waiting in `{prefix}:retry`.
    pub retry_size: u64,
    /// When the next retry is due, ms since the epoch.
    pub next_retry_ms: Option<u64>,
    /// Dead letters in `{prefix}:dlq`.
    pub dlq_length: u64,
    /// Whether the `workers` group exists.
    pub group_exists: bool,
}

/// Reads [`QueueStats`].
pub async fn queue_stats(pool: &Pool, keys: &Keys) -> Result<QueueStats, QueueError> {
    let mut conn = pool.get().await?;
    let events = keys.events();
    let (stream_length, retry_size, next, dlq_length): (u64, u64, Vec<String>, u64) = redis::pipe()
        .cmd("XLEN")
        .arg(&events)
        .cmd("ZCARD")
        .arg(keys.retry())
        .cmd("ZRANGE")
        .arg(keys.retry())
        .arg(0)
        .arg(0)
        .arg("WITHSCORES")
        .cmd("XLEN")
        .arg(keys.dlq())
        .query_async(&mut *conn)
        .await?;
    let mut stats = QueueStats {
        stream_length,
        retry_size,
        next_retry_ms: next
            .get(1)
            .and_then(|s| s.parse::<f64>().ok())
            .map(|v| v as u64),
        dlq_length,
        ..QueueStats::default()
    };

    // Both fail with an error when the stream or the group does not exist yet.
    let groups: Result<StreamInfoGroupsReply, RedisError> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&events)
        .query_async(&mut *conn)
        .await;
    let Some(group) = groups
        .ok()
        .and_then(|g| g.groups.into_iter().find(|g| g.name == CONSUMER_GROUP))
    else {
        return Ok(stats);
    };
    stats.group_exists = true;
    stats.lag = group.lag.map(|l| l as u64);
    let summary: Result<StreamPendingReply, RedisError> = redis::cmd("XPENDING")
        .arg(&events)
        .arg(CONSUMER_GROUP)
        .query_async(&mut *conn)
        .await;
    if let Ok(StreamPendingReply::Data(data)) = summary {
        stats.pending = data.count as u64;
        stats.oldest_pending_id = Some(data.start_id);
        stats.consumers = data
            .consumers
            .into_iter()
            .map(|c| (c.name, c.pending as u64))
            .collect();
    }
    Ok(stats)
}

/// Per-consumer idle times, for `clerk-sync stats`: (name, pending, idle ms).
pub async fn consumer_idle(
    pool: &Pool,
    keys: &Keys,
) -> Result<Vec<(String, u64, u64)>, QueueError> {
    let mut conn = pool.get().await?;
    let reply: Result<Value, RedisError> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(keys.events())
        .arg(CONSUMER_GROUP)
        .query_async(&mut *conn)
        .await;
    let Ok(Value::Array(consumers)) = reply else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for consumer in consumers {
        let pairs: Vec<(String, Value)> = match consumer {
            Value::Array(flat) => flat
                .chunks(2)
                .filter_map(|kv| match kv {
                    [k, v] => redis::from_redis_value::<String>(k.clone())
                        .ok()
                        .map(|k| (k, v.clone())),
                    _ => None,
                })
                .collect(),
            Value::Map(map) => map
                .into_iter()
                .filter_map(|(k, v)| redis::from_redis_value::<String>(k).ok().map(|k| (k, v)))
                .collect(),
            _ => continue,
        };
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let name = get("name").and_then(|v| redis::from_redis_value::<String>(v).ok());
        let pending = get("pending").and_then(|v| redis::from_redis_value::<u64>(v).ok());
        let idle = get("idle").and_then(|v| redis::from_redis_value::<u64>(v).ok());
        if let (Some(name), Some(pending), Some(idle)) = (name, pending, idle) {
            out.push((name, pending, idle));
        }
    }
    Ok(out)
}
