//! `permission.*`. Role events carry their permissions whole, and feed them through here.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Event, Permission};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "permission";

pub(crate) static TABLE: Table = Table {
    name: "permissions",
    columns: &[
        "id",
        "key",
        "name",
        "description",
        "type",
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
pub(crate) struct PermissionRow<'a> {
    id: &'a str,
    key: Option<&'a str>,
    name: Option<&'a str>,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(PermissionRow);

pub(crate) fn keys(id: &str, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, id));
}

/// Stages the permission's state; `owner` is the event whose own object it is, if any.
pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: Option<usize>,
    svix_id: &'a str,
    event: &Event,
    permission: &'a Permission,
) -> Result<(), DbError> {
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
    plan.permissions.offer(&permission.id, row, owner);
    Ok(())
}

pub(crate) fn stage_deletion<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    deleted: &'a Deleted,
) -> Result<(), DbError> {
    plan.permission_deletions
        .delete(owner, svix_id, event, &deleted.id)
}
