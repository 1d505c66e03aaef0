//! `role.*`: the role, with the keys of the permissions it grants; the permissions
//! themselves, which the event carries whole, are written by their own versions.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Deleted, Event};
use serde::Serialize;

use super::permission::Permission;
use crate::DbError;
use crate::apply::object::{self, Deletable, Object, Stored};
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;
use crate::apply::{Plan, opt_time};

/// A role members of an organization hold.
pub(crate) struct Role;

static TABLE: Table = Table::new::<RoleRow<'static>>("roles").deletable(Role::NAME, &[]);

impl Stored for Role {
    type Row<'a> = RoleRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for Role {
    const NAME: &'static str = "role";
    type Source = events::Role;
    type Table = Self;

    fn also_locks(role: &events::Role, keys: &mut Vec<i64>) {
        for permission in &role.permissions {
            Permission::lock_keys(permission, keys);
        }
    }

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        role: &'a events::Role,
    ) -> Result<RoleRow<'a>, DbError> {
        Ok(RoleRow {
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
            updated_at: Self::version(event, role)?,
            last_svix_id: svix_id,
        })
    }

    fn stage_carried<'a>(
        plan: &mut Plan<'a>,
        svix_id: &'a str,
        event: &'a Event,
        role: &'a events::Role,
    ) -> Result<(), DbError> {
        for permission in &role.permissions {
            object::stage::<Permission>(plan, None, svix_id, event, permission)?;
        }
        Ok(())
    }
}

impl Deletable for Role {
    type Deletion = Deleted;

    fn deleted_id(deleted: &Deleted) -> &str {
        &deleted.id
    }
}
