//! One entry queued as the receiver queues a webhook, waiting out a full stream and
//! retrying a Redis that does not answer, for a while.

use std::time::Duration;

use clerk_sync_queue::{EnqueueError, EnqueueOutcome, Enqueuer, Entry};
use clerk_sync_runtime::Backoff;

/// Queues `entry`, waiting while the stream is at its high-water mark (the workers are
/// behind; they will catch up: `waiting` hears when that starts and ends) and retrying a
/// Redis that does not answer, six times.
pub(super) async fn enqueue(
    enqueuer: &Enqueuer,
    entry: &Entry,
    mut waiting: impl FnMut(bool),
) -> Result<EnqueueOutcome, EnqueueError> {
    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_secs(10),
    };
    const MAX_FAILURES: u32 = 6;
    let mut failures = 0;
    let mut full = false;
    loop {
        match enqueuer.enqueue(entry).await {
            Ok(outcome) => {
                if full {
                    waiting(false);
                }
                return Ok(outcome);
            }
            Err(EnqueueError::Full) => {
                if !full {
                    full = true;
                    waiting(true);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) if failures < MAX_FAILURES => {
                tracing::debug!(error = %error, "enqueue failed; retrying");
                tokio::time::sleep(BACKOFF.delay(failures)).await;
                failures += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
