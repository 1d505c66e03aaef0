use std::process::ExitCode;

/// `clerk-sync verify`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clerk-sync verify is not built yet")
}
