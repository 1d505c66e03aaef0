//! Reading the dead letters through the index the dead-letter step keeps
//! (`scripts/dlq_index.lua`): groups with their counts, and pages newest first of a group, a
//! type, a reason, an svix_id or an object, each costing what the page holds, never a read
//! of the whole stream.

use deadpool_redis::redis::streams::StreamRangeReply;
use deadpool_redis::redis::{self, AsyncCommands as _};

use super::{DeadLetter, DeadLetters, dead_letter, reason};
use crate::{QueueError, field};

/// How many candidates one read of the index or the stream takes.
const BATCH: usize = 200;

/// Dead letters of one event type and reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetterGroup {
    /// The event type (empty where the body was not JSON).
    #[serde(rename = "type")]
    pub event_type: String,
    /// See [`reason`].
    pub reason: String,
    /// How many dead letters it holds.
    pub count: u64,
    /// Its oldest dead letter's id (the time it was dead-lettered is in it).
    pub first: Option<String>,
    /// Its newest dead letter's id.
    pub last: Option<String>,
}

/// Which dead letters: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// The event type, exactly.
    pub event_type: Option<String>,
    /// The reason, exactly (see [`reason`]).
    pub reason: Option<String>,
    /// An svix_id or an object id, exactly, or else text found in the error (any case).
    pub q: Option<String>,
}

/// One page of dead letters, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterPage {
    /// The dead letters that match.
    pub letters: Vec<DeadLetter>,
    /// Where the next page starts (pass it as `before`), when there may be one.
    pub next: Option<String>,
}

/// Where candidates come from: an index prefix, or the stream itself.
enum Source {
    Index(Vec<u8>),
    Stream,
}

