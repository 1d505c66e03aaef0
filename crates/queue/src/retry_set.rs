//! Events waiting for their next attempt, and the promoter that moves due ones back onto the
//! stream.

use deadpool_redis::Pool;
use deadpool_redis::redis::Script;

use crate::{Keys, QueueError};

/// What one promotion pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promoted {
    /// Entries moved from `{prefix}:retry` to `{prefix}:events`.
    pub moved: u64,
    /// When the next entry is due (ms since the epoch, Redis's clock), if any is waiting.
    pub next_due_ms: Option<u64>,
}

/// Moves due retries back onto the stream. Every worker runs one; the script makes each
/// move atomic, so two promoters never promote one entry twice.
#[derive(Clone)]
pub struct Promoter {
    pool: Pool,
    keys: Keys,
    script: Script,
}

impl Promoter {
    /// A promoter for the queue under `keys`.
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self {
            pool,
            keys,
            script: Script::new(concat!(
                include_str!("scripts/dlq_index.lua"),
                include_str!("scripts/promote.lua")
            )),
        }
    }

    /// Promotes up to `limit` due entries.
    pub async fn promote(&self, limit: usize) -> Result<Promoted, QueueError> {
        let mut conn = self.pool.get().await?;
        let (moved, next): (u64, String) = self
            .script
            .key(self.keys.retry())
            .key(self.keys.events())
            .key(self.keys.dlq())
            .key(self.keys.dlq_index())
            .key(self.keys.dlq_groups())
            .key(self.keys.dlq_recent())
            .arg(limit)
            .invoke_async(&mut *conn)
            .await?;
        Ok(Promoted {
            moved,
            next_due_ms: next
                .parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0)
                .map(|v| v as u64),
        })
    }
}
