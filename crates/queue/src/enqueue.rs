use std::time::Duration;

use deadpool_redis::Pool;
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

/// Appends verified events to `{prefix}:events` behind the duplicate guard.
#[derive(Clone)]
pub struct Enqueuer {
    pool: Pool,
    keys: Keys,
    script: Script,
    config: EnqueuerConfig,
}

impl Enqueuer {
    /// An enqueuer writing under `keys` through `pool`.
    pub fn new(pool: Pool, keys: Keys, config: EnqueuerConfig) -> Self {
        Self {
            pool,
            keys,
            script: Script::new(include_str!("scripts/enqueue.lua")),
            config,
        }
    }

    /// Guard and append in one atomic step. The script is sent by SHA and loaded only when
    /// Redis does not know it (first use, or after a restart).
    pub async fn enqueue(&self, entry: &Entry) -> Result<EnqueueOutcome, EnqueueError> {
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, self.enqueue_unbounded(entry))
            .await
            .map_err(|_| EnqueueError::Timeout(timeout))?
    }

    async fn enqueue_unbounded(&self, entry: &Entry) -> Result<EnqueueOutcome, EnqueueError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| EnqueueError::Unavailable(Box::new(e)))?;
        let mut invocation = self.script.key(self.keys.seen(&entry.svix_id));
        invocation
            .key(self.keys.events())
            .arg(self.config.dedupe_ttl.as_secs().max(1))
            .arg(self.config.high_water);
        for (name, value) in entry.fields() {
            invocation.arg(name).arg(value);
        }
        let reply: Value = invocation.invoke_async(&mut *conn).await.map_err(|e| {
            if e.code() == Some("HIGHWATER") {
                EnqueueError::Full
            } else {
                EnqueueError::Unavailable(Box::new(e))
            }
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
