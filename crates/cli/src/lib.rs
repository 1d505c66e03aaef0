//! The operator's CLI, as a library so its tests call the same code the binary runs.
//!
//! One subcommand per file under `commands/`. Each reads the settings it needs from flags or
//! the environment (the same names the daemons use), talks to Redis and PostgreSQL through
//! the project's own crates (the queue's atomic scripts, the database's migrations), and
//! prints for people by default and JSON with `--json` where a script may read it.

// Printing is what a CLI is for; the workspace lint guards the daemons, which log instead.
#![allow(clippy::print_stdout)]

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clerk_sync_runtime::CommonArgs;

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
}

/// Runs one command and returns the process's exit status.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Migrate(args) => commands::migrate::run(args).await,
    }
}
