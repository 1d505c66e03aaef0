//! `email.created`, `sms.created` and `waitlistEntry.*`.

use serde::Deserialize;

use crate::time::millis;

/// Which channel a message went out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `email.created`.
    Email,
    /// `sms.created`.
    Sms,
}

impl Channel {
    /// `email` or `sms`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// An email or SMS Clerk sent or queued. The subject, the body and the template data are
/// never read: they hold one-time codes and links.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// `ema_…` or `sms_…`.
    pub id: String,
    /// The recipient's user, when there is one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The email address it went to.
    #[serde(default)]
    pub to_email_address: Option<String>,
    /// The phone number it went to.
    #[serde(default)]
    pub to_phone_number: Option<String>,
    /// The recipient's `email_address_id`.
    #[serde(default)]
    pub email_address_id: Option<String>,
    /// The recipient's `phone_number_id`.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The template, e.g. `verification_code`.
    #[serde(default)]
    pub slug: Option<String>,
    /// `queued`, `sent`, `delivered`, `failed`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Whether Clerk delivers it (false: the application does).
    #[serde(default)]
    pub delivered_by_clerk: Option<bool>,
    /// Creation, ms (SMS only; emails are timed by their event).
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
}

impl Message {
    /// The address or number it went to.
    pub fn recipient(&self) -> Option<&str> {
        self.to_email_address
            .as_deref()
            .or(self.to_phone_number.as_deref())
    }

    /// The recipient's id in Clerk.
    pub fn recipient_id(&self) -> Option<&str> {
        self.email_address_id
            .as_deref()
            .or(self.phone_number_id.as_deref())
    }
}

/// Someone on the waitlist.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WaitlistEntry {
    /// `wle_…`.
    pub id: String,
    /// The address that asked to join.
    #[serde(default)]
    pub email_address: Option<String>,
    /// `pending`, `invited`, `completed`, `rejected`.
    #[serde(default)]
    pub status: Option<String>,
    /// Whether it can no longer change.
    #[serde(default)]
    pub is_locked: Option<bool>,
    /// The invitation sent, if one was.
    #[serde(default)]
    pub invitation: Option<WaitlistInvitation>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// The invitation a waitlist entry led to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WaitlistInvitation {
    /// `inv_…`.
    pub id: String,
}
