use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_db::PoolConfig;
use clerk_sync_runtime::DEFAULT_DATABASE_URL;

/// `clerk-sync migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL. May hold a password, so it is never printed.
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true, hide_default_value = true, value_parser = clerk_sync_db::parse_database_url)]
    pub database_url: String,

    /// Only list applied and pending migrations; change nothing.
    #[arg(long)]
    pub status: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = PoolConfig {
        url: args.database_url.clone(),
        max_size: 1,
        // A migration may rewrite a large table: no statement timeout.
        statement_timeout: Duration::ZERO,
        lock_timeout: std::time::Duration::ZERO,
        idle_in_transaction_timeout: std::time::Duration::ZERO,
        application_name: "clerk-sync migrate".into(),
        connect_timeout: Duration::from_secs(10),
    };
    let where_ = clerk_sync_runtime::redact_url(&args.database_url);
    let conn = clerk_sync_db::connect(&config)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {where_}"))?;
    if args.status {
        let (applied, pending) = clerk_sync_db::migration_status(conn).await?;
        for version in &applied {
            println!("applied  {version}");
        }
        for version in &pending {
            println!("pending  {version}");
        }
        // Pending migrations are what a deploy pipeline waits on: say so in the status.
        return Ok(if pending.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let applied = clerk_sync_db::run_migrations(conn)
        .await
        .context("migrations failed")?;
    if applied.is_empty() {
        println!("the schema is current");
    } else {
        for version in &applied {
            println!("applied  {version}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
