//! `clerk-sync migrate`: bring the database to the schema this release expects, then stop.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_db::PoolConfig;

/// `clerk-sync migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only list applied and pending migrations; change nothing.
    #[arg(long)]
    pub status: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = PoolConfig {
        url: args.database.url.expose().to_owned(),
        max_size: 1,
        // A migration may rewrite a large table: no statement timeout.
        statement_timeout: Duration::ZERO,
        lock_timeout: std::time::Duration::ZERO,
        idle_in_transaction_timeout: std::time::Duration::ZERO,
        application_name: "clerk-sync migrate".into(),
        connect_timeout: Duration::from_secs(10),
    };
    let where_ = args.database.display();
    let conn = clerk_sync_db::connect(&config)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {where_}"))?;
    if args.status {
        let (applied, pending) =
            clerk_sync_db::migration_status(conn, args.database.schema).await?;
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
    let applied = clerk_sync_db::run_migrations(conn, args.database.schema)
        .await
        .context("migrations failed")?;
    if applied.is_empty() {
        println!("schema {} is current", args.database.schema);
    } else {
        for version in &applied {
            println!("applied  {version}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
