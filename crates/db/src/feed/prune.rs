//! Retention: deleting old feed rows, a few at a time, by one worker at a time.

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

/// Deletes the rows committed more than `older_than` ago (by the database's clock), `batch`
/// rows per transaction until one deletes fewer, and returns how many it deleted. Returns
/// what it deleted so far as soon as another session is pruning.
///
/// Each batch is a short transaction of its own, so none holds row locks, or blocks a
/// reader, for longer than one small delete. `CHANGES_RETENTION=0` means "keep
/// everything": the caller then never calls this (a zero `older_than` deletes every row
/// committed before now).
///
/// One pruner at a time, through the schema's `Lock::Prune` taken with `pg_try_advisory_xact_lock` in
/// each batch's transaction: two would only contend for the same rows. A transaction lock
/// ends with its transaction, so it cannot outlive a batch, not even behind a pooler that
/// hands each transaction another server connection.
pub async fn prune_changes(
    conn: &mut AsyncPgConnection,
    schema: Schema,
    older_than: Duration,
    batch: i64,
) -> Result<u64, DbError> {
    let batch = batch.max(1);
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
                        .bind::<Integer, _>(schema.lock(Lock::Prune).0)
                        .bind::<Integer, _>(schema.lock(Lock::Prune).1)
                        .get_result(conn)
                        .await?;
                if !taken.taken {
                    return Ok(None);
                }
                // `through_id` moves in the same transaction, so a reader never sees rows
                // gone without the mark that says so.
                let Deleted { deleted } = diesel::sql_query(schema.render(
                    "WITH d AS (DELETE FROM @schema.sync_changes WHERE id IN ( \
                             SELECT id FROM @schema.sync_changes WHERE committed_at < $1 \
                             ORDER BY committed_at LIMIT $2) \
                         RETURNING id), \
                     mark AS (UPDATE @schema.sync_changes_pruned \
                         SET through_id = GREATEST(through_id, (SELECT max(id) FROM d)) \
                         WHERE EXISTS (SELECT 1 FROM d)) \
                     SELECT count(*) AS deleted FROM d",
                ))
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
