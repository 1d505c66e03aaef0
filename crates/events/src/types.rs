/// Every event type Clerk publishes (its webhook specification, 2025-04-15), in order.
pub const CLERK_EVENT_TYPES: &[&str] = &[
    "email.created",
    "organization.created",
    "organization.deleted",
    "organization.updated",
    "organizationDomain.created",
    "organizationDomain.deleted",
    "organizationDomain.updated",
    "organizationInvitation.accepted",
    "organizationInvitation.created",
    "organizationInvitation.revoked",
    "organizationMembership.created",
    "organizationMembership.deleted",
    "organizationMembership.updated",
    "paymentAttempt.created",
    "paymentAttempt.updated",
    "permission.created",
    "permission.deleted",
    "permission.updated",
    "role.created",
    "role.deleted",
    "role.updated",
    "session.created",
    "session.ended",
    "session.pending",
    "session.removed",
    "session.revoked",
    "sms.created",
    "subscription.active",
    "subscription.created",
    "subscription.pastDue",
    "subscription.updated",
    "subscriptionItem.abandoned",
    "subscriptionItem.active",
    "subscriptionItem.canceled",
    "subscriptionItem.ended",
    "subscriptionItem.freeTrialEnding",
    "subscriptionItem.incomplete",
    "subscriptionItem.pastDue",
    "subscriptionItem.upcoming",
    "subscriptionItem.updated",
    "user.created",
    "user.deleted",
    "user.updated",
    "waitlistEntry.created",
    "waitlistEntry.updated",
];

/// Whether `event_type` is one of Clerk's.
pub fn is_clerk_type(event_type: &str) -> bool {
    CLERK_EVENT_TYPES.binary_search(&event_type).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_for_binary_search() {
        assert!(CLERK_EVENT_TYPES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_clerk_type("user.created"));
        assert!(!is_clerk_type("user.exploded"));
    }

    /// `dispatch` matches type names, so a type it forgets would be acknowledged and
    /// ignored without a word; every type Clerk publishes must reach a parser instead,
    /// which refuses a body without `data`.
    #[test]
    fn every_clerk_type_reaches_a_parser() {
        for event_type in CLERK_EVENT_TYPES {
            let body = format!(r#"{{"type":"{event_type}","timestamp":1,"data":null}}"#);
            match crate::parse(body.as_bytes(), 0) {
                Err(crate::ParseError::Invalid { path, .. }) => assert_eq!(path, "data"),
                other => panic!("{event_type} is not read by dispatch: {other:?}"),
            }
        }
    }
}
