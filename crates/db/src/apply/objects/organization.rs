//! `organization.created`, `organization.updated`, `organization.deleted`. Membership
//! events carry the whole organization too, and feed it through here: an organization whose
//! own events were never delivered is still known.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Event, Organization};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::{Deletion, newest_wins};
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "organization";

pub(crate) static TABLE: Table = Table {
    name: "organizations",
    columns: &[
        "id",
        "name",
        "slug",
        "image_url",
        "created_by",
        "members_count",
        "pending_invitations_count",
        "max_allowed_memberships",
        "admin_delete_enabled",
        "public_metadata",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: Some(OBJECT),
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());
/// A deletion carries the slug, kept on a row the deletion creates.
pub(crate) static DELETE: LazyLock<Sql> = LazyLock::new(|| TABLE.mark_deleted(&["slug"]));

#[derive(Debug, Default, Serialize)]
pub(crate) struct OrganizationRow<'a> {
    id: &'a str,
    name: Option<&'a str>,
    slug: Option<&'a str>,
    image_url: Option<&'a str>,
    created_by: Option<&'a str>,
    members_count: Option<i32>,
    pending_invitations_count: Option<i32>,
    max_allowed_memberships: Option<i32>,
    admin_delete_enabled: Option<bool>,
    public_metadata: Option<&'a serde_json::Value>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(OrganizationRow);

pub(crate) fn keys(id: &str, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, id));
}

/// Stages the organization's state; `owner` is the event whose own object it is, if any.
pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: Option<usize>,
    svix_id: &'a str,
    event: &Event,
    org: &'a Organization,
) -> Result<(), DbError> {
    let row = OrganizationRow {
        id: &org.id,
        name: org.name.as_deref(),
        slug: org.slug.as_deref(),
        image_url: org.image_url.as_deref(),
        created_by: org.created_by.as_deref(),
        members_count: org.members_count,
        pending_invitations_count: org.pending_invitations_count,
        max_allowed_memberships: org.max_allowed_memberships,
        admin_delete_enabled: org.admin_delete_enabled,
        public_metadata: org.public_metadata.as_ref(),
        created_at: opt_time(org.created_at, "data.created_at")?,
        updated_at: time(org.updated_at.unwrap_or(event.timestamp), "data.updated_at")?,
        last_svix_id: svix_id,
    };
    plan.organizations.offer(&org.id, row, owner);
    Ok(())
}

pub(crate) fn stage_deletion<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    deleted: &'a Deleted,
) -> Result<(), DbError> {
    let mut row = Deletion::new(&deleted.id, time(event.timestamp, "timestamp")?, svix_id);
    row.slug = deleted.slug.as_deref();
    plan.organization_deletions
        .offer(&deleted.id, row, Some(owner));
    Ok(())
}
