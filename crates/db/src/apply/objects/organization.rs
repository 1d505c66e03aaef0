//! `organization.created`, `organization.updated`, `organization.deleted`. Membership
//! events carry the whole organization too, and feed it through here: an organization whose
//! own events were never delivered is still known.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Deleted, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Deletable, Object, Stored};
use crate::apply::staged::{Deletion, newest_wins};
use crate::apply::table::Table;
use crate::apply::{Plan, opt_time, time};

/// An organization.
pub(crate) struct Organization;

/// A deletion carries the slug, kept on a row the deletion creates.
static TABLE: Table = Table::new::<OrganizationRow<'static>>("organizations")
    .deletable(Organization::NAME, &["slug"]);

impl Stored for Organization {
    type Row<'a> = OrganizationRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for Organization {
    const NAME: &'static str = "organization";
    type Source = events::Organization;
    type Table = Self;
    const LISTED: Option<clerk_sync_events::Kind> = Some(clerk_sync_events::Kind::Organization);

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        org: &'a events::Organization,
    ) -> Result<OrganizationRow<'a>, DbError> {
        Ok(OrganizationRow {
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
            updated_at: Self::version(event, org)?,
            last_svix_id: svix_id,
        })
    }
}

impl Deletable for Organization {
    type Deletion = Deleted;

    fn deleted_id(deleted: &Deleted) -> &str {
        &deleted.id
    }

    /// The deletion keeps the slug it carries.
    fn stage_deletion<'a>(
        plan: &mut Plan<'a>,
        owner: usize,
        svix_id: &'a str,
        event: &'a Event,
        deleted: &'a Deleted,
    ) -> Result<(), DbError> {
        let mut row = Deletion::new(&deleted.id, time(event.timestamp, "timestamp")?, svix_id);
        row.slug = deleted.slug.as_deref();
        plan.tables
            .organizations
            .deletions
            .offer(&deleted.id, row, Some(owner));
        Ok(())
    }
}
