//! `clerk-sync backfill`: its flags, a progress bar per kind and the summary; the backfill
//! itself (what is queued, under which id, and how a run resumes) is
//! `clerk_sync_mirror::backfill`.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clerk_sync_clerk_api::{Kind, RetryPolicy};
use clerk_sync_mirror::ClerkArgs;
use clerk_sync_mirror::backfill::{Options, Sink, Step};
use indicatif::ProgressBar;

use crate::output::progress_bar;

/// `clerk-sync backfill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    clerk: ClerkArgs,

    /// Where the pinned Clerk instance is recorded: the key is checked against it first.
    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only objects changed since then: an RFC 3339 time (`2025-01-31T00:00:00Z`) or a
    /// duration ago (`7d`, `24h`).
    #[arg(long, env = "BACKFILL_SINCE", value_name = "BACKFILL_SINCE", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,

    /// Only these kinds, comma-separated; all three by default.
    #[arg(
        long,
        env = "BACKFILL_ONLY",
        value_name = "BACKFILL_ONLY",
        value_enum,
        value_delimiter = ','
    )]
    only: Vec<crate::kinds::KindArg>,

    /// Print the events that would be queued, and queue nothing.
    #[arg(long, env = "BACKFILL_DRY_RUN")]
    dry_run: bool,

    /// Print the summary as JSON, for scripts.
    #[arg(long, env = "BACKFILL_JSON")]
    json: bool,

    /// Go on from the last page an interrupted backfill queued, instead of starting over.
    #[arg(long, env = "BACKFILL_RESUME")]
    resume: bool,
}

mod summary;

use summary::summary;

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    let options = Options {
        kinds: crate::kinds::selected(&args.only),
        since_ms: args.since.map(|t| t.timestamp_millis()),
        resume: args.resume,
    };
    let clerk = args.clerk.require();
    if let Err(exit) = crate::context::hold_key(&clerk, &args.database).await {
        return Ok(exit);
    }
    let client = clerk.client(RetryPolicy::PATIENT)?;
    let mut sink = if args.dry_run {
        Sink::dry_run()
    } else {
        let pool = context.redis()?;
        let keys = context.keys();
        // Fail before reading Clerk, not after the first page.
        clerk_sync_queue::queue_stats(&pool, &keys)
            .await
            .with_context(|| format!("cannot reach Redis at {}", context.redis_display()))?;
        Sink::queue(pool, keys, args.resume).await?
    };
    let mut bars: HashMap<Kind, ProgressBar> = HashMap::new();
    let tallies =
        clerk_sync_mirror::backfill::backfill(&client, &mut sink, &options, |kind, step| {
            let bar = bars.entry(kind).or_insert_with(|| progress_bar(kind));
            match step {
                Step::Total(total) => bar.set_length(total),
                Step::Read => bar.inc(1),
                Step::Waiting(true) => {
                    bar.set_message("the events stream is full; waiting for the workers")
                }
                Step::Waiting(false) => bar.set_message(""),
                Step::Done => bar.finish_and_clear(),
            }
        })
        .await;
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    let tallies = tallies?;
    let would_queue = sink.finish().await?;
    summary(&client, &tallies, &would_queue, &args, context);
    Ok(ExitCode::SUCCESS)
}

/// `--since`: an RFC 3339 time, or a duration before now.
fn parse_since(value: &str) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(value).map_err(|_| {
        "must be an RFC 3339 time (2025-01-31T00:00:00Z) or a duration ago (7d, 24h)".to_owned()
    })?;
    let ago = chrono::Duration::from_std(ago).map_err(|_| "is too long ago".to_owned())?;
    Utc::now()
        .checked_sub_signed(ago)
        .ok_or_else(|| "is too long ago".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        let at = parse_since("2025-01-31T00:00:00Z").unwrap();
        assert_eq!(at.timestamp(), 1_738_281_600);
        let week = parse_since("7d").unwrap();
        let expected = Utc::now() - chrono::Duration::days(7);
        assert!((week - expected).num_seconds().abs() < 5);
        assert!(parse_since("last tuesday").is_err());
    }
}
