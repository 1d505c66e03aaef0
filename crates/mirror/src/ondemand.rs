//! On-demand sync: a user or an organization fetched from Clerk's Backend API and applied
//! through exactly the path a webhook takes: the same parser, the same object locks, the
//! same newest-wins comparison and tombstones, recorded in `processed_webhooks` as
//! `fetch:<object>:<id>:<updated_at>`, in one transaction.
//!
//! Concurrent requests for one object share one flight: the first starts the Backend API
//! call and the apply, the others wait for its result. A sign-up's first page load asks for
//! the same new user many times at once, and Clerk's rate limit is per instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_sync_clerk_api::{ApiError, Client, Object};
use clerk_sync_db::{ApplyOptions, DbError, Pending, PgPool};
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::metrics::BACKEND_CALLS_TOTAL;

/// The objects the application API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `user_…`: the `user_profiles` row.
    User,
    /// `org_…`: the organization with its members.
    Organization,
}

impl ObjectKind {
    /// How Clerk's ids of this kind start.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "user_",
            Self::Organization => "org_",
        }
    }

    /// The name in `processed_webhooks` ids and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organization => "organization",
        }
    }

    /// Whether `id` is of Clerk's form for this kind: the prefix, then letters and digits.
    /// Anything else never reaches Clerk or the database.
    pub fn is_valid_id(self, id: &str) -> bool {
        id.len() <= 64
            && id.strip_prefix(self.prefix()).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            })
    }
}

/// Why an object could not be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Clerk's Backend API did not answer, or kept answering 429 or 5xx, or refused the key:
    /// try again later.
    #[error("Clerk's Backend API is unavailable: {message}")]
    Upstream {
        /// What happened, without the key.
        message: String,
        /// How long Clerk asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// PostgreSQL did not answer or could not take the write now.
    #[error("PostgreSQL is unavailable: {0}")]
    Database(String),
    /// Clerk's answer cannot be applied (a body clerk-sync cannot read, a value PostgreSQL
    /// refuses): retrying will not help.
    #[error("{0}")]
    Failed(String),
}

impl From<DbError> for SyncError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Permanent(message) => Self::Failed(message),
            other => Self::Database(other.to_string()),
        }
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

type Flight = Shared<BoxFuture<'static, Result<Landed, SyncError>>>;

/// Serves objects from the database, fetching them from Clerk when asked or missing.
pub struct Syncer {
    db: PgPool,
    clerk: Client,
    options: ApplyOptions,
    flights: Mutex<HashMap<(Mode, ObjectKind, String), Flight>>,
    fetches: tokio::sync::Semaphore,
}

/// Backend API fetches in the air at once, across all objects.
const CONCURRENT_FETCHES: usize = 8;

impl Syncer {
    /// A syncer over `db` and `clerk`, applying as the workers do.
    pub fn new(db: PgPool, clerk: Client, options: ApplyOptions) -> Arc<Self> {
        Arc::new(Self {
            db,
            clerk,
            options,
            flights: Mutex::new(HashMap::new()),
            fetches: tokio::sync::Semaphore::new(CONCURRENT_FETCHES),
        })
    }

