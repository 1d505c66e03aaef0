//! The upgrade from the layout of the versions before schemas existed, which created every
//! table in `public` and kept the migrations' history in `public.__diesel_schema_migrations`.
//!
//! clerk-sync's own is recognised by that history, never by a table's name: a database whose
//! `public` history holds versions clerk-sync embeds had them run by clerk-sync, and what
//! each of those migrations created is known ([`CREATED_IN_PUBLIC`]). Those relations, and
//! only those, move into the schema with `ALTER … SET SCHEMA`, which keeps every row, index,
//! constraint and owned sequence; the history moves with them. All of it in one
//! transaction: a failure leaves `public` as it was. A table of the application's that
//! happens to share a name was never created by those migrations, since `CREATE TABLE` would
//! have failed on it; and an application's own Diesel history beside clerk-sync's keeps its
//! rows.

use diesel::QueryableByName;
use diesel::RunQueryDsl as _;
use diesel::connection::Connection as _;
use diesel::sql_types::{Array, Bool, Text};

use super::{Sync, embedded_versions};
use crate::{DbError, Schema};

/// What each migration of the layout before schemas created in `public`: its tables and
/// views (indexes, constraints and identity sequences go with their tables). A test runs
/// those migrations and compares what they made with this list.
pub(super) const CREATED_IN_PUBLIC: &[(&str, &[&str])] = &[
    (
        "20261123000001",
        &[
            "processed_webhooks",
            "users",
            "user_email_addresses",
            "tombstones",
        ],
    ),
    (
        "20261123000002",
        &[
            "sessions",
            "organizations",
            "organization_memberships",
            "organization_invitations",
            "organization_domains",
            "roles",
            "permissions",
            "messages",
            "waitlist_entries",
            "subscriptions",
            "subscription_items",
            "payment_attempts",
            "user_profiles",
        ],
    ),
    ("20261129000001", &["sync_changes"]),
    ("20261129000002", &[]),
];

/// The relations `version` created in `public`, if it is a migration of that layout.
pub(super) fn created_in_public(version: &str) -> Option<&'static [&'static str]> {
    CREATED_IN_PUBLIC
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, relations)| *relations)
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Bool)]
    found: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Kind {
    #[diesel(sql_type = Text)]
    kind: String,
}

/// Whether `schema` holds the history table, read from the catalog: a role that may not
/// use `public` (least privilege) can still see that it holds nothing of clerk-sync's.
fn has_history(conn: &mut Sync, schema: &str) -> Result<bool, DbError> {
    let found: Found = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = '__diesel_schema_migrations') AS found",
    )
    .bind::<Text, _>(schema)
    .get_result(conn)?;
    Ok(found.found)
}

/// Moves clerk-sync's relations and history from `public` into `schema`, when the database
/// is of the layout from before schemas and `schema` has no history of its own yet.
pub(super) fn move_from_public(conn: &mut Sync, schema: Schema) -> Result<(), DbError> {
    let history = format!("{}.__diesel_schema_migrations", schema.quoted());
    let public_history = "public.__diesel_schema_migrations";
    if has_history(conn, schema.name())? || !has_history(conn, "public")? {
        return Ok(());
    }
    let recorded: Vec<Version> =
        diesel::sql_query(format!("SELECT version::text FROM {public_history}")).load(conn)?;
    let embedded = embedded_versions();
    let ours: Vec<String> = recorded
        .into_iter()
        .map(|v| v.version)
        .filter(|v| embedded.contains(v))
        .collect();
    if ours.is_empty() {
        // Another application's Diesel history: nothing of clerk-sync's is in `public`.
        return Ok(());
    }
    let moved = conn.transaction::<_, DbError, _>(|conn| {
        let mut moved = Vec::new();
        for version in &ours {
            for relation in created_in_public(version).unwrap_or_default() {
                let kind: Option<Kind> = diesel::sql_query(
                    "SELECT c.relkind::text AS kind FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'public' AND c.relname = $1",
                )
                .bind::<Text, _>(*relation)
                .get_result(conn)
                .map(Some)
                .or_else(|e| match e {
                    diesel::result::Error::NotFound => Ok(None),
                    other => Err(other),
                })?;
                let what = match kind.as_ref().map(|k| k.kind.as_str()) {
                    Some("r" | "p") => "TABLE",
                    Some("v") => "VIEW",
                    // Dropped by hand since: nothing to move.
                    _ => continue,
                };
                diesel::sql_query(format!(
                    "ALTER {what} public.\"{relation}\" SET SCHEMA {}",
                    schema.quoted()
                ))
                .execute(conn)?;
                moved.push(*relation);
            }
        }
        let only_ours: Vec<Version> = diesel::sql_query(format!(
            "SELECT version::text FROM {public_history} WHERE version <> ALL ($1)"
        ))
        .bind::<Array<Text>, _>(&ours)
        .load(conn)?;
        if only_ours.is_empty() {
            diesel::sql_query(format!(
                "ALTER TABLE {public_history} SET SCHEMA {}",
                schema.quoted()
            ))
            .execute(conn)?;
        } else {
            // The application keeps its own history; clerk-sync's rows go with its tables.
            diesel::sql_query(format!(
                "CREATE TABLE {history} (LIKE {public_history} INCLUDING ALL)"
            ))
            .execute(conn)?;
            diesel::sql_query(format!(
                "WITH taken AS (DELETE FROM {public_history} WHERE version = ANY ($1) \
                 RETURNING *) INSERT INTO {history} SELECT * FROM taken"
            ))
            .bind::<Array<Text>, _>(&ours)
            .execute(conn)?;
        }
        Ok(moved)
    })?;
    tracing::info!(
        schema = %schema,
        moved = moved.join(", "),
        migrations = ours.len(),
        "moved clerk-sync's tables and views, with every row and index, from public into its schema"
    );
    Ok(())
}
