//! The queue between the receiver and the workers, as it lives in Redis.
//!
//! With `STREAM_PREFIX=clerk` every key carries the hash tag `{clerk}`, so all of them land
//! in one Redis Cluster slot and the multi-key scripts below stay legal there:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{clerk}:events` | stream | events waiting to be applied; consumer group `workers` |
//! | `{clerk}:retry` | sorted set | events waiting for their next attempt, scored by due ms |
//! | `{clerk}:dlq` | stream | dead letters with `error`, `failed_at`, `attempts` |
//! | `{clerk}:seen:<svix-id>` | string, TTL | the receiver's duplicate guard |
//!
//! An event enters through [`Enqueuer::enqueue`], one Lua script that checks the guard,
//! XADDs and only then sets the guard, so a failed XADD leaves no guard behind. Workers read
//! the stream as the `workers` group; an entry stays in the group's pending list until it is
//! acknowledged, which happens only after its effect committed or in the same script that
//! moves it to `retry` or `dlq`. Every field is UTF-8 text so `redis-cli` shows it as is.

mod enqueue;
mod entry;
mod keys;
mod pool;

/// A pool of Redis connections.
pub use deadpool_redis::Pool;
pub use enqueue::{EnqueueError, EnqueueOutcome, Enqueuer, EnqueuerConfig};
pub use entry::{Entry, EntryError, field};
pub use keys::{CONSUMER_GROUP, Keys};
pub use pool::{RedisPoolError, connect};

/// The redis crate, re-exported so callers use the version this crate was built against.
pub use deadpool_redis::redis;
