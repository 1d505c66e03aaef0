//! Reconciliation: the database compared with Clerk's Backend API, and repaired through the
//! queue and the same versioned path as every webhook.
//!
//! For each kind (users, organizations, memberships) a run pages Clerk's list, reads the
//! database's rows of each page's ids, and as it goes:
//! - an object the database lacks (missing) or holds older (stale) is queued as `backfill`
//!   queues it, the object whole as its `*.updated` event, under the id
//!   `reconcile:<object>:<id>:<updated_at>:<run>`: never one already in `processed_webhooks`,
//!   so a row deleted by hand after its backfill still comes back;
//! - an object Clerk has live but the database has deleted is reported and left alone: a
//!   deletion is final;
//! - after the whole list, an object the database holds live, older than the run, and absent
//!   from the list (extra) is asked for by id, and when Clerk answers its own 404
//!   (`resource_not_found`) it is deleted as its deletion event would delete it (tombstone,
//!   erasure per `USER_DELETE_MODE`). Offset paging can skip an object deleted meanwhile, so
//!   absence alone never deletes anything, and neither does any other answer.
//!
//! Nothing is destroyed on doubt. Before anything is read, the key is held to the instance
//! the database mirrors ([`KeyGuard`]). A kind whose live rows share no id with Clerk's list
//! gets nothing queued at all (the key, or the database, is not what it seems); and a run
//! deletes at most `max(1, a tenth of the kind's live rows)` unless `--max-deletions` says
//! more, deleting none when more look deleted. Each refusal is logged with what to run,
//! and counted in `clerk_sync_reconcile_refusals_total{reason}`.
//!
//! After each page the run records how far it got (`{prefix}:reconcile`), so an interrupted
//! run resumed (`--resume`) goes on from there; the extras of a kind resumed part-way are not
//! looked for, since its first pages were not read this time.
//!
//! Memory stays bounded whatever the size of the instance: a run holds one page of Clerk's
//! list and its rows, never a table. The ids Clerk listed go to a temporary table of the
//! run's own session, and the extras are the live rows not in it, read in pages by id
//! (see [`pass`]); the ids queued past a few thousand go to a temporary file
//! ([`Queued`]), and a report names the first [`drift::SAMPLE`] of each sort of drift.

mod checkpoint;
mod drift;
mod pass;
mod queued;

use std::sync::Arc;

use clerk_sync_clerk_api::{ApiError, Client, Kind};
use clerk_sync_db::{DbError, Lock, PoolConfig, Schema};
use clerk_sync_queue::{Enqueuer, Keys, Pool, Position};
use serde::Serialize;

use crate::instance::{InstanceError, KeyGuard};
use crate::metrics::refusal;

pub use checkpoint::{LastRun, interrupted, last_refusal_ms, last_run};
pub use drift::{KindReport, SAMPLE, Sample};
pub use queued::{Queued, QueuedIds};

/// Why a run could not be made. Nothing it queued before is undone: every queued event is
/// applied by version, so a partial run only repairs less.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Clerk's Backend API refused, failed or could not be reached.
    #[error("cannot read {what} from Clerk's Backend API: {source}")]
    Clerk {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// PostgreSQL could not be read.
    #[error("cannot read the database: {0}")]
    Database(#[from] DbError),
    /// Redis did not take a repair or the checkpoint.
    #[error("cannot queue a repair: {0}")]
    Queue(String),
    /// The key is another instance's, or its instance could not be asked.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// Clerk lists no object the database holds live: the key, or the database, is not what
    /// it seems. Nothing of that kind was queued or deleted.
    #[error(
        "none of the {listed} {kind} Clerk listed (so far) is in the database, which holds {held} live: nothing of them was queued or deleted. Check that CLERK_SECRET_KEY and DATABASE_URL belong together; a database never backfilled needs `clerk-sync backfill` first"
    )]
    Strangers {
        /// The kind.
        kind: &'static str,
        /// Objects listed.
        listed: usize,
        /// Live rows in the database.
        held: usize,
    },
}

/// Objects listed without one id in common before a run gives up on a kind, rather than
/// page through a whole instance whose objects it would never queue.
const STRANGERS_AFTER: usize = 1_000;

/// What to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The kinds to reconcile; all three when empty.
    pub kinds: Vec<Kind>,
    /// Find drift, queue nothing, record nothing.
    pub dry_run: bool,
    /// Go on from where an interrupted run stopped, instead of starting over.
    pub resume: bool,
    /// Deletions queued at most per kind; past this a run deletes nothing of that kind and
    /// says so (a wrong key or database would make everything look deleted). `None`: a
    /// tenth of the kind's live rows, and at least 1.
    pub max_deletions: Option<usize>,
}

/// What a run found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started, Unix ms: part of every id it queued.
    pub run: i64,
    /// Per kind, in the order read.
    pub kinds: Vec<KindReport>,
    /// The ids queued, in order.
    #[serde(skip)]
    pub queued: Queued,
}

