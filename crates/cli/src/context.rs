//! Where every verb finds Redis, PostgreSQL and Clerk, and the checks a verb makes before it
//! may write.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_db::{PgPool, PoolConfig, Schema};
use clerk_sync_mirror::Clerk;
use clerk_sync_mirror::instance::{InstanceError, KeyGuard};
use clerk_sync_queue::{Keys, Pool};
use clerk_sync_runtime::{CommonArgs, ServiceUrl};

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
            self.common.redis_url.expose(),
            4,
            Duration::from_secs(5),
            Duration::from_secs(10),
        )
        .context("REDIS_URL is not a valid Redis URL")
    }

    /// REDIS_URL without credentials, for messages.
    pub fn redis_display(&self) -> String {
        self.common.redis_url.to_string()
    }
}

/// `DATABASE_URL` and `DATABASE_SCHEMA`, as every verb that reads or writes PostgreSQL
/// takes them.
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
        value_parser = |url: &str| clerk_sync_db::parse_database_url(url).map(ServiceUrl::new)
    )]
    pub url: ServiceUrl,

    /// The schema that holds everything clerk-sync creates in the database.
    #[arg(
        long = "database-schema",
        env = "DATABASE_SCHEMA",
        value_name = "DATABASE_SCHEMA",
        default_value = clerk_sync_db::DEFAULT_SCHEMA,
        value_parser = Schema::parse
    )]
    pub schema: Schema,
}

impl DatabaseArgs {
    /// How this command's connections are made: `statement_timeout` bounds each statement
    /// (zero: none); nothing waits on locks forever.
    pub fn config(&self, application_name: &str, statement_timeout: Duration) -> PoolConfig {
        PoolConfig {
            url: self.url.expose().to_owned(),
            max_size: 2,
            statement_timeout,
            lock_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_secs(60),
            application_name: application_name.to_owned(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A small pool made as [`DatabaseArgs::config`] says.
    pub fn pool(
        &self,
        application_name: &str,
        statement_timeout: Duration,
    ) -> anyhow::Result<PgPool> {
        clerk_sync_db::build_pool(&self.config(application_name, statement_timeout))
            .context("DATABASE_URL")
    }

    /// DATABASE_URL without credentials, for messages.
    pub fn display(&self) -> String {
        self.url.to_string()
    }
}

/// Holds `clerk`'s key to the instance the database mirrors, pinning it when none is, before
/// a command reads anything else from Clerk or writes anything. A key of another instance
/// (or a check that cannot be made) stops the command: the message names both instances,
/// and the exit status is 2.
pub async fn hold_key(clerk: &Clerk, database: &DatabaseArgs) -> Result<Arc<KeyGuard>, ExitCode> {
    let built = database
        .pool("clerk-sync instance check", Duration::from_secs(30))
        .and_then(|pool| {
            let client = clerk.client(RetryPolicy::PATIENT)?;
            Ok(KeyGuard::new(client, pool, database.schema))
        });
    let guard = match built {
        Ok(guard) => Arc::new(guard),
        Err(error) => {
            eprintln!("error: {error:#}");
            return Err(ExitCode::from(2));
        }
    };
    match guard.check(None).await {
        Ok(_) => Ok(guard),
        Err(InstanceError::Database(error)) => {
            eprintln!(
                "error: cannot connect to PostgreSQL at {}, where the pinned Clerk instance is recorded: {error}",
                database.display()
            );
            Err(ExitCode::from(2))
        }
        Err(error) => {
            eprintln!("error: {error}");
            Err(ExitCode::from(2))
        }
    }
}
