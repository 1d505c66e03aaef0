//! The Backend API budget of one process: `CLERK_API_RATE` requests a second at most, for
//! every purpose (application API fetches, reconciliation, backfill, verify), retries
//! included, and nothing at all while Clerk has asked the process to hold off (a 429's
//! `Retry-After`, honoured in full).
//!
//! Every request takes a turn: the next free slot, `1 / rate` after the previous one, and
//! never before a hold-off ends. A caller with a deadline (a request an application waits
//! on) is told at once when its turn would come too late, or when too many are already
//! waiting, instead of joining a queue it cannot leave in time; a patient caller (a batch
//! job) waits for its turn however far off. Clerk's limits are per instance and shared with
//! everything else that calls it, so evenly spaced requests (no burst) leave the most room.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Requests waiting for a turn at most, among callers with a deadline. A patient caller
/// waits whatever the count: there is one per batch job.
pub const MAX_WAITING: usize = 64;

/// One process's share of Clerk's rate limit. Share it (`Arc`) between every client the
/// process builds.
#[derive(Debug)]
pub struct Budget {
    interval: Duration,
    state: Mutex<State>,
    retries: Retries,
}

#[derive(Debug)]
struct State {
    /// The earliest the next turn may start.
    next: Instant,
    /// Clerk asked for no request before this.
    hold_off: Option<Instant>,
    /// Callers with a deadline waiting for their turn.
    waiting: usize,
}

/// A turn that cannot be given in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no Backend API request may be made for {retry_after:?}")]
pub struct Spent {
    /// When to try again.
    pub retry_after: Duration,
}

impl Budget {
    /// `per_second` requests a second, evenly spaced.
    pub fn new(per_second: NonZeroU32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.get(),
            state: Mutex::new(State {
                next: Instant::now(),
                hold_off: None,
                waiting: 0,
            }),
            retries: Retries::default(),
        }
    }

    /// What the process's requests retried, and why.
    pub fn retries(&self) -> &Retries {
        &self.retries
    }

    /// Waits for a turn. With a `deadline`, refuses at once (nothing waited, nothing
    /// spent) when the turn would start after it or [`MAX_WAITING`] callers already wait.
    /// Cancel-safe: a caller dropped while waiting gives up its place in the count (the
    /// slot itself stays spent, which only makes the pace slower than allowed).
    pub async fn turn(&self, deadline: Option<Instant>) -> Result<(), Spent> {
        loop {
            let (at, _waiting) = {
                let mut state = self.lock();
                let now = Instant::now();
                let at = state.next.max(now).max(state.hold_off.unwrap_or(now));
                if let Some(deadline) = deadline
                    && (at > deadline || (at > now && state.waiting >= MAX_WAITING))
                {
                    return Err(Spent {
                        retry_after: at.saturating_duration_since(now),
                    });
                }
                state.next = at + self.interval;
                let waiting = deadline.map(|_| {
                    state.waiting += 1;
                    Waiting(self)
                });
                (at, waiting)
            };
            tokio::time::sleep_until(at).await;
            // A 429 heard while this caller slept moves every turn past its hold-off.
            if self
                .lock()
                .hold_off
                .is_none_or(|until| until <= Instant::now())
            {
                return Ok(());
            }
        }
    }

    /// Clerk answered 429 with `Retry-After`: no request of this process before `after`
    /// has passed.
    pub fn hold_off(&self, after: Duration) {
        let until = Instant::now() + after;
        let mut state = self.lock();
        if state.hold_off.is_none_or(|current| current < until) {
            state.hold_off = Some(until);
        }
    }

    /// How long Clerk's last hold-off still lasts, if it does.
    pub fn held_off_for(&self) -> Option<Duration> {
        let until = self.lock().hold_off?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How many requests were retried, and why: `backfill` reports them.
#[derive(Debug, Default)]
pub struct Retries {
    /// 429s waited out.
    pub rate_limited: AtomicU64,
    /// 5xx answers retried.
    pub server_errors: AtomicU64,
    /// Timeouts and connection failures retried.
    pub connection: AtomicU64,
}

impl Retries {
    /// All retries.
    pub fn total(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
            + self.server_errors.load(Ordering::Relaxed)
            + self.connection.load(Ordering::Relaxed)
    }
}

/// One caller with a deadline counted as waiting, until it is dropped.
struct Waiting<'a>(&'a Budget);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_second: u32) -> Budget {
        Budget::new(NonZeroU32::new(per_second).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn turns_are_spaced_evenly_without_a_burst() {
        let budget = budget(5);
        let start = Instant::now();
        for _ in 0..5 {
            budget.turn(None).await.unwrap();
        }
        // The first at once, then one every 200 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(800));
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_past_the_deadline_is_refused_at_once_and_spends_nothing() {
        let budget = budget(1);
        budget.turn(None).await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(500);
        let refused = budget.turn(Some(deadline)).await.unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // The refused caller took no slot: the next turn is still one interval away.
        let start = Instant::now();
        budget.turn(None).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_off_stops_every_turn_until_it_ends() {
        let budget = budget(100);
        budget.hold_off(Duration::from_secs(600));
        assert_eq!(budget.held_off_for(), Some(Duration::from_secs(600)));
        let deadline = Instant::now() + Duration::from_secs(5);
        let refused = budget.turn(Some(deadline)).await.unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(600));
        let start = Instant::now();
        budget.turn(None).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(600));
        assert_eq!(budget.held_off_for(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_off_heard_while_waiting_moves_the_turn() {
        let budget = std::sync::Arc::new(budget(1));
        budget.turn(None).await.unwrap();
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                budget.turn(None).await.unwrap();
                start.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        budget.hold_off(Duration::from_secs(30));
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_secs(30), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_with_a_deadline_is_bounded() {
        let budget = std::sync::Arc::new(budget(1));
        let far = Instant::now() + Duration::from_secs(3600);
        let mut waiters = Vec::new();
        for _ in 0..=MAX_WAITING {
            let budget = budget.clone();
            waiters.push(tokio::spawn(async move { budget.turn(Some(far)).await }));
        }
        while budget.lock().waiting < MAX_WAITING {
            tokio::task::yield_now().await;
        }
        // The first turn was free; MAX_WAITING wait behind it; the next is refused.
        let refused = budget.turn(Some(far)).await.unwrap_err();
        assert!(refused.retry_after > Duration::from_secs(60));
        for waiter in waiters {
            waiter.abort();
        }
    }
}
