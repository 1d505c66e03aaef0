//! The change feed, `sync_changes`: one row per event that changed an object, written by
//! [`crate::apply_batch`] in the same transaction as the change, then announced with
//! `NOTIFY clerk_sync_changes` once that transaction commits.
//!
//! - [`read_changes`] reads it in `id` order after a cursor; [`ChangeListener`] waits for
//!   the notifications, so a consumer need not poll.
//! - [`prune_changes`] deletes what is older than the retention, by one worker at a time,
//!   and records the largest id it deleted, which [`changes_pruned_through`] reads.
//!
//! **Reading in `id` order never skips a change.** An identity column hands out ids when a
//! row is inserted, not when its transaction commits: transaction A takes id 1, B takes id 2
//! and commits first, a reader sees 2 and moves its cursor past 1, then A commits, and id 1
//! is never read (the classic outbox bug). So ids here are handed out in commit order: every
//! transaction that writes feed rows takes [`FEED_LOCK`] immediately before inserting them,
//! as the last statement before `COMMIT`, and holds it until its commit is done. PostgreSQL
//! makes a commit visible before it releases the transaction's locks, so when the next
//! writer gets the lock and draws its ids, every smaller id is already visible (or rolled
//! back, never to appear). A reader that has seen id `n` has seen every committed id below.
//!
//! What it costs: transactions that write feed rows commit one at a time, each holding the
//! lock for one statement and its commit (the WAL flush). A batch of events is one
//! transaction and one turn, so at a 1 ms flush the feed still takes about a thousand
//! batches a second; and `NOTIFY` already serialises committing notifiers on a lock of its
//! own (it queues notifications in commit order), so the feed adds little to it.
//! Transactions whose events changed nothing (stale, duplicate, ignored) never take it.

mod listen;
mod prune;
mod record;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use crate::schema::sync_changes;
pub use listen::{ChangeListener, ChangeNotice};
pub use prune::{changes_pruned_through, prune_changes};
pub(crate) use record::{entry, record};

/// The channel the feed announces committed rows on.
pub const CHANGES_CHANNEL: &str = "clerk_sync_changes";

/// The advisory lock that puts feed ids in commit order, in the two-key `(int4, int4)`
/// space: PostgreSQL keeps it apart from the one-key `bigint` space, so it can never meet
/// the SHA-256-derived object locks of [`crate::lock_key`], whatever their value. Beside
/// the migrations' `("clks", 1)` and the scheduled reconciliation's `("CLKS", 2)`.
pub const FEED_LOCK: (i32, i32) = (0x636c_6b73, 3); // "clks"

/// The advisory lock one pruning worker holds, so two never delete the same rows.
pub const PRUNE_LOCK: (i32, i32) = (0x636c_6b73, 4);

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Created or updated: the object's row holds its new state.
    Upserted,
    /// Deleted (a membership's end too): its row is gone or carries `deleted_at`.
    Deleted,
}

impl Op {
    /// As stored in `sync_changes.op`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upserted => "upserted",
            Self::Deleted => "deleted",
        }
    }
}

impl TryFrom<String> for Op {
    type Error = DbError;

    fn try_from(value: String) -> Result<Self, DbError> {
        match value.as_str() {
            "upserted" => Ok(Self::Upserted),
            "deleted" => Ok(Self::Deleted),
            _ => Err(DbError::Permanent(
                "sync_changes.op is neither upserted nor deleted".into(),
            )),
        }
    }
}

/// One row of `sync_changes`. It holds ids only: the object's state is in its own table.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, serde::Serialize)]
pub struct Change {
    /// Increasing, in commit order: a consumer's cursor.
    pub id: i64,
    /// `user`, `session`, `organization`, `organization_membership`, … (README lists them).
    pub object_type: String,
    /// The object's Clerk id.
    pub object_id: String,
    /// What happened to it.
    #[diesel(deserialize_as = String)]
    pub op: Op,
    /// The Clerk event type that made the change (`user.created`, …).
    pub event_type: String,
    /// The event's Svix id: with `processed_webhooks`, where it came from.
    pub svix_id: String,
    /// The version newest-wins compared: the object's `updated_at`, or the event's time for
    /// a deletion or an object without one.
    pub version: DateTime<Utc>,
    /// When the row was written, just before its transaction committed.
    pub committed_at: DateTime<Utc>,
}

/// Up to `limit` changes with an id above `after`, oldest first. `types`, when not empty,
/// keeps the changes whose object type (`user`) or event type (`user.created`) is one of
/// them.
pub async fn read_changes(
    mut conn: &AsyncPgConnection,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<Change>, DbError> {
    use sync_changes::dsl as c;
    let mut query = c::sync_changes
        .filter(c::id.gt(after))
        .order(c::id)
        .limit(limit.max(1))
        .select((
            c::id,
            c::object_type,
            c::object_id,
            c::op,
            c::event_type,
            c::svix_id,
            c::version,
            c::committed_at,
        ))
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(c::object_type.eq_any(types).or(c::event_type.eq_any(types)));
    }
    Ok(query.load(&mut conn).await?)
}
