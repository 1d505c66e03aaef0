//! `user.*`: the user, their addresses and phone numbers, and a deletion's `{id, deleted}`.

use serde::Deserialize;

use crate::time::{millis, null_as_default};

/// A Clerk user, as `user.created` and `user.updated` carry it (and the Backend API returns
/// it). Only what clerk-sync stores is read; `private_metadata` deliberately is not.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct User {
    /// `user_…`.
    pub id: String,
    /// The application's own id for the user, when it set one.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Username, when the instance uses them.
    #[serde(default)]
    pub username: Option<String>,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Profile image.
    #[serde(default)]
    pub image_url: Option<String>,
    /// The older name of the profile image, read where `image_url` is absent.
    #[serde(default)]
    pub profile_image_url: Option<String>,
    /// Which of `email_addresses` is primary; may name none of them.
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    /// Which of `phone_numbers` is primary; may name none of them.
    #[serde(default)]
    pub primary_phone_number_id: Option<String>,
    /// Every address, primary or not.
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_addresses: Vec<EmailAddress>,
    /// Every phone number, primary or not.
    #[serde(default, deserialize_with = "null_as_default")]
    pub phone_numbers: Vec<PhoneNumber>,
    /// Metadata the application set and the frontend may read.
    #[serde(default)]
    pub public_metadata: Option<serde_json::Value>,
    /// Banned by an administrator.
    #[serde(default)]
    pub banned: Option<bool>,
    /// Locked out after too many failed attempts.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Has a second factor.
    #[serde(default)]
    pub two_factor_enabled: Option<bool>,
    /// Has a password.
    #[serde(default)]
    pub password_enabled: Option<bool>,
    /// Last sign-in, ms.
    #[serde(default, deserialize_with = "millis")]
    pub last_sign_in_at: Option<i64>,
    /// Last activity, ms.
    #[serde(default, deserialize_with = "millis")]
    pub last_active_at: Option<i64>,
    /// Creation in Clerk, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change in Clerk, ms: the version newest-wins compares.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

impl User {
    /// The profile image, under its current name or its older one.
    pub fn image(&self) -> Option<&str> {
        self.image_url
            .as_deref()
            .or(self.profile_image_url.as_deref())
    }

    /// The address `primary_email_address_id` names, or `None` when it names none.
    pub fn primary_email(&self) -> Option<&str> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id == primary)
            .map(|e| e.email_address.as_str())
    }

    /// The number `primary_phone_number_id` names, or `None` when it names none.
    pub fn primary_phone(&self) -> Option<&str> {
        let primary = self.primary_phone_number_id.as_deref()?;
        self.phone_numbers
            .iter()
            .find(|p| p.id == primary)
            .map(|p| p.phone_number.as_str())
    }
}

/// One of a user's email addresses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmailAddress {
    /// `idn_…`.
    pub id: String,
    /// The address.
    pub email_address: String,
    /// How it was verified, if it was.
    #[serde(default)]
    pub verification: Option<Verification>,
}

impl EmailAddress {
    /// Clerk's verification status, `verified` when it is.
    pub fn verification_status(&self) -> Option<&str> {
        self.verification.as_ref()?.status.as_deref()
    }

    /// Whether Clerk verified it.
    pub fn verified(&self) -> bool {
        self.verification_status() == Some("verified")
    }
}

/// A verification's outcome.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Verification {
    /// `verified`, `unverified`, `expired`, …
    #[serde(default)]
    pub status: Option<String>,
    /// How: `ticket`, `email_code`, `oauth_google`, …
    #[serde(default)]
    pub strategy: Option<String>,
}

/// One of a user's phone numbers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PhoneNumber {
    /// `idn_…`.
    pub id: String,
    /// The number, E.164.
    pub phone_number: String,
}

/// What a deletion event carries: the id, and sometimes `external_id` or `slug`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Deleted {
    /// The deleted object's id.
    pub id: String,
    /// The application's id for it, where Clerk sends one.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Its slug, for organizations and roles.
    #[serde(default)]
    pub slug: Option<String>,
}
