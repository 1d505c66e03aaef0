//! The faults, at random moments while events flow: workers killed or stopped and replaced,
//! workers frozen (SIGSTOP) inside a transaction for longer than CLAIM_IDLE_MS and resumed,
//! Redis crashed or restarted, PostgreSQL stopped for a while (and a worker started and
//! stopped while it waits for it), the receiver restarted.

use std::time::{Duration, Instant};

use rand::Rng as _;
use rand::rngs::StdRng;

use clerk_sync_testbed::Cluster;

/// Workers tuned to recover fast: entries of a dead worker are claimed after 4 s.
pub const WORKER: &[(&str, &str)] = &[
    ("CLAIM_IDLE_MS", "4000"),
    ("ATTEMPT_TIMEOUT_MS", "2000"),
    ("RETRY_BASE_MS", "50"),
    ("RETRY_MAX_MS", "2000"),
];

/// How often and how hard.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Faults stop after this long.
    pub window: Duration,
    /// Time between faults, drawn from this range.
    pub gap: (Duration, Duration),
    /// PostgreSQL outages last this long, drawn from this range.
    pub outage: (Duration, Duration),
    /// At most this many PostgreSQL outages.
    pub outages: usize,
}

/// What was done, for the report.
#[derive(Debug, Default)]
pub struct FaultLog {
    pub lines: Vec<String>,
    /// SIGTERMed workers that did not exit 0.
    pub unclean_exits: Vec<String>,
}

/// Runs faults until the window closes, keeping three workers alive.
pub async fn run(
    cluster: &mut Cluster,
    schedule: Schedule,
    rng: &mut StdRng,
) -> anyhow::Result<FaultLog> {
    let started = Instant::now();
    let mut log = FaultLog::default();
    let mut outages = 0;
    let note = |log: &mut FaultLog, line: String| {
        println!("  {:>6.1}s  {line}", started.elapsed().as_secs_f64());
        log.lines.push(line);
    };
    while started.elapsed() < schedule.window {
        let gap = rng.random_range(schedule.gap.0..=schedule.gap.1);
        tokio::time::sleep(gap).await;
        match rng.random_range(0..11) {
            0..=2 => {
                let index = rng.random_range(0..cluster.workers.len());
                let (name, _) = cluster.stop_worker(index, true)?;
                let fresh = cluster.start_worker(WORKER)?;
                note(&mut log, format!("SIGKILL {name}, started {fresh}"));
            }
            3..=4 => {
                let index = rng.random_range(0..cluster.workers.len());
                let (name, code) = cluster.stop_worker(index, false)?;
                if code != Some(0) {
                    log.unclean_exits
                        .push(format!("{name} exited {code:?} on SIGTERM"));
                }
                let fresh = cluster.start_worker(WORKER)?;
                note(
                    &mut log,
                    format!("SIGTERM {name} (exit {code:?}), started {fresh}"),
                );
            }
            5..=6 => {
                let crash = rng.random_bool(0.5);
                cluster.stop_redis(crash)?;
                tokio::time::sleep(Duration::from_millis(rng.random_range(200..2000))).await;
                cluster.start_redis().await?;
                note(
                    &mut log,
                    format!(
                        "Redis {}, restarted from its AOF",
                        if crash { "killed" } else { "stopped" }
                    ),
                );
            }
            7 if outages < schedule.outages => {
                outages += 1;
                let down = rng.random_range(schedule.outage.0..=schedule.outage.1);
                let crash = rng.random_bool(0.5);
                cluster.stop_postgres(crash)?;
                note(
                    &mut log,
                    format!(
                        "PostgreSQL {} for {:.0}s",
                        if crash { "crashed" } else { "stopped" },
                        down.as_secs_f64()
                    ),
                );
                // A replacement started during the outage and stopped by its orchestrator
                // while it still waits for PostgreSQL: a clean exit, nothing half-done.
                let fresh = cluster.start_worker(WORKER)?;
                tokio::time::sleep(down.min(Duration::from_secs(3))).await;
                let (name, code) = cluster.stop_worker(cluster.workers.len() - 1, false)?;
                if code != Some(0) {
                    log.unclean_exits
                        .push(format!("{name} exited {code:?} on SIGTERM while starting"));
                }
                note(
                    &mut log,
                    format!("started {fresh} during the outage, SIGTERM (exit {code:?})"),
                );
                tokio::time::sleep(down.saturating_sub(Duration::from_secs(3))).await;
                cluster.start_postgres(&[])?;
                note(&mut log, "PostgreSQL back".to_owned());
            }
            8 => {
                let index = rng.random_range(0..cluster.workers.len());
                let inside = caught_in_transaction(cluster, index).await;
                let name = cluster.pause_worker(index)?;
                // Longer than CLAIM_IDLE_MS: its entries are claimed while it is frozen,
                // and its session (with the locks it holds) is ended by PostgreSQL.
                let paused = Duration::from_millis(rng.random_range(4_500..7_000));
                tokio::time::sleep(paused).await;
                cluster.resume_worker(index)?;
                note(
                    &mut log,
                    format!(
                        "SIGSTOP {name} {}for {:.1}s, then SIGCONT",
                        if inside {
                            "inside its transaction "
                        } else {
                            ""
                        },
                        paused.as_secs_f64()
                    ),
                );
            }
            _ => {
                let code = cluster.stop_receiver()?;
                cluster.start_receiver(&[]).await?;
                note(&mut log, format!("receiver restarted (exit {code:?})"));
            }
        }
    }
    Ok(log)
}

/// Waits, a little, for the worker at `index` to be inside a transaction, so that freezing
/// it leaves its session holding locks; `false` when it was not caught in one.
async fn caught_in_transaction(cluster: &Cluster, index: usize) -> bool {
    let Some((name, _)) = cluster.workers.get(index) else {
        return false;
    };
    let application = format!("clerk-sync-worker {name}");
    let Ok((client, connection)) =
        tokio_postgres::connect(&cluster.database_url(), tokio_postgres::NoTls).await
    else {
        return false;
    };
    tokio::spawn(connection);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let open: Result<i64, _> = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL",
                &[&application],
            )
            .await
            .map(|row| row.get(0));
        if open.is_ok_and(|n| n > 0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
