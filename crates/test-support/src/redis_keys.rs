//! The Redis side of every suite: where the local Redis is, reading a stream for assertions,
//! and removing a test's keys afterwards.

use std::collections::HashMap;
use std::time::Duration;

use redis::FromRedisValue;
use redis::streams::StreamRangeReply;

/// The Redis the tests use: `REDIS_URL`, or the local one.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Every entry of the stream `key` as `(entry id, field -> value)`, values read as `T`
/// (`String` for text, `Vec<u8>` to compare bodies byte for byte).
pub async fn read_stream<T: FromRedisValue>(
    conn: &mut impl redis::aio::ConnectionLike,
    key: &str,
) -> Vec<(String, HashMap<String, T>)> {
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("XRANGE");
    reply
        .ids
        .into_iter()
        .map(|entry| {
            let fields = entry
                .map
                .into_iter()
                .map(|(k, v)| (k, redis::from_redis_value::<T>(v).expect("field value")))
                .collect();
            (entry.id, fields)
        })
        .collect()
}

/// Deletes every key matching `pattern` (a test's `{prefix}:*`). Made for `Drop`: it never
/// panics, and gives up after a second when Redis does not answer.
pub fn delete_keys(redis_url: &str, pattern: &str) {
    let Ok(client) = redis::Client::open(redis_url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query(&mut conn)
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
    }
}
