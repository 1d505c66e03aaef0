//! The registry of Clerk objects: a module per object, whose type says everything about it
//! (see [`crate::apply::object`]), and the two lists everything over every object derives
//! from: `tables!`, the tables a batch writes, and [`visit`], an event to its object.
//! Adding an object is its module, a line in each, and the arms the compiler asks for.

pub(crate) mod domain;
pub(crate) mod invitation;
pub(crate) mod membership;
pub(crate) mod message;
pub(crate) mod organization;
pub(crate) mod payment_attempt;
pub(crate) mod permission;
pub(crate) mod role;
pub(crate) mod session;
pub(crate) mod subscription;
pub(crate) mod subscription_item;
pub(crate) mod user;
pub(crate) mod waitlist_entry;

use clerk_sync_events::{Channel, EventData};

use crate::apply::object::Visitor;
use crate::apply::tables::tables;

tables! {
    sessions: session::Session,
    organizations: organization::Organization,
    memberships: membership::Membership,
    invitations: invitation::Invitation,
    domains: domain::Domain,
    roles: role::Role,
    permissions: permission::Permission,
    messages: message::Messages,
    waitlist_entries: waitlist_entry::WaitlistEntry,
    subscriptions: subscription::Subscription,
    subscription_items: subscription_item::SubscriptionItem,
    payment_attempts: payment_attempt::PaymentAttempt,
}

/// The one match over every kind of event: which object it is about, and whether it
/// carries the object's state or deletes it. Every operation over an event's object (its
/// lock keys, its rows, its entry in the change feed) is a [`Visitor`] of this.
pub(crate) fn visit<'e, V: Visitor<'e>>(data: &'e EventData, v: V) -> V::Out {
    use EventData as D;
    match data {
        D::UserUpserted(u) => v.upserted::<user::User>(u),
        D::UserDeleted(d) => v.deleted::<user::User>(d),
        D::SessionUpserted(s) => v.upserted::<session::Session>(s),
        D::OrganizationUpserted(o) => v.upserted::<organization::Organization>(o),
        D::OrganizationDeleted(d) => v.deleted::<organization::Organization>(d),
        D::MembershipUpserted(m) => v.upserted::<membership::Membership>(m),
        D::MembershipDeleted(m) => v.deleted::<membership::Membership>(m),
        D::InvitationUpserted(i) => v.upserted::<invitation::Invitation>(i),
        D::DomainUpserted(d) => v.upserted::<domain::Domain>(d),
        D::DomainDeleted(d) => v.deleted::<domain::Domain>(d),
        D::RoleUpserted(r) => v.upserted::<role::Role>(r),
        D::RoleDeleted(d) => v.deleted::<role::Role>(d),
        D::PermissionUpserted(p) => v.upserted::<permission::Permission>(p),
        D::PermissionDeleted(d) => v.deleted::<permission::Permission>(d),
        D::MessageCreated(Channel::Email, m) => v.upserted::<message::Email>(m),
        D::MessageCreated(Channel::Sms, m) => v.upserted::<message::Sms>(m),
        D::WaitlistEntryUpserted(w) => v.upserted::<waitlist_entry::WaitlistEntry>(w),
        D::SubscriptionUpserted(s) => v.upserted::<subscription::Subscription>(s),
        D::SubscriptionItemUpserted(i) => v.upserted::<subscription_item::SubscriptionItem>(i),
        D::PaymentAttemptUpserted(p) => v.upserted::<payment_attempt::PaymentAttempt>(p),
        D::Unhandled => v.unhandled(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::object::Stored as _;

    /// A table's columns are its row's fields: what every statement of it relies on.
    #[test]
    fn every_table_writes_its_id_first_and_its_version_never_deleted_at() {
        for table in TABLES {
            let columns = table.columns();
            assert_eq!(columns.first(), Some(&"id"), "{}", table.name);
            for version in ["updated_at", "last_svix_id"] {
                assert!(columns.contains(&version), "{}: {version}", table.name);
            }
            // An upsert never brings a deleted object back.
            assert!(!columns.contains(&"deleted_at"), "{}", table.name);
            let mut unique = columns.to_vec();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), columns.len(), "{}", table.name);
        }
        let users = user::User::TABLE.columns();
        assert_eq!(users.first(), Some(&"clerk_id"));
        assert!(users.contains(&"updated_at") && users.contains(&"last_svix_id"));
    }

    /// A module with no entry in the registry would hold personal data no user's deletion
    /// erases, and deleted rows the change feed announces as back. (Its type would not
    /// compile either: an object's table must be registered.)
    #[test]
    fn every_object_module_has_its_table_in_the_registry() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/apply/objects");
        let mut modules: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".rs").map(str::to_owned))
            .filter(|name| name != "mod" && name != "user")
            .collect();
        modules.sort();
        assert_eq!(modules.len(), TABLES.len(), "modules: {modules:?}");
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len(), "a table registered twice");
    }

    #[test]
    fn personal_columns_are_columns_of_their_table() {
        let personal_tables: Vec<&str> = TABLES
            .iter()
            .filter(|t| t.personal.is_some())
            .map(|t| t.name)
            .collect();
        assert_eq!(
            personal_tables,
            ["sessions", "organization_invitations", "messages"]
        );
        for table in TABLES.iter().filter(|t| t.personal.is_some()) {
            let personal = table.personal.as_ref().expect("holds personal data");
            assert!(table.columns().contains(&personal.owner), "{}", table.name);
            for column in personal.columns {
                assert!(table.columns().contains(column), "{}.{column}", table.name);
            }
        }
    }

    /// The events crate says what each event is about (`EventData::subject`), this
    /// registry what it does to it: the two must name the same object, the same way.
    #[test]
    fn the_registry_and_the_events_crate_agree_on_each_events_object() {
        struct Subject;
        impl<'e> Visitor<'e> for Subject {
            type Out = Option<(&'e str, bool)>;
            fn upserted<O: crate::apply::object::Object>(self, s: &'e O::Source) -> Self::Out {
                Some((clerk_sync_events::ClerkObject::id(s), false))
            }
            fn deleted<O: crate::apply::object::Deletable>(self, d: &'e O::Deletion) -> Self::Out {
                Some((O::deleted_id(d), true))
            }
            fn unhandled(self) -> Self::Out {
                None
            }
        }
        for (name, body) in clerk_sync_test_support::clerk_payloads() {
            let event = clerk_sync_events::parse(&body, 0).expect(&name);
            let events = event.data.subject().map(|s| (s.id, s.deleted));
            assert_eq!(visit(&event.data, Subject), events, "{name}");
        }
    }
}
