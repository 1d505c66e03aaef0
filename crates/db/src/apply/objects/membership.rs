//! `organizationMembership.*`. Every one carries the whole membership and its organization;
//! a deletion's state is written like an update's, then its end is recorded. Only the
//! member's `user_id` is kept: their name and address belong to `users`, where a deletion
//! erases them.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Membership};
use serde::Serialize;

use crate::DbError;
use crate::apply::objects::organization;
use crate::apply::staged::{Deletion, newest_wins};
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "organization_membership";
/// Its advisory-lock keys' namespace: every worker of a rolling deploy must compute the
/// same keys, so this never changes.
const LOCK: &str = "membership";

pub(crate) static TABLE: Table = Table {
    name: "organization_memberships",
    columns: &[
        "id",
        "organization_id",
        "user_id",
        "role",
        "role_name",
        "permissions",
        "public_metadata",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: Some(OBJECT),
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

/// A membership's end: the earliest recorded. Its row exists, written by the upserts of the
/// same batch or before: the deletion carries the whole membership.
pub(crate) static END: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "WITH r AS MATERIALIZED (SELECT id, deleted_at \
             FROM json_populate_recordset(NULL::@schema.organization_memberships, $1::json)) \
         UPDATE @schema.organization_memberships t \
         SET deleted_at = (SELECT r.deleted_at FROM r WHERE r.id = t.id) \
         WHERE t.id = ANY (ARRAY(SELECT id FROM r)) \
             AND (t.deleted_at IS NULL OR t.deleted_at > (SELECT r.deleted_at FROM r WHERE r.id = t.id)) \
         RETURNING t.id, true",
    )
});

#[derive(Debug, Default, Serialize)]
pub(crate) struct MembershipRow<'a> {
    id: &'a str,
    organization_id: &'a str,
    user_id: &'a str,
    role: Option<&'a str>,
    role_name: Option<&'a str>,
    permissions: &'a [String],
    public_metadata: Option<&'a serde_json::Value>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(MembershipRow);

pub(crate) fn keys(membership: &Membership, keys: &mut Vec<i64>) {
    organization::keys(&membership.organization.id, keys);
    keys.push(lock_key(LOCK, &membership.id));
}

/// Stages the membership and its organization. A deletion's state is the owner's row only
/// when it is an update: the deletion's own outcome is its end's.
pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: Option<usize>,
    svix_id: &'a str,
    event: &Event,
    membership: &'a Membership,
) -> Result<(), DbError> {
    organization::stage(plan, None, svix_id, event, &membership.organization)?;
    let row = MembershipRow {
        id: &membership.id,
        organization_id: &membership.organization.id,
        user_id: &membership.public_user_data.user_id,
        role: membership.role.as_deref(),
        role_name: membership.role_name.as_deref(),
        permissions: &membership.permissions,
        public_metadata: membership.public_metadata.as_ref(),
        created_at: opt_time(membership.created_at, "data.created_at")?,
        updated_at: time(
            membership.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    plan.memberships.offer(&membership.id, row, owner);
    Ok(())
}

pub(crate) fn stage_end<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    membership: &'a Membership,
) -> Result<(), DbError> {
    stage(plan, None, svix_id, event, membership)?;
    let row = Deletion::new(&membership.id, time(event.timestamp, "timestamp")?, svix_id);
    plan.membership_ends.offer(&membership.id, row, Some(owner));
    Ok(())
}
