//! `clerk-sync console`: serves the operator console on `CONSOLE_BIND` until SIGTERM or
//! SIGINT. It refuses to start without an operator token (`CLERK_SYNC_CONSOLE_TOKEN`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_console::{Console, ConsoleArgs, ConsoleConfig};

/// `clerk-sync console`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    console: ConsoleArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Ask the console at CONSOLE_BIND whether it answers, and exit 0 if it does (for a
    /// container's healthcheck).
    #[arg(long)]
    healthcheck: bool,
}

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    if args.healthcheck {
        return Ok(clerk_sync_runtime::healthcheck(args.console.bind).await);
    }
    let mut database = args
        .database
        .config("clerk-sync console", Duration::from_secs(10));
    // Pages read in parallel; a handful of connections keeps them from queueing.
    database.max_size = 8;
    let bind = args.console.bind;
    let listener = std::net::TcpListener::bind(bind)
        .with_context(|| format!("CONSOLE_BIND: cannot listen on {bind}"))?;
    listener.set_nonblocking(true)?;
    let console = Console::start(ConsoleConfig {
        redis: context.redis()?,
        keys: context.keys(),
        database,
        schema: args.database.schema,
        args: args.console,
    })
    .context("DATABASE_URL")?;
    tracing::info!(%bind, "console listening");
    eprintln!("console listening on http://{bind}");
    clerk_sync_console::serve(console, listener, clerk_sync_runtime::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
