use std::process::ExitCode;

/// `clerk-sync dlq`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_context: &crate::Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clerk-sync dlq is not built yet")
}
