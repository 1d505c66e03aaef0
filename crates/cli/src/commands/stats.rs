use std::process::ExitCode;

/// `clerk-sync stats`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_context: &crate::Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clerk-sync stats is not built yet")
}
