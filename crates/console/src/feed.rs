//! One `LISTEN` connection per console process, broadcasting each committed change's id to
//! the pages following the feed live; a lost connection is made again with backoff.

use std::time::Duration;

use clerk_sync_db::{ChangeListener, PoolConfig, Schema};
use tokio::sync::broadcast;

/// Listens until the process ends. A notification only wakes the readers: they read the feed
/// by id, so a notification lost while reconnecting delays a row, never loses it.
pub async fn listen(config: PoolConfig, schema: Schema, changes: broadcast::Sender<i64>) {
    let mut wait = Duration::from_millis(200);
    loop {
        match follow(&config, schema, &changes).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "the console lost the change feed's notifications; listening again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn follow(
    config: &PoolConfig,
    schema: Schema,
    changes: &broadcast::Sender<i64>,
) -> Result<(), clerk_sync_db::DbError> {
    let conn = clerk_sync_db::connect(config).await?;
    let mut listener = ChangeListener::start(conn, schema).await?;
    // Readers that joined while the connection was down catch up on the next read.
    let _ = changes.send(0);
    loop {
        let notice = listener.notified().await?;
        // No receiver is no error: nobody is watching the feed right now.
        let _ = changes.send(notice.map_or(0, |n| n.id));
    }
}
