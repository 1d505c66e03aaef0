use std::process::ExitCode;

/// `clerk-sync backfill`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_context: &crate::Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clerk-sync backfill is not built yet")
}
