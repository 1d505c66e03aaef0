//! On-demand sync: a user or an organization fetched from Clerk's Backend API and applied
//! through exactly the path a webhook takes: the same parser, the same object locks, the
//! same newest-wins comparison and tombstones, recorded in `processed_webhooks` as
//! `fetch:<object>:<id>:<updated_at>`, in one transaction.
//!
//! It spends Clerk's rate limit within bounds:
//! - every call takes a turn from the process's budget (`CLERK_API_RATE`), and a request
//!   whose turn would come after its deadline fails at once with what to wait;
//! - concurrent requests for one object share one flight (a sign-up's first page load asks
//!   for the same new user many times at once), and a flight every request has left before
//!   its call starts is not made;
//! - an id Clerk has just answered 404 for is answered 404 again for [`NOT_FOUND_TTL`]
//!   without asking.
//!
//! Nothing is fetched for a key of another Clerk instance ([`KeyGuard`]), and nothing
//! fetched is applied unless it is the object asked for.

mod flight;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_sync_clerk_api::{ApiError, Client, Object};
use clerk_sync_db::{ApplyOptions, DbError, Pending, PgPool};
use tokio::time::Instant;

use crate::instance::{InstanceError, KeyGuard};
use crate::metrics::BACKEND_CALLS_TOTAL;
/// The objects served by id: those of the one enum of mirrored kinds whose
/// [`Kind::fetched_by_id`](clerk_sync_events::Kind::fetched_by_id) holds.
pub use clerk_sync_events::Kind as ObjectKind;
use flight::{Flights, Interest};

/// How long an id Clerk answered 404 for is answered 404 without asking again: long enough
/// to absorb a burst of requests for it, short enough that an object created right after
/// is soon found.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(5);
/// Ids remembered as not found at most; past it, no more are remembered until some expire.
const NOT_FOUND_CAPACITY: usize = 10_000;

/// Why an object could not be served. Every message is fixed text: what Clerk said (its
/// code) goes to the log, never to whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Clerk's Backend API did not answer, kept answering 429 or 5xx, refused the key, or
    /// the process's budget has no turn in time: try again later.
    #[error("Clerk's Backend API is unavailable; try again later")]
    Upstream {
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// The key belongs to another Clerk instance than the one the database mirrors:
    /// nothing is fetched until an operator sees to it.
    #[error(
        "CLERK_SECRET_KEY belongs to another Clerk instance than the one this database mirrors"
    )]
    InstanceMismatch,
    /// PostgreSQL did not answer or could not take the write now.
    #[error("PostgreSQL is unavailable; try again later")]
    Database,
    /// Clerk's answer cannot be applied (a body clerk-sync cannot read, another object than
    /// the one asked for, a value PostgreSQL refuses): retrying will not help.
    #[error("the object Clerk returned cannot be applied")]
    Failed,
}

impl From<DbError> for SyncError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Permanent(message) => {
                tracing::error!(%message, "an object fetched from Clerk cannot be applied");
                Self::Failed
            }
            other => {
                tracing::warn!(error = %other, "PostgreSQL is unavailable for an on-demand fetch");
                Self::Database
            }
        }
    }
}

impl From<InstanceError> for SyncError {
    fn from(error: InstanceError) -> Self {
        match error {
            InstanceError::Mismatch { .. } => Self::InstanceMismatch,
            InstanceError::Clerk(error) => upstream(error),
            InstanceError::Database(error) => error.into(),
        }
    }
}

