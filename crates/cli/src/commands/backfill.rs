//! `clerk-sync backfill`: brings the database level with Clerk by feeding every user,
//! organization and membership the Backend API lists into `{prefix}:events`, as the event
//! that carries the object whole (`user.updated`, `organization.updated`,
//! `organizationMembership.updated`).
//!
//! Each object becomes one entry, queued exactly as the receiver queues a webhook (the same
//! duplicate guard and XADD script), with a `svix_id` made of the object's type, id and
//! `updated_at`. So a second run queues nothing new (the guard, then `processed_webhooks`,
//! recognise it), and the workers' ordering rules settle it against live webhooks: the
//! newest `updated_at` wins, and on a tie the live event does, since `backfill:…` sorts
//! before Svix's `msg_…`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clerk_sync_queue::{EnqueueError, EnqueueOutcome, Enqueuer, EnqueuerConfig, Entry};
use clerk_sync_runtime::Backoff;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;
use clerk_sync_clerk_api::{Client, Kind, Listing, Object, RetryPolicy};
use clerk_sync_mirror::ClerkArgs;

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

mod checkpoint;
mod summary;

use checkpoint::Checkpoint;
use clerk_sync_queue::Position;
use summary::summary;

/// What became of the objects of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    read: u64,
    queued: u64,
    already_queued: u64,
    older: u64,
    unreadable: u64,
}