impl DeadLetters {
    /// Up to `limit` groups, the largest first.
    pub async fn groups(&self, limit: usize) -> Result<Vec<DeadLetterGroup>, QueueError> {
        let mut conn = self.pool.get().await?;
        // Groups are few (types times reasons), so the hash is read whole.
        let counts: Vec<(String, i64)> = conn.hgetall(self.keys.dlq_groups()).await?;
        let mut groups: Vec<DeadLetterGroup> = counts
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(key, count)| {
                let (event_type, reason) = key.split_once('\n').unwrap_or(("", &key));
                DeadLetterGroup {
                    event_type: event_type.to_owned(),
                    reason: reason.to_owned(),
                    count: count as u64,
                    first: None,
                    last: None,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| (&a.event_type, &a.reason).cmp(&(&b.event_type, &b.reason)))
        });
        groups.truncate(limit);
        if groups.is_empty() {
            return Ok(groups);
        }
        let index = self.keys.dlq_index();
        let mut pipe = redis::pipe();
        for group in &groups {
            let prefix = group_prefix(&group.event_type, &group.reason);
            let (min, max) = bounds(&prefix, None);
            pipe.cmd("ZRANGEBYLEX")
                .arg(&index)
                .arg(&min)
                .arg(&max)
                .arg("LIMIT")
                .arg(0)
                .arg(1);
            pipe.cmd("ZREVRANGEBYLEX")
                .arg(&index)
                .arg(&max)
                .arg(&min)
                .arg("LIMIT")
                .arg(0)
                .arg(1);
        }
        let ends: Vec<Vec<Vec<u8>>> = pipe.query_async(&mut *conn).await?;
        for (group, pair) in groups.iter_mut().zip(ends.chunks(2)) {
            let prefix = group_prefix(&group.event_type, &group.reason);
            group.first = pair.first().and_then(|m| id_of(m.first()?, &prefix));
            group.last = pair.get(1).and_then(|m| id_of(m.first()?, &prefix));
        }
        Ok(groups)
    }

    /// How many events were dead-lettered in each of the `minutes` whole minutes up to
    /// `now_ms` (at most the last hour's, which `{prefix}:dlq:recent` keeps), oldest first.
    pub async fn per_minute(&self, now_ms: u64, minutes: u64) -> Result<Vec<u64>, QueueError> {
        let end = now_ms - now_ms % 60_000 + 60_000;
        let mut pipe = redis::pipe();
        for m in (1..=minutes.min(60)).rev() {
            let from = end.saturating_sub(m * 60_000);
            pipe.zcount(self.keys.dlq_recent(), from, format!("({}", from + 60_000));
        }
        let mut conn = self.pool.get().await?;
        Ok(pipe.query_async(&mut *conn).await?)
    }

    /// Up to `limit` dead letters matching `filter`, newest first, older than `before` when
    /// given. At most `budget` candidates are looked at, so a search in the error text costs
    /// a bounded read: the page then ends early and `next` says where to go on.
    pub async fn page(
        &self,
        filter: &DeadLetterFilter,
        before: Option<&str>,
        limit: usize,
        budget: usize,
    ) -> Result<DeadLetterPage, QueueError> {
        let (source, exact) = self.source(filter).await?;
        let mut page = DeadLetterPage::default();
        let mut cursor = before.map(str::to_owned);
        let mut looked = 0;
        loop {
            let ids = self
                .candidates(
                    &source,
                    cursor.as_deref(),
                    BATCH.min(budget - looked).max(1),
                )
                .await?;
            let exhausted = ids.len() < BATCH.min(budget - looked).max(1);
            looked += ids.len();
            for letter in self.fetch(&ids).await? {
                cursor = Some(letter.id.clone());
                if exact || matches(filter, &letter) {
                    page.letters.push(letter);
                    if page.letters.len() == limit {
                        page.next = cursor;
                        return Ok(page);
                    }
                }
            }
            if let Some(last) = ids.last() {
                cursor = Some(last.clone());
            }
            if exhausted {
                return Ok(page);
            }
            if looked >= budget {
                page.next = cursor;
                return Ok(page);
            }
        }
    }

    /// Every dead letter's id matching `filter`, newest first, up to `through` (inclusive)
    /// when given: what a bulk replay or purge acts on. Reads only the index where the
    /// filter is one it keeps; a search in the error text reads the entries.
    pub async fn matching(
        &self,
        filter: &DeadLetterFilter,
        through: Option<&str>,
    ) -> Result<Vec<String>, QueueError> {
        let (source, exact) = self.source(filter).await?;
        let through = through.and_then(parse_id);
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let ids = self
                .candidates(&source, cursor.as_deref(), BATCH * 5)
                .await?;
            let exhausted = ids.len() < BATCH * 5;
            cursor = ids.last().cloned();
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| through.is_none_or(|t| parse_id(id).is_some_and(|i| i <= t)))
                .collect();
            if exact {
                found.extend(ids);
            } else {
                found.extend(
                    self.fetch(&ids)
                        .await?
                        .into_iter()
                        .filter(|letter| matches(filter, letter))
                        .map(|letter| letter.id),
                );
            }
            if exhausted {
                return Ok(found);
            }
        }
    }

    /// The narrowest source for `filter`, and whether everything it yields matches.
    async fn source(&self, filter: &DeadLetterFilter) -> Result<(Source, bool), QueueError> {
        let (kind, why) = (filter.event_type.as_deref(), filter.reason.as_deref());
        if let Some(q) = filter.q.as_deref() {
            for tag in ["s", "o"] {
                let prefix = prefix(&[tag, q]);
                if self.any(&prefix).await? {
                    return Ok((Source::Index(prefix), kind.is_none() && why.is_none()));
                }
            }
        }
        let only = filter.q.is_none();
        Ok(match (kind, why) {
            (Some(kind), Some(why)) => (Source::Index(group_prefix(kind, why)), only),
            (Some(kind), None) => (Source::Index(prefix(&["t", kind])), only),
            (None, Some(why)) => (Source::Index(prefix(&["r", why])), only),
            (None, None) => (Source::Stream, only),
        })
    }

    async fn any(&self, prefix: &[u8]) -> Result<bool, QueueError> {
        let mut conn = self.pool.get().await?;
        let (min, max) = bounds(prefix, None);
        let found: Vec<Vec<u8>> = redis::cmd("ZRANGEBYLEX")
            .arg(self.keys.dlq_index())
            .arg(min)
            .arg(max)
            .arg("LIMIT")
            .arg(0)
            .arg(1)
            .query_async(&mut *conn)
            .await?;
        Ok(!found.is_empty())
    }

    /// Up to `count` ids from `source`, newest first, older than `before`.
    async fn candidates(
        &self,
        source: &Source,
        before: Option<&str>,
        count: usize,
    ) -> Result<Vec<String>, QueueError> {
        let mut conn = self.pool.get().await?;
        match source {
            Source::Stream => {
                let end = before.map_or_else(|| "+".to_owned(), |b| format!("({b}"));
                let reply: StreamRangeReply = conn
                    .xrevrange_count(self.keys.dlq(), end, "-", count)
                    .await?;
                Ok(reply.ids.into_iter().map(|entry| entry.id).collect())
            }
            Source::Index(prefix) => {
                let (min, max) = bounds(prefix, before);
                let members: Vec<Vec<u8>> = redis::cmd("ZREVRANGEBYLEX")
                    .arg(self.keys.dlq_index())
                    .arg(max)
                    .arg(min)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(count)
                    .query_async(&mut *conn)
                    .await?;
                Ok(members.iter().filter_map(|m| id_of(m, prefix)).collect())
            }
        }
    }

    /// The dead letters of `ids` that are still there, in the order given.
    pub(super) async fn fetch(&self, ids: &[String]) -> Result<Vec<DeadLetter>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.xrange(self.keys.dlq(), id, id);
        }
        let replies: Vec<StreamRangeReply> = pipe.query_async(&mut *conn).await?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| reply.ids.into_iter().next())
            .map(dead_letter)
            .collect())
    }
}

