//! `organizationInvitation.*`. An invitation accepted by a user who has since been deleted
//! keeps no address.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use super::user::User;
use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;
use crate::apply::{lock_key, opt_time};

/// An invitation to join an organization.
pub(crate) struct Invitation;

static TABLE: Table = Table::new::<InvitationRow<'static>>("organization_invitations")
    .personal("user_id", &["email_address"]);

impl Stored for Invitation {
    type Row<'a> = InvitationRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for Invitation {
    const NAME: &'static str = "organization_invitation";
    const LOCK: &'static str = "invitation";
    type Source = events::Invitation;
    type Table = Self;

    /// An accepted invitation takes its user's key too: that user's deletion erases it.
    fn also_locks(invitation: &events::Invitation, keys: &mut Vec<i64>) {
        if let Some(user) = invitation.user_id.as_deref() {
            keys.push(lock_key(User::LOCK, user));
        }
    }

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        invitation: &'a events::Invitation,
    ) -> Result<InvitationRow<'a>, DbError> {
        Ok(InvitationRow {
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
            updated_at: Self::version(event, invitation)?,
            last_svix_id: svix_id,
        })
    }
}