impl Report {
    /// Objects out of step, all kinds together.
    pub fn drift(&self) -> usize {
        self.kinds.iter().map(KindReport::drift).sum()
    }
}

/// Reads Clerk and the database, and queues repairs.
pub struct Reconciler {
    clerk: Client,
    guard: Arc<KeyGuard>,
    database: PoolConfig,
    schema: Schema,
    redis: Pool,
    keys: Keys,
    enqueuer: Enqueuer,
}

impl Reconciler {
    /// A reconciler reading Clerk through `clerk`, its key held to the pinned instance by
    /// `guard`, reading the database's `schema` through its own connection made from
    /// `database`, and queueing under `keys`.
    pub fn new(
        clerk: Client,
        guard: Arc<KeyGuard>,
        (database, schema): (PoolConfig, Schema),
        redis: Pool,
        keys: Keys,
    ) -> Self {
        let enqueuer = Enqueuer::new(redis.clone(), keys.clone(), Default::default());
        Self {
            clerk,
            guard,
            database,
            schema,
            redis,
            keys,
            enqueuer,
        }
    }

    /// One run. `on_page` hears of each page as it is done (for a progress bar).
    pub async fn run(
        &self,
        options: &Options,
        mut on_page: impl FnMut(Kind, usize, Option<u64>),
    ) -> Result<Report, ReconcileError> {
        let mut kinds = if options.kinds.is_empty() {
            Kind::ALL.to_vec()
        } else {
            options.kinds.clone()
        };
        kinds.sort();
        kinds.dedup();
        if let Err(error) = self.guard.check(None).await {
            if matches!(error, InstanceError::Mismatch { .. }) {
                refusal("instance_mismatch");
            }
            return Err(error.into());
        }
        let checkpoint = checkpoint::Checkpoint::new(self.redis.clone(), &self.keys);
        let resumed = if options.resume && !options.dry_run {
            checkpoint.interrupted().await?
        } else {
            None
        };
        let run = resumed
            .as_ref()
            .map_or_else(|| clerk_sync_runtime::unix_ms() as i64, |r| r.run);
        if !options.dry_run && resumed.is_none() {
            checkpoint.start(run).await?;
        }
        let conn = clerk_sync_db::connect(&self.database).await?;
        let mut report = Report {
            run,
            kinds: Vec::new(),
            queued: Queued::default(),
        };
        for kind in kinds {
            let offset = match resumed.as_ref().map(|r| r.position(kind)) {
                Some(Position::Done) => continue,
                Some(Position::At(offset)) => Some(offset),
                Some(Position::Start) | None => None,
            };
            let mut pass = pass::Pass {
                reconciler: self,
                conn: &conn,
                kind,
                run,
                options,
                checkpoint: &checkpoint,
                queued: &mut report.queued,
            };
            let found = match pass.reconcile(offset, &mut on_page).await {
                Ok(found) => found,
                // A refusal ends the run as a finished one does: running it again at once
                // would only refuse again.
                Err(error @ ReconcileError::Strangers { .. }) => {
                    if !options.dry_run {
                        checkpoint.refused().await?;
                    }
                    return Err(error);
                }
                Err(error) => return Err(error),
            };
            if !options.dry_run {
                checkpoint.done(kind).await?;
            }
            report.kinds.push(found);
        }
        if !options.dry_run {
            checkpoint.finish(&report).await?;
        }
        Ok(report)
    }
}

/// Counts, logs and makes the error of a kind that shares no id with Clerk's list.
fn strangers(kind: Kind, found: &KindReport) -> ReconcileError {
    refusal("no_common_ids");
    let error = ReconcileError::Strangers {
        kind: kind.plural(),
        listed: found.in_clerk,
        held: found.in_database,
    };
    tracing::warn!(kind = kind.plural(), %error, "reconciliation refused");
    error
}

#[derive(diesel::QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    taken: bool,
}

/// A connection holding the schema's reconciliation lock (so two runs, a worker's scheduled
/// one or a `clerk-sync reconcile`, never go at once), or `None` when another session holds
/// it. The lock goes with the connection: drop it when the run is over.
pub async fn exclusive(
    database: &PoolConfig,
    schema: Schema,
) -> Result<Option<clerk_sync_db::AsyncPgConnection>, ReconcileError> {
    use diesel_async::RunQueryDsl as _;
    let conn = clerk_sync_db::connect(database).await?;
    let (a, b) = schema.lock(Lock::Reconcile);
    let taken: Taken = diesel::sql_query("SELECT pg_try_advisory_lock($1, $2) AS taken")
        .bind::<diesel::sql_types::Integer, _>(a)
        .bind::<diesel::sql_types::Integer, _>(b)
        .get_result(&mut &conn)
        .await
        .map_err(DbError::from)?;
    Ok(taken.taken.then_some(conn))
}
