//! Retry delays: exponential, capped, and jittered over the whole window.

use std::time::Duration;

use rand::Rng as _;

/// "Full jitter" backoff: the n-th retry waits a uniformly random time in
/// `[0, min(max, base * 2^n)]`. Spreading retries over the whole window is what keeps a
/// fleet of workers that failed together from retrying together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// `RETRY_BASE_MS`.
    pub base: Duration,
    /// `RETRY_MAX_MS`.
    pub max: Duration,
}

impl Backoff {
    /// The window of the retry after `attempt` earlier attempts: `min(max, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A random delay in the window.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(1000),
        max: Duration::from_millis(3_600_000),
    };

    #[test]
    fn the_window_doubles_per_attempt_up_to_the_cap() {
        assert_eq!(BACKOFF.ceiling(0), Duration::from_secs(1));
        assert_eq!(BACKOFF.ceiling(1), Duration::from_secs(2));
        assert_eq!(BACKOFF.ceiling(5), Duration::from_secs(32));
        assert_eq!(BACKOFF.ceiling(12), Duration::from_secs(3600));
        assert_eq!(
            BACKOFF.ceiling(200),
            Duration::from_secs(3600),
            "no overflow"
        );
    }

    #[test]
    fn delays_are_spread_over_the_whole_window() {
        let samples: Vec<Duration> = (0..2000).map(|_| BACKOFF.delay(3)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_secs(8)));
        let low = samples
            .iter()
            .filter(|d| **d < Duration::from_secs(2))
            .count();
        let high = samples
            .iter()
            .filter(|d| **d > Duration::from_secs(6))
            .count();
        // Uniform over [0, 8 s]: a quarter in each of these, give or take.
        assert!((300..700).contains(&low), "{low} below 2 s");
        assert!((300..700).contains(&high), "{high} above 6 s");
    }
}
