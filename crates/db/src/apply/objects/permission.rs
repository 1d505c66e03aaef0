//! `permission.*`. Role events carry their permissions whole, and feed them through here.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Deleted, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Deletable, Object, Stored};
use crate::apply::opt_time;
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;

/// A permission roles grant.
pub(crate) struct Permission;

static TABLE: Table =
    Table::new::<PermissionRow<'static>>("permissions").deletable(Permission::NAME, &[]);

impl Stored for Permission {
    type Row<'a> = PermissionRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for Permission {
    const NAME: &'static str = "permission";
    type Source = events::Permission;
    type Table = Self;

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        permission: &'a events::Permission,
    ) -> Result<PermissionRow<'a>, DbError> {
        Ok(PermissionRow {
            id: &permission.id,
            key: permission.key.as_deref(),
            name: permission.name.as_deref(),
            description: permission.description.as_deref(),
            kind: permission.kind.as_deref(),
            created_at: opt_time(permission.created_at, "data.created_at")?,
            updated_at: Self::version(event, permission)?,
            last_svix_id: svix_id,
        })
    }
}

impl Deletable for Permission {
    type Deletion = Deleted;

    fn deleted_id(deleted: &Deleted) -> &str {
        &deleted.id
    }
}
