//! What the load is made of: ~2.5 KB `user.updated` bodies like Clerk's, for a pool of users,
//! each with its own `svix-id`, signed just before the run.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clerk_sync_signature::{SigningSecret, sign};
use serde_json::{Value, json};

/// Clerk's published `user.updated`, with the addresses and phone number a real user has.
const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../test-support/corpus/clerk/user.updated__clerk-openapi-specs.json"
));

/// A body for user `n` at version `version` (ms).
pub fn user_updated(n: usize, version: i64) -> Bytes {
    let mut event: Value = serde_json::from_str(EXAMPLE).unwrap_or_default();
    let id = format!("user_bench{n:07}");
    let address = |tag: &str| {
        json!({
            "id": format!("idn_{tag}{n:07}"), "object": "email_address",
            "email_address": format!("{tag}.user{n}@example.com"),
            "reserved": false, "linked_to": [],
            "verification": {"status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": version},
            "created_at": version, "updated_at": version
        })
    };
    event["timestamp"] = json!(version);
    let data = &mut event["data"];
    data["id"] = json!(id);
    data["primary_email_address_id"] = json!(format!("idn_a{n:07}"));
    data["email_addresses"] = json!([address("a"), address("b")]);
    data["phone_numbers"] = json!([{"id": format!("idn_p{n:07}"), "object": "phone_number",
        "phone_number": "+15555550100", "reserved_for_second_factor": false, "default_second_factor": false,
        "verification": {"status": "verified", "strategy": "phone_code", "attempts": 1}, "linked_to": []}]);
    data["primary_phone_number_id"] = json!(format!("idn_p{n:07}"));
    data["external_accounts"] = json!([{"id": format!("eac_{n:07}"), "object": "google_account",
        "provider": "oauth_google", "identification_id": format!("idn_g{n:07}"),
        "provider_user_id": format!("1{n:020}"), "approved_scopes": "email profile openid",
        "email_address": format!("a.user{n}@example.com"), "first_name": "Bench", "last_name": "User",
        "image_url": "https://img.clerk.com/xxxxxx", "username": null, "public_metadata": {},
        "verification": {"status": "verified", "strategy": "oauth_google"}}]);
    data["public_metadata"] = json!({"plan": "pro", "team": "bench"});
    data["updated_at"] = json!(version);
    Bytes::from(event.to_string())
}

/// Clerk's published `session.created` and `email.created`, for the capacity phase.
const SESSION_EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../test-support/corpus/clerk/session.created__clerk-openapi-specs.json"
));
const EMAIL_EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../test-support/corpus/clerk/email.created__clerk-openapi-specs.json"
));

/// Clerk's example `event` with the ids of session (or email) `n` of user `n`, at
/// `version` (ms), from the instance the `user.updated` bodies come from: one database
/// mirrors one instance.
fn example(template: &str, n: usize, version: i64, id: String) -> Value {
    let instance =
        serde_json::from_str::<Value>(EXAMPLE).unwrap_or_default()["instance_id"].clone();
    let mut event: Value = serde_json::from_str(template).unwrap_or_default();
    event["instance_id"] = instance;
    event["timestamp"] = json!(version);
    let data = &mut event["data"];
    data["id"] = json!(id);
    data["user_id"] = json!(format!("user_bench{n:07}"));
    data["created_at"] = json!(version);
    data["updated_at"] = json!(version);
    event
}

/// A sign-in of user `n`: its `session.created`.
pub fn session_created(n: usize, version: i64) -> Bytes {
    let mut event = example(SESSION_EXAMPLE, n, version, format!("sess_bench{n:07}"));
    event["data"]["last_active_at"] = json!(version);
    Bytes::from(event.to_string())
}

/// A verification code mailed to user `n`: its `email.created`, with the full HTML body
/// Clerk sends.
pub fn email_created(n: usize, version: i64) -> Bytes {
    let event = example(EMAIL_EXAMPLE, n, version, format!("ema_bench{n:07}"));
    Bytes::from(event.to_string())
}

/// One signed request: the headers Svix sends, and the body.
#[derive(Clone)]
pub struct Signed {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Bytes,
}

/// Signs `body` under a fresh `svix-id` with the current time, as Svix does per attempt.
pub fn signed(secret: &SigningSecret, id: String, body: Bytes) -> Signed {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = sign(secret, &id, now, &body);
    Signed {
        id,
        timestamp: now.to_string(),
        signature,
        body,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_body_is_about_two_and_a_half_kilobytes() {
        let body = super::user_updated(1, 1_716_883_200_000);
        assert!((2300..2800).contains(&body.len()), "{} bytes", body.len());
    }
}
