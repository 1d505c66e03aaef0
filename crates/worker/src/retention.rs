//! `CHANGES_RETENTION`, `PROCESSED_RETENTION`, `SESSIONS_RETENTION` and `MESSAGES_RETENTION`:
//! every worker now and then deletes the feed rows, the `processed_webhooks` rows, the
//! ended sessions and the sent messages older than their retention, a thousand at a time;
//! one worker at a time does each (an advisory lock inside [`clerk_sync_db::prune_changes`]
//! and [`clerk_sync_db::prune_rows`]), the others find it taken and wait for their next turn.

use std::time::Duration;

use clerk_sync_db::{PoolConfig, Pruned, Schema};
use rand::Rng as _;
use tokio_util::sync::CancellationToken;

/// Rows per delete: small, so no statement holds row locks or a reader for long.
const BATCH: i64 = 1_000;
/// How often a worker looks at most, jittered so replicas do not all look at once; a short
/// retention is looked at more often.
const EVERY: Duration = Duration::from_secs(300);

/// What a retention keeps bounded: the feed, or a table of [`Pruned`] rows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Retained {
    /// `sync_changes`, by `CHANGES_RETENTION`.
    Changes,
    /// The rest, each by its own setting (see [`Retained::setting`]).
    Rows(Pruned),
}

impl Retained {
    fn setting(self) -> &'static str {
        match self {
            Self::Changes => "CHANGES_RETENTION",
            Self::Rows(Pruned::Processed) => "PROCESSED_RETENTION",
            Self::Rows(Pruned::Sessions) => "SESSIONS_RETENTION",
            Self::Rows(Pruned::Messages) => "MESSAGES_RETENTION",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Changes => "sync_changes",
            Self::Rows(rows) => rows.table(),
        }
    }

    async fn prune(
        self,
        database: &PoolConfig,
        schema: Schema,
        retention: Duration,
    ) -> Result<u64, clerk_sync_db::DbError> {
        let mut conn = clerk_sync_db::connect(database).await?;
        match self {
            Self::Changes => {
                clerk_sync_db::prune_changes(&mut conn, schema, retention, BATCH).await
            }
            Self::Rows(rows) => {
                clerk_sync_db::prune_rows(&mut conn, schema, rows, retention, BATCH).await
            }
        }
    }
}

/// Prunes `what` until `shutdown`. A failure is logged and tried again at the next turn: old
/// rows only cost disk meanwhile.
pub(crate) async fn prune_forever(
    what: Retained,
    retention: Duration,
    (database, schema): (PoolConfig, Schema),
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
        // Each batch commits on its own, so stopping between (or inside) one loses nothing.
        let pruned = tokio::select! {
            pruned = what.prune(&database, schema, retention) => pruned,
            () = shutdown.cancelled() => return,
        };
        match pruned {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(
                deleted,
                table = what.table(),
                "rows past {} deleted",
                what.setting()
            ),
            Err(error) => tracing::warn!(
                %error,
                table = what.table(),
                "cannot prune; trying again later"
            ),
        }
    }
}
