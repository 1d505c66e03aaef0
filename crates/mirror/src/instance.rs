//! One Clerk instance per database. The key's instance (Clerk's `GET /v1/instance`) is held
//! to the one `sync_instance` pins before anything is read from Clerk or written from what
//! it said: a development key pointed at a production database (or the reverse) is refused,
//! never taken as "every object here was deleted". The first key used, or the first applied
//! webhook that names its instance, pins it; only `clerk-sync instance pin --confirm`
//! changes it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use clerk_sync_clerk_api::{ApiError, Client, Instance};
use clerk_sync_db::{DbError, PgPool, PinnedInstance, Schema};
use tokio::time::Instant;

/// Why a key may not be used, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The key reads another instance than the one the database mirrors.
    #[error(
        "CLERK_SECRET_KEY belongs to Clerk instance {key}{}, but this database mirrors {pinned}{} (pinned {pinned_at}); nothing was read or written. Use a key of {pinned}, or, if this database is to mirror {key} from now on, run `clerk-sync instance pin {key} --confirm`",
        environment(key_environment),
        environment(pinned_environment)
    )]
    Mismatch {
        /// The key's instance.
        key: String,
        /// Its environment, as Clerk says.
        key_environment: Option<String>,
        /// The pinned instance.
        pinned: String,
        /// Its environment, when a key pinned it.
        pinned_environment: Option<String>,
        /// When it was pinned, RFC 3339.
        pinned_at: String,
    },
    /// Clerk could not say which instance the key reads.
    #[error("cannot ask Clerk which instance CLERK_SECRET_KEY belongs to: {0}")]
    Clerk(#[from] ApiError),
    /// The pin could not be read or written.
    #[error("cannot read the pinned Clerk instance: {0}")]
    Database(#[from] DbError),
}

fn environment(environment: &Option<String>) -> String {
    environment
        .as_ref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default()
}

/// Holds a key to the database's pinned instance. The key's instance is asked of Clerk once
/// per process (a key cannot change instance); the pin is read at every check, since an
/// operator may change it while the process runs.
pub struct KeyGuard {
    client: Client,
    db: PgPool,
    schema: Schema,
    key_instance: Mutex<Option<Instance>>,
    mismatched: AtomicBool,
}

impl KeyGuard {
    /// A guard for the key `client` uses, over the database of `db` and its `schema`.
    pub fn new(client: Client, db: PgPool, schema: Schema) -> Self {
        Self {
            client,
            db,
            schema,
            key_instance: Mutex::new(None),
            mismatched: AtomicBool::new(false),
        }
    }

    /// Checks the key against the pin, pinning the key's instance when nothing is pinned
    /// yet. `Ok` with the pin when they agree.
    pub async fn check(&self, deadline: Option<Instant>) -> Result<PinnedInstance, InstanceError> {
        let instance = self.key_instance(deadline).await?;
        let conn = self.db.get().await.map_err(DbError::from)?;
        let pinned = match clerk_sync_db::pinned_instance(&conn, self.schema).await? {
            Some(pinned) => pinned,
            None => {
                clerk_sync_db::pin_instance(
                    &conn,
                    self.schema,
                    &instance.id,
                    instance.environment_type.as_deref(),
                )
                .await?
            }
        };
        let matches = pinned.instance_id == instance.id;
        let was_mismatched = self.mismatched.swap(!matches, Ordering::Relaxed);
        if was_mismatched == matches {
            if matches {
                tracing::info!(instance = %instance.id, "CLERK_SECRET_KEY matches the pinned Clerk instance again");
            } else {
                tracing::error!(
                    key_instance = %instance.id,
                    pinned_instance = %pinned.instance_id,
                    "CLERK_SECRET_KEY belongs to another Clerk instance than the one this database mirrors: no Backend API result is applied (see `clerk-sync instance`)"
                );
            }
        }
        if matches {
            return Ok(pinned);
        }
        Err(InstanceError::Mismatch {
            key: instance.id,
            key_environment: instance.environment_type,
            pinned: pinned.instance_id,
            pinned_environment: pinned.environment_type,
            pinned_at: pinned.pinned_at.to_rfc3339(),
        })
    }

    /// The schema whose pin the key is held to.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// Whether the last check found the key to be another instance's.
    pub fn is_mismatched(&self) -> bool {
        self.mismatched.load(Ordering::Relaxed)
    }

    async fn key_instance(&self, deadline: Option<Instant>) -> Result<Instance, ApiError> {
        if let Some(known) = self.lock().clone() {
            return Ok(known);
        }
        let instance = self.client.instance(deadline).await?;
        *self.lock() = Some(instance.clone());
        Ok(instance)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instance>> {
        self.key_instance.lock().unwrap_or_else(|e| e.into_inner())
    }
}
