//! `role.*` and `permission.*`: roles and the permissions they grant.

use serde::Deserialize;

use crate::time::{millis, null_as_default};

/// An organization role, with the permissions it grants.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Role {
    /// `role_…`.
    pub id: String,
    /// `org:admin`, `org:content_manager`, …
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// What the role is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether an organization's creator may be given it.
    #[serde(default)]
    pub is_creator_eligible: Option<bool>,
    /// The permissions it grants, whole.
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<Permission>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// A permission a role may grant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Permission {
    /// `perm_…`.
    pub id: String,
    /// `org:posts:create`, …
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// What it allows.
    #[serde(default)]
    pub description: Option<String>,
    /// `system` or `custom`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}
