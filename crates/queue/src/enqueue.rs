//! The receiver's one write: guard the `svix-id` and add the entry in one atomic step, within
//! bounds.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::{Script, Value};
use tokio::sync::{mpsc, oneshot};

use crate::group::{self, Pending};
use crate::shared::Shared;
use crate::{Entry, Keys, QueueError};

/// How the receiver's writes behave; the defaults suit a production endpoint.
#[derive(Debug, Clone)]
pub struct EnqueuerConfig {
    /// How long a `svix-id` is remembered as seen, at least. Svix retries a message for
    /// about a day and a half when it is not answered 2xx; a 2xx stops the retries, so a
    /// day covers the redeliveries that still happen (manual resends, a response lost in
    /// transit). The guard keeps ids in windows of this length and drops a window's ids at
    /// the end of the next one, so an id is remembered between one and two windows.
    pub dedupe_ttl: Duration,
    /// Stream length at which new events are refused with 503, so a stalled fleet of
    /// workers makes Svix hold events instead of filling Redis's memory. 0 disables it.
    pub high_water: u64,
    /// Bound on one enqueue, connection and waiting for its group included: past it the
    /// sender is told to retry.
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

impl EnqueueError {
    /// The same failure for another request of a failed group.
    pub(crate) fn copy(&self) -> Self {
        match self {
            Self::Unavailable(e) => Self::Unavailable(e.to_string().into()),
            Self::Timeout(t) => Self::Timeout(*t),
            Self::Full => Self::Full,
        }
    }
}

/// The enqueue script's source, for measuring what Redis alone makes of it.
pub const ENQUEUE_SCRIPT: &str = include_str!("scripts/enqueue.lua");

/// Appends verified events to `{prefix}:events` behind the duplicate guard, many
/// concurrent events in one script call (see [`Enqueuer::enqueue`]).
#[derive(Clone)]
pub struct Enqueuer {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    keys: Keys,
    script: Script,
    config: EnqueuerConfig,
    shared: Shared,
    /// The queue of requests waiting for a group, started on first use.
    waiting: OnceLock<mpsc::Sender<Pending>>,
}

/// Enqueues share one connection and one committer instead of checking a connection out
/// each (see [`Shared`]): while a group's call is in Redis the next group fills, so under
/// load each call carries every request that arrived during the last one. The receiver
/// builds an enqueuer on each HTTP worker thread, so a machine has a group in flight per
/// core. Two committers per enqueuer split the same requests into groups a third smaller
/// (11 against 16 events per call at saturation in the bench), and a script call costs
/// Redis about as much as a dozen entries in it: fewer, larger groups are what grouping
/// is for.
pub(crate) const SHARED_CONNECTIONS: usize = 1;

impl Enqueuer {
    /// An enqueuer writing under `keys` through connections from `pool`.
    pub fn new(pool: Pool, keys: Keys, config: EnqueuerConfig) -> Self {
        let enqueuer = Self {
            inner: Arc::new(Inner {
                keys,
                script: Script::new(ENQUEUE_SCRIPT),
                config,
                shared: Shared::new(pool, SHARED_CONNECTIONS),
                waiting: OnceLock::new(),
            }),
        };
        // Started here when there is a runtime, so the committer runs on the thread that
        // built the enqueuer (the receiver builds one on each HTTP worker) rather than on
        // whichever runtime asks first.
        if tokio::runtime::Handle::try_current().is_ok() {
            enqueuer.waiting();
        }
        enqueuer
    }

    fn waiting(&self) -> &mpsc::Sender<Pending> {
        self.inner
            .waiting
            .get_or_init(|| group::start(Arc::downgrade(&self.inner)))
    }

    /// Guards and appends `entry`. Requests that arrive while Redis is busy with earlier
    /// ones wait and go together in one script call (group commit), so Redis does one call
    /// where it would do many; each still gets its own outcome, and none is answered before
    /// its group's call has returned. A failed call fails every request in it, and leaves
    /// nothing of it written.
    pub async fn enqueue(&self, entry: impl Into<Entry>) -> Result<EnqueueOutcome, EnqueueError> {
        let (reply, outcome) = oneshot::channel();
        let timeout = self.inner.config.timeout;
        let entry = entry.into();
        let wait = async {
            self.waiting()
                .send(Pending { entry, reply })
                .await
                .map_err(|_| EnqueueError::Unavailable("the enqueuer has stopped".into()))?;
            outcome
                .await
                .map_err(|_| EnqueueError::Unavailable("the enqueuer has stopped".into()))?
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(EnqueueError::Timeout(timeout)))
    }

    /// Guards and appends `entries` in one script call, one outcome each, in order: an id
    /// repeated within `entries` is queued once and answered [`EnqueueOutcome::Duplicate`]
    /// after. On a failure every entry fails and none is written.
    pub async fn enqueue_group(
        &self,
        entries: &[&Entry],
    ) -> Vec<Result<EnqueueOutcome, EnqueueError>> {
        match self.inner.call(entries).await {
            Ok(outcomes) => outcomes,
            Err(error) => entries.iter().map(|_| Err(error.copy())).collect(),
        }
    }

    /// The keys this enqueuer writes under.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}

impl Inner {
    /// One script call for `entries`. The script is sent by SHA and loaded only when Redis
    /// does not know it (first use, or after a restart).
    pub(crate) async fn call(
        &self,
        entries: &[&Entry],
    ) -> Result<Vec<Result<EnqueueOutcome, EnqueueError>>, EnqueueError> {
        let mut invocation = self.script.key(self.keys.events());
        invocation
            .arg(self.config.dedupe_ttl.as_secs().max(1))
            .arg(self.config.high_water)
            .arg(self.keys.tag())
            .arg(2 * Entry::FIELDS);
        for entry in entries {
            invocation.arg(&entry.svix_id);
            for (name, value) in entry.fields() {
                invocation.arg(name).arg(value);
            }
        }
        let invocation = &invocation;
        // Sent once more on a connection found broken, which is safe behind the guard: had
        // the first script run before the connection broke, this one answers `Duplicate`,
        // and the events are in the stream either way.
        let reply = self
            .shared
            .call(self.config.timeout, |mut conn| async move {
                invocation.invoke_async::<Value>(&mut conn).await
            })
            .await
            .map_err(|e| match e {
                QueueError::Timeout(timeout) => EnqueueError::Timeout(timeout),
                QueueError::Redis(e) => EnqueueError::Unavailable(Box::new(e)),
                QueueError::Pool(e) => EnqueueError::Unavailable(Box::new(e)),
            })?;
        let Value::Array(replies) = reply else {
            return Err(unexpected(&reply));
        };
        if replies.len() != entries.len() {
            return Err(unexpected(&Value::Array(replies)));
        }
        Ok(replies
            .into_iter()
            .map(|reply| match reply {
                Value::BulkString(id) => Ok(EnqueueOutcome::Queued(
                    String::from_utf8_lossy(&id).into_owned(),
                )),
                Value::SimpleString(id) => Ok(EnqueueOutcome::Queued(id)),
                Value::Nil | Value::Boolean(false) => Ok(EnqueueOutcome::Duplicate),
                Value::Int(0) => Err(EnqueueError::Full),
                other => Err(unexpected(&other)),
            })
            .collect())
    }
}

fn unexpected(reply: &Value) -> EnqueueError {
    EnqueueError::Unavailable(format!("unexpected reply from the enqueue script: {reply:?}").into())
}
