//! `clerk-sync verify`: is the database level with Clerk? The comparison (missing, extra,
//! stale) is `clerk_sync_mirror::verify`; this prints it, a table for people or JSON.
//!
//! Exit status, as `diff` has it: 0 in step, 1 drift, 2 when the check could not be made
//! (a setting missing or refused, Clerk or PostgreSQL unreachable).

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use clerk_sync_clerk_api::{Kind, RetryPolicy};
use clerk_sync_mirror::ClerkArgs;
use clerk_sync_mirror::verify::VerifyError;
use indicatif::ProgressBar;

use crate::output::{self, progress_bar};

mod report;

/// `clerk-sync verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    clerk: ClerkArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only these kinds, comma-separated; all three by default.
    #[arg(
        long,
        env = "VERIFY_ONLY",
        value_name = "VERIFY_ONLY",
        value_enum,
        value_delimiter = ','
    )]
    only: Vec<crate::kinds::KindArg>,

    /// Print the result as JSON, for scripts.
    #[arg(long, env = "VERIFY_JSON")]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let clerk = args.clerk.require();
    if let Err(exit) = crate::context::hold_key(&clerk, &args.database).await {
        return Ok(exit);
    }
    let client = clerk.client(RetryPolicy::PATIENT)?;
    // Whole tables are read; a large instance takes a while.
    let config = args
        .database
        .config("clerk-sync verify", Duration::from_secs(600));
    let kinds = crate::kinds::selected(&args.only);
    let mut bars: HashMap<Kind, ProgressBar> = HashMap::new();
    let outcome = clerk_sync_mirror::verify::verify(
        &client,
        (&config, args.database.schema),
        &kinds,
        |kind, read, total| {
            let bar = bars.entry(kind).or_insert_with(|| progress_bar(kind));
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.inc(read as u64);
        },
    )
    .await;
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    // Exit 1 means drift, so a failure to check must not exit 1 as well.
    match outcome {
        Ok(drifts) => {
            let in_step = drifts.values().all(|d| d.count() == 0);
            if args.json {
                output::json(&report::as_json(&drifts, in_step));
            } else {
                report::print_tables(&drifts, in_step);
            }
            Ok(ExitCode::from(if in_step { 0 } else { 1 }))
        }
        Err(error) => {
            // PostgreSQL's failures name where it was looked for, without the password.
            let at = match &error {
                VerifyError::Connect(_) | VerifyError::Database { .. } => {
                    format!(" (at {})", args.database.display())
                }
                VerifyError::Clerk { .. } => String::new(),
            };
            eprintln!("error: {:#}{at}", anyhow::Error::new(error));
            Ok(ExitCode::from(2))
        }
    }
}
