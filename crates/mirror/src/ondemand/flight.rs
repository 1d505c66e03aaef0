//! Flights: one Backend API fetch (and its apply) per object in the air at once, shared by
//! every request that asks for that object meanwhile, and given up before it starts when
//! every one of them has gone away.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::Notify;

/// Who still waits for a flight. A request counts from before the flight starts until its
/// future is dropped: answered, or abandoned by its client.
#[derive(Debug, Default)]
pub(super) struct Interest {
    waiters: AtomicUsize,
    gone: Notify,
}

impl Interest {
    /// Resolves once nobody waits any more.
    pub(super) async fn abandoned(&self) {
        loop {
            let notified = self.gone.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a last waiter leaving in between
            // still wakes this.
            notified.as_mut().enable();
            if self.waiters.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One request's place among a flight's waiters.
struct Waiter(Arc<Interest>);

impl Waiter {
    fn join(interest: &Arc<Interest>) -> Self {
        interest.waiters.fetch_add(1, Ordering::SeqCst);
        Self(interest.clone())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.0.waiters.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.gone.notify_waiters();
        }
    }
}

type Flight<T> = Shared<BoxFuture<'static, T>>;
type InAir<K, T> = Arc<Mutex<HashMap<K, (Flight<T>, Arc<Interest>)>>>;

/// The flights in the air, by key.
pub(super) struct Flights<K, T: Clone> {
    in_air: InAir<K, T>,
}

impl<K, T: Clone> Default for Flights<K, T> {
    fn default() -> Self {
        Self {
            in_air: Arc::default(),
        }
    }
}

impl<K, T> Flights<K, T>
where
    K: Eq + Hash + Clone + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// Joins the flight for `key`, starting `start(interest)` as one when none is in the
    /// air. A started flight runs on a task of its own, so once it has fetched, it lands
    /// (applies, and leaves the map) even if every request waiting on it has gone; until
    /// then it can watch `interest` and give up.
    pub(super) async fn join<F>(&self, key: K, start: impl FnOnce(Arc<Interest>) -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (flight, _waiter, started) = {
            let mut in_air = self.in_air.lock().unwrap_or_else(|e| e.into_inner());
            match in_air.get(&key) {
                Some((flight, interest)) => (flight.clone(), Waiter::join(interest), false),
                None => {
                    let interest = Arc::new(Interest::default());
                    // Counted before the flight can run, so it never sees nobody waiting.
                    let waiter = Waiter::join(&interest);
                    let work = start(interest.clone());
                    let map = self.in_air.clone();
                    let done_key = key.clone();
                    let flight = async move {
                        let landed = work.await;
                        map.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&done_key);
                        landed
                    }
                    .boxed()
                    .shared();
                    in_air.insert(key, (flight.clone(), interest));
                    (flight, waiter, true)
                }
            }
        };
        if started {
            tokio::spawn(flight.clone());
        }
        flight.await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn requests_for_one_key_share_one_flight() {
        let flights: Flights<&str, u32> = Flights::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let start = |runs: Arc<AtomicUsize>, gate: Arc<Notify>| {
            move |_: Arc<Interest>| async move {
                gate.notified().await;
                runs.fetch_add(1, Ordering::SeqCst) as u32
            }
        };
        let first = flights.join("a", start(runs.clone(), gate.clone()));
        let second = flights.join("a", start(runs.clone(), gate.clone()));
        let open = async {
            tokio::task::yield_now().await;
            gate.notify_waiters();
        };
        let (a, b, ()) = tokio::join!(first, second, open);
        assert_eq!((a, b), (0, 0));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_flight_sees_when_every_request_has_gone() {
        let flights: Flights<&str, bool> = Flights::default();
        let (saw, seen) = tokio::sync::oneshot::channel();
        let request = flights.join("a", move |interest| async move {
            interest.abandoned().await;
            let _ = saw.send(());
            true
        });
        // The request is dropped before the flight ends, as a client that disconnects.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), request)
                .await
                .is_err()
        );
        tokio::time::timeout(Duration::from_secs(5), seen)
            .await
            .expect("the flight saw nobody waits")
            .expect("sent");
    }
}
