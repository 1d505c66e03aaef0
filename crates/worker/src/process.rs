//! One batch of deliveries, from stream entries to settled: applied and acknowledged,
//! parked for a retry, dead-lettered, or handed back while PostgreSQL is down.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use clerk_sync_db::{ApplyOptions, Outcome, Pending, PgPool};
use clerk_sync_events::{Event, EventData};
use clerk_sync_queue::{Consumer, Delivery, QueueError, Settlement};

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

/// What becomes of a batch's entries, sent to Redis in one call once the batch is done.
#[derive(Default)]
struct Settling {
    settlement: Settlement,
    /// One per step of `settlement`: what to log and count once Redis has said this worker
    /// settled the entry (one claimed away meanwhile is its new owner's to settle).
    reports: Vec<Report>,
    /// Entries settled one way or another; the rest is handed back if PostgreSQL goes down.
    decided: HashSet<String>,
}

enum Report {
    /// Counted when decided: the transaction committed, whoever acknowledges the entry.
    Nothing,
    Log(Box<dyn FnOnce() + Send>),
    HandedBack,
}

impl Settling {
    fn ack(&mut self, id: &str) {
        self.settlement.ack(id);
        self.decided(id, Report::Nothing);
    }

    fn postpone(&mut self, item: &Item, delay: Duration, error: String) {
        self.settlement.postpone(&item.id, delay, &error);
        let (svix_id, event_type) = (item.svix_id.clone(), item.event.event_type.clone());
        let retry_in_ms = delay.as_millis() as u64;
        self.decided(
            &item.id,
            Report::Log(Box::new(move || {
                tracing::info!(
                    %svix_id, %event_type, retry_in_ms, %error,
                    "postponed: another session holds a lock this event needs; no attempt used"
                );
                m::settled(&event_type, "postponed");
            })),
        );
    }

    fn retry(&mut self, item: &Item, delay: Duration, attempt: u32, error: String) {
        self.settlement.retry(&item.id, delay, &error);
        let (svix_id, event_type) = (item.svix_id.clone(), item.event.event_type.clone());
        let retry_in_ms = delay.as_millis() as u64;
        self.decided(
            &item.id,
            Report::Log(Box::new(move || {
                tracing::warn!(
                    %svix_id, %event_type, attempt, retry_in_ms, %error,
                    "attempt failed; retrying later"
                );
                m::settled(&event_type, "retried");
            })),
        );
    }

    fn dead_letter(
        &mut self,
        id: &str,
        svix_id: &str,
        event_type: &str,
        error: String,
        attempts: u64,
    ) {
        self.settlement.dead_letter(id, &error, attempts);
        let (entry, svix_id, event_type) =
            (id.to_owned(), svix_id.to_owned(), event_type.to_owned());
        self.decided(
            id,
            Report::Log(Box::new(move || {
                tracing::warn!(%svix_id, %event_type, %entry, attempts, %error, "dead-lettered");
                m::settled(&event_type, "dead_lettered");
            })),
        );
    }

    fn hand_back(&mut self, id: &str) {
        self.settlement.hand_back(id);
        self.decided(id, Report::HandedBack);
    }

    fn decided(&mut self, id: &str, report: Report) {
        self.reports.push(report);
        self.decided.insert(id.to_owned());
    }
}

impl Processor {
    /// Parses, applies and settles `deliveries`. A Redis error leaves the unsettled ones
    /// pending for this consumer, to be claimed again after `CLAIM_IDLE_MS`; since their
    /// effects are recorded in `processed_webhooks`, applying them again changes nothing.
    ///
    /// While it works, it keeps telling the group that these entries are still its own, so
    /// a batch applied in halves after a failure, or a slow one, is never claimed by another
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

