//! Clerk's Backend API as clerk-sync reads it: single objects by id, for the worker's
//! application API (a user fetched on its first request, a forced refresh), and the three
//! lists clerk-sync mirrors, read page by page with `limit` and `offset`, for `backfill`,
//! `verify` and `reconcile`.
//!
//! | object | endpoint |
//! |---|---|
//! | a user | `GET /v1/users/{id}` |
//! | an organization | `GET /v1/organizations/{id}` |
//!
//! | list | endpoint | body |
//! |---|---|---|
//! | users | `GET /v1/users?order_by=…` | a bare JSON array |
//! | organizations | `GET /v1/organizations?order_by=+created_at` | `{"data": […], "total_count": n}` |
//! | memberships | `GET /v1/organization_memberships`, or per organization `GET /v1/organizations/{id}/memberships` where the instance-wide list is not there (404) | `{"data": […], "total_count": n}` |
//!
//! Every request carries `Authorization: Bearer sk_…`, a `User-Agent` and a timeout. A 429 is
//! waited out for as long as its `Retry-After` says; a 5xx, a timeout or a lost connection is
//! retried with full-jitter backoff; anything else is an [`ApiError`] naming what Clerk said.
//! How long that may go on is the client's [`RetryPolicy`]: minutes for a batch job, a few
//! seconds for a request an application is waiting on.
//! Objects are kept as the raw JSON Clerk sent ([`Object::raw`]), so what is queued is byte
//! for byte what the API returned.
//!
//! Offset paging is not a snapshot: an object deleted while a list is read shifts the rest
//! by one, and one object may be missed. Re-running is cheap (what was queued is skipped) and
//! `clerk-sync verify` names what is still missing.

mod fetch;
mod http;
mod list;

use std::fmt;
use std::num::NonZeroU32;

pub use http::{ApiError, Client, Retries, RetryPolicy};
pub use list::{Kind, Listing, MembershipPager, Object, PAGE_SIZE, Page, Pager};

/// Clerk's Backend API when `CLERK_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Requests per second when `CLERK_API_RATE` is unset: half of what a development instance
/// allows (100 per 10 s), a twentieth of production's (1,000 per 10 s), so a backfill or a
/// reconciliation leaves room for the application's own calls. A page holds 500 objects.
pub const DEFAULT_API_RATE: u32 = 5;

/// Where Clerk's Backend API is, and the key to it: the settings `backfill` and `verify` share.
#[derive(Debug, Clone, clap::Args)]
pub struct ClerkArgs {
    /// Backend API secret key (`sk_…`), from the dashboard's API Keys page. Never printed.
    #[arg(
        long,
        env = "CLERK_SECRET_KEY",
        value_name = "CLERK_SECRET_KEY",
        hide_env_values = true,
        value_parser = SecretKey::parse
    )]
    pub clerk_secret_key: SecretKey,

    /// Backend API base URL.
    #[arg(
        long,
        env = "CLERK_API_URL",
        value_name = "CLERK_API_URL",
        default_value = DEFAULT_API_URL,
        value_parser = parse_api_url
    )]
    pub clerk_api_url: reqwest::Url,

    /// Requests per second at most to the Backend API, retries included.
    #[arg(
        long,
        env = "CLERK_API_RATE",
        value_name = "CLERK_API_RATE",
        default_value_t = NonZeroU32::new(DEFAULT_API_RATE).unwrap_or(NonZeroU32::MIN)
    )]
    pub clerk_api_rate: NonZeroU32,
}

impl ClerkArgs {
    /// A client for these settings, patient as a batch job may be, at `CLERK_API_RATE`.
    pub fn client(&self) -> anyhow::Result<Client> {
        self.client_with(RetryPolicy::PATIENT)
    }

    /// A client for these settings that retries as `policy` says, at `CLERK_API_RATE`.
    pub fn client_with(&self, policy: RetryPolicy) -> anyhow::Result<Client> {
        Ok(Client::with_policy(
            self.clerk_api_url.clone(),
            self.clerk_secret_key.clone(),
            policy,
        )?
        .paced(self.clerk_api_rate))
    }
}

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
