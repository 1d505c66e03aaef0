//! `session.*`.

use serde::Deserialize;

use crate::time::millis;

/// A Clerk session, as every `session.*` event carries it whole.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Session {
    /// `sess_…`.
    pub id: String,
    /// The user signed in.
    pub user_id: String,
    /// The browser or device the session lives in.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `active`, `ended`, `removed`, `revoked`, `pending`, `expired`, `abandoned`, …
    #[serde(default)]
    pub status: Option<String>,
    /// The organization the user last acted in.
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    /// Last activity, ms.
    #[serde(default, deserialize_with = "millis")]
    pub last_active_at: Option<i64>,
    /// When it expires, ms.
    #[serde(default, deserialize_with = "millis")]
    pub expire_at: Option<i64>,
    /// When it is abandoned if unused, ms.
    #[serde(default, deserialize_with = "millis")]
    pub abandon_at: Option<i64>,
    /// Creation, ms: the sign-in.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}
