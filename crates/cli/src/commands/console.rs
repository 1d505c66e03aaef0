//! `clerk-sync console`: serves the operator console on `CONSOLE_BIND` until SIGTERM or
//! SIGINT. It refuses to start without an operator token (`CLERK_SYNC_CONSOLE_TOKEN`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_console::{Console, ConsoleArgs, ConsoleConfig};
use clerk_sync_db::{ApplyOptions, DeleteMode};
use clerk_sync_mirror::ClerkArgs;
use clerk_sync_mirror::ondemand::Syncer;

/// `clerk-sync console`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    console: ConsoleArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// With a Backend API key, an object's page offers "sync now" (the forced refresh).
    #[command(flatten)]
    clerk: ClerkArgs,

    /// What a deletion found by "sync now" leaves behind, as the workers are configured.
    #[arg(long, env = "USER_DELETE_MODE", value_name = "USER_DELETE_MODE", default_value = "soft", value_parser = ["soft", "hard"])]
    user_delete_mode: String,

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
    // A key of another instance stops the console as it stops every command (exit 2),
    // before anything is served.
    let syncer = match args.clerk.clerk() {
        None => None,
        Some(clerk) => {
            let guard = match crate::context::hold_key(&clerk, &args.database).await {
                Ok(guard) => guard,
                Err(exit) => return Ok(exit),
            };
            let options = ApplyOptions {
                user_delete_mode: if args.user_delete_mode == "hard" {
                    DeleteMode::Hard
                } else {
                    DeleteMode::Soft
                },
                schema: args.database.schema,
            };
            let pool = clerk_sync_db::build_pool(&database).context("DATABASE_URL")?;
            let client = clerk.client(RetryPolicy::PROMPT)?;
            Some(Syncer::new(pool, client, guard, options))
        }
    };
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
        syncer,
    })
    .context("DATABASE_URL")?;
    tracing::info!(%bind, "console listening");
    eprintln!("console listening on http://{bind}");
    clerk_sync_console::serve(console, listener, clerk_sync_runtime::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
