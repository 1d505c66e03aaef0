//! The loops a running worker is made of: the pipelines (read or claim, apply, settle) and
//! the promoter that moves due retries back onto the stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::metrics::{CLAIMED_TOTAL, PROMOTED_TOTAL};
use crate::process::Processed;
use crate::startup::Shared;

/// Retries promoted per script call.
pub(crate) const PROMOTE_LIMIT: usize = 500;

/// One loop of read (or claim), apply, settle. Several run per process, each with its own
/// transaction, so one slow batch does not hold up the rest.
pub(crate) async fn pipeline(shared: Arc<Shared>, index: usize, shutdown: CancellationToken) {
    let consumer = &shared.processor.consumer;
    let mut redis_failures: u32 = 0;
    while !shutdown.is_cancelled() {
        if !shared.health.is_up() && !shared.health.wait_until_up(&shutdown).await {
            break;
        }
        let batch = match next_batch(&shared).await {
            Ok(batch) => batch,
            Err(error) => {
                redis_failures = redis_failures.saturating_add(1);
                let wait = crate::Backoff {
                    base: Duration::from_millis(100),
                    max: Duration::from_secs(5),
                }
                .delay(redis_failures.min(16))
                .max(Duration::from_millis(50));
                tracing::warn!(pipeline = index, %error, "cannot read from Redis; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        redis_failures = 0;
        if batch.is_empty() {
            continue;
        }
        match shared.processor.process(batch).await {
            Ok(Processed::Settled) => {}
            Ok(Processed::DatabaseDown(reason)) => shared.health.mark_down(&reason, &shutdown),
            Err(error) => {
                tracing::warn!(pipeline = index, %error, "cannot settle entries; they stay pending and will be claimed again");
            }
        }
    }
    tracing::debug!(
        pipeline = index,
        consumer = consumer.name(),
        "pipeline stopped"
    );
}

/// Claims idle entries when it is time to look (one pipeline at a time), else reads.
async fn next_batch(
    shared: &Shared,
) -> Result<Vec<clerk_sync_queue::Delivery>, clerk_sync_queue::QueueError> {
    let config = &shared.config;
    let consumer = &shared.processor.consumer;
    let claim_now = {
        let mut next = shared.next_claim.lock().await;
        let now = Instant::now();
        if now >= *next {
            let every =
                (config.claim_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
            *next = now + every;
            true
        } else {
            false
        }
    };
    if claim_now {
        let claimed = consumer
            .claim_idle(config.claim_idle, config.batch_size)
            .await?;
        if !claimed.is_empty() {
            tracing::info!(
                count = claimed.len(),
                "claimed entries idle longer than CLAIM_IDLE_MS"
            );
            metrics::counter!(CLAIMED_TOTAL).increment(claimed.len() as u64);
            return Ok(claimed);
        }
    }
    consumer.read(config.batch_size, config.read_block).await
}

/// Moves due retries back onto the stream, sleeping until the next is due (at most half a
/// second, so a retry added by another worker is not missed for long).
pub(crate) async fn promote_forever(shared: Arc<Shared>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let wait = match shared.promoter.promote(PROMOTE_LIMIT).await {
            Ok(promoted) => {
                if promoted.moved > 0 {
                    metrics::counter!(PROMOTED_TOTAL).increment(promoted.moved);
                    tracing::debug!(moved = promoted.moved, "retries promoted");
                }
                if promoted.moved as usize == PROMOTE_LIMIT {
                    Duration::ZERO
                } else {
                    let now = clerk_sync_runtime::unix_ms();
                    promoted
                        .next_due_ms
                        .map_or(Duration::from_millis(500), |due| {
                            Duration::from_millis(due.saturating_sub(now))
                        })
                        .clamp(Duration::from_millis(10), Duration::from_millis(500))
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot promote retries; trying again");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => break,
        }
    }
}
