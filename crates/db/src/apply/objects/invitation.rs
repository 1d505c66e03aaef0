//! `organizationInvitation.*`. An invitation accepted by a user who has since been deleted
//! keeps no address.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Invitation};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Personal, Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "organization_invitation";
/// Its advisory-lock keys' namespace: every worker of a rolling deploy must compute the
/// same keys, so this never changes.
const LOCK: &str = "invitation";

pub(crate) static TABLE: Table = Table {
    name: "organization_invitations",
    columns: &[
        "id",
        "organization_id",
        "email_address",
        "role",
        "role_name",
        "status",
        "user_id",
        "public_metadata",
        "expires_at",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: Some(Personal {
        owner: "user_id",
        columns: &["email_address"],
    }),
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

#[derive(Debug, Default, Serialize)]
pub(crate) struct InvitationRow<'a> {
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

newest_wins!(InvitationRow);

/// An accepted invitation takes its user's key too: that user's deletion erases it.
pub(crate) fn keys(invitation: &Invitation, keys: &mut Vec<i64>) {
    keys.push(lock_key(LOCK, &invitation.id));
    if let Some(user) = invitation.user_id.as_deref() {
        keys.push(lock_key(super::user::OBJECT, user));
    }
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    invitation: &'a Invitation,
) -> Result<(), DbError> {
    let row = InvitationRow {
        id: &invitation.id,
        organization_id: &invitation.organization_id,
        email_address: invitation.email_address.as_deref(),
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
    plan.invitations.offer(&invitation.id, row, Some(owner));
    Ok(())
}
