//! The receiver's one write: guard the `svix-id` and add the entry in one atomic step, within
//! bounds.

use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::{Script, Value};

use crate::shared::Shared;
use crate::{Entry, Keys, QueueError};

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
    keys: Keys,
    script: Script,
    config: EnqueuerConfig,
    shared: Shared,
}

/// Enqueues share a few connections instead of checking one out each (see [`Shared`]), so
/// 64 requests in flight cost Redis a handful of reads and writes instead of 64 of each.
/// Two, so that one slow reply does not hold every request.
const SHARED_CONNECTIONS: usize = 2;

impl Enqueuer {
    /// An enqueuer writing under `keys` through connections from `pool`.
    pub fn new(pool: Pool, keys: Keys, config: EnqueuerConfig) -> Self {
        Self {
            keys,
            script: Script::new(ENQUEUE_SCRIPT),
            config,
            shared: Shared::new(pool, SHARED_CONNECTIONS),
        }
    }

    /// Guard and append in one atomic step. The script is sent by SHA and loaded only when
    /// Redis does not know it (first use, or after a restart).
    pub async fn enqueue(&self, entry: &Entry) -> Result<EnqueueOutcome, EnqueueError> {
        let mut invocation = self.script.key(self.keys.seen(&entry.svix_id));
        invocation
            .key(self.keys.events())
            .arg(self.config.dedupe_ttl.as_secs().max(1))
            .arg(self.config.high_water);
        for (name, value) in entry.fields() {
            invocation.arg(name).arg(value);
        }
        let invocation = &invocation;
        // Sent once more on a connection found broken, which is safe behind the guard: had
        // the first script run before the connection broke, this one answers `Duplicate`,
        // and the event is in the stream either way.
        let reply = self
            .shared
            .call(self.config.timeout, |mut conn| async move {
                invocation.invoke_async::<Value>(&mut conn).await
            })
            .await
            .map_err(|e| match e {
                QueueError::Redis(e) if e.code() == Some("HIGHWATER") => EnqueueError::Full,
                QueueError::Timeout(timeout) => EnqueueError::Timeout(timeout),
                QueueError::Redis(e) => EnqueueError::Unavailable(Box::new(e)),
                QueueError::Pool(e) => EnqueueError::Unavailable(Box::new(e)),
            })?;
        match reply {
            Value::BulkString(id) => Ok(EnqueueOutcome::Queued(
                String::from_utf8_lossy(&id).into_owned(),
            )),
            Value::SimpleString(id) => Ok(EnqueueOutcome::Queued(id)),
            Value::Nil | Value::Boolean(false) => Ok(EnqueueOutcome::Duplicate),
            other => Err(EnqueueError::Unavailable(
                format!("unexpected reply from the enqueue script: {other:?}").into(),
            )),
        }
    }

    /// The keys this enqueuer writes under.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}
