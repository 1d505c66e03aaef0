//! The faults, at random moments while events flow: workers killed or stopped and replaced,
//! Redis crashed or restarted, PostgreSQL stopped for a while, the receiver restarted.

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
        match rng.random_range(0..10) {
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
                tokio::time::sleep(down).await;
                cluster.start_postgres(&[])?;
                note(&mut log, "PostgreSQL back".to_owned());
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
