//! `role.*`, `permission.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Event, Permission, Role};
use diesel::Insertable;
use diesel_async::AsyncPgConnection;

use super::versioned::{mark_deleted, upsert_newer};
use super::{Outcome, opt_time, time};
use crate::DbError;
use crate::schema::{permissions, roles};

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = roles, treat_none_as_null = true)]
struct RoleRow<'a> {
    id: &'a str,
    key: Option<&'a str>,
    name: Option<&'a str>,
    description: Option<&'a str>,
    is_creator_eligible: Option<bool>,
    permissions: Vec<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

/// The role, with the keys of the permissions it grants; the permissions themselves, which
/// the event carries whole, are upserted by their own versions.
pub(super) async fn upsert_role(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    role: &Role,
) -> Result<Outcome, DbError> {
    for permission in &role.permissions {
        upsert_permission(conn, svix_id, event, permission).await?;
    }
    let row = RoleRow {
        id: &role.id,
        key: role.key.as_deref(),
        name: role.name.as_deref(),
        description: role.description.as_deref(),
        is_creator_eligible: role.is_creator_eligible,
        permissions: role
            .permissions
            .iter()
            .filter_map(|p| p.key.as_deref())
            .collect(),
        created_at: opt_time(role.created_at, "data.created_at")?,
        updated_at: time(
            role.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(&mut conn, roles, &row)))
}

pub(super) async fn delete_role(
    mut conn: &AsyncPgConnection,
    event: &Event,
    deleted: &Deleted,
) -> Result<Outcome, DbError> {
    let at = time(event.timestamp, "timestamp")?;
    Ok(Outcome::written(mark_deleted!(
        &mut conn,
        roles,
        &deleted.id,
        at
    )))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = permissions, treat_none_as_null = true)]
struct PermissionRow<'a> {
    id: &'a str,
    key: Option<&'a str>,
    name: Option<&'a str>,
    description: Option<&'a str>,
    kind: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

pub(super) async fn upsert_permission(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    permission: &Permission,
) -> Result<Outcome, DbError> {
    let row = PermissionRow {
        id: &permission.id,
        key: permission.key.as_deref(),
        name: permission.name.as_deref(),
        description: permission.description.as_deref(),
        kind: permission.kind.as_deref(),
        created_at: opt_time(permission.created_at, "data.created_at")?,
        updated_at: time(
            permission.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        permissions,
        &row
    )))
}

pub(super) async fn delete_permission(
    mut conn: &AsyncPgConnection,
    event: &Event,
    deleted: &Deleted,
) -> Result<Outcome, DbError> {
    let at = time(event.timestamp, "timestamp")?;
    Ok(Outcome::written(mark_deleted!(
        &mut conn,
        permissions,
        &deleted.id,
        at
    )))
}
