//! One batch of deliveries, from stream entries to settled: applied and acknowledged,
//! parked for a retry, dead-lettered, or handed back while PostgreSQL is down.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_sync_db::{ApplyOptions, Outcome, Pending, PgPool};
use clerk_sync_events::{Event, EventData};
use clerk_sync_queue::{Consumer, Delivery, QueueError};

use crate::metrics::{self as m, APPLY_DURATION_SECONDS, BATCH_SIZE, END_TO_END_SECONDS};
use crate::{Backoff, Failure};

/// How long the check that tells "Postgres is down" from "this attempt was slow" may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Applies deliveries and settles every one of them.
#[derive(Clone)]
pub(crate) struct Processor {
    pub(crate) consumer: Consumer,
    pub(crate) db: PgPool,
    pub(crate) options: ApplyOptions,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) attempt_timeout: Duration,
    /// How often the entries in hand are kept from being claimed (see [`Consumer::keep`]).
    pub(crate) keep_every: Duration,
}

/// What became of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Processed {
    /// Every delivery was settled.
    Settled,
    /// PostgreSQL is unreachable; what was not applied was handed back.
    DatabaseDown(String),
}

/// An event ready for the database, with what settling it needs.
struct Item {
    id: String,
    svix_id: String,
    attempt: u32,
    received_at: u64,
    event: Event,
}

