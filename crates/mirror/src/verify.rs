//! Verification: is the database level with Clerk? Reads every object of each kind from the
//! Backend API (ids and `updated_at`), then the same from PostgreSQL, and compares:
//!
//! - missing: in Clerk, not live in the database (never delivered, or still queued);
//! - extra: live in the database, gone from Clerk (a deletion that never arrived);
//! - stale: in both, older `updated_at` in the database (an update that never arrived).
//!
//! Clerk is read first. A row the database has that is newer than that read (created or
//! updated by a webhook meanwhile) is not drift, so a busy instance does not cry wolf.
//!
//! Both sides are held whole, one kind at a time, for a report that names every object
//! out of step; [`crate::reconcile`] finds the same in bounded memory.

use std::collections::{BTreeMap, HashMap};

use clerk_sync_clerk_api::{ApiError, Client, Kind, Listing};
use clerk_sync_db::{DbError, PoolConfig, Schema};

/// The comparison of one kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Objects Clerk listed.
    pub in_clerk: usize,
    /// Live rows in the database.
    pub in_database: usize,
    /// Id, Clerk's version, and whether the database has it deleted.
    pub missing: Vec<(String, Option<i64>, bool)>,
    /// Id, the database's version.
    pub extra: Vec<(String, i64)>,
    /// Id, Clerk's version, the database's version.
    pub stale: Vec<(String, i64, i64)>,
}

impl Drift {
    /// Objects out of step.
    pub fn count(&self) -> usize {
        self.missing.len() + self.extra.len() + self.stale.len()
    }
}

/// Why the check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Clerk's Backend API refused, failed or could not be reached.
    #[error("cannot list the {kind} in Clerk")]
    Clerk {
        /// The kind's plural.
        kind: &'static str,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// PostgreSQL could not be reached.
    #[error("cannot connect to PostgreSQL")]
    Connect(#[source] DbError),
    /// PostgreSQL could not be read.
    #[error("cannot read the {kind} from PostgreSQL")]
    Database {
        /// The kind's plural.
        kind: &'static str,
        /// Why.
        #[source]
        source: DbError,
    },
}

/// Compares each of `kinds` in Clerk (through `client`) and in the database (`schema`
/// through a connection made from `database`, which should allow long statements);
/// `on_page` hears of each page of Clerk's lists, with the list's total where it says.
pub async fn verify(
    client: &Client,
    (database, schema): (&PoolConfig, Schema),
    kinds: &[Kind],
    mut on_page: impl FnMut(Kind, usize, Option<u64>),
) -> Result<BTreeMap<Kind, Drift>, VerifyError> {
    let started_ms = clerk_sync_runtime::unix_ms() as i64;
    let mut clerk = BTreeMap::new();
    for &kind in kinds {
        clerk.insert(kind, read_clerk(client, kind, &mut on_page).await?);
    }
    let conn = clerk_sync_db::connect(database)
        .await
        .map_err(VerifyError::Connect)?;
    let mut drifts = BTreeMap::new();
    for (kind, in_clerk) in clerk {
        let rows = clerk_sync_db::inventory(&conn, schema, kind)
            .await
            .map_err(|source| VerifyError::Database {
                kind: kind.plural(),
                source,
            })?
            .into_iter()
            .map(|(id, held)| (id, (held.updated_at, held.live)))
            .collect();
        drifts.insert(kind, compare(&in_clerk, &rows, started_ms));
    }
    Ok(drifts)
}

/// Every object of a kind in Clerk: id and version.
async fn read_clerk(
    client: &Client,
    kind: Kind,
    on_page: &mut impl FnMut(Kind, usize, Option<u64>),
) -> Result<HashMap<String, Option<i64>>, VerifyError> {
    let mut listing = Listing::new(client, kind, false);
    let mut objects = HashMap::new();
    let clerk_error = |source| VerifyError::Clerk {
        kind: kind.plural(),
        source,
    };
    while let Some(page) = listing.next_page().await.map_err(clerk_error)? {
        on_page(kind, page.objects.len(), listing.total());
        for object in page.objects {
            let version = object.version();
            objects.insert(object.id, version);
        }
    }
    Ok(objects)
}

/// Clerk's objects (id, version) against the database's rows (id, version, live), read
/// after `started_ms`.
fn compare(
    clerk: &HashMap<String, Option<i64>>,
    rows: &HashMap<String, (i64, bool)>,
    started_ms: i64,
) -> Drift {
    let mut drift = Drift {
        in_clerk: clerk.len(),
        in_database: rows.values().filter(|(_, live)| *live).count(),
        ..Drift::default()
    };
    for (id, &version) in clerk {
        match rows.get(id) {
            Some(&(updated_at, true)) => {
                if let Some(version) = version.filter(|&v| updated_at < v) {
                    drift.stale.push((id.clone(), version, updated_at));
                }
            }
            row => drift.missing.push((id.clone(), version, row.is_some())),
        }
    }
    for (id, &(updated_at, live)) in rows {
        // Newer than the read of Clerk: created or updated since, not gone.
        if live && updated_at < started_ms && !clerk.contains_key(id) {
            drift.extra.push((id.clone(), updated_at));
        }
    }
    drift.missing.sort();
    drift.extra.sort();
    drift.stale.sort();
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_missing_extra_or_stale_and_nothing_newer() {
        let clerk: HashMap<String, Option<i64>> = [
            ("user_same", Some(100)),
            ("user_missing", Some(100)),
            ("user_deleted_here", Some(100)),
            ("user_stale", Some(200)),
            ("user_ahead", Some(100)),
        ]
        .into_iter()
        .map(|(id, v)| (id.to_owned(), v))
        .collect();
        let rows: HashMap<String, (i64, bool)> = [
            ("user_same", (100, true)),
            ("user_deleted_here", (100, false)),
            ("user_stale", (150, true)),
            ("user_ahead", (300, true)),
            ("user_extra", (100, true)),
            ("user_created_meanwhile", (5_000, true)),
        ]
        .into_iter()
        .map(|(id, row)| (id.to_owned(), row))
        .collect();
        let drift = compare(&clerk, &rows, 1_000);
        assert_eq!((drift.in_clerk, drift.in_database), (5, 5));
        assert_eq!(
            drift.missing,
            vec![
                ("user_deleted_here".to_owned(), Some(100), true),
                ("user_missing".to_owned(), Some(100), false)
            ]
        );
        assert_eq!(drift.extra, vec![("user_extra".to_owned(), 100)]);
        assert_eq!(drift.stale, vec![("user_stale".to_owned(), 200, 150)]);
    }
}
