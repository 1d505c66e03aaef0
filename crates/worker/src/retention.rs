//! `CHANGES_RETENTION`: every worker now and then deletes feed rows older than the retention,
//! a thousand at a time; one at a time does it (an advisory lock inside
//! [`clerk_sync_db::prune_changes`]), the others find it taken and wait for their next turn.

use std::time::Duration;

use clerk_sync_db::{PoolConfig, Schema};
use rand::Rng as _;
use tokio_util::sync::CancellationToken;

/// Rows per delete: small, so no statement holds row locks or a reader for long.
const BATCH: i64 = 1_000;
/// How often a worker looks at most, jittered so replicas do not all look at once; a short
/// retention is looked at more often.
const EVERY: Duration = Duration::from_secs(300);

/// Prunes until `shutdown`. A failure is logged and tried again at the next turn: old rows
/// only cost disk meanwhile.
pub(crate) async fn prune_forever(
    retention: Duration,
    database: PoolConfig,
    schema: Schema,
    shutdown: CancellationToken,
) {
    let every = EVERY.min(retention / 2).max(Duration::from_millis(100));
    // The first turn comes soon after start, so a worker restarted often still prunes.
    let mut wait = every.min(Duration::from_secs(30));
    loop {
        let jitter = rand::rng().random_range(0.5..1.5);
        tokio::select! {
            () = tokio::time::sleep(wait.mul_f64(jitter)) => {}
            () = shutdown.cancelled() => return,
        }
        wait = every;
        let pruned = async {
            let mut conn = clerk_sync_db::connect(&database).await?;
            clerk_sync_db::prune_changes(&mut conn, schema, retention, BATCH).await
        };
        // Each batch commits on its own, so stopping between (or inside) one loses nothing.
        let pruned = tokio::select! {
            pruned = pruned => pruned,
            () = shutdown.cancelled() => return,
        };
        match pruned {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(deleted, "change feed rows past CHANGES_RETENTION deleted")
            }
            Err(error) => {
                tracing::warn!(%error, "cannot prune the change feed; trying again later")
            }
        }
    }
}
