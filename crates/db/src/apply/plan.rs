//! A batch staged per table, then written in three rounds of statements sent together.
//!
//! Statements of one round do not depend on each other, so they are sent at once and run in
//! whatever order; a round that reads what an earlier one wrote waits for it:
//!
//! 1. Users' deletions: tombstones, and the erasure of what other tables hold of them.
//! 2. Every upsert, and the rows deletions leave. An upsert of a deleted user, or of a
//!    session or message of one, finds the tombstone of round 1, as it would after.
//! 3. What follows a row just written: a user's addresses, a membership's end.

use std::collections::HashSet;

use super::objects::{
    domain, invitation, membership, message, organization, payment_attempt, permission, role,
    session, subscription, subscription_item, user, waitlist_entry,
};
use super::staged::{Deletion, Staged};
use super::statement::Tx;
use super::{DeleteMode, Outcome};
use crate::DbError;

/// Every table's rows for one batch, one per object, each with the event it belongs to.
#[derive(Default)]
pub(crate) struct Plan<'a> {
    pub(crate) user_deletions: Staged<'a, user::Tombstone<'a>>,
    pub(crate) users: Staged<'a, user::UserRow<'a>>,
    pub(crate) sessions: Staged<'a, session::SessionRow<'a>>,
    pub(crate) organizations: Staged<'a, organization::OrganizationRow<'a>>,
    pub(crate) organization_deletions: Staged<'a, Deletion<'a>>,
    pub(crate) memberships: Staged<'a, membership::MembershipRow<'a>>,
    pub(crate) membership_ends: Staged<'a, Deletion<'a>>,
    pub(crate) invitations: Staged<'a, invitation::InvitationRow<'a>>,
    pub(crate) domains: Staged<'a, domain::DomainRow<'a>>,
    pub(crate) domain_deletions: Staged<'a, Deletion<'a>>,
    pub(crate) roles: Staged<'a, role::RoleRow<'a>>,
    pub(crate) role_deletions: Staged<'a, Deletion<'a>>,
    pub(crate) permissions: Staged<'a, permission::PermissionRow<'a>>,
    pub(crate) permission_deletions: Staged<'a, Deletion<'a>>,
    pub(crate) messages: Staged<'a, message::MessageRow<'a>>,
    pub(crate) waitlist_entries: Staged<'a, waitlist_entry::WaitlistRow<'a>>,
    pub(crate) subscriptions: Staged<'a, subscription::SubscriptionRow<'a>>,
    pub(crate) subscription_items: Staged<'a, subscription_item::ItemRow<'a>>,
    pub(crate) payment_attempts: Staged<'a, payment_attempt::PaymentRow<'a>>,
}

impl Plan<'_> {
    /// Writes every staged row and marks `Applied` each event whose own row was written
    /// (and `quiet` each that left its object at the version it had); the others keep the
    /// outcome they had (`Stale`).
    pub(crate) async fn write(
        &self,
        tx: Tx<'_>,
        mode: DeleteMode,
        outcomes: &mut [Outcome],
        quiet: &mut HashSet<usize>,
    ) -> Result<(), DbError> {
        let deleted = user::write_deletions(tx, self).await?;
        self.user_deletions.settle(&deleted, outcomes, quiet);

        let (
            (),
            users,
            sessions,
            organizations,
            organization_deletions,
            memberships,
            invitations,
            domains,
            domain_deletions,
            roles,
            role_deletions,
            permissions,
            permission_deletions,
            messages,
            waitlist_entries,
            subscriptions,
            subscription_items,
            payment_attempts,
        ) = tokio::try_join!(
            user::write_deleted_rows(tx, self, mode),
            user::write_upserts(tx, self),
            self.sessions.write(tx, &session::UPSERT),
            self.organizations.write(tx, &organization::UPSERT),
            self.organization_deletions.write(tx, &organization::DELETE),
            self.memberships.write(tx, &membership::UPSERT),
            self.invitations.write(tx, &invitation::UPSERT),
            self.domains.write(tx, &domain::UPSERT),
            self.domain_deletions.write(tx, &domain::DELETE),
            self.roles.write(tx, &role::UPSERT),
            self.role_deletions.write(tx, &role::DELETE),
            self.permissions.write(tx, &permission::UPSERT),
            self.permission_deletions.write(tx, &permission::DELETE),
            self.messages.write(tx, &message::UPSERT),
            self.waitlist_entries.write(tx, &waitlist_entry::UPSERT),
            self.subscriptions.write(tx, &subscription::UPSERT),
            self.subscription_items
                .write(tx, &subscription_item::UPSERT),
            self.payment_attempts.write(tx, &payment_attempt::UPSERT),
        )?;
        self.users.settle(&users, outcomes, quiet);
        self.sessions.settle(&sessions, outcomes, quiet);
        self.organizations.settle(&organizations, outcomes, quiet);
        self.organization_deletions
            .settle(&organization_deletions, outcomes, quiet);
        self.memberships.settle(&memberships, outcomes, quiet);
        self.invitations.settle(&invitations, outcomes, quiet);
        self.domains.settle(&domains, outcomes, quiet);
        self.domain_deletions
            .settle(&domain_deletions, outcomes, quiet);
        self.roles.settle(&roles, outcomes, quiet);
        self.role_deletions.settle(&role_deletions, outcomes, quiet);
        self.permissions.settle(&permissions, outcomes, quiet);
        self.permission_deletions
            .settle(&permission_deletions, outcomes, quiet);
        self.messages.settle(&messages, outcomes, quiet);
        self.waitlist_entries
            .settle(&waitlist_entries, outcomes, quiet);
        self.subscriptions.settle(&subscriptions, outcomes, quiet);
        self.subscription_items
            .settle(&subscription_items, outcomes, quiet);
        self.payment_attempts
            .settle(&payment_attempts, outcomes, quiet);

        let ((), ends) = tokio::try_join!(
            user::write_addresses(tx, self, &users),
            self.membership_ends.write(tx, &membership::END),
        )?;
        self.membership_ends.settle(&ends, outcomes, quiet);
        Ok(())
    }
}
