//! `clerk-sync grant-read <role>`: lets an application's own database role read what
//! clerk-sync keeps (`USAGE` on the schema, `SELECT` on every table and view, now and for
//! what later migrations add) and nothing more. Run it as the role that runs the
//! migrations, so the tables those add are covered too.
//!
//! Exit status: 0 granted, 2 when the role does not exist or the grant could not be made.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

/// `clerk-sync grant-read`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The role to give read access to (the application's database user).
    role: String,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args
        .database
        .config("clerk-sync grant-read", Duration::from_secs(30));
    let mut conn = clerk_sync_db::connect(&config).await.with_context(|| {
        format!(
            "cannot connect to PostgreSQL at {}",
            args.database.display()
        )
    })?;
    let schema = args.database.schema;
    match clerk_sync_db::grant_read(&mut conn, schema, &args.role).await {
        Ok(true) => {
            println!(
                "{} may read schema {schema} (every table and view, and those later migrations add), and write nothing",
                args.role
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(false) => {
            eprintln!(
                "error: there is no role {} in this database's cluster",
                args.role
            );
            Ok(ExitCode::from(2))
        }
        Err(error) => {
            eprintln!(
                "error: cannot grant {} read access to schema {schema}: {error} (run it as the role that owns the schema, the one that runs the migrations)",
                args.role
            );
            Ok(ExitCode::from(2))
        }
    }
}
