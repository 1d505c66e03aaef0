//! Waiting on a condition with a bound, instead of sleeping a fixed time: a fixed sleep is
//! either too short on a loaded machine (a random failure) or wasted time on an idle one.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Checks `check` until it holds, for at most `within`; `false` when it never did.
pub async fn try_eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Checks `check` until it holds; panics naming `what` when it has not within `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(
        try_eventually(within, check).await,
        "{what}: not within {within:?}"
    );
}
