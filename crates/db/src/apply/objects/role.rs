//! `role.*`: the role, with the keys of the permissions it grants; the permissions
//! themselves, which the event carries whole, are written by their own versions.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Event, Role};
use serde::Serialize;

use crate::DbError;
use crate::apply::objects::permission;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "role";

pub(crate) static TABLE: Table = Table {
    name: "roles",
    columns: &[
        "id",
        "key",
        "name",
        "description",
        "is_creator_eligible",
        "permissions",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: Some(OBJECT),
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());
pub(crate) static DELETE: LazyLock<Sql> = LazyLock::new(|| TABLE.mark_deleted(&[]));

#[derive(Debug, Default, Serialize)]
pub(crate) struct RoleRow<'a> {
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

newest_wins!(RoleRow);

pub(crate) fn keys(role: &Role, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, &role.id));
    for p in &role.permissions {
        permission::keys(&p.id, keys);
    }
}

pub(crate) fn deletion_keys(id: &str, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, id));
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    role: &'a Role,
) -> Result<(), DbError> {
    for p in &role.permissions {
        permission::stage(plan, None, svix_id, event, p)?;
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
    plan.roles.offer(&role.id, row, Some(owner));
    Ok(())
}

pub(crate) fn stage_deletion<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    deleted: &'a Deleted,
) -> Result<(), DbError> {
    plan.role_deletions
        .delete(owner, svix_id, event, &deleted.id)
}
