//! What `backfill` prints when it is done: a table for people, JSON for scripts.

use std::collections::BTreeMap;

use serde_json::json;

use clerk_sync_mirror::backfill::Tally;

use super::Args;
use crate::output;
use clerk_sync_clerk_api::{Client, Kind};

/// Prints the tallies, the retries, and with `--dry-run` what would have been queued.
pub(super) fn summary(
    client: &Client,
    tallies: &BTreeMap<Kind, Tally>,
    would_queue: &[(String, &'static str)],
    args: &Args,
    context: &crate::Context,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let retries = client.retries();
    let total = |f: fn(&Tally) -> u64| tallies.values().map(f).sum::<u64>();
    if args.json {
        let kinds: serde_json::Map<String, serde_json::Value> = tallies
            .iter()
            .map(|(kind, t)| {
                let value = json!({
                    "read": t.read, "queued": t.queued, "already_queued": t.already_queued,
                    "older_than_since": t.older, "unreadable": t.unreadable,
                });
                (kind.plural().to_owned(), value)
            })
            .collect();
        let mut summary = json!({
            "dry_run": args.dry_run,
            "queued": total(|t| t.queued),
            "already_queued": total(|t| t.already_queued),
            "kinds": kinds,
            "retries": {
                "total": retries.total(),
                "rate_limited": retries.rate_limited.load(Relaxed),
                "server_errors": retries.server_errors.load(Relaxed),
                "connection": retries.connection.load(Relaxed),
            },
        });
        if args.dry_run {
            summary["would_queue"] = would_queue
                .iter()
                .map(|(svix_id, event_type)| json!({"svix_id": svix_id, "type": event_type}))
                .collect();
        }
        output::json(&summary);
        return;
    }
    for (svix_id, event_type) in would_queue {
        println!("{svix_id}  {event_type}");
    }
    let verb = if args.dry_run {
        "would queue"
    } else {
        "queued"
    };
    let mut table = output::table(&[
        "",
        "read",
        verb,
        "already queued",
        "older than --since",
        "unreadable",
    ]);
    for (kind, t) in tallies {
        table.add_row(vec![
            kind.plural().to_owned(),
            t.read.to_string(),
            t.queued.to_string(),
            t.already_queued.to_string(),
            t.older.to_string(),
            t.unreadable.to_string(),
        ]);
    }
    println!("{table}");
    let destination = if args.dry_run {
        "nothing queued (--dry-run)".to_owned()
    } else {
        format!("onto {}", context.keys().events())
    };
    println!(
        "{verb} {}, already queued {}, {destination}",
        total(|t| t.queued),
        total(|t| t.already_queued)
    );
    if retries.total() > 0 {
        println!(
            "retries: {} (rate limited {}, server errors {}, connection {})",
            retries.total(),
            retries.rate_limited.load(Relaxed),
            retries.server_errors.load(Relaxed),
            retries.connection.load(Relaxed),
        );
    }
}
