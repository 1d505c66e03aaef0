//! One GET against the Backend API, with the waiting and retrying Clerk asks for.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clerk_sync_runtime::Backoff;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use tokio::time::Instant;

use super::SecretKey;
use crate::budget::{Budget, Retries};

/// Bound on one request, body included. A page of 500 users is a few hundred kilobytes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on opening a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may keep retrying: a batch job can wait minutes, a request an
/// application is waiting on cannot (it also carries a deadline: see [`Client::get`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request before giving up.
    pub max_retries: u32,
    /// Bound on one request, body included.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// For `backfill`, `verify` and `reconcile`: with the backoff below, a few minutes of
    /// 5xx, and any 429's `Retry-After` waited out in full.
    pub const PATIENT: Self = Self {
        max_retries: 8,
        timeout: REQUEST_TIMEOUT,
    };

    /// For a fetch an application waits on: a few seconds at most before answering 503.
    pub const PROMPT: Self = Self {
        max_retries: 2,
        timeout: Duration::from_secs(10),
    };
}
/// Retries of 5xx and connection failures, as Clerk's own SDKs do (`x-speakeasy-retries`
/// in Clerk's OpenAPI spec: backoff from 500 ms, 5XX and connection errors).
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// The `code` of Clerk's error for an object it does not have. Only this, in Clerk's own
/// JSON error body, means "gone": a proxy's or a load balancer's 404 means nothing about
/// the object.
pub const RESOURCE_NOT_FOUND: &str = "resource_not_found";

/// Why a request to Clerk failed. Messages never include the secret key, and never Clerk's
/// error text (which may quote personal data): only its stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The HTTP client could not be built (the system's TLS roots are unreadable).
    #[error("cannot build the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// 401 or 403 in Clerk's own error body: the key is wrong, revoked, or for another
    /// instance.
    #[error(
        "Clerk's Backend API refused CLERK_SECRET_KEY ({status}{}); check the key and CLERK_API_URL",
        code_suffix(code)
    )]
    Unauthorized {
        /// The status Clerk answered.
        status: StatusCode,
        /// Clerk's error code, when it gave one.
        code: Option<String>,
    },
    /// 404 with Clerk's `resource_not_found`: Clerk does not have what was asked for.
    #[error("{path} is not there (404 {RESOURCE_NOT_FOUND})")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// An answer that is neither a success nor Clerk's own error: a proxy's HTML page, an
    /// empty body. Says nothing about the object asked for.
    #[error(
        "GET {path} answered {status} without Clerk's error body: is something between clerk-sync and Clerk (a proxy, CLERK_API_URL)?"
    )]
    NotClerk {
        /// The path asked for.
        path: String,
        /// The status answered.
        status: StatusCode,
    },
    /// Another 4xx in Clerk's own error body: the request itself is wrong; retrying will
    /// not help.
    #[error(
        "Clerk's Backend API refused GET {path} ({status}{})",
        code_suffix(code)
    )]
    Refused {
        /// The path asked for.
        path: String,
        /// The status Clerk answered.
        status: StatusCode,
        /// Clerk's error code, when it gave one.
        code: Option<String>,
    },
    /// 429 or 5xx, every time, until the retries ran out.
    #[error("Clerk's Backend API answered GET {path} with {status} {attempts} times in a row")]
    GaveUp {
        /// The path asked for.
        path: String,
        /// The last status.
        status: StatusCode,
        /// Requests made.
        attempts: u32,
        /// When to try again, as far as Clerk said.
        retry_after: Option<Duration>,
    },
    /// The process's budget has no turn for the request before its deadline: Clerk asked
    /// for a pause (429) that lasts longer, or too many requests wait already.
    #[error("no Backend API request may be made for {}s (CLERK_API_RATE, or Clerk's 429)", .retry_after.as_secs().max(1))]
    Busy {
        /// When to try again.
        retry_after: Duration,
    },
    /// No answer: connection refused or lost, DNS, TLS, timeout.
    #[error("cannot reach Clerk's Backend API at {base} ({attempts} attempts)")]
    Unreachable {
        /// Scheme, host and port of `CLERK_API_URL`.
        base: String,
        /// Requests made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx whose body is not the documented shape.
    #[error("GET {path} answered a body clerk-sync cannot read")]
    Malformed {
        /// The path asked for.
        path: String,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

impl ApiError {
    /// When a later try may succeed, where that is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::GaveUp { retry_after, .. } => *retry_after,
            Self::Busy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Clerk's error code, where Clerk gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { code, .. } | Self::Refused { code, .. } => code.as_deref(),
            Self::NotFound { .. } => Some(RESOURCE_NOT_FOUND),
            _ => None,
        }
    }
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
}

