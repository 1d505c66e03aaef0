//! The objects the application API serves by id.

/// The objects the application API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `user_…`: the `user_profiles` row.
    User,
    /// `org_…`: the organization with its members.
    Organization,
}

impl ObjectKind {
    /// How Clerk's ids of this kind start.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "user_",
            Self::Organization => "org_",
        }
    }

    /// The name in `processed_webhooks` ids and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organization => "organization",
        }
    }

    /// The webhook event that carries an object of this kind whole.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::User => "user.updated",
            Self::Organization => "organization.updated",
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
        assert!(ObjectKind::User.is_valid_id("user_2abcDEF123"));
        assert!(ObjectKind::Organization.is_valid_id("org_29w9UeUYxqKGVc"));
        for bad in [
            "",
            "user_",
            "org_2abc",
            "user_../../admin",
            "user_2abc?x=1",
            "user_ä",
            &format!("user_{}", "a".repeat(80)),
        ] {
            assert!(!ObjectKind::User.is_valid_id(bad), "{bad}");
        }
    }
}
