//! `clerk-sync-bench`: how fast and how small, measured beside the limits of the Redis and
//! PostgreSQL it runs on, in one run on one machine.
//!
//! Starts its own Redis (append-only, as docker-compose.yml runs it) and PostgreSQL (with
//! commit timestamps on, to time each row's commit) and, per run: saturates the receiver
//! with 64 keep-alive connections; sends 1,000 events/s through the receiver to two workers
//! and times each from when it was due to its commit; has one worker, then two, drain
//! 100,000 queued events, then again with each worker held to a CPU budget as a replica
//! is; reads the processes' peak RSS; and measures the ceilings:
//! `redis-benchmark` XADD of the same payload and `pgbench` running the worker's per-event
//! SQL, one transaction per event; then times the console's grouped dead-letter page and an
//! object search with 100,000 dead letters and 1,000,000 users. Prints the medians of the
//! runs as a markdown table. Then, once, reconciles a million users against a stand-in for
//! Clerk serving them generated (`--reconcile-users`), beside `verify` over the same data.

// A report for people is this program's output.
#![allow(clippy::print_stdout)]

mod baseline;
mod budget;
mod capacity;
mod ceilings;
mod console;
mod load;
mod payload;
mod phases;
mod reconcile;
mod report;
mod sizing;
mod standin;

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use clerk_sync_testbed::Cluster;

use crate::report::Figures;

