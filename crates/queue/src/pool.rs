use std::time::Duration;

use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

/// The pool could not be built (a malformed URL); connecting happens lazily, per use.
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL is not a valid Redis URL")]
pub struct RedisPoolError(#[source] deadpool_redis::CreatePoolError);

/// A pool whose every wait is bounded, so a Redis that is down or stalled turns into an
/// error within `timeout` instead of a hung request.
pub fn connect(url: &str, max_size: usize, timeout: Duration) -> Result<Pool, RedisPoolError> {
    let mut config = Config::from_url(url);
    config.pool = Some(PoolConfig {
        max_size,
        timeouts: Timeouts {
            wait: Some(timeout),
            create: Some(timeout),
            recycle: Some(timeout),
        },
        ..PoolConfig::default()
    });
    config
        .create_pool(Some(Runtime::Tokio1))
        .map_err(RedisPoolError)
}
