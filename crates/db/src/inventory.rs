//! What the database holds of the objects Clerk's Backend API lists, by id: the version and
//! whether the object is live. `verify` and `reconcile` compare this with Clerk.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods as _, QueryDsl as _};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};

use crate::DbError;
use crate::schema::{organization_memberships, organizations, users};

/// The tables that mirror a Backend API list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mirrored {
    /// `users`.
    Users,
    /// `organizations`.
    Organizations,
    /// `organization_memberships`.
    Memberships,
}

/// One object as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its version, `updated_at` in Unix ms.
    pub updated_at: i64,
    /// Not deleted. A membership of an organization the database has deleted is not live:
    /// the application's views treat it as gone, and so does Clerk.
    pub live: bool,
    /// A membership's organization and user, which its deletion event names.
    pub member_of: Option<(String, String)>,
}

type Version = (
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<(String, String)>,
);
type MembershipVersion = (String, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Every object of one table, by id. Whole tables are read: the caller's connection should
/// allow a long statement on a large instance.
pub async fn inventory(
    mut conn: &AsyncPgConnection,
    table: Mirrored,
) -> Result<HashMap<String, Held>, DbError> {
    let versions: Vec<Version> = match table {
        Mirrored::Users => users::table
            .select((users::clerk_id, users::updated_at, users::deleted_at))
            .load::<(String, DateTime<Utc>, Option<DateTime<Utc>>)>(&mut conn)
            .await?
            .into_iter()
            .map(|(id, updated_at, deleted_at)| (id, updated_at, deleted_at, None))
            .collect(),
        Mirrored::Organizations => organizations::table
            .select((
                organizations::id,
                organizations::updated_at,
                organizations::deleted_at,
            ))
            .load::<(String, DateTime<Utc>, Option<DateTime<Utc>>)>(&mut conn)
            .await?
            .into_iter()
            .map(|(id, updated_at, deleted_at)| (id, updated_at, deleted_at, None))
            .collect(),
        Mirrored::Memberships => {
            let deleted_organizations: HashSet<String> = organizations::table
                .filter(organizations::deleted_at.is_not_null())
                .select(organizations::id)
                .load::<String>(&mut conn)
                .await?
                .into_iter()
                .collect();
            let memberships: Vec<MembershipVersion> = organization_memberships::table
                .select((
                    organization_memberships::id,
                    organization_memberships::organization_id,
                    organization_memberships::user_id,
                    organization_memberships::updated_at,
                    organization_memberships::deleted_at,
                ))
                .load(&mut conn)
                .await?;
            memberships
                .into_iter()
                .map(|(id, organization_id, user_id, updated_at, deleted_at)| {
                    // Gone with its organization, when that was deleted.
                    let deleted_at = deleted_at.or_else(|| {
                        deleted_organizations
                            .contains(&organization_id)
                            .then_some(updated_at)
                    });
                    (id, updated_at, deleted_at, Some((organization_id, user_id)))
                })
                .collect()
        }
    };
    Ok(versions
        .into_iter()
        .map(|(id, updated_at, deleted_at, member_of)| {
            let held = Held {
                updated_at: updated_at.timestamp_millis(),
                live: deleted_at.is_none(),
                member_of,
            };
            (id, held)
        })
        .collect())
}
