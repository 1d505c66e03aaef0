//! Reconciliation on a schedule: every `RECONCILE_INTERVAL`, by one worker at a time.
//!
//! Every worker looks now and then (a tenth of the interval, at most a minute, jittered);
//! the first to find the last run older than the interval, or a run interrupted, takes a
//! PostgreSQL advisory lock on a connection of its own and runs it, at the Backend API pace
//! `CLERK_API_RATE` sets. The others find the lock taken, or the run fresh, and wait for
//! their next look. The run reads on its own connection and queues its repairs like any
//! sender, so event processing is never held up by it. A worker whose key belongs to another
//! Clerk instance than the one the database mirrors runs none.

use std::sync::Arc;
use std::time::Duration;

use clerk_sync_db::{PoolConfig, Schema};
use clerk_sync_queue::{Keys, Pool};
use rand::Rng as _;
use tokio_util::sync::CancellationToken;

use clerk_sync_mirror::instance::{InstanceError, KeyGuard};
use clerk_sync_mirror::reconcile::{self, Options, Reconciler};

use crate::metrics::RECONCILE_RUNS_TOTAL;

/// Runs reconciliations every `interval` until `shutdown`; none while `guard` finds the key
/// to be another Clerk instance's.
pub(crate) async fn run_forever(
    reconciler: Reconciler,
    guard: Arc<KeyGuard>,
    interval: Duration,
    (database, schema): (PoolConfig, Schema),
    redis: Pool,
    keys: Keys,
    shutdown: CancellationToken,
) {
    let look_every = (interval / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    // The first look comes soon: a run interrupted by a restart, or never made, should not
    // wait a whole look.
    let mut wait = look_every.min(Duration::from_secs(5));
    loop {
        let jitter = rand::rng().random_range(0.5..1.5);
        tokio::select! {
            () = tokio::time::sleep(wait.mul_f64(jitter)) => {}
            () = shutdown.cancelled() => return,
        }
        wait = look_every;
        if !due(&redis, &keys, interval).await {
            continue;
        }
        // The guard logs a mismatch when it first sees it; a run would only refuse.
        match guard.check(None).await {
            Ok(_) => {}
            Err(InstanceError::Mismatch { .. }) => {
                refusal_skipped();
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot check CLERK_SECRET_KEY's instance for the scheduled reconciliation");
                continue;
            }
        }
        let conn = match reconcile::exclusive(&database, schema).await {
            Ok(Some(conn)) => conn,
            // Someone else runs it.
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "cannot reach PostgreSQL for the scheduled reconciliation");
                continue;
            }
        };
        // Someone else has just run it.
        if !due(&redis, &keys, interval).await {
            continue;
        }
        let options = Options {
            kinds: Vec::new(),
            dry_run: false,
            resume: true,
            max_deletions: None,
        };
        tracing::info!("scheduled reconciliation started");
        let outcome = tokio::select! {
            outcome = reconciler.run(&options, |_, _, _| {}) => Some(outcome),
            () = shutdown.cancelled() => None,
        };
        match outcome {
            Some(Ok(report)) => {
                metrics::counter!(RECONCILE_RUNS_TOTAL, "outcome" => "ok").increment(1);
                tracing::info!(
                    drift = report.drift(),
                    queued = report.queued.len(),
                    "scheduled reconciliation finished"
                );
            }
            Some(Err(error)) => {
                metrics::counter!(RECONCILE_RUNS_TOTAL, "outcome" => "failed").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "scheduled reconciliation failed; the next look resumes it"
                );
            }
            // Stopped part-way: the checkpoint lets the next worker go on from there.
            None => return,
        }
        // The connection, and with it the lock, goes here.
        drop(conn);
    }
}

/// Whether a run is due: the last finished longer than `interval` ago (or never), or one was
/// interrupted.
async fn due(redis: &Pool, keys: &Keys, interval: Duration) -> bool {
    let interrupted = reconcile::interrupted(redis, keys).await.unwrap_or(false);
    let finished = reconcile::last_run(redis, keys)
        .await
        .ok()
        .flatten()
        .map(|last| last.finished_ms);
    let refused = reconcile::last_refusal_ms(redis, keys).await.ok().flatten();
    interrupted
        || finished.max(refused).is_none_or(|last| {
            (clerk_sync_runtime::unix_ms() as i64).saturating_sub(last)
                >= interval.as_millis() as i64
        })
}

/// A scheduled run skipped for the key's instance: counted as the refusal it is, logged
/// quietly (the guard has said why, once).
fn refusal_skipped() {
    metrics::counter!(crate::metrics::REFUSALS_TOTAL, "reason" => "instance_mismatch").increment(1);
    tracing::debug!("scheduled reconciliation skipped: CLERK_SECRET_KEY is another instance's");
}
