//! `sync_instance`: the one Clerk instance the database mirrors. Whatever reads Clerk's
//! Backend API with a key, and every webhook that names its instance, is held to it.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{DbError, Schema};

/// The pinned instance.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, serde::Serialize)]
pub struct PinnedInstance {
    /// `ins_…`.
    #[diesel(sql_type = Text)]
    pub instance_id: String,
    /// `development` or `production` when a key pinned it; `None` when a webhook did.
    #[diesel(sql_type = Nullable<Text>)]
    pub environment_type: Option<String>,
    /// When it was pinned.
    #[diesel(sql_type = Timestamptz)]
    pub pinned_at: DateTime<Utc>,
}

const COLUMNS: &str = "instance_id, environment_type, pinned_at";

/// The pinned instance, if one is.
pub async fn pinned_instance(
    mut conn: &AsyncPgConnection,
    schema: Schema,
) -> Result<Option<PinnedInstance>, DbError> {
    let rows: Vec<PinnedInstance> =
        diesel::sql_query(schema.render(&format!("SELECT {COLUMNS} FROM @schema.sync_instance")))
            .load(&mut conn)
            .await?;
    Ok(rows.into_iter().next())
}

/// Pins `instance_id` unless an instance is pinned already, and returns the pin that
/// stands: this one, or the one pinned before (which the caller compares with its own).
pub async fn pin_instance(
    conn: &AsyncPgConnection,
    schema: Schema,
    instance_id: &str,
    environment_type: Option<&str>,
) -> Result<PinnedInstance, DbError> {
    let mut c = conn;
    let inserted: Vec<PinnedInstance> = diesel::sql_query(schema.render(&format!(
        "INSERT INTO @schema.sync_instance (instance_id, environment_type) VALUES ($1, $2) \
         ON CONFLICT (singleton) DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind::<Text, _>(instance_id)
    .bind::<Nullable<Text>, _>(environment_type)
    .load(&mut c)
    .await?;
    if let Some(pinned) = inserted.into_iter().next() {
        tracing::info!(
            instance_id,
            "pinned the Clerk instance this database mirrors"
        );
        return Ok(pinned);
    }
    // Another session's pin: read in a statement of its own, whose snapshot sees it.
    pinned_instance(conn, schema)
        .await?
        .ok_or_else(|| DbError::Transient("sync_instance changed while it was read".into()))
}

/// Pins `instance_id` whatever was pinned before: `clerk-sync instance pin --confirm`.
pub async fn repin_instance(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    instance_id: &str,
    environment_type: Option<&str>,
) -> Result<PinnedInstance, DbError> {
    let rows: Vec<PinnedInstance> = diesel::sql_query(schema.render(&format!(
        "INSERT INTO @schema.sync_instance (instance_id, environment_type) VALUES ($1, $2) \
         ON CONFLICT (singleton) DO UPDATE \
         SET instance_id = EXCLUDED.instance_id, environment_type = EXCLUDED.environment_type, \
             pinned_at = now() \
         RETURNING {COLUMNS}"
    )))
    .bind::<Text, _>(instance_id)
    .bind::<Nullable<Text>, _>(environment_type)
    .load(&mut conn)
    .await?;
    rows.into_iter()
        .next()
        .ok_or_else(|| DbError::Transient("sync_instance was not written".into()))
}
