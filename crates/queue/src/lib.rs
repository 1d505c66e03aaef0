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
//! | `{clerk}:guard:<window>` | hash, expiring | how many ids a window of the guard holds, at which levels |
//! | `{clerk}:guard:<window>:h<hex>` | hash, expiring | the receiver's duplicate guard: svix-ids of one window whose SHA-1 starts with `<hex>` |
//! | `{clerk}:seen:<svix-id>` | string, TTL | the guard as earlier versions wrote it, honoured until it expires |
//! | `{clerk}:dlq:index` | sorted set | the dead letters by group, type, reason, svix_id, object |
//! | `{clerk}:dlq:groups` | hash | `<type>\n<reason>` to how many dead letters it holds |
//! | `{clerk}:dlq:recent` | sorted set | the last hour's dead letters' ids, scored by ms |
//!
//! An event enters through [`Enqueuer::enqueue`]: the events waiting at the same moment go
//! in one Lua script (`enqueue.lua`) that checks the guard of each, XADDs the new ones and
//! only then sets their guards, so a failed XADD leaves no guard behind. The guard keeps
//! ids in small hashes, bucketed by time window and by the id's hash, each small enough for
//! Redis's compact listpack encoding and dropped whole when its window has passed: a
//! fraction of the memory of one key per id.
//!
//! Workers are [`Consumer`]s of the `workers` group, created at the stream's first entry so
//! nothing queued before them is skipped. An entry stays in the group's pending list until
//! it is settled, in exactly one of these ways, all made by one script (`settle.lua`) that
//! settles a whole batch's entries, whatever became of each, in one atomic call:
//!
//! - applied: acknowledged and removed (XACK + XDEL) after its Postgres transaction
//!   committed, so the stream holds only unsettled entries and its length is the backlog;
//! - to retry later: acknowledged, removed and added to `{prefix}:retry` with
//!   `attempt + 1`, scored by its due time; a [`Promoter`] in every worker moves due entries
//!   back (`promote.lua`), each move atomic, so two promoters never promote one twice;
//! - postponed (a lock another worker holds): the same with `attempt` unchanged, so
//!   contention never uses up attempts;
//! - given up on: acknowledged, removed and appended to `{prefix}:dlq` with `error`,
//!   `failed_at` and `attempts`;
//! - handed back unapplied (Postgres down, shutting down): appended again with its
//!   `attempt` unchanged, then acknowledged and removed.
//!
//! The script settles an entry only while it is pending for the calling consumer, so an
//! entry claimed away (XAUTOCLAIM after `CLAIM_IDLE_MS`) is settled by its new owner alone.
//! While a worker applies entries it refreshes their idle time (`keep.lua`, XCLAIM JUSTID on
//! the entries still its own), so only a stalled or dead worker's entries are ever claimed.
//! Every step that adds or removes a dead letter keeps its index entries and its group's
//! count in the same script, so the console pages a group or finds an object's dead
//! letters without reading the stream. [`DeadLetters`] lists, replays and purges dead
//! letters, each one atomically. Every field
//! is UTF-8 text (the payload is the body byte for byte) so `redis-cli` shows it as is.

mod consumer;
mod dead_letters;
mod enqueue;
mod entry;
mod group;
mod keys;
mod pool;
mod progress;
mod retry_set;
mod shared;
mod stats;

pub use consumer::{Consumer, Delivery, QueueError, Settlement};
pub use dead_letters::{
    DeadLetter, DeadLetterFilter, DeadLetterGroup, DeadLetterPage, DeadLetters, reason,
};
/// A pool of Redis connections.
pub use deadpool_redis::Pool;
pub use enqueue::{ENQUEUE_SCRIPT, EnqueueError, EnqueueOutcome, Enqueuer, EnqueuerConfig};
pub use entry::{Entry, EntryError, field};
pub use keys::{CONSUMER_GROUP, Keys};
pub use pool::{RedisPoolError, connect};
pub use progress::{Position, Progress, ProgressError, Recorded};
pub use retry_set::{Promoted, Promoter};
pub use stats::{QueueStats, consumer_idle, queue_stats};

/// The redis crate, re-exported so callers use the version this crate was built against.
pub use deadpool_redis::redis;