/// Measure throughput, latency and memory beside Redis's and PostgreSQL's ceilings.
#[derive(Debug, Parser)]
#[command(name = "clerk-sync-bench", version, about)]
struct Args {
    /// Runs; the report gives their median, min and max.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of receiver saturation measured per run (after 2 s of warm-up).
    #[arg(long, default_value_t = 10)]
    window: u64,
    /// Events the workers drain per run.
    #[arg(long, default_value_t = 100_000)]
    drain_events: usize,
    /// Events per second of the end-to-end run.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of the end-to-end run.
    #[arg(long, default_value_t = 15)]
    e2e_seconds: u64,
    /// Requests of the memory run: a fresh receiver, nothing scraping `/metrics` (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    memory_requests: usize,
    /// The CPU each worker is held to in the scale-out drain, in millicores (as a
    /// Kubernetes limit); 0 skips it. Needs a writable CPU cgroup (root); without one the
    /// phase is skipped with the reason.
    #[arg(long, default_value_t = 250)]
    worker_cpu: u64,
    /// The receiver's `RUST_LOG` in the throughput and latency phases: `warn` drops its line
    /// per accepted event, to see what that line costs.
    #[arg(long, default_value = "info")]
    receiver_log: String,
    /// Users of the reconciliation run (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    reconcile_users: usize,
    /// Events per second of the paced receiver-latency run.
    #[arg(long, default_value_t = 1000)]
    paced_rate: u32,
    /// Seconds of the paced receiver-latency run.
    #[arg(long, default_value_t = 15)]
    paced_seconds: u64,
    /// Events of the capacity phase's Redis figures (0 skips the capacity phase).
    #[arg(long, default_value_t = 100_000)]
    capacity_events: usize,
    /// Events the workers apply before PostgreSQL's bytes per row are read: `user.updated`,
    /// then half as many sign-ins and as many emails.
    #[arg(long, default_value_t = 20_000)]
    capacity_pg_events: usize,
    /// Dead letters the console's pages are timed with (0 skips the console phase).
    #[arg(long, default_value_t = 100_000)]
    console_dead_letters: usize,
    /// Users in the database while the console's pages are timed.
    #[arg(long, default_value_t = 1_000_000)]
    console_users: usize,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("clerk-sync-bench-{}", std::process::id()));
    let mut cluster = Cluster::new(dir.clone())?;
    let mut budget = match args.worker_cpu {
        0 => None,
        millicores => match budget::CpuBudget::new(millicores) {
            Ok(budget) => Some(budget),
            Err(err) => {
                eprintln!("the drain with a CPU budget per worker is skipped: {err:#}");
                None
            }
        },
    };
    let outcome = measure(&mut cluster, &args, budget.as_mut()).await;
    cluster.shutdown();
    let budget = budget.as_ref().map(budget::CpuBudget::millicores);
    let _ = std::fs::remove_dir_all(&dir);
    let Measured {
        runs,
        memory,
        capacity,
        reconciled,
        console,
    } = outcome?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let settings = "receiver and workers with their defaults (release build, `LOG_FORMAT=json`, `RUST_LOG=info`, logs to a file); \
        Redis `appendonly yes`, `appendfsync everysec`; PostgreSQL defaults with `fsync=on`";
    // `--runs 0` measures only the memory run: no empty table then.
    let mut table = if runs.is_empty() {
        format!("Command: `{command}`  \nMachine: {}\n", report::machine())
    } else {
        report::markdown(&runs, &report::machine(), &command, settings, budget)
    };
    if let Some(memory) = memory {
        table.push_str(&report::memory(&memory));
    }
    if let Some(reconciled) = reconciled {
        table.push_str(&report::reconcile(&reconciled));
    }
    if let Some((capacity, replica_rate, replica)) = capacity {
        table.push_str(&sizing::markdown(&capacity, replica_rate, &replica));
    }
    if let Some(console) = console {
        table.push_str(&console::report(&console));
    }
    println!("{table}");
    if let Some(path) = &args.out {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The runs, the memory run and the capacity phase (with one replica's rate and what it was).
/// What the phases measured, for the report.
struct Measured {
    runs: Vec<Figures>,
    memory: Option<phases::MemoryRun>,
    /// The capacity figures, the drain rate one replica sustains, and how it was measured.
    capacity: Option<(capacity::Capacity, f64, String)>,
    reconciled: Option<reconcile::Figures>,
    console: Option<console::ConsoleRun>,
}

async fn measure(
    cluster: &mut Cluster,
    args: &Args,
    mut budget: Option<&mut budget::CpuBudget>,
) -> anyhow::Result<Measured> {
    let budget_millicores = budget.as_deref().map(budget::CpuBudget::millicores);
    cluster.init_postgres()?;
    cluster.start_postgres(&["track_commit_timestamp=on"])?;
    cluster.start_redis().await?;
    let (db, connection) =
        tokio_postgres::connect(&cluster.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    // One worker creates the schema, then goes.
    cluster.start_worker(&[])?;
    clerk_sync_testbed::wait_for("the migrations", Duration::from_secs(60), async || {
        db.query_one("SELECT to_regclass('clerk.user_profiles') IS NOT NULL", &[])
            .await
            .is_ok_and(|row| row.get::<_, bool>(0))
    })
    .await?;
    let redis = clerk_sync_queue::connect(
        &cluster.redis_url(),
        80,
        Duration::from_secs(5),
        Duration::from_secs(10),
    )?;
    cluster
        .start_receiver(&[("QUEUE_HIGH_WATER", "0"), ("RUST_LOG", &args.receiver_log)])
        .await?;

    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let mut f = Figures::default();
        phases::reset(cluster, &db, &redis).await?;
        capacity::reset_command_stats(&redis).await?;
        let receiver =
            phases::receiver_saturation(cluster, Duration::from_secs(args.window)).await?;
        f.receiver_group = capacity::events_per_call(&redis).await?;
        f.receiver_rps = receiver.accepted_per_sec;
        f.receiver_p50_ms = receiver.latency.value_at_quantile(0.5) as f64 / 1000.0;
        f.receiver_p99_ms = receiver.latency.value_at_quantile(0.99) as f64 / 1000.0;
        f.receiver_p999_ms = receiver.latency.value_at_quantile(0.999) as f64 / 1000.0;
        f.receiver_non_202 = receiver.other;
        println!(
            "run {run}: receiver {:.0}/s, p99 {:.2} ms, {:.1} events per script call",
            f.receiver_rps, f.receiver_p99_ms, f.receiver_group
        );
        phases::reset(cluster, &db, &redis).await?;
        let bare = baseline::bare_saturation(cluster, Duration::from_secs(args.window)).await?;
        f.bare_rps = bare.accepted_per_sec;
        println!(
            "run {run}: bare actix-web + XADD {:.0}/s: receiver at {:.2} x",
            f.bare_rps,
            f.receiver_rps / f.bare_rps
        );
        phases::reset(cluster, &db, &redis).await?;
        let paced = baseline::paced(cluster, args.paced_rate, args.paced_seconds).await?;
        f.paced_p50_ms = paced.value_at_quantile(0.5) as f64 / 1000.0;
        f.paced_p99_ms = paced.value_at_quantile(0.99) as f64 / 1000.0;
        println!(
            "run {run}: receiver at {}/s paced: p50 {:.2} ms, p99 {:.2} ms",
            args.paced_rate, f.paced_p50_ms, f.paced_p99_ms
        );

        phases::reset(cluster, &db, &redis).await?;
        for _ in 0..2 {
            cluster.start_worker(&[("MIGRATE_ON_START", "false")])?;
        }
        let e2e = phases::end_to_end(cluster, &db, args.rate, args.e2e_seconds).await?;
        f.e2e_p50_ms = e2e.value_at_quantile(0.5) as f64 / 1000.0;
        f.e2e_p99_ms = e2e.value_at_quantile(0.99) as f64 / 1000.0;
        println!(
            "run {run}: end to end p50 {:.1} ms, p99 {:.1} ms",
            f.e2e_p50_ms, f.e2e_p99_ms
        );

        for workers in [1, 2] {
            phases::reset(cluster, &db, &redis).await?;
            let drain =
                phases::drain(cluster, &db, &redis, args.drain_events, workers, None).await?;
            if workers == 1 {
                f.drain_one = drain.events_per_sec
            } else {
                f.drain_two = drain.events_per_sec
            }
            f.worker_rss_mib = f.worker_rss_mib.max(drain.peak_rss_kib as f64 / 1024.0);
            println!(
                "run {run}: drain with {workers} worker(s) {:.0} events/s",
                drain.events_per_sec
            );
        }
        if let Some(budget) = budget.as_deref_mut() {
            for workers in [1, 2] {
                phases::reset(cluster, &db, &redis).await?;
                let drain = phases::drain(
                    cluster,
                    &db,
                    &redis,
                    args.drain_events,
                    workers,
                    Some(&mut *budget),
                )
                .await?;
                if workers == 1 {
                    f.drain_one_budget = drain.events_per_sec
                } else {
                    f.drain_two_budget = drain.events_per_sec
                }
                println!(
                    "run {run}: drain with {workers} worker(s) of {}m CPU each {:.0} events/s",
                    budget.millicores(),
                    drain.events_per_sec
                );
            }
        }
        f.receiver_rss_mib = cluster
            .receiver_pid()
            .and_then(clerk_sync_testbed::peak_rss_kib)
            .unwrap_or_default() as f64
            / 1024.0;

        phases::reset(cluster, &db, &redis).await?;
        let payload_len = payload::user_updated(0, 0).len();
        f.redis_xadd = ceilings::redis_xadd(cluster, payload_len, 64, 200_000)?;
        f.redis_script = ceilings::redis_enqueue_script(cluster, payload_len, 64, 200_000)?;
        f.pgbench_tps = ceilings::pgbench_per_event(cluster, 2, 10)?;
        println!(
            "run {run}: ceilings: XADD {:.0}/s, enqueue script {:.0}/s, pgbench {:.0} tx/s",
            f.redis_xadd, f.redis_script, f.pgbench_tps
        );
        runs.push(f);
    }
    let memory = if args.memory_requests > 0 {
        phases::reset(cluster, &db, &redis).await?;
        let memory = phases::receiver_memory(cluster, &redis, args.memory_requests).await?;
        println!(
            "receiver RSS over {} requests, nothing scraping: {:.1} MiB warm, {:.1} MiB at the end",
            memory.requests, memory.warm_mib, memory.end_mib
        );
        Some(memory)
    } else {
        None
    };
    let capacity = if args.capacity_events > 0 {
        phases::reset(cluster, &db, &redis).await?;
        let mut capacity = capacity::redis_bytes(&redis, args.capacity_events).await?;
        phases::reset(cluster, &db, &redis).await?;
        phases::drain(cluster, &db, &redis, args.capacity_pg_events, 1, None).await?;
        capacity::postgres_bytes(&db, &mut capacity).await?;
        phases::reset(cluster, &db, &redis).await?;
        capacity::postgres_session_and_message_bytes(
            cluster,
            &db,
            &redis,
            args.capacity_pg_events / 2,
            &mut capacity,
        )
        .await?;
        println!(
            "capacity: guard {:.0} B/event (one key per id: {:.0}), queued {:.0} B, dead letter {:.0} B; \
             PostgreSQL user {:.0} B, processed_webhooks row {:.0} B, feed row {:.0} B, \
             session {:.0} B, message {:.0} B",
            capacity.guard,
            capacity.guard_per_key,
            capacity.queued,
            capacity.dead_letter,
            capacity.pg_user,
            capacity.pg_processed,
            capacity.pg_feed,
            capacity.pg_session,
            capacity.pg_message
        );
        let (rate, replica) = match (runs.is_empty(), budget_millicores) {
            (false, Some(m)) => (
                report::median(&runs, |f| f.drain_one_budget),
                format!("one worker held to {m}m CPU, as measured in phase 3b"),
            ),
            (false, None) => (
                report::median(&runs, |f| f.drain_one),
                "one worker, no CPU limit, as measured in phase 3".to_owned(),
            ),
            (true, _) => (0.0, "not measured: no runs".to_owned()),
        };
        Some((capacity, rate, replica))
    } else {
        None
    };
    let reconciled = if args.reconcile_users > 0 {
        phases::reset(cluster, &db, &redis).await?;
        Some(reconcile::measure(cluster, args.reconcile_users).await?)
    } else {
        None
    };
    let console = if args.console_dead_letters > 0 {
        phases::reset(cluster, &db, &redis).await?;
        let run = console::console(
            cluster,
            &db,
            &redis,
            args.console_dead_letters,
            args.console_users,
        )
        .await?;
        for (page, p50, p99) in &run.pages {
            println!("console: {page}: p50 {p50:.1} ms, p99 {p99:.1} ms");
        }
        Some(run)
    } else {
        None
    };
    Ok(Measured {
        runs,
        memory,
        capacity,
        reconciled,
        console,
    })
}
