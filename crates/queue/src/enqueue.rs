use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{Script, Value};

use crate::{Entry, Keys};

/// How the receiver's writes behave; the defaults suit a production endpoint.
#[derive(Debug, Clone)]
pub struct EnqueuerConfig {
    /// How long a `svix-id` is remembered as seen. Svix retries a message for about a day
    /// and a half when it is not answered 2xx; a 2xx stops the retries, so a day covers the
    /// redeliveries that still happen (manual resends, a response lost in transit).
    pub dedupe_ttl: Duration,
    /// Stream length at which new events are refused with 503, so a stalled fleet of
    /// workers makes Svix hold events instead of filling Redis's memory. 0 disables it.
    pub high_water: u64,
    /// Bound on one enqueue, connection included: past it the sender is told to retry.
    pub timeout: Duration,
}

impl Default for EnqueuerConfig {
    fn default() -> Self {
        Self {
            dedupe_ttl: Duration::from_secs(24 * 60 * 60),
            high_water: 1_000_000,
            timeout: Duration::from_secs(2),
        }
    }
}

/// What became of an event handed to [`Enqueuer::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Appended to the stream under this entry id.
    Queued(String),
    /// The same `svix-id` was enqueued before; nothing was written.
    Duplicate,
}

/// Why an event could not be enqueued. In every case nothing was left half-written.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// Redis did not answer, or answered an error.
    #[error("redis is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Redis did not answer within the configured bound.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The stream is at its high-water mark: the workers are not keeping up.
    #[error("the events stream is at its high-water mark")]
    Full,
}

/// The enqueue script's source, for measuring what Redis alone makes of it.
pub const ENQUEUE_SCRIPT: &str = include_str!("scripts/enqueue.lua");

/// Appends verified events to `{prefix}:events` behind the duplicate guard.
#[derive(Clone)]
pub struct Enqueuer {
    pool: Pool,
    keys: Keys,
    script: Script,
    config: EnqueuerConfig,
    shared: Arc<[Slot]>,
    next: Arc<AtomicUsize>,
}

/// Enqueues share a few connections instead of checking one out each: a multiplexed
/// connection pipelines the scripts of concurrent requests, so 64 requests in flight cost
/// Redis a handful of reads and writes instead of 64 of each, and no request pays the
/// pool's PING on checkout. Two, so that one slow reply does not hold every request.
const SHARED_CONNECTIONS: usize = 2;

/// One shared connection, replaced when it fails.
#[derive(Default)]
struct Slot {
    /// The connection, with a generation so that only the failing one is discarded.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Held while connecting, so that a burst after an outage opens one connection, not one
    /// per request.
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

/// How one script call failed: on a connection that is gone, or otherwise.
enum Invoked {
    Broken(deadpool_redis::redis::RedisError),
    Failed(EnqueueError),
}

impl From<Invoked> for EnqueueError {
    fn from(invoked: Invoked) -> Self {
        match invoked {
            Invoked::Broken(e) => EnqueueError::Unavailable(Box::new(e)),
            Invoked::Failed(e) => e,
        }
    }
}

impl Enqueuer {
    /// An enqueuer writing under `keys` through connections from `pool`.
    pub fn new(pool: Pool, keys: Keys, config: EnqueuerConfig) -> Self {
        Self {
            pool,
            keys,
            script: Script::new(ENQUEUE_SCRIPT),
            config,
            shared: (0..SHARED_CONNECTIONS).map(|_| Slot::default()).collect(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Guard and append in one atomic step. The script is sent by SHA and loaded only when
    /// Redis does not know it (first use, or after a restart).
    pub async fn enqueue(&self, entry: &Entry) -> Result<EnqueueOutcome, EnqueueError> {
        let slot = &self.shared[self.next.fetch_add(1, Ordering::Relaxed) % self.shared.len()];
        let timeout = self.config.timeout;
        let mut generation = None;
        let outcome = tokio::time::timeout(timeout, async {
            let (g, mut conn) = self.connection(slot).await?;
            generation = Some(g);
            match self.invoke(&mut conn, entry).await {
                // A shared connection found broken (Redis restarted, a proxy cut it while
                // idle) is replaced and the script sent once more, so the sender does not
                // pay for a connection it never saw. Safe behind the guard: had the first
                // script run before the connection broke, this one answers `Duplicate`,
                // and the event is in the stream either way.
                Err(Invoked::Broken(_)) => {
                    slot.discard(g);
                    let (g, mut conn) = self.connection(slot).await?;
                    generation = Some(g);
                    self.invoke(&mut conn, entry)
                        .await
                        .map_err(EnqueueError::from)
                }
                outcome => outcome.map_err(EnqueueError::from),
            }
        })
        .await
        .unwrap_or(Err(EnqueueError::Timeout(timeout)));
        // A connection that timed out or broke may be half-open: the next enqueue opens a
        // new one rather than queueing behind it.
        if let (Err(EnqueueError::Unavailable(_) | EnqueueError::Timeout(_)), Some(g)) =
            (&outcome, generation)
        {
            slot.discard(g);
        }
        outcome
    }

    async fn connection(&self, slot: &Slot) -> Result<(u64, MultiplexedConnection), EnqueueError> {
        if let Some(current) = slot.current() {
            return Ok(current);
        }
        let mut generation = slot.connecting.lock().await;
        if let Some(current) = slot.current() {
            return Ok(current);
        }
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| EnqueueError::Unavailable(Box::new(e)))?;
        // Out of the pool for good: it is shared from here on, and replaced on failure.
        let conn = deadpool_redis::Connection::take(conn);
        *generation += 1;
        *slot.current.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((*generation, conn.clone()));
        Ok((*generation, conn))
    }

    async fn invoke(
        &self,
        conn: &mut MultiplexedConnection,
        entry: &Entry,
    ) -> Result<EnqueueOutcome, Invoked> {
        let mut invocation = self.script.key(self.keys.seen(&entry.svix_id));
        invocation
            .key(self.keys.events())
            .arg(self.config.dedupe_ttl.as_secs().max(1))
            .arg(self.config.high_water);
        for (name, value) in entry.fields() {
            invocation.arg(name).arg(value);
        }
        let reply: Value = invocation.invoke_async(conn).await.map_err(|e| {
            if e.code() == Some("HIGHWATER") {
                Invoked::Failed(EnqueueError::Full)
            } else if e.is_connection_dropped() || e.is_io_error() || e.is_unrecoverable_error() {
                Invoked::Broken(e)
            } else {
                Invoked::Failed(EnqueueError::Unavailable(Box::new(e)))
            }
        })?;
        match reply {
            Value::BulkString(id) => Ok(EnqueueOutcome::Queued(
                String::from_utf8_lossy(&id).into_owned(),
            )),
            Value::SimpleString(id) => Ok(EnqueueOutcome::Queued(id)),
            Value::Nil | Value::Boolean(false) => Ok(EnqueueOutcome::Duplicate),
            other => Err(Invoked::Failed(EnqueueError::Unavailable(
                format!("unexpected reply from the enqueue script: {other:?}").into(),
            ))),
        }
    }

    /// The keys this enqueuer writes under.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}
