//! Clerk's Backend API as clerk-sync reads it: single objects by id, for the worker's
//! application API (a user fetched on its first request, a forced refresh), and the three
//! lists clerk-sync mirrors, read page by page with `limit` and `offset`, for `backfill`,
//! `verify` and `reconcile`.
//!
//! | object | endpoint |
//! |---|---|
//! | a user | `GET /v1/users/{id}` |
//! | an organization | `GET /v1/organizations/{id}` |
//! | the instance the key belongs to | `GET /v1/instance` |
//!
//! | list | endpoint | body |
//! |---|---|---|
//! | users | `GET /v1/users?order_by=…` | a bare JSON array |
//! | organizations | `GET /v1/organizations?order_by=+created_at` | `{"data": […], "total_count": n}` |
//! | memberships | `GET /v1/organization_memberships`, or per organization `GET /v1/organizations/{id}/memberships` where the instance-wide list is not there (404) | `{"data": […], "total_count": n}` |
//!
//! Every request carries `Authorization: Bearer sk_…`, a `User-Agent` and a timeout, and
//! takes its turn from the process's [`Budget`] (`CLERK_API_RATE`). A 429 stops every request
//! of the process for as long as its `Retry-After` says; a 5xx, a timeout or a lost
//! connection is retried with full-jitter backoff; anything else is an [`ApiError`] naming
//! Clerk's error code. How long that may go on is the client's [`RetryPolicy`] and the
//! caller's deadline: minutes for a batch job, a few seconds for a request an application is
//! waiting on.
//!
//! Only Clerk's own word says an object is gone: a 404 whose body is Clerk's JSON error
//! with the code `resource_not_found` ([`ApiError::NotFound`]). A 404 from anything else on
//! the way (a proxy's HTML page, an empty body) is [`ApiError::NotClerk`], a failure like a
//! 5xx.
//! Objects are kept as the raw JSON Clerk sent ([`Object::raw`]), so what is queued is byte
//! for byte what the API returned.
//!
//! Offset paging is not a snapshot: an object deleted while a list is read shifts the rest
//! by one, and one object may be missed. Re-running is cheap (what was queued is skipped) and
//! `clerk-sync verify` names what is still missing.

mod budget;
mod fetch;
mod http;
mod list;

use std::fmt;

pub use budget::{Budget, MAX_WAITING, Retries, Spent};
pub use clerk_sync_events::Kind;
pub use fetch::{Instance, is_instance_id};
pub use http::{ApiError, Client, RESOURCE_NOT_FOUND, RetryPolicy};
pub use list::{Listing, MembershipPager, Object, PAGE_SIZE, Page, Pager};

/// Clerk's Backend API when `CLERK_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Requests per second when `CLERK_API_RATE` is unset: half of what a development instance
/// allows (100 per 10 s), a twentieth of production's (1,000 per 10 s), so a backfill or a
/// reconciliation leaves room for the application's own calls. A page holds 500 objects.
pub const DEFAULT_API_RATE: u32 = 5;

/// `CLERK_SECRET_KEY`. Its `Debug` prints `***`, so it cannot reach a log or an error by way
/// of a derived `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Checks the form only; whether Clerk accepts it is for Clerk to say. The messages never
    /// quote the value.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if !value.starts_with("sk_") {
            return Err("must be a Backend API secret key, starting with sk_".into());
        }
        if value.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("must be one word of visible ASCII".into());
        }
        Ok(Self(value.to_owned()))
    }

    /// The key itself, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key masked: for messages that quote a server.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Checks `CLERK_API_URL`: http(s) with a host.
pub fn parse_api_url(value: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(value.trim()).map_err(|_| "is not a valid URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_key_is_checked_for_form_and_never_shown() {
        let key = SecretKey::parse("sk_test_abc123").unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
        assert_eq!(key.redact("bad key sk_test_abc123!"), "bad key ***!");
        let refused = SecretKey::parse("pk_test_abc123").unwrap_err();
        assert!(!refused.contains("pk_test_abc123"));
        assert!(SecretKey::parse("sk_test abc").is_err());
    }

    #[test]
    fn the_api_url_must_be_http() {
        assert!(parse_api_url("https://api.clerk.com").is_ok());
        assert!(parse_api_url("http://127.0.0.1:3000/").is_ok());
        assert!(parse_api_url("api.clerk.com").is_err());
        assert!(parse_api_url("ftp://api.clerk.com").is_err());
    }
}