    /// Every entry is settled in one call to Redis at the end, whatever became of it, so a
    /// batch costs one round trip to settle however many of its events failed.
    async fn settle_all(&self, deliveries: Vec<Delivery>) -> Result<Processed, QueueError> {
        let mut settling = Settling::default();
        let mut items = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let id = &delivery.id;
            let entry = match delivery.entry {
                Ok(entry) => entry,
                Err(error) => {
                    let error = Failure::from(error).to_string();
                    settling.dead_letter(id, "", "", error, delivery.deliveries);
                    continue;
                }
            };
            let (svix_id, event_type) = (&entry.svix_id, &entry.event_type);
            if delivery.deliveries > u64::from(self.max_attempts) {
                let error = format!(
                    "delivered {} times without being settled: a worker may crash or hang on it",
                    delivery.deliveries
                );
                let attempts = u64::from(entry.attempt) + delivery.deliveries;
                settling.dead_letter(id, svix_id, event_type, error, attempts);
                continue;
            }
            let received_at = i64::try_from(entry.received_at).unwrap_or(i64::MAX);
            match clerk_sync_events::parse(&entry.payload, received_at) {
                Err(error) => {
                    let attempts = u64::from(entry.attempt) + 1;
                    settling.dead_letter(id, svix_id, event_type, error.to_string(), attempts);
                }
                Ok(event) if matches!(event.data, EventData::Unhandled) => {
                    tracing::debug!(%svix_id, event_type = %event.event_type, "not applied: type ignored");
                    m::settled(&event.event_type, Outcome::Ignored.as_str());
                    settling.ack(id);
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

        let mut processed = Processed::Settled;
        if !items.is_empty()
            && let Err(reason) = self.attempt(&items, &mut settling).await
        {
            for item in &items {
                if !settling.decided.contains(&item.id) {
                    settling.hand_back(&item.id);
                }
            }
            processed = Processed::DatabaseDown(reason);
        }
        self.send(settling).await?;
        Ok(processed)
    }

    /// Applies `items` in one transaction and decides how each is settled: `Ok(true)` when
    /// they were applied together, `Ok(false)` when not (each is decided all the same), the
    /// reason when PostgreSQL went down (what is not decided then is to be handed back).
    async fn attempt(&self, items: &[Item], settling: &mut Settling) -> Result<bool, String> {
        match self.apply(items).await {
            Ok(outcomes) => {
                let pinned = if outcomes.contains(&Outcome::InstanceMismatch) {
                    self.pinned_instance().await
                } else {
                    None
                };
                self.applied(items, &outcomes, pinned.as_deref(), settling);
                Ok(true)
            }
            Err(Failure::DatabaseDown(reason)) => Err(reason),
            Err(failure) if items.len() == 1 => {
                self.failed(&items[0], failure, settling);
                Ok(false)
            }
            Err(failure) => {
                tracing::debug!(%failure, size = items.len(), "batch failed; applying it in halves");
                self.halves(items, settling).await.map(|()| false)
            }
        }
    }

    /// Applies `items`, which failed together for a reason of their own, in halves, each
    /// likewise, so that a bad event pays alone (only its own failure settles it) while the
    /// rest is applied in few transactions: one bad event among `n` costs at most
    /// `2 log2 n + 1` of them where applying each alone costs `n + 1`. Many bad events in one
    /// batch cost up to `2n`, the price of finding a lone one fast.
    fn halves<'a>(
        &'a self,
        items: &'a [Item],
        settling: &'a mut Settling,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let (left, right) = items.split_at(items.len() / 2);
            // With the left half applied, the failure is in the right half: applied whole
            // again it would only fail again, so it is split at once. A lone event is tried
            // on its own all the same: its failure may have been the others' doing.
            if self.attempt(left, settling).await? && right.len() > 1 {
                self.halves(right, settling).await
            } else {
                self.attempt(right, settling).await.map(drop)
            }
        })
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

    /// The instance the database mirrors, for the reason a mismatched event is
    /// dead-lettered with; `None` when it cannot be read now (the reason says less).
    async fn pinned_instance(&self) -> Option<String> {
        let conn = self.db.get().await.ok()?;
        let pinned = clerk_sync_db::pinned_instance(&conn, self.options.schema)
            .await
            .ok()??;
        Some(pinned.instance_id)
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

    fn applied(
        &self,
        items: &[Item],
        outcomes: &[Outcome],
        pinned: Option<&str>,
        settling: &mut Settling,
    ) {
        let now = clerk_sync_runtime::unix_ms();
        for (item, outcome) in items.iter().zip(outcomes) {
            if *outcome == Outcome::InstanceMismatch {
                let error = format!(
                    "instance_mismatch: the event is from Clerk instance {}, this database mirrors {} (see `clerk-sync instance`)",
                    item.event.instance_id.as_deref().unwrap_or("?"),
                    pinned.unwrap_or("another"),
                );
                let attempts = u64::from(item.attempt) + 1;
                let (id, svix_id, event_type) = (&item.id, &item.svix_id, &item.event.event_type);
                settling.dead_letter(id, svix_id, event_type, error, attempts);
                continue;
            }
            settling.ack(&item.id);
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
    }

    /// Retries a transient failure until `MAX_ATTEMPTS`, dead-letters the rest.
    fn failed(&self, item: &Item, failure: Failure, settling: &mut Settling) {
        let attempts = item.attempt.saturating_add(1);
        let delay = self.backoff.delay(item.attempt);
        let (id, svix_id, event_type) = (&item.id, &item.svix_id, &item.event.event_type);
        match failure {
            Failure::Contended(error) => settling.postpone(item, delay, error),
            Failure::Transient(error) if attempts < self.max_attempts => {
                settling.retry(item, delay, attempts, error)
            }
            Failure::Transient(error) => {
                let error = format!("gave up after {attempts} attempts: {error}");
                settling.dead_letter(id, svix_id, event_type, error, attempts.into())
            }
            Failure::Permanent(error) => {
                settling.dead_letter(id, svix_id, event_type, error, attempts.into())
            }
            Failure::DatabaseDown(_) => settling.hand_back(id),
        }
    }

    /// Settles everything in one call, retrying a Redis hiccup briefly: an ack lost after a
    /// commit only costs a redelivery that `processed_webhooks` turns into a no-op, but it is
    /// cheaper not to. Sending it again is safe: what the first call settled is no longer
    /// this consumer's, and is left alone.
    async fn send(&self, settling: Settling) -> Result<(), QueueError> {
        let mut wait = Duration::from_millis(50);
        let mut tries = 0;
        let done = loop {
            match self.consumer.settle(&settling.settlement).await {
                Ok(done) => break done,
                Err(error) if tries < 3 => {
                    tracing::warn!(%error, "settling failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 4;
                    tries += 1;
                }
                Err(error) => return Err(error),
            }
        };
        let mut handed = 0;
        for (report, _) in settling
            .reports
            .into_iter()
            .zip(done)
            .filter(|(_, done)| *done)
        {
            match report {
                Report::Nothing => {}
                Report::Log(log) => log(),
                Report::HandedBack => handed += 1,
            }
        }
        if handed > 0 {
            tracing::info!(handed, "handed back unapplied entries");
        }
        Ok(())
    }
}
