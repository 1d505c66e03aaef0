//! `CHANGES_RETENTION`, `PROCESSED_RETENTION`, `SESSIONS_RETENTION` and `MESSAGES_RETENTION`:
//! every worker now and then deletes the feed rows, the `processed_webhooks` rows, the
//! ended sessions and the sent messages older than their retention, a thousand at a time;
//! one worker at a time does each (an advisory lock inside each `clerk_sync_db::prune_*`),
//! the others find it taken and wait for their next turn.

use std::time::Duration;

use clerk_sync_db::{PoolConfig, Schema};
use rand::Rng as _;
use tokio_util::sync::CancellationToken;

/// Rows per delete: small, so no statement holds row locks or a reader for long.
const BATCH: i64 = 1_000;
/// How often a worker looks at most, jittered so replicas do not all look at once; a short
/// retention is looked at more often.
const EVERY: Duration = Duration::from_secs(300);

/// What a retention keeps bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Retained {
    /// `sync_changes`, by `CHANGES_RETENTION`.
    Changes,
    /// `processed_webhooks`, by `PROCESSED_RETENTION`.
    Processed,
    /// Ended sessions, by `SESSIONS_RETENTION`.
    Sessions,
    /// `messages`, by `MESSAGES_RETENTION`.
    Messages,
}

impl Retained {
    fn setting(self) -> &'static str {
        match self {
            Self::Changes => "CHANGES_RETENTION",
            Self::Processed => "PROCESSED_RETENTION",
            Self::Sessions => "SESSIONS_RETENTION",
            Self::Messages => "MESSAGES_RETENTION",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Changes => "sync_changes",
            Self::Processed => "processed_webhooks",
            Self::Sessions => "sessions",
            Self::Messages => "messages",
        }
    }

    async fn prune(
        self,
        database: &PoolConfig,
        schema: Schema,
        retention: Duration,
    ) -> Result<u64, clerk_sync_db::DbError> {
        let mut conn = clerk_sync_db::connect(database).await?;
        let conn = &mut conn;
        match self {
            Self::Changes => clerk_sync_db::prune_changes(conn, schema, retention, BATCH).await,
            Self::Processed => clerk_sync_db::prune_processed(conn, schema, retention, BATCH).await,
            Self::Sessions => clerk_sync_db::prune_sessions(conn, schema, retention, BATCH).await,
            Self::Messages => clerk_sync_db::prune_messages(conn, schema, retention, BATCH).await,
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
