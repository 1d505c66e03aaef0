//! The event types Clerk publishes.

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

    fn is_deletion(data: &crate::EventData) -> bool {
        data.subject().is_some_and(|subject| subject.deleted)
    }

    /// A deletion mostly carries only `{id, deleted}`, which an object's own struct also
    /// accepts when only `id` is required: `dispatch` must pick `.deleted` out before the
    /// object's arm, or the deletion would be stored as an update that blanks every field.
    /// A deletion that carries its whole object (a membership's) is read from the corpus.
    #[test]
    fn every_deletion_is_read_as_a_deletion_and_nothing_else_is() {
        let corpus = clerk_sync_test_support::clerk_payloads();
        for event_type in CLERK_EVENT_TYPES {
            let (object, _) = event_type.split_once('.').unwrap();
            let bare = format!(
                r#"{{"type":"{event_type}","timestamp":1,"data":{{"id":"{object}_1","object":"{object}","deleted":true}}}}"#
            );
            let published = corpus
                .iter()
                .find(|(name, _)| name.starts_with(&format!("{event_type}__")));
            let body = match published {
                Some((_, body)) if crate::parse(bare.as_bytes(), 0).is_err() => body.clone(),
                _ => bare.into_bytes(),
            };
            let parsed = crate::parse(&body, 0);
            if event_type.ends_with(".deleted") {
                let event = parsed.unwrap_or_else(|e| panic!("{event_type}: {e}"));
                assert!(is_deletion(&event.data), "{event_type}: {:?}", event.data);
            } else if let Ok(event) = parsed {
                assert!(!is_deletion(&event.data), "{event_type}: {:?}", event.data);
            }
        }
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

    /// README's table of what each event does names every type Clerk publishes, and its
    /// count: a type added here is documented there, or this fails.
    #[test]
    fn readme_says_what_every_type_does() {
        let readme = include_str!("../../../README.md");
        let mut covered = std::collections::BTreeSet::new();
        let rows = readme
            .lines()
            .skip_while(|line| line.trim() != "| event types | table | effect |")
            .skip(2)
            .take_while(|line| line.starts_with('|'));
        for row in rows {
            let types = row.split('|').nth(1).unwrap_or_default();
            let mut object = "";
            for quoted in types.split('`').skip(1).step_by(2) {
                match quoted.split_once('.') {
                    Some(("", action)) => covered.insert(format!("{object}.{action}")),
                    Some((name, action)) => {
                        object = name;
                        covered.insert(format!("{name}.{action}"))
                    }
                    None => false,
                };
            }
        }
        for event_type in CLERK_EVENT_TYPES {
            let (object, _) = event_type.split_once('.').unwrap();
            assert!(
                covered.contains(*event_type) || covered.contains(&format!("{object}.*")),
                "README does not say what {event_type} does"
            );
        }
        let count = format!("These are all {} types", CLERK_EVENT_TYPES.len());
        assert!(readme.contains(&count), "README's count is not {count:?}");
    }
}
