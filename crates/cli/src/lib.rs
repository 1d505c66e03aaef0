//! The operator's CLI, as a library so its tests call the same code the binary runs.
//!
//! One subcommand per file under `commands/`. Each reads the settings it needs from flags or
//! the environment (the same names the daemons use), talks to Redis and PostgreSQL through
//! the project's own crates (the queue's atomic scripts, the database's migrations), and
//! prints for people by default and JSON with `--json` where a script may read it. Clerk's
//! Backend API, for `backfill` and `verify`, is reached through `clerk-sync-clerk-api`.

// Printing is what a CLI is for; the workspace lint guards the daemons, which log instead.
#![allow(clippy::print_stdout)]

mod commands;
mod context;
mod examples;
mod kinds;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clerk_sync_runtime::CommonArgs;

pub use context::Context;

/// Operate clerk-sync: migrations, dead letters, queue statistics, test events, backfill.
#[derive(Debug, Parser)]
#[command(name = "clerk-sync", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Settings shared by every binary.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded database migrations (under the same advisory lock the workers take).
    Migrate(commands::migrate::Args),
    /// List, show, replay or purge dead letters.
    Dlq(commands::dlq::Args),
    /// How the queue stands: backlog, pending per consumer, retries, dead letters.
    Stats(commands::stats::Args),
    /// Sign an event with the configured secret and post it, as Clerk's "Send Example" does.
    Send(commands::send::Args),
    /// Feed users, organizations and memberships from Clerk's Backend API into the queue.
    Backfill(commands::backfill::Args),
    /// Compare the database with Clerk's Backend API; exit 1 on drift.
    Verify(commands::verify::Args),
    /// Fetch a user or an organization from Clerk and apply it (the API's forced refresh).
    Sync(commands::sync::Args),
    /// Print the change feed (`sync_changes`); `--follow` prints each change as it commits.
    Changes(commands::changes::Args),
    /// Compare the database with Clerk, then repair the drift through the queue.
    Reconcile(commands::reconcile::Args),
    /// Show the Clerk instance this database mirrors, or pin another (`pin <ins_…> --confirm`).
    Instance(commands::instance::Args),
    /// Let an application's database role read clerk-sync's schema, and write nothing.
    GrantRead(commands::grant_read::Args),
    /// Serve the operator console (CONSOLE_BIND, 127.0.0.1:8082 unless set).
    Console(commands::console::Args),
}

/// Runs one command and returns the process's exit status.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let context = Context::new(cli.common);
    match cli.command {
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Dlq(args) => commands::dlq::run(&context, args).await,
        Command::Stats(args) => commands::stats::run(&context, args).await,
        Command::Send(args) => commands::send::run(args).await,
        Command::Backfill(args) => commands::backfill::run(&context, args).await,
        Command::Verify(args) => commands::verify::run(args).await,
        Command::Sync(args) => commands::sync::run(args).await,
        Command::Changes(args) => commands::changes::run(args).await,
        Command::Reconcile(args) => commands::reconcile::run(&context, args).await,
        Command::Instance(args) => commands::instance::run(args).await,
        Command::GrantRead(args) => commands::grant_read::run(args).await,
        Command::Console(args) => commands::console::run(&context, args).await,
    }
}