/// Whether `letter` matches every field of `filter`.
fn matches(filter: &DeadLetterFilter, letter: &DeadLetter) -> bool {
    let error = letter.text(field::ERROR);
    filter
        .event_type
        .as_deref()
        .is_none_or(|t| letter.event_type() == t)
        && filter.reason.as_deref().is_none_or(|r| reason(&error) == r)
        && filter.q.as_deref().is_none_or(|q| {
            letter.text(field::SVIX_ID) == q
                || error.to_lowercase().contains(&q.to_lowercase())
                || object_named(letter, q)
        })
}

/// Whether the payload names `id` as its object, its user or its organization.
fn object_named(letter: &DeadLetter, id: &str) -> bool {
    let Ok(body) =
        serde_json::from_slice::<serde_json::Value>(letter.get(field::PAYLOAD).unwrap_or_default())
    else {
        return false;
    };
    let data = &body["data"];
    [
        &data["id"],
        &data["user_id"],
        &data["organization_id"],
        &data["public_user_data"]["user_id"],
        &data["organization"]["id"],
    ]
    .iter()
    .any(|v| v.as_str() == Some(id))
}

fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    out
}

fn group_prefix(event_type: &str, reason: &str) -> Vec<u8> {
    prefix(&["g", event_type, reason])
}

/// ZRANGEBYLEX bounds of every member under `prefix`, below `before` when given.
fn bounds(prefix: &[u8], before: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let mut min = b"[".to_vec();
    min.extend_from_slice(prefix);
    let max = match before {
        Some(before) => {
            let mut max = b"(".to_vec();
            max.extend_from_slice(prefix);
            max.extend_from_slice(before.as_bytes());
            max
        }
        None => {
            let mut max = b"[".to_vec();
            max.extend_from_slice(prefix);
            max.push(0xff);
            max
        }
    };
    (min, max)
}

fn id_of(member: &[u8], prefix: &[u8]) -> Option<String> {
    let rest = member.strip_prefix(prefix)?;
    String::from_utf8(rest.to_vec()).ok()
}

/// A stream id as `(ms, seq)`, for comparing.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
