//! Retention: deleting old feed rows, a few at a time, by one worker at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Double, Integer, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::PRUNE_LOCK;
use crate::DbError;

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

#[derive(QueryableByName)]
struct Cutoff {
    #[diesel(sql_type = Timestamptz)]
    cutoff: DateTime<Utc>,
}

/// Deletes the rows committed more than `older_than` ago (by the database's clock), `batch`
/// rows per statement until a statement deletes fewer, and returns how many it deleted.
/// Returns 0 at once when another session is pruning.
///
/// Each batch is its own statement, so call this outside a transaction: then each commits
/// on its own, and none holds its row locks, or blocks a reader, for longer than one small
/// delete. `CHANGES_RETENTION=0` means "keep everything": the caller then never calls this
/// (a zero `older_than` deletes every row committed before now).
///
/// One pruner at a time, through a session-level [`PRUNE_LOCK`] taken with
/// `pg_try_advisory_lock`: two would only contend for the same rows. It is released before
/// returning, whether the pruning failed or not; a connection too broken to release it
/// releases it when it closes.
pub async fn prune_changes(
    mut conn: &AsyncPgConnection,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    let taken: Taken = diesel::sql_query("SELECT pg_try_advisory_lock($1, $2) AS taken")
        .bind::<Integer, _>(PRUNE_LOCK.0)
        .bind::<Integer, _>(PRUNE_LOCK.1)
        .get_result(&mut conn)
        .await?;
    if !taken.taken {
        return Ok(0);
    }
    let pruned = prune_locked(conn, older_than, batch.max(1)).await;
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1, $2)")
        .bind::<Integer, _>(PRUNE_LOCK.0)
        .bind::<Integer, _>(PRUNE_LOCK.1)
        .execute(&mut conn)
        .await;
    let pruned = pruned?;
    unlocked?;
    Ok(pruned)
}

async fn prune_locked(
    mut conn: &AsyncPgConnection,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    // One cutoff for the whole run, so rows that age meanwhile cannot keep it going.
    let Cutoff { cutoff } = diesel::sql_query("SELECT now() - make_interval(secs => $1) AS cutoff")
        .bind::<Double, _>(older_than.as_secs_f64())
        .get_result(&mut conn)
        .await?;
    let mut total = 0u64;
    loop {
        let deleted = diesel::sql_query(
            "DELETE FROM sync_changes WHERE id IN ( \
                 SELECT id FROM sync_changes WHERE committed_at < $1 \
                 ORDER BY committed_at LIMIT $2)",
        )
        .bind::<Timestamptz, _>(cutoff)
        .bind::<BigInt, _>(batch)
        .execute(&mut conn)
        .await?;
        total += deleted as u64;
        if (deleted as i64) < batch {
            return Ok(total);
        }
    }
}
