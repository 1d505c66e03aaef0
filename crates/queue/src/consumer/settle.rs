//! Settling entries: a batch's worth in one script call.

use std::time::Duration;

use crate::{CONSUMER_GROUP, Consumer, QueueError};

/// How the entries of a batch are to be settled, each in exactly one way. Sent whole by
/// [`Consumer::settle`]: one round trip for a batch, however its entries ended.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Ack(String),
    Park {
        id: String,
        delay: Duration,
        error: String,
        counted: u32,
    },
    DeadLetter {
        id: String,
        error: String,
        attempts: u64,
    },
    HandBack(String),
}

impl Settlement {
    /// Nothing to settle yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acknowledges the entry (applied, or not to be applied) and removes it from the
    /// stream, so the stream holds only what is not yet settled: its length is the backlog.
    pub fn ack(&mut self, id: impl Into<String>) -> &mut Self {
        self.steps.push(Step::Ack(id.into()));
        self
    }

    /// Acknowledges the entry and parks it in `{prefix}:retry`, due in `delay`, with
    /// `attempt` raised by one and the `error` that caused the retry.
    pub fn retry(&mut self, id: impl Into<String>, delay: Duration, error: &str) -> &mut Self {
        self.park(id.into(), delay, error, 1)
    }

    /// Like [`Settlement::retry`], with `attempt` unchanged: for an event that could not be
    /// tried through no fault of its own (a lock another worker holds), which must never
    /// use up attempts on its way to the dead-letter stream.
    pub fn postpone(&mut self, id: impl Into<String>, delay: Duration, error: &str) -> &mut Self {
        self.park(id.into(), delay, error, 0)
    }

    fn park(&mut self, id: String, delay: Duration, error: &str, counted: u32) -> &mut Self {
        self.steps.push(Step::Park {
            id,
            delay,
            error: error.to_owned(),
            counted,
        });
        self
    }

    /// Acknowledges the entry and appends it to `{prefix}:dlq` with `error`, `failed_at` and
    /// `attempts`.
    pub fn dead_letter(&mut self, id: impl Into<String>, error: &str, attempts: u64) -> &mut Self {
        self.steps.push(Step::DeadLetter {
            id: id.into(),
            error: error.to_owned(),
            attempts,
        });
        self
    }

    /// Gives the entry back to the group as a new entry, its `attempt` unchanged, for
    /// another worker to take at once.
    pub fn hand_back(&mut self, id: impl Into<String>) -> &mut Self {
        self.steps.push(Step::HandBack(id.into()));
        self
    }

    /// How many entries it settles.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether it settles nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Consumer {
    /// Settles every entry of `settlement` in one atomic script call. Returns, for each
    /// entry in the order it was added, whether this consumer settled it: `false` when it is
    /// no longer this consumer's (another worker claimed it, or it was settled already),
    /// and then it was left untouched, for its owner to settle; `false` too for an entry
    /// handed back that was no longer in the stream.
    ///
    /// Sent once more when its connection breaks, which is safe because of that check: an
    /// entry the first call settled is no longer this consumer's, and answers `false`.
    pub async fn settle(&self, settlement: &Settlement) -> Result<Vec<bool>, QueueError> {
        if settlement.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.settle.key(self.keys.events());
        invocation
            .key(self.keys.retry())
            .key(self.keys.dlq())
            .key(self.keys.dlq_index())
            .key(self.keys.dlq_groups())
            .key(self.keys.dlq_recent())
            .arg(CONSUMER_GROUP)
            .arg(&self.name);
        for step in &settlement.steps {
            match step {
                Step::Ack(id) => invocation.arg("ack").arg(id),
                Step::Park {
                    id,
                    delay,
                    error,
                    counted,
                } => invocation
                    .arg("retry")
                    .arg(id)
                    .arg(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
                    .arg(error)
                    .arg(counted),
                Step::DeadLetter {
                    id,
                    error,
                    attempts,
                } => invocation.arg("dead").arg(id).arg(error).arg(attempts),
                Step::HandBack(id) => invocation.arg("back").arg(id),
            };
        }
        let invocation = &invocation;
        let done: Vec<i64> = self
            .shared
            .call(self.timeout, |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(done.into_iter().map(|done| done == 1).collect())
    }

    /// Acknowledges applied entries and removes them from the stream, in one step (see
    /// [`Settlement::ack`]). Entries no longer this consumer's are left to their owner.
    pub async fn ack(&self, ids: &[&str]) -> Result<(), QueueError> {
        let mut settlement = Settlement::new();
        for id in ids {
            settlement.ack(*id);
        }
        self.settle(&settlement).await.map(drop)
    }

    /// Settles one entry as [`Settlement::retry`] does. `false` when the entry is no longer
    /// this consumer's.
    pub async fn retry(&self, id: &str, delay: Duration, error: &str) -> Result<bool, QueueError> {
        self.settle_one(Settlement::new().retry(id, delay, error))
            .await
    }

    /// Settles one entry as [`Settlement::postpone`] does. `false` when the entry is no
    /// longer this consumer's.
    pub async fn postpone(
        &self,
        id: &str,
        delay: Duration,
        error: &str,
    ) -> Result<bool, QueueError> {
        self.settle_one(Settlement::new().postpone(id, delay, error))
            .await
    }

    /// Settles one entry as [`Settlement::dead_letter`] does. `false` when the entry is no
    /// longer this consumer's.
    pub async fn dead_letter(
        &self,
        id: &str,
        error: &str,
        attempts: u64,
    ) -> Result<bool, QueueError> {
        self.settle_one(Settlement::new().dead_letter(id, error, attempts))
            .await
    }

    /// Gives entries back to the group as [`Settlement::hand_back`] does. Returns how many
    /// were handed back.
    pub async fn hand_back(&self, ids: &[&str]) -> Result<u64, QueueError> {
        let mut settlement = Settlement::new();
        for id in ids {
            settlement.hand_back(*id);
        }
        let done = self.settle(&settlement).await?;
        Ok(done.into_iter().filter(|done| *done).count() as u64)
    }

    async fn settle_one(&self, settlement: &Settlement) -> Result<bool, QueueError> {
        Ok(self
            .settle(settlement)
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }
}
