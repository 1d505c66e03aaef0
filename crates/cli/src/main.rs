//! `clerk-sync`: the operator's CLI. Every flag can also be set through the environment
//! variable of the same name, as the daemons read them.

use std::process::ExitCode;

use clerk_sync::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = clerk_sync_runtime::parse_or_exit();
    clerk_sync_runtime::init_cli_tracing();
    match clerk_sync::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
