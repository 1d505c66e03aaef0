//! The kinds of Clerk object clerk-sync mirrors from the Backend API's lists: the one enum
//! backfill, `verify`, reconciliation, on-demand fetches and the database's inventory share.

/// An object Clerk's Backend API lists, which clerk-sync backfills, verifies and
/// reconciles. Users and organizations are also fetched by id ([`Kind::fetched_by_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `user_…`: `GET /v1/users`.
    User,
    /// `org_…`: `GET /v1/organizations`.
    Organization,
    /// `orgmem_…`: `GET /v1/organization_memberships`, or per organization.
    Membership,
}

impl Kind {
    /// Every kind, in the order they are read: a membership's organization and user before it.
    pub const ALL: [Kind; 3] = [Kind::User, Kind::Organization, Kind::Membership];

    /// Clerk's `object` for it: its name in queued ids, messages and the change feed.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organization => "organization",
            Self::Membership => "organization_membership",
        }
    }

    /// The plural, as `--only`, progress records, reports and metrics spell it.
    pub fn plural(self) -> &'static str {
        match self {
            Self::User => "users",
            Self::Organization => "organizations",
            Self::Membership => "memberships",
        }
    }

    /// The kind `plural` names, as [`Kind::plural`] spells it.
    pub fn from_plural(plural: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.plural() == plural)
    }

    /// The webhook event that carries an object of this kind whole.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::User => "user.updated",
            Self::Organization => "organization.updated",
            Self::Membership => "organizationMembership.updated",
        }
    }

    /// How Clerk's ids of this kind start.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "user_",
            Self::Organization => "org_",
            Self::Membership => "orgmem_",
        }
    }

    /// Whether Clerk serves one object of this kind by id (`GET /v1/users/{id}`), which the
    /// application API and `clerk-sync sync` fetch. Clerk has no such call for a membership.
    pub fn fetched_by_id(self) -> bool {
        match self {
            Self::User | Self::Organization => true,
            Self::Membership => false,
        }
    }

    /// Whether `id` is of Clerk's form for this kind: the prefix, then letters and digits.
    /// Anything else never reaches Clerk or the database.
    pub fn is_valid_id(self, id: &str) -> bool {
        id.len() <= 64
            && id.strip_prefix(self.prefix()).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_clerks_form_only() {
        assert!(Kind::User.is_valid_id("user_2abcDEF123"));
        assert!(Kind::Organization.is_valid_id("org_29w9UeUYxqKGVc"));
        for bad in [
            "",
            "user_",
            "org_2abc",
            "user_../../admin",
            "user_2abc?x=1",
            "user_ä",
            &format!("user_{}", "a".repeat(80)),
        ] {
            assert!(!Kind::User.is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn every_kind_is_listed_once_and_named_back() {
        let mut all = Kind::ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert_eq!(Kind::from_plural(kind.plural()), Some(kind));
            assert!(crate::is_clerk_type(kind.event_type()), "{kind:?}");
        }
    }
}