    /// The object as the database holds it, fetched from Clerk first when the database has
    /// neither it nor its tombstone. `None`: Clerk does not have it, or it was deleted.
    pub async fn get(
        self: &Arc<Self>,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<serde_json::Value>, SyncError> {
        if let Some(found) = self.read(kind, id).await? {
            return Ok(Some(found));
        }
        match self.fly(Mode::Ensure, kind, id).await? {
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
    ) -> Result<Option<serde_json::Value>, SyncError> {
        match self.fly(Mode::Refresh, kind, id).await? {
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
            ObjectKind::User => clerk_sync_db::read::user_profile(&conn, id).await?,
            ObjectKind::Organization => clerk_sync_db::read::organization_record(&conn, id).await?,
        })
    }

    /// Joins the flight for this object and mode, starting it when none is in the air.
    async fn fly(
        self: &Arc<Self>,
        mode: Mode,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Landed, SyncError> {
        let key = (mode, kind, id.to_owned());
        let (flight, started) = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            match flights.get(&key) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let this = self.clone();
                    let id = id.to_owned();
                    let flight = async move {
                        let result = this.land(mode, kind, &id).await;
                        this.flights
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&(mode, kind, id));
                        result
                    }
                    .boxed()
                    .shared();
                    flights.insert(key, flight.clone());
                    (flight, true)
                }
            }
        };
        // Driven by a task of its own, so it lands (and leaves the map) even when every
        // request waiting on it has gone away.
        if started {
            tokio::spawn(flight.clone());
        }
        flight.await
    }

    async fn land(&self, mode: Mode, kind: ObjectKind, id: &str) -> Result<Landed, SyncError> {
        {
            let conn = self.db.get().await.map_err(DbError::from)?;
            let deleted = match kind {
                ObjectKind::User => clerk_sync_db::read::user_deleted(&conn, id).await?,
                ObjectKind::Organization => {
                    clerk_sync_db::read::organization_deleted(&conn, id).await?
                }
            };
            // A deletion is final: Clerk is not asked, and nothing is written.
            if deleted {
                return Ok(Landed::Gone);
            }
        }
        if mode == Mode::Ensure && self.read(kind, id).await?.is_some() {
            return Ok(Landed::Serve);
        }
        // Fetches are bounded, so one page load asking for many ids cannot spend the
        // instance's Backend API limit at once.
        let _permit = self
            .fetches
            .acquire()
            .await
            .map_err(|_| SyncError::Failed("the application API is stopping".into()))?;
        let events = match kind {
            ObjectKind::User => match self.call(self.clerk.user(id)).await? {
                Some(user) => vec![fetched("user", "user.updated", &user)],
                None => return Ok(Landed::Gone),
            },
            ObjectKind::Organization => {
                let Some(organization) = self.call(self.clerk.organization(id)).await? else {
                    return Ok(Landed::Gone);
                };
                let members = self.call(self.clerk.memberships_of(id)).await?;
                std::iter::once(fetched(
                    "organization",
                    "organization.updated",
                    &organization,
                ))
                .chain(members.iter().map(|m| {
                    fetched(
                        "organization_membership",
                        "organizationMembership.updated",
                        m,
                    )
                }))
                .collect()
            }
        };
        let now = clerk_sync_runtime::unix_ms() as i64;
        let parsed = events
            .iter()
            .map(|(svix_id, payload)| {
                clerk_sync_events::parse(payload, now)
                    .map(|event| (svix_id.as_str(), event))
                    .map_err(|e| SyncError::Failed(format!("Clerk answered {svix_id}: {e}")))
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
        Ok(Landed::Serve)
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
            Err(ApiError::Unreachable { .. }) => "unreachable",
            Err(ApiError::Unauthorized { .. }) => "unauthorized",
            Err(_) => "refused",
        };
        metrics::counter!(BACKEND_CALLS_TOTAL, "status" => status).increment(1);
        result.map_err(|error| match error {
            ApiError::GaveUp { retry_after, .. } => SyncError::Upstream {
                message: error.to_string(),
                retry_after,
            },
            ApiError::Unreachable { .. } | ApiError::Unauthorized { .. } => {
                tracing::error!(error = %error, "cannot fetch from Clerk's Backend API");
                SyncError::Upstream {
                    message: error.to_string(),
                    retry_after: None,
                }
            }
            other => SyncError::Failed(other.to_string()),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_clerks_form_only() {
        assert!(ObjectKind::User.is_valid_id("user_2abcDEF123"));
        assert!(ObjectKind::Organization.is_valid_id("org_29w9UeUYxqKGVc"));
        for bad in [
            "",
            "user_",
            "org_2abc",
            "user_../../admin",
            "user_2abc?x=1",
            "user_ä",
            &format!("user_{}", "a".repeat(80)),
        ] {
            assert!(!ObjectKind::User.is_valid_id(bad), "{bad}");
        }
    }
}
