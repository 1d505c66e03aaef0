//! `clerk-sync stats`: is the queue keeping up?

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_queue::QueueStats;
use serde_json::json;

use crate::output::{self, age, entry_ms, human, now_ms};

/// `clerk-sync stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Refresh until interrupted.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes with `--watch`.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    interval: u64,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    let redis = context.redis()?;
    let keys = context.keys();
    loop {
        let stats = clerk_sync_queue::queue_stats(&redis, &keys)
            .await
            .with_context(|| format!("cannot read the queue at {}", context.redis_display()))?;
        let consumers = clerk_sync_queue::consumer_idle(&redis, &keys)
            .await
            .unwrap_or_default();
        if args.watch && !args.json {
            // Clear the screen and go home: a dashboard, not a scroll.
            print!("\x1b[2J\x1b[H");
        }
        if args.json {
            output::json(&as_json(&stats, &consumers));
        } else {
            print_table(&keys.events(), &stats, &consumers);
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.interval.max(1))) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

fn as_json(stats: &QueueStats, consumers: &[(String, u64, u64)]) -> serde_json::Value {
    json!({
        "stream_length": stats.stream_length,
        "undelivered": stats.lag,
        "pending": stats.pending,
        "oldest_pending_age_ms": stats.oldest_pending_id.as_deref().and_then(entry_ms).map(|ms| now_ms().saturating_sub(ms)),
        "consumers": consumers.iter().map(|(name, pending, idle)| json!({"name": name, "pending": pending, "idle_ms": idle})).collect::<Vec<_>>(),
        "retry_set_size": stats.retry_size,
        "next_retry_in_ms": stats.next_retry_ms.map(|due| due.saturating_sub(now_ms())),
        "dlq_length": stats.dlq_length,
        "group_exists": stats.group_exists,
    })
}

fn print_table(stream: &str, stats: &QueueStats, consumers: &[(String, u64, u64)]) {
    let mut table = output::table(&["queue", stream]);
    table.add_row(vec![
        "stream length".to_owned(),
        stats.stream_length.to_string(),
    ]);
    table.add_row(vec![
        "not yet delivered".to_owned(),
        match (stats.group_exists, stats.lag) {
            (false, _) => format!("{} (no worker has joined yet)", stats.stream_length),
            (true, Some(lag)) => lag.to_string(),
            (true, None) => "unknown".to_owned(),
        },
    ]);
    table.add_row(vec![
        "pending (delivered, unsettled)".to_owned(),
        stats.pending.to_string(),
    ]);
    table.add_row(vec![
        "oldest pending".to_owned(),
        stats
            .oldest_pending_id
            .as_deref()
            .and_then(entry_ms)
            .map(age)
            .unwrap_or_else(|| "-".into()),
    ]);
    table.add_row(vec![
        "waiting for a retry".to_owned(),
        stats.retry_size.to_string(),
    ]);
    table.add_row(vec![
        "next retry due in".to_owned(),
        stats
            .next_retry_ms
            .map(|due| human(due.saturating_sub(now_ms())))
            .unwrap_or_else(|| "-".into()),
    ]);
    table.add_row(vec![
        "dead letters".to_owned(),
        stats.dlq_length.to_string(),
    ]);
    println!("{table}");
    if !consumers.is_empty() {
        let mut table = output::table(&["consumer", "pending", "idle"]);
        for (name, pending, idle) in consumers {
            table.add_row(vec![name.clone(), pending.to_string(), human(*idle)]);
        }
        println!("{table}");
    }
}
