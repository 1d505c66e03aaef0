//! Reconciliation: the database compared with Clerk's Backend API, and repaired through the
//! queue and the same versioned path as every webhook.
//!
//! For each kind (users, organizations, memberships) a run reads what the database holds
//! (ids, versions, live or deleted), then pages Clerk's list, and as it goes:
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

mod checkpoint;
mod drift;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clerk_sync_clerk_api::{ApiError, Client, Kind, Listing};
use clerk_sync_db::{DbError, Held, Lock, Mirrored, PoolConfig, Schema};
use clerk_sync_queue::{EnqueueError, Enqueuer, Entry, Keys, Pool};
use serde::Serialize;

use crate::instance::{InstanceError, KeyGuard};
use crate::metrics::refusal;

pub use checkpoint::{LastRun, interrupted, last_refusal_ms, last_run};

pub use drift::KindReport;

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
    pub queued: Vec<String>,
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
        let checkpoint = checkpoint::Checkpoint::new(self.redis.clone(), self.keys.clone());
        let resumed = if options.resume && !options.dry_run {
            checkpoint.interrupted().await?
        } else {
            None
        };
        let run = resumed.as_ref().map_or_else(unix_ms, |r| r.run);
        if !options.dry_run && resumed.is_none() {
            checkpoint.start(run).await?;
        }
        let conn = clerk_sync_db::connect(&self.database).await?;
        let mut report = Report {
            run,
            kinds: Vec::new(),
            queued: Vec::new(),
        };
        for kind in kinds {
            let progress = resumed.as_ref().and_then(|r| r.progress(kind));
            if progress == Some(checkpoint::Progress::Done) {
                continue;
            }
            let held = clerk_sync_db::inventory(&conn, self.schema, mirrored(kind)).await?;
            let offset = match progress {
                Some(checkpoint::Progress::At(offset)) => Some(offset),
                _ => None,
            };
            let mut found = KindReport::new(kind, &held);
            let listed = self
                .list(
                    kind,
                    offset,
                    run,
                    &held,
                    &mut found,
                    &mut report.queued,
                    options,
                    &checkpoint,
                    &mut on_page,
                )
                .await;
            let seen = match listed {
                Ok(seen) => seen,
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
            if offset.is_none() {
                self.extras(
                    kind,
                    &held,
                    &seen,
                    run,
                    &mut found,
                    &mut report.queued,
                    options,
                )
                .await?;
            }
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

    /// Pages Clerk's list of `kind`, queueing what is missing or stale; returns every id
    /// listed.
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        kind: Kind,
        offset: Option<u64>,
        run: i64,
        held: &HashMap<String, Held>,
        found: &mut KindReport,
        queued: &mut Vec<String>,
        options: &Options,
        checkpoint: &checkpoint::Checkpoint,
        on_page: &mut impl FnMut(Kind, usize, Option<u64>),
    ) -> Result<HashSet<String>, ReconcileError> {
        let mut listing = Listing::new(&self.clerk, kind, false);
        if let Some(offset) = offset {
            listing.skip_to(offset);
            found.extras_checked = false;
        }
        let mut seen = HashSet::new();
        let clerk_error = |source| ReconcileError::Clerk {
            what: format!("the {}", kind.name()),
            source,
        };
        // Repairs wait here until the listing shares an id with the database: a key for
        // another instance would otherwise import that instance's objects.
        let mut deferred: Vec<(String, Vec<u8>)> = Vec::new();
        // A kind resumed part-way was trusted by the run that recorded its progress: progress
        // is recorded only once repairs are queued, and those wait for trust.
        let resumed = offset.is_some();
        let trusted = |found: &KindReport| resumed || found.matched > 0 || found.in_database == 0;
        while let Some(page) = listing.next_page().await.map_err(clerk_error)? {
            for object in &page.objects {
                seen.insert(object.id.clone());
                found.in_clerk += 1;
                let Some(repair) = found.classify(object, held.get(&object.id)) else {
                    continue;
                };
                if options.dry_run {
                    continue;
                }
                let version = repair.version;
                let svix_id = format!(
                    "reconcile:{}:{}:{version}:{run}",
                    drift::object_name(kind),
                    object.id,
                );
                deferred.push((svix_id, object.envelope(kind.event_type(), version)));
            }
            on_page(kind, page.objects.len(), listing.total());
            if !trusted(found) {
                if found.in_clerk >= STRANGERS_AFTER {
                    return Err(strangers(kind, found));
                }
                continue;
            }
            self.queue_all(kind, &mut deferred, found, queued).await?;
            if !options.dry_run
                && let Some(offset) = listing.offset()
            {
                checkpoint.reached(kind, offset).await?;
            }
        }
        if !trusted(found) {
            return Err(strangers(kind, found));
        }
        self.queue_all(kind, &mut deferred, found, queued).await?;
        Ok(seen)
    }

    /// Looks for objects the database holds live that Clerk no longer has, confirms each by
    /// id, and queues their deletion.
    #[allow(clippy::too_many_arguments)]
    async fn extras(
        &self,
        kind: Kind,
        held: &HashMap<String, Held>,
        seen: &HashSet<String>,
        run: i64,
        found: &mut KindReport,
        queued: &mut Vec<String>,
        options: &Options,
    ) -> Result<(), ReconcileError> {
        let mut candidates: Vec<(&String, &Held)> = held
            .iter()
            .filter(|(id, h)| h.live && h.updated_at < run && !seen.contains(*id))
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(b.0));
        let mut users: HashMap<String, Option<HashSet<String>>> = HashMap::new();
        for (id, h) in candidates {
            if !self.gone(kind, id, h, &mut users).await? {
                continue;
            }
            found.extra.push(id.clone());
        }
        let limit = options
            .max_deletions
            .unwrap_or_else(|| (found.in_database / 10).max(1));
        if found.extra.len() > limit {
            found.deletions_refused = true;
            refusal("too_many_deletions");
            tracing::warn!(
                kind = kind.name(),
                extra = found.extra.len(),
                limit,
                "more objects look deleted in Clerk than a run deletes ({limit}); none deleted. If Clerk really deleted them, run `clerk-sync reconcile --only {} --max-deletions {}`",
                kind.name(),
                found.extra.len()
            );
            return Ok(());
        }
        if options.dry_run {
            return Ok(());
        }
        for id in &found.extra {
            let Some(h) = held.get(id) else { continue };
            let (event_type, payload) = drift::deletion(kind, id, h, unix_ms());
            let svix_id = format!("reconcile:{event_type}:{id}:{run}");
            self.queue(&svix_id, event_type, payload).await?;
            queued.push(svix_id);
            found.queued += 1;
        }
        Ok(())
    }

    /// Whether Clerk confirms the object is gone: its own 404 by id; a membership, absent
    /// from its user's memberships (a short list read whole), or its user gone. Never
    /// absence from a long paged list, which an object deleted meanwhile can shift past a
    /// live one, and never an answer that is not Clerk's.
    async fn gone(
        &self,
        kind: Kind,
        id: &str,
        held: &Held,
        users: &mut HashMap<String, Option<HashSet<String>>>,
    ) -> Result<bool, ReconcileError> {
        let clerk_error = |source| ReconcileError::Clerk {
            what: format!("{} {id}", drift::object_name(kind)),
            source,
        };
        match kind {
            Kind::Users => Ok(self
                .clerk
                .user(id, None)
                .await
                .map_err(clerk_error)?
                .is_none()),
            Kind::Organizations => Ok(self
                .clerk
                .organization(id, None)
                .await
                .map_err(clerk_error)?
                .is_none()),
            Kind::Memberships => {
                let Some((_, user)) = &held.member_of else {
                    return Ok(false);
                };
                if !users.contains_key(user) {
                    let memberships = self
                        .clerk
                        .memberships_of_user(user, None)
                        .await
                        .map_err(clerk_error)?
                        .map(|list| list.into_iter().map(|m| m.id).collect());
                    users.insert(user.clone(), memberships);
                }
                Ok(match users.get(user) {
                    Some(Some(memberships)) => !memberships.contains(id),
                    _ => true,
                })
            }
        }
    }

    async fn queue_all(
        &self,
        kind: Kind,
        repairs: &mut Vec<(String, Vec<u8>)>,
        found: &mut KindReport,
        queued: &mut Vec<String>,
    ) -> Result<(), ReconcileError> {
        for (svix_id, payload) in repairs.drain(..) {
            self.queue(&svix_id, kind.event_type(), payload).await?;
            queued.push(svix_id);
            found.queued += 1;
        }
        Ok(())
    }

    /// Queues one repair as the receiver queues a webhook, waiting while the stream is at its
    /// high-water mark (the workers will catch up) and retrying Redis briefly.
    async fn queue(
        &self,
        svix_id: &str,
        event_type: &str,
        payload: Vec<u8>,
    ) -> Result<(), ReconcileError> {
        let now = unix_ms() as u64;
        let entry = Entry {
            svix_id: svix_id.to_owned(),
            svix_timestamp: (now / 1000).to_string(),
            event_type: event_type.to_owned(),
            payload,
            received_at: now,
            attempt: 0,
        };
        let mut failures = 0u32;
        loop {
            match self.enqueuer.enqueue(&entry).await {
                Ok(_) => return Ok(()),
                Err(EnqueueError::Full) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(error) if failures < 5 => {
                    failures += 1;
                    tracing::debug!(%error, "cannot queue a repair yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << failures)).await;
                }
                Err(error) => return Err(ReconcileError::Queue(error.to_string())),
            }
        }
    }
}

/// Counts, logs and makes the error of a kind that shares no id with Clerk's list.
fn strangers(kind: Kind, found: &KindReport) -> ReconcileError {
    refusal("no_common_ids");
    let error = ReconcileError::Strangers {
        kind: kind.name(),
        listed: found.in_clerk,
        held: found.in_database,
    };
    tracing::warn!(kind = kind.name(), %error, "reconciliation refused");
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

fn mirrored(kind: Kind) -> Mirrored {
    match kind {
        Kind::Users => Mirrored::Users,
        Kind::Organizations => Mirrored::Organizations,
        Kind::Memberships => Mirrored::Memberships,
    }
}

/// Now, Unix ms, as the rest of the crate reads it.
pub(crate) fn unix_ms() -> i64 {
    clerk_sync_runtime::unix_ms() as i64
}
