//! How far a job that pages Clerk's lists got, in a hash beside the queue's other keys:
//! `{prefix}:backfill` for a backfill, `{prefix}:reconcile` for a reconciliation (which also
//! keeps what its last run found there). Per list, `offset:<list>` (objects listed and
//! queued so far) and `done:<list>`, so a job interrupted (SIGINT, a crash, a 5xx storm)
//! goes on from the last page it had queued.

use std::collections::HashMap;

use deadpool_redis::Pool;
use deadpool_redis::redis::{self, RedisError};

use crate::Keys;

/// Where one list of an interrupted job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Nothing recorded: from the start.
    Start,
    /// Objects listed and queued so far.
    At(u64),
    /// Finished.
    Done,
}

/// Why the progress could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// No connection from the pool.
    #[error("cannot reach Redis: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    /// Redis refused or failed the command.
    #[error("cannot record the progress in Redis: {0}")]
    Redis(#[from] RedisError),
}

/// One job's progress hash.
#[derive(Clone)]
pub struct Progress {
    redis: Pool,
    key: String,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").field("key", &self.key).finish()
    }
}

/// The fields a job recorded, as read when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded(pub HashMap<String, String>);

impl Recorded {
    /// Where `list` stands.
    pub fn position(&self, list: &str) -> Position {
        if self.0.contains_key(&format!("done:{list}")) {
            return Position::Done;
        }
        self.0
            .get(&format!("offset:{list}"))
            .and_then(|offset| offset.parse().ok())
            .map_or(Position::Start, Position::At)
    }

    /// Another field, parsed.
    pub fn get<T: std::str::FromStr>(&self, field: &str) -> Option<T> {
        self.0.get(field).and_then(|value| value.parse().ok())
    }
}

impl Progress {
    /// `{prefix}:backfill`.
    pub fn backfill(redis: Pool, keys: &Keys) -> Self {
        Self {
            redis,
            key: keys.backfill(),
        }
    }

    /// `{prefix}:reconcile`.
    pub fn reconcile(redis: Pool, keys: &Keys) -> Self {
        Self {
            redis,
            key: keys.reconcile(),
        }
    }

    /// Everything recorded.
    pub async fn recorded(&self) -> Result<Recorded, ProgressError> {
        let mut conn = self.redis.get().await?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.key)
            .query_async(&mut *conn)
            .await?;
        Ok(Recorded(fields))
    }

    /// One field.
    pub async fn get<T: redis::FromRedisValue>(
        &self,
        field: &str,
    ) -> Result<Option<T>, ProgressError> {
        let mut conn = self.redis.get().await?;
        Ok(redis::cmd("HGET")
            .arg(&self.key)
            .arg(field)
            .query_async(&mut *conn)
            .await?)
    }

    /// Every object of `list` up to `offset` has been listed and queued.
    pub async fn reached(&self, list: &str, offset: u64) -> Result<(), ProgressError> {
        self.update(&[], &[(format!("offset:{list}"), offset.to_string())])
            .await
    }

    /// `list` is finished.
    pub async fn done(&self, list: &str) -> Result<(), ProgressError> {
        self.update(&[], &[(format!("done:{list}"), "1".to_owned())])
            .await
    }

    /// Forgets the progress of `lists` and the fields `forget`, and sets `set`, at once.
    pub async fn restart(
        &self,
        lists: &[&str],
        forget: &[&str],
        set: &[(String, String)],
    ) -> Result<(), ProgressError> {
        let mut cleared: Vec<String> = forget.iter().map(|f| (*f).to_owned()).collect();
        for list in lists {
            cleared.push(format!("offset:{list}"));
            cleared.push(format!("done:{list}"));
        }
        self.update(&cleared, set).await
    }

    /// Forgets everything recorded.
    pub async fn clear(&self) -> Result<(), ProgressError> {
        let mut conn = self.redis.get().await?;
        redis::cmd("DEL")
            .arg(&self.key)
            .query_async::<()>(&mut *conn)
            .await?;
        Ok(())
    }

    async fn update(
        &self,
        remove: &[String],
        set: &[(String, String)],
    ) -> Result<(), ProgressError> {
        let mut conn = self.redis.get().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for field in remove {
            pipe.hdel(&self.key, field).ignore();
        }
        for (field, value) in set {
            pipe.hset(&self.key, field, value).ignore();
        }
        pipe.query_async::<()>(&mut *conn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_at_its_offset_or_done() {
        let recorded = Recorded(
            [
                ("offset:users", "1000"),
                ("done:organizations", "1"),
                ("run", "7"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        assert_eq!(recorded.position("users"), Position::At(1000));
        assert_eq!(recorded.position("organizations"), Position::Done);
        assert_eq!(recorded.position("memberships"), Position::Start);
        assert_eq!(recorded.get::<i64>("run"), Some(7));
    }
}
