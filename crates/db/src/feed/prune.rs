//! Retention: deleting old feed rows, `processed_webhooks` rows, ended sessions and sent
//! messages, a few at a time, by one worker at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Double, Integer, Timestamptz};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};

use crate::schema::Lock;
use crate::{DbError, Schema};

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = BigInt)]
    deleted: i64,
}

#[derive(QueryableByName)]
struct Through {
    #[diesel(sql_type = BigInt)]
    through_id: i64,
}

#[derive(QueryableByName)]
struct Cutoff {
    #[diesel(sql_type = Timestamptz)]
    cutoff: DateTime<Utc>,
}

/// The largest feed id retention has deleted (`sync_changes_pruned.through_id`): a cursor
/// below it may have missed changes.
pub async fn changes_pruned_through(
    mut conn: &AsyncPgConnection,
    schema: Schema,
) -> Result<i64, DbError> {
    let rows: Vec<Through> =
        diesel::sql_query(schema.render("SELECT through_id FROM @schema.sync_changes_pruned"))
            .load(&mut conn)
            .await?;
    Ok(rows.into_iter().next().map_or(0, |r| r.through_id))
}

/// Deletes the feed rows committed more than `older_than` ago (by the database's clock),
/// `batch` rows per transaction until one deletes fewer, and returns how many it deleted;
/// `sync_changes_pruned.through_id` moves in each batch's transaction, so a reader never
/// sees rows gone without the mark that says so. See [`prune`] for how.
pub async fn prune_changes(
    conn: &mut AsyncPgConnection,
    schema: Schema,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    prune(
        conn,
        schema,
        Lock::Prune,
        "WITH d AS (DELETE FROM @schema.sync_changes WHERE id IN ( \
                 SELECT id FROM @schema.sync_changes WHERE committed_at < $1 \
                 ORDER BY committed_at LIMIT $2) \
             RETURNING id), \
         mark AS (UPDATE @schema.sync_changes_pruned \
             SET through_id = GREATEST(through_id, (SELECT max(id) FROM d)) \
             WHERE EXISTS (SELECT 1 FROM d)) \
         SELECT count(*) AS deleted FROM d",
        older_than,
        batch,
    )
    .await
}

/// A table whose old rows a retention deletes, oldest first, as [`prune_changes`] does the
/// feed's (which also records how far it has deleted). Adding one is a variant here, its
/// lock, and its setting in the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    /// `processed_webhooks` rows written more than the retention ago. Safe at any age: an
    /// event delivered again after its record went changes nothing, since every row keeps
    /// its newest version and a tie changes nothing; it is only counted `stale` rather
    /// than `duplicate`.
    Processed,
    /// Sessions over for longer than the retention: signed out, removed or revoked (any
    /// status but `active` and `pending`), or past their `expire_at` or `abandon_at`
    /// (Clerk sends no event when a session simply expires), and unchanged since. A session
    /// still going is never deleted, however old. A late event about a deleted session (a
    /// dead letter replayed after the retention) writes its row again as that event left
    /// it; being over, it goes at the next turn.
    Sessions,
    /// `messages` rows (emails and SMS sent) last changed more than the retention ago. A
    /// message is written once; one delivered again after it went is written again, as it
    /// was, and goes at the next turn.
    Messages,
}

impl Pruned {
    /// The table it prunes.
    pub fn table(self) -> &'static str {
        match self {
            Self::Processed => "processed_webhooks",
            Self::Sessions => "sessions",
            Self::Messages => "messages",
        }
    }

    fn lock(self) -> Lock {
        match self {
            Self::Processed => Lock::PruneProcessed,
            Self::Sessions => Lock::PruneSessions,
            Self::Messages => Lock::PruneMessages,
        }
    }

    /// The table's key, the column its age is read from, and what else a row must be to go.
    fn rows(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Processed => ("svix_id", "processed_at", ""),
            Self::Sessions => (
                "id",
                "updated_at",
                "AND (status NOT IN ('active', 'pending') OR expire_at < $1 OR abandon_at < $1)",
            ),
            Self::Messages => ("id", "updated_at", ""),
        }
    }
}

/// Deletes `what`'s rows older than `older_than`, as [`prune_changes`] does the feed's.
pub async fn prune_rows(
    conn: &mut AsyncPgConnection,
    schema: Schema,
    what: Pruned,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    let (table, (key, age, also)) = (what.table(), what.rows());
    let statement = format!(
        "WITH d AS (DELETE FROM @schema.{table} WHERE {key} IN ( \
             SELECT {key} FROM @schema.{table} WHERE {age} < $1 {also} \
             ORDER BY {age} LIMIT $2) \
         RETURNING 1) \
         SELECT count(*) AS deleted FROM d"
    );
    prune(conn, schema, what.lock(), &statement, older_than, batch).await
}

/// Runs `statement` (binding the cutoff and `batch`, answering `deleted`) until it deletes
/// fewer than `batch` rows, each run a short transaction of its own under `lock`; returns
/// how many it deleted, or what it deleted so far as soon as another session holds `lock`.
///
/// Each batch is a short transaction of its own, so none holds row locks, or blocks a
/// reader, for longer than one small delete. A zero `older_than` deletes every row written
/// before now: a retention of `0` means "keep everything" to the caller, which then never
/// calls this. One pruner at a time, through `lock` taken with `pg_try_advisory_xact_lock`
/// in each batch's transaction: two would only contend for the same rows. A transaction
/// lock ends with its transaction, so it cannot outlive a batch, not even behind a pooler
/// that hands each transaction another server connection.
async fn prune(
    conn: &mut AsyncPgConnection,
    schema: Schema,
    lock: Lock,
    statement: &str,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    let batch = batch.max(1);
    let statement = schema.render(statement);
    let (lock_a, lock_b) = schema.lock(lock);
    // One cutoff for the whole run, so rows that age meanwhile cannot keep it going.
    let Cutoff { cutoff } = diesel::sql_query("SELECT now() - make_interval(secs => $1) AS cutoff")
        .bind::<Double, _>(older_than.as_secs_f64())
        .get_result(conn)
        .await?;
    let mut total = 0u64;
    loop {
        let deleted = conn
            .transaction::<_, DbError, _>(async |conn| {
                let taken: Taken =
                    diesel::sql_query("SELECT pg_try_advisory_xact_lock($1, $2) AS taken")
                        .bind::<Integer, _>(lock_a)
                        .bind::<Integer, _>(lock_b)
                        .get_result(conn)
                        .await?;
                if !taken.taken {
                    return Ok(None);
                }
                let Deleted { deleted } = diesel::sql_query(&statement)
                    .bind::<Timestamptz, _>(cutoff)
                    .bind::<BigInt, _>(batch)
                    .get_result(conn)
                    .await?;
                Ok(Some(deleted))
            })
            .await?;
        match deleted {
            None => return Ok(total),
            Some(deleted) => {
                total += deleted as u64;
                if deleted < batch {
                    return Ok(total);
                }
            }
        }
    }
}