/// A Backend API failure as the API answers it; what Clerk said goes to the log.
fn upstream(error: ApiError) -> SyncError {
    match &error {
        ApiError::Busy { .. } => tracing::debug!(%error, "no Backend API turn in time"),
        _ => {
            tracing::warn!(error = %error, clerk_code = error.code(), "cannot fetch from Clerk's Backend API")
        }
    }
    SyncError::Upstream {
        retry_after: error.retry_after(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    /// Fetch only when the database has neither the object nor its tombstone.
    Ensure,
    /// Fetch always, unless the object was deleted.
    Refresh,
}

/// What a flight found: whether the object may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// Applied, or already there: serve what the database holds.
    Serve,
    /// Deleted here, or Clerk answered 404: nothing to serve, whatever a row still says.
    Gone,
}

/// Serves objects from the database, fetching them from Clerk when asked or missing.
pub struct Syncer {
    db: PgPool,
    clerk: Client,
    guard: Arc<KeyGuard>,
    options: ApplyOptions,
    flights: Flights<(Mode, ObjectKind, String), Result<Landed, SyncError>>,
    not_found: Mutex<HashMap<(ObjectKind, String), Instant>>,
}

impl Syncer {
    /// A syncer over `db` and `clerk` (a prompt client: see `RetryPolicy::PROMPT`), held to
    /// the pinned instance by `guard`, applying as the workers do.
    pub fn new(
        db: PgPool,
        clerk: Client,
        guard: Arc<KeyGuard>,
        options: ApplyOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            clerk,
            guard,
            options,
            flights: Flights::default(),
            not_found: Mutex::default(),
        })
    }

    /// The object as the database holds it, fetched from Clerk first when the database has
    /// neither it nor its tombstone. `None`: Clerk does not have it, or it was deleted.
    /// With a `deadline`, a fetch that cannot be made before it fails at once.
    pub async fn get(
        self: &Arc<Self>,
        kind: ObjectKind,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<serde_json::Value>, SyncError> {
        if let Some(found) = self.read(kind, id).await? {
            return Ok(Some(found));
        }
        match self.fly(Mode::Ensure, kind, id, deadline).await? {
            Landed::Serve => self.read(kind, id).await,
            Landed::Gone => Ok(None),
        }
    }

    /// Fetches the object from Clerk and applies it (an older state than the database's
    /// changes nothing, a deleted object stays deleted), then answers as [`Syncer::get`];
    /// `None` too when Clerk no longer has it, whatever the database still holds (its
    /// deletion event is on its way, or lost: `clerk-sync reconcile` repairs that).
    pub async fn refresh(
        self: &Arc<Self>,
        kind: ObjectKind,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<serde_json::Value>, SyncError> {
        match self.fly(Mode::Refresh, kind, id, deadline).await? {
            Landed::Serve => self.read(kind, id).await,
            Landed::Gone => Ok(None),
        }
    }

    async fn read(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<serde_json::Value>, SyncError> {
        let conn = self.db.get().await.map_err(DbError::from)?;
        Ok(match kind {
            ObjectKind::User => {
                clerk_sync_db::read::user_profile(&conn, self.options.schema, id).await?
            }
            ObjectKind::Organization => {
                clerk_sync_db::read::organization_record(&conn, self.options.schema, id).await?
            }
            // Served with its organization, never alone.
            ObjectKind::Membership => None,
        })
    }

    /// Joins the flight for this object and mode, starting it when none is in the air.
    async fn fly(
        self: &Arc<Self>,
        mode: Mode,
        kind: ObjectKind,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Landed, SyncError> {
        if self.recently_not_found(kind, id) {
            return Ok(Landed::Gone);
        }
        let this = self.clone();
        let owned = id.to_owned();
        self.flights
            .join((mode, kind, id.to_owned()), move |interest| async move {
                this.land(mode, kind, &owned, deadline, interest).await
            })
            .await
    }

    async fn land(
        &self,
        mode: Mode,
        kind: ObjectKind,
        id: &str,
        deadline: Option<Instant>,
        interest: Arc<Interest>,
    ) -> Result<Landed, SyncError> {
        {
            let conn = self.db.get().await.map_err(DbError::from)?;
            let deleted = match kind {
                ObjectKind::User => {
                    clerk_sync_db::read::user_deleted(&conn, self.options.schema, id).await?
                }
                ObjectKind::Organization => {
                    clerk_sync_db::read::organization_deleted(&conn, self.options.schema, id)
                        .await?
                }
                // Clerk serves no membership by id: nothing to fetch.
                ObjectKind::Membership => true,
            };
            // A deletion is final: Clerk is not asked, and nothing is written.
            if deleted {
                return Ok(Landed::Gone);
            }
        }
        if mode == Mode::Ensure && self.read(kind, id).await?.is_some() {
            return Ok(Landed::Serve);
        }
        // Until the calls are made, a flight nobody waits for any more is dropped: its
        // turns of the budget go to requests someone still waits on.
        let fetched = tokio::select! {
            fetched = self.fetch(kind, id, deadline) => fetched?,
            () = interest.abandoned() => {
                tracing::debug!(object = kind.name(), id, "fetch given up: nobody waits for it");
                return Err(SyncError::Upstream { retry_after: None });
            }
        };
        let Some(events) = fetched else {
            self.remember_not_found(kind, id);
            return Ok(Landed::Gone);
        };
        self.apply(kind, id, &events).await?;
        Ok(Landed::Serve)
    }

    /// The events Clerk's answer makes: the object (with an organization's memberships), or
    /// `None` when Clerk has no such object.
    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<(String, Vec<u8>)>>, SyncError> {
        self.guard.check(deadline).await?;
        let object = match kind {
            ObjectKind::User => self.call(self.clerk.user(id, deadline)).await?,
            ObjectKind::Organization => self.call(self.clerk.organization(id, deadline)).await?,
            ObjectKind::Membership => None,
        };
        let Some(object) = object else {
            return Ok(None);
        };
        if object.id != id {
            tracing::error!(
                object = kind.name(),
                requested = id,
                answered = %object.id,
                "Clerk answered another object than the one asked for; nothing applied"
            );
            return Err(SyncError::Failed);
        }
        let mut events = vec![fetched(kind.name(), kind.event_type(), &object)];
        if kind == ObjectKind::Organization {
            let Some(members) = self.call(self.clerk.memberships_of(id, deadline)).await? else {
                return Ok(None);
            };
            events.extend(members.iter().map(|m| {
                fetched(
                    "organization_membership",
                    "organizationMembership.updated",
                    m,
                )
            }));
        }
        Ok(Some(events))
    }

    async fn apply(
        &self,
        kind: ObjectKind,
        id: &str,
        events: &[(String, Vec<u8>)],
    ) -> Result<(), SyncError> {
        let now = clerk_sync_runtime::unix_ms() as i64;
        let parsed = events
            .iter()
            .map(|(svix_id, payload)| {
                clerk_sync_events::parse(payload, now)
                    .map(|event| (svix_id.as_str(), event))
                    .map_err(|e| {
                        tracing::error!(%svix_id, error = %e, "Clerk's answer cannot be read as an event");
                        SyncError::Failed
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pending: Vec<Pending<'_>> = parsed
            .iter()
            .map(|(svix_id, event)| Pending { svix_id, event })
            .collect();
        let mut conn = self.db.get().await.map_err(DbError::from)?;
        let outcomes = clerk_sync_db::apply_batch(&mut conn, &pending, self.options).await?;
        tracing::info!(
            object = kind.name(),
            id,
            events = pending.len(),
            applied = outcomes
                .iter()
                .filter(|o| **o == clerk_sync_db::Outcome::Applied)
                .count(),
            "fetched from Clerk and applied"
        );
        Ok(())
    }

    /// One Backend API call, counted by what came of it.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, SyncError> {
        let result = call.await;
        let status = match &result {
            Ok(_) => "ok",
            Err(ApiError::GaveUp { .. }) => "gave_up",
            Err(ApiError::Busy { .. }) => "busy",
            Err(ApiError::Unreachable { .. }) => "unreachable",
            Err(ApiError::Unauthorized { .. }) => "unauthorized",
            Err(ApiError::NotClerk { .. }) => "not_clerk",
            Err(_) => "refused",
        };
        metrics::counter!(BACKEND_CALLS_TOTAL, "status" => status).increment(1);
        result.map_err(|error| match error {
            ApiError::Malformed { .. } | ApiError::Refused { .. } => {
                tracing::error!(%error, clerk_code = error.code(), "Clerk's answer cannot be applied");
                SyncError::Failed
            }
            other => upstream(other),
        })
    }

    fn recently_not_found(&self, kind: ObjectKind, id: &str) -> bool {
        let mut cache = self.not_found.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, id.to_owned());
        match cache.get(&key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                cache.remove(&key);
                false
            }
            None => false,
        }
    }

    fn remember_not_found(&self, kind: ObjectKind, id: &str) {
        let mut cache = self.not_found.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if cache.len() >= NOT_FOUND_CAPACITY {
            cache.retain(|_, until| *until > now);
        }
        if cache.len() < NOT_FOUND_CAPACITY {
            cache.insert((kind, id.to_owned()), now + NOT_FOUND_TTL);
        }
    }
}

/// The `processed_webhooks` id and the event body for one fetched object: the event Clerk
/// would have sent for it at its version.
fn fetched(object: &str, event_type: &str, found: &Object) -> (String, Vec<u8>) {
    let version = found.version().unwrap_or_default();
    (
        format!("fetch:{object}:{}:{version}", found.id),
        found.envelope(event_type, version),
    )
}