/// A Backend API client for one instance, spending its process's [`Budget`].
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
    key: SecretKey,
    policy: RetryPolicy,
    budget: Arc<Budget>,
}

impl Client {
    /// A client for the API at `base` with `key`, retrying as `policy` says, every request
    /// taking its turn from `budget` (one per process, shared by all its clients).
    pub fn new(
        base: reqwest::Url,
        key: SecretKey,
        policy: RetryPolicy,
        budget: Arc<Budget>,
    ) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("clerk-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(policy.timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(ApiError::Setup)?;
        Ok(Self {
            http,
            base,
            key,
            policy,
            budget,
        })
    }

    /// The retries made so far by every client of this process (they share its budget).
    pub fn retries(&self) -> &Retries {
        self.budget.retries()
    }

    /// The budget every request of this client spends.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// `CLERK_API_URL` without credentials or path, for messages.
    pub fn base_display(&self) -> String {
        clerk_sync_runtime::ServiceUrl::new(self.base.as_str()).to_string()
    }

    /// GETs `path` (relative to `/v1/`) with `query`, riding out 429s, 5xx and lost
    /// connections as the client's [`RetryPolicy`] allows, and returns the body of the
    /// first 2xx. With a `deadline`, gives up rather than wait past it: every turn, backoff
    /// and request fits before it, or the call fails at once with what to wait.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.budget
                .turn(deadline)
                .await
                .map_err(|spent| ApiError::Busy {
                    retry_after: spent.retry_after,
                })?;
            let timeout = deadline.map_or(self.policy.timeout, |d| {
                self.policy
                    .timeout
                    .min(d.saturating_duration_since(Instant::now()))
                    .max(Duration::from_millis(1))
            });
            let sent = self
                .http
                .get(url.clone())
                .query(query)
                .bearer_auth(self.key.expose())
                .header(ACCEPT, "application/json")
                .timeout(timeout)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    self.retry_connection(path, attempt, deadline, error)
                        .await?;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                match response.bytes().await {
                    Ok(body) => return Ok(body.to_vec()),
                    // The connection broke mid-body: as good as no answer.
                    Err(error) => {
                        self.retry_connection(path, attempt, deadline, error)
                            .await?;
                        continue;
                    }
                }
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                let asked = retry_after(response.headers());
                let gave_up = || ApiError::GaveUp {
                    path: path.to_owned(),
                    status,
                    attempts: attempt,
                    retry_after: asked,
                };
                if status == StatusCode::TOO_MANY_REQUESTS {
                    self.budget
                        .retries()
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                    // Honoured in full, by every request of the process: the next turn
                    // comes after it (or, past a deadline, is refused with what is left).
                    let wait = asked.unwrap_or_else(|| BACKOFF.delay(attempt - 1));
                    self.budget.hold_off(wait);
                    tracing::warn!(
                        path,
                        wait_s = wait.as_secs(),
                        "Clerk's Backend API answered 429: no request before the wait is over"
                    );
                    if attempt > self.policy.max_retries {
                        return Err(gave_up());
                    }
                    continue;
                }
                self.budget
                    .retries()
                    .server_errors
                    .fetch_add(1, Ordering::Relaxed);
                let wait = BACKOFF.delay(attempt - 1);
                if attempt > self.policy.max_retries || past(deadline, wait) {
                    return Err(gave_up());
                }
                tracing::debug!(%status, path, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(self.refusal(path, status, response).await);
        }
    }

    fn url(&self, path: &str) -> reqwest::Url {
        // Joined by hand: `Url::join` would drop a path prefix of CLERK_API_URL (a proxy's).
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/v1/{}", path.trim_start_matches('/')));
        url
    }

    async fn retry_connection(
        &self,
        path: &str,
        attempt: u32,
        deadline: Option<Instant>,
        error: reqwest::Error,
    ) -> Result<(), ApiError> {
        let wait = BACKOFF.delay(attempt - 1);
        if attempt > self.policy.max_retries || past(deadline, wait) {
            return Err(ApiError::Unreachable {
                base: self.base_display(),
                attempts: attempt,
                source: error.without_url(),
            });
        }
        self.budget
            .retries()
            .connection
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(path, error = %error.without_url(), "retrying after a failed request");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// What a 4xx that is not a 429 means, read from Clerk's
    /// `{"errors":[{"code", …}]}`: only Clerk's own body speaks for Clerk. Its messages are
    /// left unread: they may quote personal data, and the code says what happened.
    async fn refusal(
        &self,
        path: &str,
        status: StatusCode,
        response: reqwest::Response,
    ) -> ApiError {
        let path = path.to_owned();
        let Some(code) = clerk_error_code(&response.bytes().await.unwrap_or_default()) else {
            return ApiError::NotClerk { path, status };
        };
        match status {
            StatusCode::NOT_FOUND if code.as_deref() == Some(RESOURCE_NOT_FOUND) => {
                ApiError::NotFound { path }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ApiError::Unauthorized { status, code }
            }
            _ => ApiError::Refused { path, status, code },
        }
    }
}

