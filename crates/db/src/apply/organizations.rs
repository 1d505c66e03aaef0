//! `organization.*`, `organizationMembership.*`, `organizationInvitation.*`,
//! `organizationDomain.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Domain, Event, Invitation, Membership, Organization};
use diesel::{BoolExpressionMethods as _, ExpressionMethods as _, Insertable, QueryDsl as _};
use diesel_async::AsyncPgConnection;

use super::versioned::{mark_deleted, upsert_newer};
use super::{Outcome, opt_time, time, users};
use crate::DbError;
use crate::schema::{
    organization_domains, organization_invitations, organization_memberships, organizations,
};

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = organizations, treat_none_as_null = true)]
struct OrganizationRow<'a> {
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

/// The organization's state, unless a newer one stands. Membership events carry the whole
/// organization too, and feed it through here: an organization whose own events were never
/// delivered is still known.
pub(super) async fn upsert(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    org: &Organization,
) -> Result<Outcome, DbError> {
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
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        organizations,
        &row
    )))
}

pub(super) async fn delete(
    mut conn: &AsyncPgConnection,
    event: &Event,
    deleted: &Deleted,
) -> Result<Outcome, DbError> {
    let at = time(event.timestamp, "timestamp")?;
    let written = mark_deleted!(
        &mut conn,
        organizations,
        &deleted.id,
        at,
        organizations::slug.eq(deleted.slug.as_deref())
    );
    Ok(Outcome::written(written))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = organization_memberships, treat_none_as_null = true)]
struct MembershipRow<'a> {
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

/// The membership (and the organization it carries). Only the member's `user_id` is kept:
/// their name and address belong to `users`, where a deletion erases them.
pub(super) async fn upsert_membership(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    membership: &Membership,
) -> Result<Outcome, DbError> {
    upsert(conn, svix_id, event, &membership.organization).await?;
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
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        organization_memberships,
        &row
    )))
}

/// A membership's deletion carries the whole membership: its state was written with the
/// upserts; this records its end (the earliest, if several).
pub(super) async fn end_membership(
    mut conn: &AsyncPgConnection,
    event: &Event,
    membership: &Membership,
) -> Result<Outcome, DbError> {
    let at = time(event.timestamp, "timestamp")?;
    // Only a first end, or an earlier one, changes the row: a redelivered end is stale.
    let ends = organization_memberships::deleted_at
        .is_null()
        .or(organization_memberships::deleted_at.gt(at));
    let written = diesel_async::RunQueryDsl::execute(
        diesel::update(
            organization_memberships::table
                .find(&membership.id)
                .filter(ends),
        )
        .set(
            organization_memberships::deleted_at.eq(super::versioned::least(
                organization_memberships::deleted_at,
                Some(at),
            )),
        ),
        &mut conn,
    )
    .await?;
    Ok(Outcome::written(written))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = organization_invitations, treat_none_as_null = true)]
struct InvitationRow<'a> {
    id: &'a str,
    organization_id: &'a str,
    email_address: Option<&'a str>,
    role: Option<&'a str>,
    role_name: Option<&'a str>,
    status: Option<&'a str>,
    user_id: Option<&'a str>,
    public_metadata: Option<&'a serde_json::Value>,
    expires_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

/// An invitation accepted by a user who has since been deleted keeps no address.
pub(super) async fn upsert_invitation(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    invitation: &Invitation,
) -> Result<Outcome, DbError> {
    let erased = match invitation.user_id.as_deref() {
        Some(user) => users::is_tombstoned(conn, user).await?,
        None => false,
    };
    let row = InvitationRow {
        id: &invitation.id,
        organization_id: &invitation.organization_id,
        email_address: if erased {
            None
        } else {
            invitation.email_address.as_deref()
        },
        role: invitation.role.as_deref(),
        role_name: invitation.role_name.as_deref(),
        status: invitation.status.as_deref(),
        user_id: invitation.user_id.as_deref(),
        public_metadata: invitation.public_metadata.as_ref(),
        expires_at: opt_time(invitation.expires_at, "data.expires_at")?,
        created_at: opt_time(invitation.created_at, "data.created_at")?,
        updated_at: time(
            invitation.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        organization_invitations,
        &row
    )))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = organization_domains, treat_none_as_null = true)]
struct DomainRow<'a> {
    id: &'a str,
    organization_id: Option<&'a str>,
    name: Option<&'a str>,
    enrollment_mode: Option<&'a str>,
    affiliation_email_address: Option<&'a str>,
    verification_status: Option<&'a str>,
    verification_strategy: Option<&'a str>,
    total_pending_invitations: Option<i32>,
    total_pending_suggestions: Option<i32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

pub(super) async fn upsert_domain(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    domain: &Domain,
) -> Result<Outcome, DbError> {
    let verification = domain.verification.as_ref();
    let row = DomainRow {
        id: &domain.id,
        organization_id: Some(&domain.organization_id),
        name: domain.name.as_deref(),
        enrollment_mode: domain.enrollment_mode.as_deref(),
        affiliation_email_address: domain.affiliation_email_address.as_deref(),
        verification_status: verification.and_then(|v| v.status.as_deref()),
        verification_strategy: verification.and_then(|v| v.strategy.as_deref()),
        total_pending_invitations: domain.total_pending_invitations,
        total_pending_suggestions: domain.total_pending_suggestions,
        created_at: opt_time(domain.created_at, "data.created_at")?,
        updated_at: time(
            domain.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        organization_domains,
        &row
    )))
}

pub(super) async fn delete_domain(
    mut conn: &AsyncPgConnection,
    event: &Event,
    deleted: &Deleted,
) -> Result<Outcome, DbError> {
    let at = time(event.timestamp, "timestamp")?;
    Ok(Outcome::written(mark_deleted!(
        &mut conn,
        organization_domains,
        &deleted.id,
        at
    )))
}