impl Processor {
    /// Parses, applies and settles `deliveries`. A Redis error leaves the unsettled ones
    /// pending for this consumer, to be claimed again after `CLAIM_IDLE_MS`; since their
    /// effects are recorded in `processed_webhooks`, applying them again changes nothing.
    ///
    /// While it works, it keeps telling the group that these entries are still its own, so
    /// a batch retried one event at a time, or a slow one, is never claimed by another
    /// worker while this one is alive.
    pub(crate) async fn process(&self, deliveries: Vec<Delivery>) -> Result<Processed, QueueError> {
        let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
        let work = self.settle_all(deliveries);
        tokio::pin!(work);
        let mut keep = tokio::time::interval_at(
            tokio::time::Instant::now() + self.keep_every,
            self.keep_every,
        );
        keep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = keep.tick() => {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    // A failed refresh only risks a claim that the owner checks in every
                    // settling script make harmless; the work goes on.
                    if let Err(error) = self.consumer.keep(&ids).await {
                        tracing::warn!(%error, "cannot refresh the entries in hand");
                    }
                }
            }
        }
    }

    async fn settle_all(&self, deliveries: Vec<Delivery>) -> Result<Processed, QueueError> {
        let mut items = Vec::with_capacity(deliveries.len());
        let mut ignored = Vec::new();
        for delivery in deliveries {
            let entry = match delivery.entry {
                Ok(entry) => entry,
                Err(error) => {
                    let failure = Failure::from(error);
                    self.dead_letter(
                        &delivery.id,
                        "",
                        "",
                        &failure.to_string(),
                        delivery.deliveries,
                    )
                    .await?;
                    continue;
                }
            };
            if delivery.deliveries > u64::from(self.max_attempts) {
                let error = format!(
                    "delivered {} times without being settled: a worker may crash or hang on it",
                    delivery.deliveries
                );
                let attempts = u64::from(entry.attempt) + delivery.deliveries;
                self.dead_letter(
                    &delivery.id,
                    &entry.svix_id,
                    &entry.event_type,
                    &error,
                    attempts,
                )
                .await?;
                continue;
            }
            let received_at = i64::try_from(entry.received_at).unwrap_or(i64::MAX);
            match clerk_sync_events::parse(&entry.payload, received_at) {
                Err(error) => {
                    let attempts = u64::from(entry.attempt) + 1;
                    self.dead_letter(
                        &delivery.id,
                        &entry.svix_id,
                        &entry.event_type,
                        &error.to_string(),
                        attempts,
                    )
                    .await?;
                }
                Ok(event) if matches!(event.data, EventData::Unhandled) => {
                    tracing::debug!(svix_id = %entry.svix_id, event_type = %event.event_type, "not applied: type ignored");
                    m::settled(&event.event_type, Outcome::Ignored.as_str());
                    ignored.push(delivery.id);
                }
                Ok(event) => items.push(Item {
                    id: delivery.id,
                    svix_id: entry.svix_id,
                    attempt: entry.attempt,
                    received_at: entry.received_at,
                    event,
                }),
            }
        }
        self.ack(&ignored.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        if items.is_empty() {
            return Ok(Processed::Settled);
        }

        match self.apply(&items).await {
            Ok(outcomes) => self
                .settle_applied(&items, &outcomes)
                .await
                .map(|()| Processed::Settled),
            Err(Failure::DatabaseDown(reason)) => {
                self.hand_back(&items).await?;
                Ok(Processed::DatabaseDown(reason))
            }
            // One event may be the cause: apply each on its own, so only it pays.
            Err(failure) if items.len() > 1 => {
                tracing::debug!(%failure, size = items.len(), "batch failed; applying its events one by one");
                self.one_by_one(&items).await
            }
            Err(failure) => {
                self.settle_failure(&items[0], failure).await?;
                Ok(Processed::Settled)
            }
        }
    }

    async fn one_by_one(&self, items: &[Item]) -> Result<Processed, QueueError> {
        for (i, item) in items.iter().enumerate() {
            match self.apply(std::slice::from_ref(item)).await {
                Ok(outcomes) => {
                    self.settle_applied(std::slice::from_ref(item), &outcomes)
                        .await?
                }
                Err(Failure::DatabaseDown(reason)) => {
                    self.hand_back(&items[i..]).await?;
                    return Ok(Processed::DatabaseDown(reason));
                }
                Err(failure) => self.settle_failure(item, failure).await?,
            }
        }
        Ok(Processed::Settled)
    }

    /// One transaction for `items`, bounded by `ATTEMPT_TIMEOUT_MS`.
    async fn apply(&self, items: &[Item]) -> Result<Vec<Outcome>, Failure> {
        let started = Instant::now();
        let attempt = async {
            let mut conn = self.db.get().await.map_err(clerk_sync_db::DbError::from)?;
            let pending: Vec<Pending<'_>> = items
                .iter()
                .map(|item| Pending {
                    svix_id: &item.svix_id,
                    event: &item.event,
                })
                .collect();
            clerk_sync_db::apply_batch(&mut conn, &pending, self.options).await
        };
        let outcome = match tokio::time::timeout(self.attempt_timeout, attempt).await {
            Ok(result) => result.map_err(Failure::from),
            // Dropping the attempt rolls nothing forward: a connection left inside its
            // transaction counts as broken and the pool discards it.
            Err(_) => Err(self.classify_timeout().await),
        };
        metrics::histogram!(APPLY_DURATION_SECONDS).record(started.elapsed().as_secs_f64());
        metrics::histogram!(BATCH_SIZE).record(items.len() as f64);
        outcome
    }

    /// A slow attempt is the event's problem if PostgreSQL still answers, an outage if not.
    async fn classify_timeout(&self) -> Failure {
        let timeout_ms = self.attempt_timeout.as_millis();
        match tokio::time::timeout(PROBE_TIMEOUT, clerk_sync_db::ping(&self.db)).await {
            Ok(Ok(())) => Failure::Transient(format!(
                "the attempt took longer than ATTEMPT_TIMEOUT_MS ({timeout_ms} ms)"
            )),
            _ => Failure::DatabaseDown(format!("PostgreSQL did not answer within {timeout_ms} ms")),
        }
    }

    async fn settle_applied(&self, items: &[Item], outcomes: &[Outcome]) -> Result<(), QueueError> {
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        self.ack(&ids).await?;
        let now = unix_ms();
        for (item, outcome) in items.iter().zip(outcomes) {
            m::settled(&item.event.event_type, outcome.as_str());
            if *outcome == Outcome::Applied {
                let latency = now.saturating_sub(item.received_at) as f64 / 1000.0;
                metrics::histogram!(END_TO_END_SECONDS).record(latency);
            }
            tracing::debug!(
                svix_id = %item.svix_id,
                event_type = %item.event.event_type,
                entry = %item.id,
                outcome = outcome.as_str(),
                "settled"
            );
        }
        Ok(())
    }

    /// Retries a transient failure until `MAX_ATTEMPTS`, dead-letters the rest.
    async fn settle_failure(&self, item: &Item, failure: Failure) -> Result<(), QueueError> {
        let attempts = item.attempt.saturating_add(1);
        let event_type = &item.event.event_type;
        match failure {
            Failure::Contended(error) => {
                let delay = self.backoff.delay(item.attempt);
                if self.consumer.postpone(&item.id, delay, &error).await? {
                    tracing::info!(
                        svix_id = %item.svix_id, event_type = %event_type,
                        retry_in_ms = delay.as_millis() as u64, %error,
                        "postponed: another session holds a lock this event needs; no attempt used"
                    );
                    m::settled(event_type, "postponed");
                }
                Ok(())
            }
            Failure::Transient(error) if attempts < self.max_attempts => {
                let delay = self.backoff.delay(item.attempt);
                // Logged only when it happened: an entry claimed away meanwhile is its new
                // owner's to settle.
                if self.consumer.retry(&item.id, delay, &error).await? {
                    tracing::warn!(
                        svix_id = %item.svix_id, event_type = %event_type, attempt = attempts,
                        retry_in_ms = delay.as_millis() as u64, %error, "attempt failed; retrying later"
                    );
                    m::settled(event_type, "retried");
                }
                Ok(())
            }
            Failure::Transient(error) => {
                let error = format!("gave up after {attempts} attempts: {error}");
                self.dead_letter(
                    &item.id,
                    &item.svix_id,
                    event_type,
                    &error,
                    u64::from(attempts),
                )
                .await
            }
            Failure::Permanent(error) => {
                self.dead_letter(
                    &item.id,
                    &item.svix_id,
                    event_type,
                    &error,
                    u64::from(attempts),
                )
                .await
            }
            Failure::DatabaseDown(_) => self.hand_back(std::slice::from_ref(item)).await,
        }
    }

    async fn dead_letter(
        &self,
        id: &str,
        svix_id: &str,
        event_type: &str,
        error: &str,
        attempts: u64,
    ) -> Result<(), QueueError> {
        if self.consumer.dead_letter(id, error, attempts).await? {
            tracing::warn!(%svix_id, %event_type, entry = %id, attempts, %error, "dead-lettered");
            m::settled(event_type, "dead_lettered");
        }
        Ok(())
    }

    async fn hand_back(&self, items: &[Item]) -> Result<(), QueueError> {
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let handed = self.consumer.hand_back(&ids).await?;
        if handed > 0 {
            tracing::info!(handed, "handed back unapplied entries");
        }
        Ok(())
    }

    /// Acknowledges, retrying a Redis hiccup briefly: an ack lost after a commit only costs a
    /// redelivery that `processed_webhooks` turns into a no-op, but it is cheaper not to.
    async fn ack(&self, ids: &[&str]) -> Result<(), QueueError> {
        let mut wait = Duration::from_millis(50);
        for _ in 0..3 {
            match self.consumer.ack(ids).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, "acknowledgement failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                }
            }
        }
        self.consumer.ack(ids).await
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
