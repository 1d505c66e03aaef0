//! `clerk-sync-chaos`: the four guarantees, under fire.
//!
//! Starts its own Redis (append-only, as docker-compose.yml runs it) and PostgreSQL cluster
//! in a temporary directory on free ports, a receiver and three workers; sends a few thousand
//! signed events (users, sessions, organizations, memberships, redeliveries, out-of-order
//! histories, poison payloads, forged signatures) while it kills and restarts workers,
//! crashes and restarts Redis, stops PostgreSQL for a while and restarts the receiver. Then it
//! waits for the queue to drain and checks everything against a model computed from the
//! events, and that the application's own tables in `public`, named as clerk-sync's are,
//! were left alone. Exits 1 on any loss, duplicate or mismatch.

// A report for people is this program's output.
#![allow(clippy::print_stdout)]

mod application;
mod check;
mod driver;
mod faults;
mod model;
mod workload;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use clerk_sync_queue::Keys;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use crate::faults::Schedule;
use crate::workload::Size;
use clerk_sync_testbed::{Cluster, PREFIX};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Profile {
    /// About a minute and a half, for every CI run.
    Short,
    /// Several thousand events and up to three PostgreSQL outages, under ten minutes.
    Full,
}

/// Prove that nothing is lost or applied twice while processes die.
#[derive(Debug, Parser)]
#[command(name = "clerk-sync-chaos", version, about)]
struct Args {
    /// How long and how hard.
    #[arg(long, value_enum, default_value = "short", env = "CHAOS_PROFILE")]
    profile: Profile,
    /// The random seed: the same seed plans the same events and the same faults.
    #[arg(long, env = "CHAOS_SEED")]
    seed: Option<u64>,
    /// Keep the run's directory (logs, data) even when it passes.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let (size, pace, schedule) = match args.profile {
        Profile::Short => (
            Size {
                users: 120,
                organizations: 30,
            },
            Duration::from_secs(40),
            Schedule {
                window: Duration::from_secs(45),
                gap: (Duration::from_secs(2), Duration::from_secs(5)),
                outage: (Duration::from_secs(10), Duration::from_secs(10)),
                outages: 1,
            },
        ),
        Profile::Full => (
            Size {
                users: 500,
                organizations: 120,
            },
            Duration::from_secs(240),
            Schedule {
                window: Duration::from_secs(250),
                gap: (Duration::from_secs(3), Duration::from_secs(8)),
                outage: (Duration::from_secs(10), Duration::from_secs(30)),
                outages: 3,
            },
        ),
    };
    let dir = std::env::temp_dir().join(format!("clerk-sync-chaos-{}-{seed}", std::process::id()));
    println!(
        "chaos: profile {:?}, seed {seed}, directory {}",
        args.profile,
        dir.display()
    );

    let mut cluster = Cluster::new(dir.clone())?;
    let outcome = exercise(&mut cluster, size, pace, schedule, &mut rng).await;
    cluster.shutdown();
    let passed = match outcome {
        Ok(passed) => passed,
        Err(error) => {
            println!("chaos: the run broke off: {error:#}");
            false
        }
    };
    if passed && !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("chaos: logs and data kept in {}", dir.display());
    }
    if !passed {
        println!("chaos: FAILED (reproduce with --seed {seed})");
    }
    Ok(passed)
}

async fn exercise(
    cluster: &mut Cluster,
    size: Size,
    pace: Duration,
    schedule: Schedule,
    rng: &mut StdRng,
) -> anyhow::Result<bool> {
    cluster.init_postgres()?;
    cluster.start_postgres(&[])?;
    cluster.start_redis().await?;
    let database_url = cluster.database_url();
    let application = application::create(&database_url).await?;
    for _ in 0..3 {
        cluster.start_worker(faults::WORKER)?;
    }
    clerk_sync_testbed::wait_for("the migrations", Duration::from_secs(60), async || {
        migrated(&database_url).await
    })
    .await?;
    cluster.start_receiver(&[]).await?;

    let planned = workload::plan(size, rng);
    println!(
        "chaos: sending {} events over {:?}, faults for {:?}",
        planned.len(),
        pace,
        schedule.window
    );
    let started = Instant::now();
    let deadline = started + schedule.window + Duration::from_secs(120);
    let driver = tokio::spawn(driver::send_all(
        cluster.receiver_url(),
        planned.clone(),
        pace,
        16,
        deadline,
    ));
    let log = faults::run(cluster, schedule, rng).await?;
    let sent = driver.await.context("the driver failed")?;
    println!(
        "chaos: sent in {:.0}s, {} deliveries retried through faults",
        started.elapsed().as_secs_f64(),
        sent.retries
    );

    let redis = clerk_sync_queue::connect(
        &cluster.redis_url(),
        2,
        Duration::from_secs(5),
        Duration::from_secs(5),
    )?;
    let keys = Keys::new(PREFIX);
    drain(&redis, &keys).await?;
    let mut verdict = check::check(&planned, &sent, &database_url, &redis, &keys).await?;
    verdict
        .failures
        .extend(application::changed(&database_url, &application).await?);

    println!();
    println!("  sent           {}", verdict.sent);
    println!("  accepted (2xx) {}", verdict.accepted);
    println!("  refused (401)  {}", verdict.refused);
    println!("  unconfirmed    {}", verdict.unconfirmed);
    println!("  applied        {}", verdict.applied);
    println!("  dead-lettered  {}", verdict.dead_lettered);
    println!("  lost           {}", verdict.lost);
    println!("  duplicated     {}", verdict.duplicated);
    println!("  faults         {}", log.lines.len());
    for failure in verdict
        .failures
        .iter()
        .take(20)
        .chain(log.unclean_exits.iter())
    {
        println!("  FAIL {failure}");
    }
    if verdict.failures.len() > 20 {
        println!("  … and {} more", verdict.failures.len() - 20);
    }
    Ok(verdict.passed() && log.unclean_exits.is_empty() && verdict.unconfirmed == 0)
}

async fn migrated(database_url: &str) -> bool {
    let Ok((client, connection)) =
        tokio_postgres::connect(database_url, tokio_postgres::NoTls).await
    else {
        return false;
    };
    tokio::spawn(connection);
    client
        .query_one("SELECT to_regclass('clerk.user_profiles') IS NOT NULL", &[])
        .await
        .is_ok_and(|row| row.get::<_, bool>(0))
}

/// Waits until nothing is left to apply: no entry in the stream, none pending, no retry.
async fn drain(redis: &clerk_sync_queue::Pool, keys: &Keys) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut quiet_since: Option<Instant> = None;
    while started.elapsed() < Duration::from_secs(180) {
        let stats = clerk_sync_queue::queue_stats(redis, keys).await?;
        if stats.stream_length == 0 && stats.pending == 0 && stats.retry_size == 0 {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(2) {
                return Ok(());
            }
        } else {
            quiet_since = None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the queue did not drain within 180 s")
}