/// Where events go: the queue (with the progress recorded for `--resume`), or, for
/// `--dry-run`, a list to print.
enum Sink {
    Queue(Enqueuer, Checkpoint),
    DryRun(Vec<(String, &'static str)>),
}

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    let kinds = crate::kinds::selected(&args.only);
    let since_ms = args.since.map(|t| t.timestamp_millis());
    let clerk = args.clerk.require();
    if let Err(exit) = crate::context::hold_key(&clerk, &args.database).await {
        return Ok(exit);
    }
    let client = clerk.client(RetryPolicy::PATIENT)?;
    let mut sink = if args.dry_run {
        Sink::DryRun(Vec::new())
    } else {
        let pool = context.redis()?;
        let keys = context.keys();
        // Fail before reading Clerk, not after the first page.
        clerk_sync_queue::queue_stats(&pool, &keys)
            .await
            .with_context(|| format!("cannot reach Redis at {}", context.redis_display()))?;
        let checkpoint = Checkpoint::open(pool.clone(), &keys, args.resume).await?;
        Sink::Queue(
            Enqueuer::new(pool, keys, EnqueuerConfig::default()),
            checkpoint,
        )
    };

    let mut tallies = BTreeMap::new();
    for kind in kinds {
        let tally = backfill_kind(&client, &mut sink, kind, since_ms)
            .await
            .with_context(|| format!("backfill of {} stopped", kind.plural()))?;
        tallies.insert(kind, tally);
    }
    let would_queue = match sink {
        Sink::DryRun(events) => events,
        Sink::Queue(_, checkpoint) => {
            checkpoint.finish().await?;
            Vec::new()
        }
    };
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

async fn backfill_kind(
    client: &Client,
    sink: &mut Sink,
    kind: Kind,
    since_ms: Option<i64>,
) -> anyhow::Result<Tally> {
    let progress = progress_bar(kind);
    let mut tally = Tally::default();
    let mut lists = Listing::new(client, kind, since_ms.is_some());
    if let Sink::Queue(_, checkpoint) = sink {
        match checkpoint.position(kind) {
            Position::Done => return Ok(tally),
            Position::At(offset) => lists.skip_to(offset),
            Position::Start => {}
        }
    }
    while let Some(page) = lists.next_page().await? {
        if let Some(total) = lists.total() {
            progress.set_length(total);
        }
        tally.unreadable += page.unreadable as u64;
        for object in page.objects {
            tally.read += 1;
            progress.inc(1);
            let Some(version) = object.version() else {
                tally.unreadable += 1;
                continue;
            };
            if since_ms.is_some_and(|since| version < since) {
                tally.older += 1;
                // Users come newest first with --since: the rest are older still.
                if kind == Kind::User {
                    lists.stop();
                    break;
                }
                continue;
            }
            match sink {
                Sink::DryRun(events) => {
                    events.push((svix_id(kind, &object, version), kind.event_type()));
                    tally.queued += 1;
                }
                Sink::Queue(enqueuer, _) => {
                    let entry = entry(kind, &object, version);
                    match enqueue(enqueuer, &entry, &progress).await? {
                        EnqueueOutcome::Queued(_) => tally.queued += 1,
                        EnqueueOutcome::Duplicate => tally.already_queued += 1,
                    }
                }
            }
        }
        if let (Sink::Queue(_, checkpoint), Some(offset)) = (&*sink, lists.offset()) {
            checkpoint.reached(kind, offset).await?;
        }
    }
    if let Sink::Queue(_, checkpoint) = sink {
        checkpoint.done(kind).await?;
    }
    progress.finish_and_clear();
    Ok(tally)
}

/// The id the event is known by in the queue and in `processed_webhooks`: the same object
/// at the same version always gets the same one.
fn svix_id(kind: Kind, object: &Object, version: i64) -> String {
    format!("backfill:{}:{}:{version}", kind.name(), object.id)
}

fn entry(kind: Kind, object: &Object, version: i64) -> Entry {
    let now_ms = output::now_ms();
    Entry {
        svix_id: svix_id(kind, object, version),
        svix_timestamp: (now_ms / 1000).to_string(),
        event_type: kind.event_type().to_owned(),
        payload: object.envelope(kind.event_type(), version),
        received_at: now_ms,
        attempt: 0,
    }
}

/// Queues one entry, waiting while the stream is at its high-water mark (the workers are
/// behind; they will catch up) and retrying a Redis that does not answer, for a while.
async fn enqueue(
    enqueuer: &Enqueuer,
    entry: &Entry,
    progress: &ProgressBar,
) -> anyhow::Result<EnqueueOutcome> {
    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_secs(10),
    };
    const MAX_FAILURES: u32 = 6;
    let mut failures = 0;
    loop {
        match enqueuer.enqueue(entry).await {
            Ok(outcome) => {
                progress.set_message("");
                return Ok(outcome);
            }
            Err(EnqueueError::Full) => {
                progress.set_message("the events stream is full; waiting for the workers");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) if failures < MAX_FAILURES => {
                tracing::debug!(error = %error, "enqueue failed; retrying");
                tokio::time::sleep(BACKOFF.delay(failures)).await;
                failures += 1;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot queue {}", entry.svix_id));
            }
        }
    }
}

pub(crate) fn progress_bar(kind: Kind) -> ProgressBar {
    // Drawn on standard error, and only when it is a terminal: scripts see the summary alone.
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} {prefix:<13} {pos:>7}/{len:7} [{bar:30}] {per_sec:>10} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(kind.plural());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(raw: &str) -> Object {
        let raw = serde_json::value::RawValue::from_string(raw.to_owned()).unwrap();
        Object {
            raw,
            id: "user_1".into(),
            updated_at: Some(1_716_883_500_000),
            created_at: None,
        }
    }

    #[test]
    fn the_envelope_carries_the_object_byte_for_byte_and_parses() {
        let data = r#"{ "object":"user", "id":"user_1", "first_name":"Zo\u00eb", "updated_at":1716883500000 }"#;
        let body = object(data).envelope(Kind::User.event_type(), 1_716_883_500_000);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.ends_with(&format!(r#""data":{data}}}"#)), "{text}");
        let event = clerk_sync_events::parse(&body, 0).unwrap();
        assert_eq!(event.event_type, "user.updated");
        assert_eq!(event.timestamp, 1_716_883_500_000);
        let clerk_sync_events::EventData::UserUpserted(user) = event.data else {
            panic!("not a user upsert: {event:?}")
        };
        assert_eq!(user.first_name.as_deref(), Some("Zoë"));
    }

    #[test]
    fn the_svix_id_is_the_object_and_its_version() {
        let object = object(r#"{"id":"user_1"}"#);
        assert_eq!(
            svix_id(Kind::User, &object, 1_716_883_500_000),
            "backfill:user:user_1:1716883500000"
        );
        assert!(
            svix_id(Kind::User, &object, 1).as_str() < "msg_2abc",
            "live events win ties"
        );
    }

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
