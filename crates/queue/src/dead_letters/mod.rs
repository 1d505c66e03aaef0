//! Dead letters: read, replay and purge, each move of one entry one atomic step; and the
//! index the dead-letter step keeps, for pages by group, type, reason, svix_id or object.

use deadpool_redis::Pool;
use deadpool_redis::redis::streams::StreamRangeReply;
use deadpool_redis::redis::{self, AsyncCommands as _, Script, Value};

use crate::{Keys, QueueError, field};

mod index;
mod reason;

pub use index::{DeadLetterFilter, DeadLetterGroup, DeadLetterPage};
pub use reason::reason;

/// How many dead letters one XRANGE reads while scanning.
const PAGE: usize = 500;

/// One entry of `{prefix}:dlq`, every field as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id in `{prefix}:dlq` (the time it was dead-lettered is in it).
    pub id: String,
    /// Every field, in stream order.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl DeadLetter {
    /// A field's raw value.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A field as text (lossy: payloads are stored byte for byte).
    pub fn text(&self, name: &str) -> String {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }

    /// The event type.
    pub fn event_type(&self) -> String {
        self.text(field::TYPE)
    }

    /// A numeric field, when it is one.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.text(name).parse().ok()
    }
}

/// Reads and settles dead letters: list, show, replay, purge. Every move of one dead letter
/// is one atomic step.
#[derive(Clone)]
pub struct DeadLetters {
    pool: Pool,
    keys: Keys,
    replay: Script,
    purge: Script,
    reindex: Script,
}

impl DeadLetters {
    /// Dead letters under `keys`.
    pub fn new(pool: Pool, keys: Keys) -> Self {
        Self {
            pool,
            keys,
            replay: Script::new(concat!(
                include_str!("../scripts/dlq_index.lua"),
                include_str!("../scripts/replay.lua")
            )),
            purge: Script::new(concat!(
                include_str!("../scripts/dlq_index.lua"),
                include_str!("../scripts/purge.lua")
            )),
            reindex: Script::new(concat!(
                include_str!("../scripts/dlq_index.lua"),
                include_str!("../scripts/reindex.lua")
            )),
        }
    }

    /// How many there are.
    pub async fn count(&self) -> Result<u64, QueueError> {
        let mut conn = self.pool.get().await?;
        Ok(conn.xlen(self.keys.dlq()).await?)
    }

    /// Up to `limit` dead letters, oldest first, of `event_type` when given.
    pub async fn list(
        &self,
        limit: usize,
        event_type: Option<&str>,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let mut found = Vec::new();
        let mut start = "-".to_owned();
        while found.len() < limit {
            let page = self.range(&start, PAGE).await?;
            let exhausted = page.len() < PAGE;
            if let Some(last) = page.last() {
                start = format!("({}", last.id);
            }
            found.extend(
                page.into_iter()
                    .filter(|d| event_type.is_none_or(|t| d.event_type() == t)),
            );
            if exhausted {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Every dead letter's id, of `event_type` when given, oldest first.
    pub async fn ids(&self, event_type: Option<&str>) -> Result<Vec<String>, QueueError> {
        Ok(self
            .list(usize::MAX, event_type)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }

    /// One dead letter.
    pub async fn get(&self, id: &str) -> Result<Option<DeadLetter>, QueueError> {
        let mut conn = self.pool.get().await?;
        let reply: StreamRangeReply = conn.xrange(self.keys.dlq(), id, id).await?;
        Ok(reply.ids.into_iter().next().map(dead_letter))
    }

    /// Puts one dead letter back on `{prefix}:events` as a fresh event (`attempt` 0) and
    /// removes it from the dead letters, atomically. Returns the new entry id, or `None`
    /// when there is no such dead letter (replayed or purged already).
    pub async fn replay(&self, id: &str) -> Result<Option<String>, QueueError> {
        let mut conn = self.pool.get().await?;
        Ok(self
            .replay
            .key(self.keys.dlq())
            .key(self.keys.events())
            .key(self.keys.dlq_index())
            .key(self.keys.dlq_groups())
            .arg(id)
            .invoke_async(&mut *conn)
            .await?)
    }

    /// Deletes one dead letter, and its index entries in the same step. `false` when there
    /// was none.
    pub async fn purge(&self, id: &str) -> Result<bool, QueueError> {
        let mut conn = self.pool.get().await?;
        let removed: u64 = self
            .purge
            .key(self.keys.dlq())
            .key(self.keys.dlq_index())
            .key(self.keys.dlq_groups())
            .arg(id)
            .invoke_async(&mut *conn)
            .await?;
        Ok(removed == 1)
    }

    /// Indexes the dead letters that are in no group (written by a version before the
    /// index), a page at a time, each page one atomic step; returns how many it indexed.
    /// Running it again indexes nothing more.
    pub async fn reindex(&self) -> Result<u64, QueueError> {
        let mut start = "-".to_owned();
        let mut indexed = 0;
        loop {
            let mut conn = self.pool.get().await?;
            let (last, added): (String, u64) = self
                .reindex
                .key(self.keys.dlq())
                .key(self.keys.dlq_index())
                .key(self.keys.dlq_groups())
                .arg(&start)
                .arg(PAGE)
                .invoke_async(&mut *conn)
                .await?;
            indexed += added;
            if last.is_empty() {
                return Ok(indexed);
            }
            start = format!("({last}");
        }
    }

    async fn range(&self, start: &str, count: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut conn = self.pool.get().await?;
        let reply: StreamRangeReply = conn
            .xrange_count(self.keys.dlq(), start, "+", count)
            .await?;
        Ok(reply.ids.into_iter().map(dead_letter).collect())
    }
}

fn dead_letter(id: redis::streams::StreamId) -> DeadLetter {
    // The map loses stream order; put the SPEC's fields first, the rest after, by name.
    let order = [
        field::SVIX_ID,
        field::SVIX_TIMESTAMP,
        field::TYPE,
        field::PAYLOAD,
        field::RECEIVED_AT,
        field::ATTEMPT,
        field::ERROR,
        field::FAILED_AT,
        field::ATTEMPTS,
    ];
    let mut fields: Vec<(String, Vec<u8>)> = id
        .map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::BulkString(bytes) => Some((k, bytes)),
            Value::SimpleString(text) => Some((k, text.into_bytes())),
            _ => None,
        })
        .collect();
    fields.sort_by_key(|(k, _)| {
        (
            order.iter().position(|o| o == k).unwrap_or(order.len()),
            k.clone(),
        )
    });
    DeadLetter { id: id.id, fields }
}
