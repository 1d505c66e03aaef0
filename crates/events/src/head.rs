//! What every object Clerk sends whole has in common: its id and its version.

use crate::{
    Domain, Invitation, Membership, Message, Organization, PaymentAttempt, Permission, Role,
    Session, Subscription, SubscriptionItem, User, WaitlistEntry,
};

/// An object an event carries whole.
pub trait ClerkObject {
    /// Its Clerk id.
    fn id(&self) -> &str;
    /// Its `updated_at`, Unix ms, where it has one: the version newest-wins compares.
    fn updated_at(&self) -> Option<i64>;
}

macro_rules! versioned {
    ($($object:ty),+ $(,)?) => {$(
        impl ClerkObject for $object {
            fn id(&self) -> &str {
                &self.id
            }
            fn updated_at(&self) -> Option<i64> {
                self.updated_at
            }
        }
    )+};
}

versioned!(
    User,
    Session,
    Organization,
    Membership,
    Invitation,
    Domain,
    Role,
    Permission,
    WaitlistEntry,
    Subscription,
    SubscriptionItem,
    PaymentAttempt,
);

/// A message is never updated: it has no version of its own.
impl ClerkObject for Message {
    fn id(&self) -> &str {
        &self.id
    }
    fn updated_at(&self) -> Option<i64> {
        None
    }
}
