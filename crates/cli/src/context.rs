use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_queue::{Keys, Pool};
use clerk_sync_runtime::CommonArgs;

/// What every Redis-facing command shares: where the queue is, under which prefix.
#[derive(Debug, Clone)]
pub struct Context {
    common: CommonArgs,
}

impl Context {
    /// From the common settings.
    pub fn new(common: CommonArgs) -> Self {
        Self { common }
    }

    /// The queue's keys.
    pub fn keys(&self) -> Keys {
        Keys::new(&self.common.stream_prefix)
    }

    /// A small pool to Redis, with every wait bounded.
    pub fn redis(&self) -> anyhow::Result<Pool> {
        clerk_sync_queue::connect(
            &self.common.redis_url,
            4,
            Duration::from_secs(5),
            Duration::from_secs(10),
        )
        .context("REDIS_URL is not a valid Redis URL")
    }

    /// REDIS_URL without credentials, for messages.
    pub fn redis_display(&self) -> String {
        clerk_sync_runtime::redact_url(&self.common.redis_url)
    }
}

/// `DATABASE_URL`, as every verb that reads or writes PostgreSQL takes it.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL. May hold a password, so it is never printed.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        default_value = clerk_sync_runtime::DEFAULT_DATABASE_URL,
        hide_env_values = true,
        hide_default_value = true,
        value_parser = clerk_sync_db::parse_database_url
    )]
    pub url: String,
}
