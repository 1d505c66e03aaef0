//! What the database holds of the objects Clerk's Backend API lists, by id: the version and
//! whether the object is live. `verify` and `reconcile` compare this with Clerk.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};

use crate::{DbError, Schema};

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

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    live: bool,
    #[diesel(sql_type = Nullable<Text>)]
    organization_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
}

/// Every object of one table, by id. Whole tables are read: the caller's connection should
/// allow a long statement on a large instance.
pub async fn inventory(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    table: Mirrored,
) -> Result<HashMap<String, Held>, DbError> {
    let sql = match table {
        Mirrored::Users => {
            "SELECT clerk_id AS id, updated_at, deleted_at IS NULL AS live, \
                 NULL::text AS organization_id, NULL::text AS user_id FROM @schema.users"
        }
        Mirrored::Organizations => {
            "SELECT id, updated_at, deleted_at IS NULL AS live, \
                 NULL::text AS organization_id, NULL::text AS user_id FROM @schema.organizations"
        }
        // A membership of an organization the database has deleted is gone with it.
        Mirrored::Memberships => {
            "SELECT m.id, m.updated_at, \
                 m.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM @schema.organizations o \
                     WHERE o.id = m.organization_id AND o.deleted_at IS NOT NULL) AS live, \
                 m.organization_id, m.user_id \
             FROM @schema.organization_memberships m"
        }
    };
    let rows: Vec<Row> = diesel::sql_query(schema.render(sql))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let held = Held {
                updated_at: row.updated_at.timestamp_millis(),
                live: row.live,
                member_of: row.organization_id.zip(row.user_id),
            };
            (row.id, held)
        })
        .collect())
}
