//! `organizationMembership.*`. Every one carries the whole membership and its organization;
//! a deletion's state is written like an update's, then its end is recorded. Only the
//! member's `user_id` is kept: their name and address belong to `users`, where a deletion
//! erases them.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use super::organization::Organization;
use crate::DbError;
use crate::apply::object::{self, Deletable, Object, Registered as _, Round, Stored};
use crate::apply::staged::{Deletion, newest_wins};
use crate::apply::statement::Sql;
use crate::apply::table::Table;
use crate::apply::{Plan, opt_time, time};

/// A user's membership of an organization.
pub(crate) struct Membership;

static TABLE: Table = Table::new::<MembershipRow<'static>>("organization_memberships")
    .deletable(Membership::NAME, &[]);

/// A membership's end: the earliest recorded. Its row exists, written by the upserts of the
/// same batch or before: the deletion carries the whole membership.
static END: LazyLock<Sql> = LazyLock::new(|| {
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

impl Stored for Membership {
    type Row<'a> = MembershipRow<'a>;
    const TABLE: &'static Table = &TABLE;
    /// After the upserts, which write the row the end is recorded on.
    fn deletions() -> Option<(Round, &'static Sql)> {
        Some((Round::Three, &END))
    }
}

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

impl Object for Membership {
    const NAME: &'static str = "organization_membership";
    const LOCK: &'static str = "membership";
    type Source = events::Membership;
    type Table = Self;
    const LISTED: Option<clerk_sync_events::Kind> = Some(clerk_sync_events::Kind::Membership);

    fn also_locks(membership: &events::Membership, keys: &mut Vec<i64>) {
        Organization::lock_keys(&membership.organization, keys);
    }

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        membership: &'a events::Membership,
    ) -> Result<MembershipRow<'a>, DbError> {
        Ok(MembershipRow {
            id: &membership.id,
            organization_id: &membership.organization.id,
            user_id: &membership.public_user_data.user_id,
            role: membership.role.as_deref(),
            role_name: membership.role_name.as_deref(),
            permissions: &membership.permissions,
            public_metadata: membership.public_metadata.as_ref(),
            created_at: opt_time(membership.created_at, "data.created_at")?,
            updated_at: Self::version(event, membership)?,
            last_svix_id: svix_id,
        })
    }

    fn stage_carried<'a>(
        plan: &mut Plan<'a>,
        svix_id: &'a str,
        event: &'a Event,
        membership: &'a events::Membership,
    ) -> Result<(), DbError> {
        object::stage::<Organization>(plan, None, svix_id, event, &membership.organization)
    }
}

/// A deletion carries the whole membership, as it was.
impl Deletable for Membership {
    type Deletion = events::Membership;

    fn deleted_id(membership: &events::Membership) -> &str {
        &membership.id
    }

    fn deletion_keys(membership: &events::Membership, keys: &mut Vec<i64>) {
        Self::lock_keys(membership, keys);
    }

    /// The state is written like an update's, but the deletion's own outcome is its end's.
    fn stage_deletion<'a>(
        plan: &mut Plan<'a>,
        owner: usize,
        svix_id: &'a str,
        event: &'a Event,
        membership: &'a events::Membership,
    ) -> Result<(), DbError> {
        object::stage::<Self>(plan, None, svix_id, event, membership)?;
        let row = Deletion::new(&membership.id, time(event.timestamp, "timestamp")?, svix_id);
        Self::rows(plan)
            .deletions
            .offer(&membership.id, row, Some(owner));
        Ok(())
    }
}
