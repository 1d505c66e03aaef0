//! Connections to Redis whose every wait is bounded.

use std::time::Duration;

use deadpool_redis::redis::AsyncConnectionConfig;
use deadpool_redis::{Manager, Pool, Runtime};

/// The pool could not be built (a malformed URL); connecting happens lazily, per use.
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL is not a valid Redis URL")]
pub struct RedisPoolError;

/// A pool whose every wait is bounded, so a Redis that is down or stalled turns into an
/// error instead of a hung caller.
///
/// `timeout` bounds connecting and waiting for a free connection; `response_timeout` bounds
/// one command, and must exceed any `BLOCK` a caller issues.
pub fn connect(
    url: &str,
    max_size: usize,
    timeout: Duration,
    response_timeout: Duration,
) -> Result<Pool, RedisPoolError> {
    let connection = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(response_timeout));
    let manager = Manager::new_with_config(url, connection).map_err(|_| RedisPoolError)?;
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|_| RedisPoolError)
}
