//! `clerk-sync-receiver`: reads its settings, starts tracing, serves until SIGTERM.

use clerk_sync_receiver::{Application, Settings};

// One thread: requests are served, grouped and sent to Redis on the HTTP workers' own
// threads; this one only starts them and waits for a signal.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = clerk_sync_runtime::parse_or_exit();
    let _logs = clerk_sync_runtime::init_tracing(settings.common.log_format);
    let config = settings.into_config();
    let app = Application::build(config).await?;
    app.run_until_stopped().await
}