/// Whether waiting `wait` from now would end past `deadline`.
fn past(deadline: Option<Instant>, wait: Duration) -> bool {
    deadline.is_some_and(|d| Instant::now() + wait >= d)
}

/// The first error code of Clerk's error body, `Some(None)` for Clerk's body without a
/// code; `None` when the body is not Clerk's error at all.
fn clerk_error_code(body: &[u8]) -> Option<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ClerkError>,
    }
    #[derive(serde::Deserialize)]
    struct ClerkError {
        code: Option<String>,
    }
    let errors = serde_json::from_slice::<Errors>(body).ok()?.errors;
    let first = errors.into_iter().next()?;
    // A code is an identifier; anything else is not worth repeating.
    Some(
        first
            .code
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')),
    )
}

/// `Retry-After` in seconds, as Clerk sends it, capped at a day. (The HTTP-date form is not
/// used by Clerk; it falls back to the backoff.)
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(86_400)))
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn client(base: &str) -> Client {
        let key = SecretKey::parse("sk_test_x").unwrap();
        let budget = Arc::new(Budget::new(NonZeroU32::MIN));
        Client::new(base.parse().unwrap(), key, RetryPolicy::PATIENT, budget).unwrap()
    }

    #[test]
    fn paths_keep_a_prefix_of_the_base_url() {
        assert_eq!(
            client("https://api.clerk.com").url("users").as_str(),
            "https://api.clerk.com/v1/users"
        );
        assert_eq!(
            client("http://proxy.internal/clerk/")
                .url("organizations/org_1/memberships")
                .as_str(),
            "http://proxy.internal/clerk/v1/organizations/org_1/memberships"
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(86_400)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_clerks_own_error_body_is_read_as_clerks() {
        let clerk = br#"{"errors":[{"message":"not found","long_message":"Resource jane@x.test not found","code":"resource_not_found"}],"clerk_trace_id":"t"}"#;
        assert_eq!(
            clerk_error_code(clerk),
            Some(Some(RESOURCE_NOT_FOUND.to_owned()))
        );
        assert_eq!(
            clerk_error_code(br#"{"errors":[{"message":"x"}]}"#),
            Some(None)
        );
        for other in [
            &b"<html><body>404 Not Found</body></html>"[..],
            b"",
            b"{}",
            br#"{"errors":[]}"#,
            br#"{"error":"not_found"}"#,
        ] {
            assert_eq!(clerk_error_code(other), None, "{other:?}");
        }
        assert_eq!(
            clerk_error_code(br#"{"errors":[{"code":"has spaces <b>"}]}"#),
            Some(None)
        );
    }

    #[test]
    fn errors_name_the_key_and_clerks_code_but_never_its_text() {
        let error = ApiError::Unauthorized {
            status: StatusCode::UNAUTHORIZED,
            code: Some("authentication_invalid".into()),
        };
        assert_eq!(
            error.to_string(),
            "Clerk's Backend API refused CLERK_SECRET_KEY (401 Unauthorized: \
             authentication_invalid); check the key and CLERK_API_URL"
        );
        let busy = ApiError::Busy {
            retry_after: Duration::from_millis(600_400),
        };
        assert_eq!(busy.retry_after(), Some(Duration::from_millis(600_400)));
        assert!(busy.to_string().contains("600s"), "{busy}");
    }
}
