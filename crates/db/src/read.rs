//! What the application API answers: a user's `user_profiles` row and an organization with
//! its members, as JSON objects keyed by column name; and whether either was deleted, which
//! no later fetch may undo.

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{DbError, Schema};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Jsonb)]
    value: serde_json::Value,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

/// The user's `user_profiles` row, or `None` when there is none (never synced, or deleted).
pub async fn user_profile(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    id: &str,
) -> Result<Option<serde_json::Value>, DbError> {
    let rows: Vec<Row> = diesel::sql_query(
        schema
            .render("SELECT to_jsonb(p) AS value FROM @schema.user_profiles p WHERE clerk_id = $1"),
    )
    .bind::<Text, _>(id)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.value))
}

/// Whether the user was deleted: a tombstone stands (in either `USER_DELETE_MODE`).
pub async fn user_deleted(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    id: &str,
) -> Result<bool, DbError> {
    let flag: Flag = diesel::sql_query(schema.render(
        "SELECT EXISTS (SELECT 1 FROM @schema.tombstones WHERE object_type = 'user' AND object_id = $1) \
         OR EXISTS (SELECT 1 FROM @schema.users WHERE clerk_id = $1 AND deleted_at IS NOT NULL) AS value",
    ))
    .bind::<Text, _>(id)
    .get_result(&mut conn)
    .await?;
    Ok(flag.value)
}

/// The organization's row with `members`, its live memberships (oldest first), or `None`
/// when there is none or it was deleted. The bookkeeping column `last_svix_id` is left out.
pub async fn organization_record(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    id: &str,
) -> Result<Option<serde_json::Value>, DbError> {
    let rows: Vec<Row> = diesel::sql_query(schema.render(
        "SELECT (to_jsonb(o) - 'last_svix_id') || jsonb_build_object('members', COALESCE( \
             (SELECT jsonb_agg(to_jsonb(m) - 'last_svix_id' ORDER BY m.created_at, m.id) \
              FROM @schema.organization_memberships m \
              WHERE m.organization_id = o.id AND m.deleted_at IS NULL), '[]'::jsonb)) AS value \
         FROM @schema.organizations o WHERE o.id = $1 AND o.deleted_at IS NULL",
    ))
    .bind::<Text, _>(id)
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().next().map(|r| r.value))
}

/// Whether the organization was deleted.
pub async fn organization_deleted(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    id: &str,
) -> Result<bool, DbError> {
    let flag: Flag = diesel::sql_query(schema.render(
        "SELECT EXISTS (SELECT 1 FROM @schema.organizations WHERE id = $1 AND deleted_at IS NOT NULL) \
         OR EXISTS (SELECT 1 FROM @schema.tombstones WHERE object_type = 'organization' AND object_id = $1) \
         AS value",
    ))
    .bind::<Text, _>(id)
    .get_result(&mut conn)
    .await?;
    Ok(flag.value)
}
