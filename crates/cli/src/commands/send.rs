use std::process::ExitCode;

/// `clerk-sync send`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clerk-sync send is not built yet")
}
