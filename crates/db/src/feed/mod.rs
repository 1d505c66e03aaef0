//! The change feed, `sync_changes`: one row per event that changed an object, written by
//! [`crate::apply_batch`] in the same transaction as the change, then announced on the
//! schema's channel ([`Schema::channel`]: `clerk_sync_changes` for the default schema) once
//! that transaction commits.
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
//! transaction that writes feed rows takes the schema's feed lock (`Lock::Feed`)
//! immediately before inserting them,
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
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{DbError, Schema};
pub use listen::{ChangeListener, ChangeNotice};
pub use prune::{Pruned, changes_pruned_through, prune_changes, prune_rows};
pub(crate) use record::{entry, record};

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

impl From<String> for Op {
    /// As `sync_changes.op` holds it, which its CHECK keeps to the two.
    fn from(value: String) -> Self {
        if value == "deleted" {
            Self::Deleted
        } else {
            Self::Upserted
        }
    }
}

/// One row of `sync_changes`. It holds ids only: the object's state is in its own table.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, serde::Serialize)]
pub struct Change {
    /// Increasing, in commit order: a consumer's cursor.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `user`, `session`, `organization`, `organization_membership`, … (README lists them).
    #[diesel(sql_type = Text)]
    pub object_type: String,
    /// The object's Clerk id.
    #[diesel(sql_type = Text)]
    pub object_id: String,
    /// What happened to it.
    #[diesel(sql_type = Text, deserialize_as = String)]
    pub op: Op,
    /// The Clerk event type that made the change (`user.created`, …).
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// The event's Svix id: with `processed_webhooks`, where it came from.
    #[diesel(sql_type = Text)]
    pub svix_id: String,
    /// The version newest-wins compared: the object's `updated_at`, or the event's time for
    /// a deletion or an object without one.
    #[diesel(sql_type = Timestamptz)]
    pub version: DateTime<Utc>,
    /// When the row was written, just before its transaction committed.
    #[diesel(sql_type = Timestamptz)]
    pub committed_at: DateTime<Utc>,
}

/// Up to `limit` changes with an id above `after`, oldest first. `types`, when not empty,
/// keeps the changes whose object type (`user`) or event type (`user.created`) is one of
/// them.
pub async fn read_changes(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    after: i64,
    limit: i64,
    types: &[String],
) -> Result<Vec<Change>, DbError> {
    Ok(diesel::sql_query(schema.render(
        "SELECT id, object_type, object_id, op, event_type, svix_id, version, committed_at \
         FROM @schema.sync_changes \
         WHERE id > $1 AND (cardinality($3) = 0 OR object_type = ANY ($3) OR event_type = ANY ($3)) \
         ORDER BY id LIMIT $2",
    ))
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(limit.max(1))
    .bind::<Array<Text>, _>(types)
    .load(&mut conn)
    .await?)
}
