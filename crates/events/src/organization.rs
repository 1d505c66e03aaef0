//! `organization.*`, `organizationMembership.*`, `organizationInvitation.*` and
//! `organizationDomain.*`.

use serde::Deserialize;

use crate::time::{millis, null_as_default};

/// A Clerk organization.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Organization {
    /// `org_…`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// URL-friendly name.
    #[serde(default)]
    pub slug: Option<String>,
    /// Logo.
    #[serde(default)]
    pub image_url: Option<String>,
    /// The user who created it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Members, as Clerk counted them at `updated_at`.
    #[serde(default)]
    pub members_count: Option<i32>,
    /// Invitations not yet answered.
    #[serde(default)]
    pub pending_invitations_count: Option<i32>,
    /// The membership limit (0: none).
    #[serde(default)]
    pub max_allowed_memberships: Option<i32>,
    /// Whether admins may delete it.
    #[serde(default)]
    pub admin_delete_enabled: Option<bool>,
    /// Metadata the application set and the frontend may read.
    #[serde(default)]
    pub public_metadata: Option<serde_json::Value>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// A user's membership in an organization, with the role it grants.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Membership {
    /// `orgmem_…`.
    pub id: String,
    /// Role key, e.g. `org:admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// Role display name.
    #[serde(default)]
    pub role_name: Option<String>,
    /// The permission keys the role grants.
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    /// Metadata the application set and the frontend may read.
    #[serde(default)]
    pub public_metadata: Option<serde_json::Value>,
    /// The organization, whole, as of this event.
    pub organization: Organization,
    /// The member. Only `user_id` is kept: the rest is the user's, and lives in `users`.
    pub public_user_data: MemberUser,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// Who a membership is for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MemberUser {
    /// `user_…`.
    pub user_id: String,
}

/// An invitation to join an organization.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Invitation {
    /// `orginv_…`.
    pub id: String,
    /// The organization invited to.
    pub organization_id: String,
    /// The address invited.
    #[serde(default)]
    pub email_address: Option<String>,
    /// Role key granted on acceptance.
    #[serde(default)]
    pub role: Option<String>,
    /// Role display name.
    #[serde(default)]
    pub role_name: Option<String>,
    /// `pending`, `accepted`, `revoked`, `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// The user who accepted it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Metadata the application set and the frontend may read.
    #[serde(default)]
    pub public_metadata: Option<serde_json::Value>,
    /// Expiry, ms.
    #[serde(default, deserialize_with = "millis")]
    pub expires_at: Option<i64>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// A domain an organization verified or claims, for automatic invitations or suggestions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Domain {
    /// `orgdmn_…`.
    pub id: String,
    /// The organization it belongs to.
    pub organization_id: String,
    /// The domain name.
    #[serde(default)]
    pub name: Option<String>,
    /// `manual_invitation`, `automatic_invitation`, `automatic_suggestion`.
    #[serde(default)]
    pub enrollment_mode: Option<String>,
    /// The address used to verify affiliation.
    #[serde(default)]
    pub affiliation_email_address: Option<String>,
    /// Verification state, when there is one.
    #[serde(default)]
    pub verification: Option<DomainVerification>,
    /// Invitations pending for the domain.
    #[serde(default)]
    pub total_pending_invitations: Option<i32>,
    /// Suggestions pending for the domain.
    #[serde(default)]
    pub total_pending_suggestions: Option<i32>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// How a domain was verified.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DomainVerification {
    /// `verified`, `unverified`, …
    #[serde(default)]
    pub status: Option<String>,
    /// `email_code`, `dns_record`, …
    #[serde(default)]
    pub strategy: Option<String>,
}
