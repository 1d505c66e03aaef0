//! `CLERK_SECRET_KEY`, `CLERK_API_URL` and `CLERK_API_RATE`, declared once for every
//! process that reads the Backend API, and the clients they make: one [`Budget`] per
//! process, shared by all of them.

use std::num::NonZeroU32;
use std::sync::Arc;

use clerk_sync_clerk_api::{
    ApiError, Budget, Client, DEFAULT_API_RATE, DEFAULT_API_URL, RetryPolicy, SecretKey,
};

/// Where Clerk's Backend API is, the key to it, and how fast this process may call it.
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
    pub clerk_secret_key: Option<SecretKey>,

    /// Backend API base URL.
    #[arg(
        long,
        env = "CLERK_API_URL",
        value_name = "CLERK_API_URL",
        default_value = DEFAULT_API_URL,
        value_parser = clerk_sync_clerk_api::parse_api_url
    )]
    pub clerk_api_url: reqwest::Url,

    /// Backend API requests per second at most, for every purpose, retries included.
    #[arg(
        long,
        env = "CLERK_API_RATE",
        value_name = "CLERK_API_RATE",
        default_value_t = NonZeroU32::new(DEFAULT_API_RATE).unwrap_or(NonZeroU32::MIN)
    )]
    pub clerk_api_rate: NonZeroU32,
}

impl ClerkArgs {
    /// The Backend API, when a key is set.
    pub fn clerk(&self) -> Option<Clerk> {
        let key = self.clerk_secret_key.clone()?;
        Some(Clerk::new(
            self.clerk_api_url.clone(),
            key,
            self.clerk_api_rate,
        ))
    }

    /// The Backend API, for a command that cannot do without it: without a key, the
    /// process stops as for any missing setting (one line, exit status 2).
    pub fn require(&self) -> Clerk {
        self.clerk()
            .unwrap_or_else(|| clerk_sync_runtime::config_error("CLERK_SECRET_KEY is required"))
    }
}

/// One process's access to the Backend API: every client made from it spends one budget.
#[derive(Debug, Clone)]
pub struct Clerk {
    url: reqwest::Url,
    key: SecretKey,
    budget: Arc<Budget>,
}

impl Clerk {
    /// Access at `url` with `key`, at most `rate` requests a second.
    pub fn new(url: reqwest::Url, key: SecretKey, rate: NonZeroU32) -> Self {
        Self {
            url,
            key,
            budget: Arc::new(Budget::new(rate)),
        }
    }

    /// A client retrying as `policy` says, spending this process's budget.
    pub fn client(&self, policy: RetryPolicy) -> Result<Client, ApiError> {
        Client::new(
            self.url.clone(),
            self.key.clone(),
            policy,
            self.budget.clone(),
        )
    }

    /// The budget every client of this process spends.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }
}
