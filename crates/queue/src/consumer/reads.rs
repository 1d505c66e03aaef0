//! Connections for reads that block.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::RedisError;
use deadpool_redis::redis::aio::MultiplexedConnection;

use crate::QueueError;
use crate::shared::{detach, unusable};

/// Connections for `XREADGROUP … BLOCK`, one per read in flight.
///
/// A blocking read holds its connection until entries arrive or the block ends, so it can
/// share one neither with other commands nor with another read: the worker's pipelines all
/// read through one `Consumer`, not a clone each, and two reads on one connection would
/// wait one behind the other. So each read takes a connection nobody else is using from this
/// stack and puts it back when done. The stack grows to the most reads ever in flight at
/// once (one per pipeline) and no further. Taken from the pool for good: a checkout from
/// the pool would send a PING first, a round trip for every read.
#[derive(Clone)]
pub(super) struct Readers {
    pool: Pool,
    idle: Arc<Mutex<Vec<MultiplexedConnection>>>,
}

impl Readers {
    pub(super) fn new(pool: Pool) -> Self {
        Self {
            pool,
            idle: Arc::default(),
        }
    }

    /// Runs `read` on a connection of its own, within `timeout`.
    ///
    /// A connection that fails is dropped, not put back. When it had been waiting in the
    /// stack (a Redis restart, or a proxy cutting idle connections, broke it meanwhile),
    /// `read` is sent once more on a new one, so the caller does not pay for a connection
    /// it never saw fail.
    pub(super) async fn run<T, F, Fut>(&self, timeout: Duration, read: F) -> Result<T, QueueError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let waiting = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let Some(conn) = waiting else {
            let conn = self.connect(timeout).await?;
            return self.attempt(timeout, conn, &read).await;
        };
        match self.attempt(timeout, conn, &read).await {
            Err(QueueError::Redis(e)) if unusable(&e) => {
                let conn = self.connect(timeout).await?;
                self.attempt(timeout, conn, &read).await
            }
            outcome => outcome,
        }
    }

    async fn connect(&self, timeout: Duration) -> Result<MultiplexedConnection, QueueError> {
        tokio::time::timeout(timeout, detach(&self.pool))
            .await
            .unwrap_or(Err(QueueError::Timeout(timeout)))
    }

    async fn attempt<T, F, Fut>(
        &self,
        timeout: Duration,
        conn: MultiplexedConnection,
        read: &F,
    ) -> Result<T, QueueError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let outcome = match tokio::time::timeout(timeout, read(conn.clone())).await {
            Ok(outcome) => outcome.map_err(QueueError::from),
            Err(_) => Err(QueueError::Timeout(timeout)),
        };
        // Dropped, a connection closes, and Redis ends a read still blocked on it.
        let usable = match &outcome {
            Ok(_) => true,
            Err(QueueError::Redis(e)) => !unusable(e),
            Err(_) => false,
        };
        if usable {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        outcome
    }
}
