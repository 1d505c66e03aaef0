//! One GET against the Backend API, with the waiting and retrying Clerk asks for.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use clerk_sync_runtime::Backoff;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RETRY_AFTER};

use super::SecretKey;

/// Bound on one request, body included. A page of 500 users is a few hundred kilobytes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on opening a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may keep retrying: a batch job can wait minutes, a request an
/// application is waiting on cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request before giving up.
    pub max_retries: u32,
    /// The longest `Retry-After` honoured as is; a longer one is capped, then asked again.
    pub max_retry_after: Duration,
    /// Bound on one request, body included.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// For `backfill`, `verify` and `reconcile`: with the backoff below, about two minutes.
    pub const PATIENT: Self = Self {
        max_retries: 8,
        max_retry_after: Duration::from_secs(120),
        timeout: REQUEST_TIMEOUT,
    };

    /// For a fetch an application waits on: a few seconds at most before answering 503.
    pub const PROMPT: Self = Self {
        max_retries: 2,
        max_retry_after: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
    };
}
/// Retries of 5xx and connection failures, as Clerk's own SDKs do (`x-speakeasy-retries`
/// in Clerk's OpenAPI spec: backoff from 500 ms, 5XX and connection errors).
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// Why a request to Clerk failed. Messages never include the secret key.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 or 403: the key is wrong, revoked, or for another instance.
    #[error(
        "Clerk's Backend API refused CLERK_SECRET_KEY ({status}{}); check the key and CLERK_API_URL",
        clerk_message(message)
    )]
    Unauthorized {
        /// The status Clerk answered.
        status: StatusCode,
        /// What Clerk said, when it said something.
        message: Option<String>,
    },
    /// 404: the endpoint does not exist on this instance or API version.
    #[error("{path} is not there (404)")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// Another 4xx: the request itself is wrong; retrying will not help.
    #[error(
        "Clerk's Backend API refused GET {path} ({status}{})",
        clerk_message(message)
    )]
    Refused {
        /// The path asked for.
        path: String,
        /// The status Clerk answered.
        status: StatusCode,
        /// What Clerk said, when it said something.
        message: Option<String>,
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
        /// The last `Retry-After`, when Clerk sent one.
        retry_after: Option<Duration>,
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

fn clerk_message(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

/// How many requests were retried, and why: `backfill` reports them.
#[derive(Debug, Default)]
pub struct Retries {
    /// 429s waited out.
    pub rate_limited: AtomicU64,
    /// 5xx answers retried.
    pub server_errors: AtomicU64,
    /// Timeouts and connection failures retried.
    pub connection: AtomicU64,
}

impl Retries {
    /// All retries.
    pub fn total(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
            + self.server_errors.load(Ordering::Relaxed)
            + self.connection.load(Ordering::Relaxed)
    }
}

/// A Backend API client for one instance.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
    key: SecretKey,
    retries: Retries,
    policy: RetryPolicy,
    pace: Option<Arc<DefaultDirectRateLimiter>>,
}

impl Client {
    /// A client for the API at `base` with `key`, patient with Clerk's 429s and 5xx.
    pub fn new(base: reqwest::Url, key: SecretKey) -> anyhow::Result<Self> {
        Self::with_policy(base, key, RetryPolicy::PATIENT)
    }

    /// A client that retries as `policy` says.
    pub fn with_policy(
        base: reqwest::Url,
        key: SecretKey,
        policy: RetryPolicy,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("clerk-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(policy.timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base,
            key,
            retries: Retries::default(),
            policy,
            pace: None,
        })
    }

    /// Sends at most `per_second` requests a second, evenly spaced (no burst), retries
    /// included: Clerk's limits are per instance (production 1,000 requests per 10 s,
    /// development 100), shared with everything else that calls it, and a 429 honoured
    /// after the fact has already cost the others a refusal.
    pub fn paced(mut self, per_second: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(NonZeroU32::MIN);
        self.pace = Some(Arc::new(RateLimiter::direct(quota)));
        self
    }

    /// The retries made so far.
    pub fn retries(&self) -> &Retries {
        &self.retries
    }

    /// `CLERK_API_URL` without credentials or path, for messages.
    pub fn base_display(&self) -> String {
        clerk_sync_runtime::redact_url(self.base.as_str())
    }

    /// GETs `path` (relative to `/v1/`) with `query`, riding out 429s, 5xx and lost
    /// connections as the client's [`RetryPolicy`] allows, and returns the body of the
    /// first 2xx.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if let Some(pace) = &self.pace {
                pace.until_ready().await;
            }
            let sent = self
                .http
                .get(url.clone())
                .query(query)
                .bearer_auth(self.key.expose())
                .header(ACCEPT, "application/json")
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    self.retry_connection(path, attempt, error).await?;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                match response.bytes().await {
                    Ok(body) => return Ok(body.to_vec()),
                    // The connection broke mid-body: as good as no answer.
                    Err(error) => {
                        self.retry_connection(path, attempt, error).await?;
                        continue;
                    }
                }
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                let asked = retry_after(response.headers());
                if attempt > self.policy.max_retries {
                    return Err(ApiError::GaveUp {
                        path: path.to_owned(),
                        status,
                        attempts: attempt,
                        retry_after: asked,
                    });
                }
                let wait = if status == StatusCode::TOO_MANY_REQUESTS {
                    self.retries.rate_limited.fetch_add(1, Ordering::Relaxed);
                    asked
                        .map(|wait| wait.min(self.policy.max_retry_after))
                        .unwrap_or_else(|| BACKOFF.delay(attempt - 1))
                } else {
                    self.retries.server_errors.fetch_add(1, Ordering::Relaxed);
                    BACKOFF.delay(attempt - 1)
                };
                tracing::debug!(%status, path, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let message = self.error_message(response).await;
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    ApiError::Unauthorized { status, message }
                }
                StatusCode::NOT_FOUND => ApiError::NotFound {
                    path: path.to_owned(),
                },
                _ => ApiError::Refused {
                    path: path.to_owned(),
                    status,
                    message,
                },
            });
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
        error: reqwest::Error,
    ) -> Result<(), ApiError> {
        if attempt > self.policy.max_retries {
            return Err(ApiError::Unreachable {
                base: self.base_display(),
                attempts: attempt,
                source: error.without_url(),
            });
        }
        self.retries.connection.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(path, error = %error.without_url(), "retrying after a failed request");
        tokio::time::sleep(BACKOFF.delay(attempt - 1)).await;
        Ok(())
    }

    /// The first error of Clerk's `{"errors":[{"message","long_message","code"}]}`, on one
    /// line, without the key.
    async fn error_message(&self, response: reqwest::Response) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<ClerkError>,
        }
        #[derive(serde::Deserialize)]
        struct ClerkError {
            message: Option<String>,
            long_message: Option<String>,
            code: Option<String>,
        }
        let body = response.bytes().await.ok()?;
        let first = serde_json::from_slice::<Errors>(&body)
            .ok()?
            .errors
            .into_iter()
            .next()?;
        let text = first.long_message.or(first.message)?;
        let text = match first.code {
            Some(code) => format!("{text} [{code}]"),
            None => text,
        };
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(self.key.redact(&one_line))
    }
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
    use super::*;

    #[test]
    fn paths_keep_a_prefix_of_the_base_url() {
        let key = SecretKey::parse("sk_test_x").unwrap();
        let direct = Client::new("https://api.clerk.com".parse().unwrap(), key.clone()).unwrap();
        assert_eq!(
            direct.url("users").as_str(),
            "https://api.clerk.com/v1/users"
        );
        let proxied = Client::new("http://proxy.internal/clerk/".parse().unwrap(), key).unwrap();
        assert_eq!(
            proxied.url("organizations/org_1/memberships").as_str(),
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
    fn errors_name_the_key_but_never_show_it() {
        let error = ApiError::Unauthorized {
            status: StatusCode::UNAUTHORIZED,
            message: Some(
                "The provided Clerk Secret Key is invalid [authentication_invalid]".into(),
            ),
        };
        assert_eq!(
            error.to_string(),
            "Clerk's Backend API refused CLERK_SECRET_KEY (401 Unauthorized: The provided Clerk \
             Secret Key is invalid [authentication_invalid]); check the key and CLERK_API_URL"
        );
    }
}
