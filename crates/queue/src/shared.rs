//! A few multiplexed connections shared by every caller, for commands Redis answers at once.
//!
//! Checking a connection out of the pool for each command costs a round trip of its own
//! (the pool sends UNWATCH and PING before handing one out); a multiplexed connection
//! pipelines the commands of concurrent callers instead, so many callers in flight cost
//! Redis a handful of reads and writes and none pays for a PING. Never for a blocking
//! command: everything sent after it on the same connection would wait behind it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::QueueError;

/// Connections shared by the clones of one owner, each replaced when it fails.
#[derive(Clone)]
pub(crate) struct Shared {
    pool: Pool,
    slots: Arc<[Slot]>,
    next: Arc<AtomicUsize>,
}

/// One shared connection, replaced when it fails.
#[derive(Default)]
struct Slot {
    /// The connection, with a generation so that only the failing one is discarded.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Held while connecting, so that a burst after an outage opens one connection, not one
    /// per caller.
    connecting: tokio::sync::Mutex<u64>,
}

impl Slot {
    fn current(&self) -> Option<(u64, MultiplexedConnection)> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn discard(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            *current = None;
        }
    }
}

/// Whether `error` is no answer to the command but a reason to talk to Redis over another
/// connection: this one is gone, or its server no longer takes writes (a primary demoted in
/// a failover answers READONLY for as long as the connection lives, while a new connection
/// to the same endpoint reaches the new primary). An error Redis answered to the command
/// itself (a script's, NOGROUP, OOM) proves the connection works.
pub(crate) fn unusable(error: &RedisError) -> bool {
    !matches!(
        error.kind(),
        ErrorKind::Extension
            | ErrorKind::Server(
                ServerErrorKind::ResponseError
                    | ServerErrorKind::NoScript
                    | ServerErrorKind::ExecAbort
                    | ServerErrorKind::NoPerm
            )
            | ErrorKind::UnexpectedReturnType
    )
}

/// Takes a connection out of `pool` for good: from here on its holder replaces it when it
/// fails, and the pool no longer counts it.
pub(crate) async fn detach(pool: &Pool) -> Result<MultiplexedConnection, QueueError> {
    Ok(deadpool_redis::Connection::take(pool.get().await?))
}

impl Shared {
    /// `connections` shared connections, opened from `pool` on first use.
    pub(crate) fn new(pool: Pool, connections: usize) -> Self {
        Self {
            pool,
            slots: (0..connections.max(1)).map(|_| Slot::default()).collect(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `command` on one of the shared connections, connecting included within
    /// `timeout`.
    ///
    /// A connection found [`unusable`] (Redis restarted, a proxy cut it while idle, a
    /// failover) is replaced and `command` sent once more, so a caller does not pay for a connection it never saw.
    /// `command` must therefore be safe to run twice: its first run may have happened
    /// before the connection broke.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        timeout: Duration,
        command: F,
    ) -> Result<T, QueueError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let mut generation = None;
        let outcome = tokio::time::timeout(timeout, async {
            let (g, conn) = self.connection(slot).await?;
            generation = Some(g);
            match command(conn).await {
                Err(e) if unusable(&e) => {
                    slot.discard(g);
                    let (g, conn) = self.connection(slot).await?;
                    generation = Some(g);
                    Ok(command(conn).await?)
                }
                outcome => Ok(outcome?),
            }
        })
        .await
        .unwrap_or(Err(QueueError::Timeout(timeout)));
        // A connection that timed out or broke may be half-open: the next caller opens a
        // new one rather than queueing behind it.
        let failed = match &outcome {
            Err(QueueError::Timeout(_)) => true,
            Err(QueueError::Redis(e)) => unusable(e),
            _ => false,
        };
        if let (true, Some(g)) = (failed, generation) {
            slot.discard(g);
        }
        outcome
    }

    async fn connection(&self, slot: &Slot) -> Result<(u64, MultiplexedConnection), QueueError> {
        if let Some(current) = slot.current() {
            return Ok(current);
        }
        let mut generation = slot.connecting.lock().await;
        if let Some(current) = slot.current() {
            return Ok(current);
        }
        let conn = detach(&self.pool).await?;
        *generation += 1;
        *slot.current.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((*generation, conn.clone()));
        Ok((*generation, conn))
    }
}
