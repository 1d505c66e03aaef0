//! Clerk objects as the Backend API lists them, each kept as the exact text served.

/// 2024-05-28, in Clerk's ms: where the generated objects' times start.
pub const BASE_MS: i64 = 1_716_883_200_000;

/// An object as served: its text, and what the stub sorts and groups by.
#[derive(Debug, Clone)]
pub struct StubObject {
    /// Its Clerk id.
    pub id: String,
    /// The exact text served.
    pub raw: String,
    /// `created_at`, ms.
    pub created_at: i64,
    /// `updated_at`, ms.
    pub updated_at: i64,
    /// A membership's organization.
    pub organization_id: Option<String>,
    /// A membership's user.
    pub user_id: Option<String>,
}

/// A Clerk user, in the shape `GET /v1/users` returns.
pub fn user(n: usize, created_at: i64, updated_at: i64) -> StubObject {
    let id = format!("user_{n:027}");
    let raw = format!(
        r#"{{
  "id": "{id}",
  "object": "user",
  "username": null,
  "first_name": "User {n}",
  "last_name": "Zo\u00eb",
  "image_url": "https://img.clerk.com/{id}",
  "has_image": false,
  "primary_email_address_id": "idn_{n:027}",
  "primary_phone_number_id": null,
  "primary_web3_wallet_id": null,
  "password_enabled": true,
  "two_factor_enabled": false,
  "email_addresses": [ {{ "id": "idn_{n:027}", "object": "email_address", "email_address": "user{n}@example.com", "reserved": false, "verification": {{ "status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": null }}, "linked_to": [], "created_at": {created_at}, "updated_at": {created_at} }} ],
  "phone_numbers": [],
  "web3_wallets": [],
  "external_accounts": [],
  "public_metadata": {{ "plan": "pro", "score": 1.50 }},
  "private_metadata": {{ "internal": "never stored" }},
  "unsafe_metadata": {{}},
  "external_id": null,
  "last_sign_in_at": null,
  "banned": false,
  "locked": false,
  "created_at": {created_at},
  "updated_at": {updated_at},
  "last_active_at": null
}}"#
    );
    StubObject {
        id,
        raw,
        created_at,
        updated_at,
        organization_id: None,
        user_id: None,
    }
}

/// A Clerk organization, in the shape `GET /v1/organizations` returns.
pub fn organization(n: usize, created_at: i64, updated_at: i64) -> StubObject {
    let id = format!("org_{n:027}");
    let raw = organization_text(&id, n, created_at, updated_at);
    StubObject {
        id,
        raw,
        created_at,
        updated_at,
        organization_id: None,
        user_id: None,
    }
}

fn organization_text(id: &str, n: usize, created_at: i64, updated_at: i64) -> String {
    format!(
        r#"{{"object": "organization", "id": "{id}", "name": "Acme {n} \u00e9quipe", "slug": "acme-{n}", "image_url": "https://img.clerk.com/{id}", "has_image": false, "members_count": 2, "pending_invitations_count": 0, "max_allowed_memberships": 5, "admin_delete_enabled": true, "public_metadata": {{"tier": 1.50}}, "private_metadata": {{}}, "created_by": "user_{n:027}", "created_at": {created_at}, "updated_at": {updated_at}}}"#
    )
}

/// A membership of `user` in `organization`, in the shape the membership lists return: the
/// organization whole, and the member's public data.
pub fn membership(
    n: usize,
    organization: &StubObject,
    user_n: usize,
    updated_at: i64,
) -> StubObject {
    let id = format!("orgmem_{n:027}");
    let org_n: usize = organization
        .id
        .trim_start_matches("org_")
        .parse()
        .unwrap_or_default();
    let org = organization_text(
        &organization.id,
        org_n,
        organization.created_at,
        organization.updated_at,
    );
    let raw = format!(
        r#"{{
    "object": "organization_membership",
    "id": "{id}",
    "role": "org:member",
    "role_name": "Member",
    "permissions": ["org:sys_memberships:read"],
    "public_metadata": {{}},
    "private_metadata": {{}},
    "organization": {org},
    "public_user_data": {{"user_id": "user_{user_n:027}", "first_name": "User {user_n}", "last_name": "Zo\u00eb", "image_url": "https://img.clerk.com/u", "has_image": false, "identifier": "user{user_n}@example.com"}},
    "created_at": {created_at},
    "updated_at": {updated_at}
}}"#,
        created_at = organization.created_at,
    );
    StubObject {
        id,
        raw,
        created_at: organization.created_at + n as i64,
        updated_at,
        organization_id: Some(organization.id.clone()),
        user_id: Some(format!("user_{user_n:027}")),
    }
}
