//! `clerk-sync reconcile`: `verify`'s comparison, then the repair, through the queue and the
//! same versioned path as every event (see `clerk_sync_mirror::reconcile`): missing and
//! stale objects queued whole, objects Clerk no longer has deleted as their deletion event
//! would delete them. Then it waits for the workers to apply what it queued.
//!
//! Exit status: 0 when the database is level afterwards, 1 when drift remains (or, with
//! `--dry-run`, when there is any), 2 when the check could not be made.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clerk_sync_clerk_api::{Kind, RetryPolicy};
use clerk_sync_db::PoolConfig;
use clerk_sync_mirror::ClerkArgs;
use clerk_sync_mirror::reconcile::Queued;
use clerk_sync_mirror::reconcile::{Options, Reconciler, Report};
use indicatif::ProgressBar;

use crate::output::{self, progress_bar};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    clerk: ClerkArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only these kinds, comma-separated; all three by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<crate::kinds::KindArg>,

    /// Find the drift and queue nothing.
    #[arg(long)]
    dry_run: bool,

    /// Go on from where an interrupted run stopped.
    #[arg(long)]
    resume: bool,

    /// Deletions queued at most per kind (default: a tenth of its live rows, at least 1);
    /// when more objects look deleted, none of that kind is deleted: a run never destroys
    /// on doubt.
    #[arg(long)]
    max_deletions: Option<usize>,

    /// How long to wait for the workers to apply the repairs (`0`: do not wait).
    #[arg(long, default_value = "5m", value_parser = clerk_sync_runtime::parse_interval)]
    wait: Duration,

    /// Print the result as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    let database = PoolConfig {
        url: args.database.url.expose().to_owned(),
        max_size: 1,
        // Whole tables are read; a large instance takes a while.
        statement_timeout: Duration::from_secs(600),
        lock_timeout: Duration::ZERO,
        idle_in_transaction_timeout: Duration::ZERO,
        application_name: "clerk-sync reconcile".into(),
        connect_timeout: Duration::from_secs(10),
    };
    let clerk = args.clerk.require();
    let guard = match crate::context::hold_key(&clerk, &args.database).await {
        Ok(guard) => guard,
        Err(exit) => return Ok(exit),
    };
    let reconciler = Reconciler::new(
        clerk.client(RetryPolicy::PATIENT)?,
        guard,
        (database.clone(), args.database.schema),
        context.redis()?,
        context.keys(),
    );
    let options = Options {
        kinds: crate::kinds::selected(&args.only),
        dry_run: args.dry_run,
        resume: args.resume,
        max_deletions: args.max_deletions,
    };
    // One run at a time, the workers' scheduled ones included: they share the progress a
    // run records. Held until this process is done.
    let _lock = if args.dry_run {
        None
    } else {
        match clerk_sync_mirror::reconcile::exclusive(&database, args.database.schema).await {
            Ok(Some(conn)) => Some(conn),
            Ok(None) => {
                eprintln!(
                    "error: a reconciliation is running (a worker's scheduled run, or another clerk-sync reconcile); try again when it is done"
                );
                return Ok(ExitCode::from(2));
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let mut bars: HashMap<Kind, ProgressBar> = HashMap::new();
    let outcome = reconciler
        .run(&options, |kind, read, total| {
            let bar = bars.entry(kind).or_insert_with(|| progress_bar(kind));
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.inc(read as u64);
        })
        .await;
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let applied = if args.dry_run || report.queued.is_empty() {
        report.queued.len()
    } else {
        match wait_applied(&database, args.database.schema, &report.queued, args.wait).await {
            Ok(applied) => applied,
            Err(error) => {
                eprintln!("error: {error:#}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let unrepairable: usize = report.kinds.iter().map(|k| k.unrepairable()).sum();
    let level = if args.dry_run {
        report.drift() == 0
    } else {
        unrepairable == 0 && applied == report.queued.len()
    };
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        // The id lists name the first SAMPLE of each sort; the counts are whole.
        for (n, k) in report.kinds.iter().enumerate() {
            value["kinds"][n]["counts"] = serde_json::json!({
                "missing": k.missing.len(), "stale": k.stale.len(),
                "extra": k.extra.len(), "deleted_here": k.deleted_here.len(),
            });
        }
        value["queued"] = report.queued.len().into();
        value["applied"] = applied.into();
        value["level"] = level.into();
        value["dry_run"] = args.dry_run.into();
        output::json(&value);
    } else {
        print(&report, applied, level, args.dry_run);
    }
    Ok(ExitCode::from(if level { 0 } else { 1 }))
}

/// Waits until the workers have applied every queued id, for at most `wait`; returns how
/// many were. One that never is sits in the dead-letter stream (`clerk-sync dlq list`).
/// The ids are read back a chunk at a time; chunks wholly applied are not asked again.
async fn wait_applied(
    database: &PoolConfig,
    schema: clerk_sync_db::Schema,
    queued: &Queued,
    wait: Duration,
) -> anyhow::Result<usize> {
    const CHUNK: usize = 1_000;
    let conn = clerk_sync_db::connect(database).await?;
    let deadline = Instant::now() + wait;
    // Chunks from the start wholly applied, and how many ids they hold.
    let (mut settled_chunks, mut settled) = (0, 0);
    loop {
        let mut ids = queued.reader().await?;
        let mut applied = settled;
        let mut settling = true;
        for index in 0.. {
            let chunk = ids.next_chunk(CHUNK).await?;
            if chunk.is_empty() {
                break;
            }
            if index < settled_chunks {
                continue;
            }
            let done = clerk_sync_db::count_processed(&conn, schema, &chunk).await?;
            applied += done;
            if settling && done == chunk.len() {
                settled_chunks = index + 1;
                settled += done;
            } else {
                settling = false;
            }
        }
        if applied >= queued.len() || Instant::now() >= deadline {
            return Ok(applied);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print(report: &Report, applied: usize, level: bool, dry_run: bool) {
    let mut table = output::table(&[
        "",
        "in Clerk",
        "in the database",
        "missing",
        "stale",
        "extra",
        "deleted here",
        "queued",
    ]);
    for k in &report.kinds {
        let extra = match (k.extras_checked, k.deletions_refused) {
            (false, _) => "not checked (resumed)".to_owned(),
            (true, true) => format!("{} (too many: none deleted)", k.extra.len()),
            (true, false) => k.extra.len().to_string(),
        };
        table.add_row(vec![
            k.kind.to_owned(),
            k.in_clerk.to_string(),
            k.in_database.to_string(),
            k.missing.len().to_string(),
            k.stale.len().to_string(),
            extra,
            k.deleted_here.len().to_string(),
            k.queued.to_string(),
        ]);
    }
    println!("{table}");
    for k in report.kinds.iter().filter(|k| !k.deleted_here.is_empty()) {
        println!(
            "{}: live in Clerk but deleted here (a deletion is final, left alone): {}",
            k.kind,
            output::clip(&k.deleted_here.ids().join(", "), 400)
        );
    }
    if dry_run {
        println!(
            "dry run: {} objects out of step, nothing queued",
            report.drift()
        );
    } else if level {
        println!("level: {} repairs queued and applied", report.queued.len());
    } else {
        println!(
            "drift remains: {applied} of {} repairs applied; see `clerk-sync dlq list` and `clerk-sync stats`",
            report.queued.len()
        );
    }
}
