//! `clerk-sync-worker`: reads its settings, starts tracing, works until SIGTERM.

use std::process::ExitCode;

use clerk_sync_worker::{Command, Settings, Worker};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let settings: Settings = clerk_sync_runtime::parse_or_exit();
    if let Some(Command::Healthcheck) = settings.command {
        return Ok(clerk_sync_runtime::healthcheck(settings.metrics_bind).await);
    }
    let _logs = clerk_sync_runtime::init_tracing(settings.common.log_format);
    let config = settings.into_config();
    // Listening before anything else: an orchestrator may stop a worker that is still
    // waiting for PostgreSQL at start, and that must be a clean exit too.
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        clerk_sync_runtime::shutdown_signal().await;
        stop.cancel();
    });
    let Some(worker) = Worker::start(config, &shutdown).await? else {
        tracing::info!("stopped before start-up finished");
        return Ok(ExitCode::SUCCESS);
    };
    worker.run(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
