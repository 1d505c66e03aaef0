//! Backfill: brings the database level with Clerk by feeding every user, organization and
//! membership the Backend API lists into `{prefix}:events`, as the event that carries the
//! object whole (`user.updated`, `organization.updated`, `organizationMembership.updated`).
//!
//! Each object becomes one entry, queued exactly as the receiver queues a webhook (the same
//! duplicate guard and XADD script), with a `svix_id` made of the object's type, id and
//! `updated_at`. So a second run queues nothing new (the guard, then `processed_webhooks`,
//! recognise it), and the workers' ordering rules settle it against live webhooks: the
//! newest `updated_at` wins, and on a tie the live event does, since `backfill:…` sorts
//! before Svix's `msg_…`.
//!
//! After each page the run records how far it got (`{prefix}:backfill`, the queue crate's
//! [`Progress`]), so one interrupted and started again with `resume` goes on from there. A
//! run that finishes deletes the record; a run without `resume` starts over.

mod enqueue;

use std::collections::BTreeMap;

use clerk_sync_clerk_api::{ApiError, Client, Kind, Listing, Object};
use clerk_sync_queue::{
    EnqueueOutcome, Enqueuer, EnqueuerConfig, Entry, Keys, Pool, Position, Progress, ProgressError,
    Recorded,
};

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The kinds, in the order they are read.
    pub kinds: Vec<Kind>,
    /// Only objects changed since then, Unix ms.
    pub since_ms: Option<i64>,
    /// Go on from the last page an interrupted backfill queued, instead of starting over.
    pub resume: bool,
}

/// What became of the objects of one kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Objects listed.
    pub read: u64,
    /// Queued now.
    pub queued: u64,
    /// Queued before (the duplicate guard knew them).
    pub already_queued: u64,
    /// Older than `since`.
    pub older: u64,
    /// Without an id or a version: nothing to queue.
    pub unreadable: u64,
}

/// What a run hears of its progress, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// How many objects the list holds, where it says.
    Total(u64),
    /// One more object read.
    Read,
    /// Whether the run waits for the workers (the stream is at its high-water mark).
    Waiting(bool),
    /// The kind is done.
    Done,
}

/// Why a backfill stopped. What it queued stays queued: a second run skips it.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Clerk's Backend API refused, failed or could not be reached.
    #[error("backfill of {kind} stopped")]
    Clerk {
        /// The kind's plural.
        kind: &'static str,
        /// Why.
        #[source]
        source: ApiError,
    },
    /// Redis did not take an entry.
    #[error("backfill of {kind} stopped: cannot queue {svix_id}: {reason}")]
    Queue {
        /// The kind's plural.
        kind: &'static str,
        /// The entry.
        svix_id: String,
        /// Why.
        reason: String,
    },
    /// The progress could not be read or recorded.
    #[error(transparent)]
    Progress(#[from] ProgressError),
}

/// Where entries go: the queue (with the progress recorded), or, for a dry run, a list.
pub enum Sink {
    /// Queued under these keys.
    Queue(Enqueuer, Progress, Recorded),
    /// Collected, queued nowhere: `(svix_id, event type)`.
    DryRun(Vec<(String, &'static str)>),
}

impl Sink {
    /// The queue under `keys`, resuming what is recorded with `resume`, otherwise starting
    /// over.
    pub async fn queue(redis: Pool, keys: Keys, resume: bool) -> Result<Self, ProgressError> {
        let progress = Progress::backfill(redis.clone(), &keys);
        let recorded = if resume {
            progress.recorded().await?
        } else {
            progress.clear().await?;
            Recorded::default()
        };
        let enqueuer = Enqueuer::new(redis, keys, EnqueuerConfig::default());
        Ok(Self::Queue(enqueuer, progress, recorded))
    }

    /// Nowhere: what would be queued is collected.
    pub fn dry_run() -> Self {
        Self::DryRun(Vec::new())
    }

    /// The run finished: nothing to resume. Returns what a dry run would have queued.
    pub async fn finish(self) -> Result<Vec<(String, &'static str)>, ProgressError> {
        match self {
            Self::DryRun(events) => Ok(events),
            Self::Queue(_, progress, _) => {
                progress.clear().await?;
                Ok(Vec::new())
            }
        }
    }
}

/// Backfills each kind of `options` from `client` into `sink`; `on` hears of each step.
pub async fn backfill(
    client: &Client,
    sink: &mut Sink,
    options: &Options,
    mut on: impl FnMut(Kind, Step),
) -> Result<BTreeMap<Kind, Tally>, BackfillError> {
    let mut tallies = BTreeMap::new();
    for &kind in &options.kinds {
        let tally = backfill_kind(client, sink, kind, options.since_ms, &mut on).await?;
        on(kind, Step::Done);
        tallies.insert(kind, tally);
    }
    Ok(tallies)
}

async fn backfill_kind(
    client: &Client,
    sink: &mut Sink,
    kind: Kind,
    since_ms: Option<i64>,
    on: &mut impl FnMut(Kind, Step),
) -> Result<Tally, BackfillError> {
    let mut tally = Tally::default();
    let mut lists = Listing::new(client, kind, since_ms.is_some());
    if let Sink::Queue(_, _, recorded) = sink {
        match recorded.position(kind.plural()) {
            Position::Done => return Ok(tally),
            Position::At(offset) => lists.skip_to(offset),
            Position::Start => {}
        }
    }
    let clerk_error = |source| BackfillError::Clerk {
        kind: kind.plural(),
        source,
    };
    while let Some(page) = lists.next_page().await.map_err(clerk_error)? {
        if let Some(total) = lists.total() {
            on(kind, Step::Total(total));
        }
        tally.unreadable += page.unreadable as u64;
        for object in page.objects {
            tally.read += 1;
            on(kind, Step::Read);
            let Some(version) = object.version() else {
                tally.unreadable += 1;
                continue;
            };
            if since_ms.is_some_and(|since| version < since) {
                tally.older += 1;
                // Users come newest first with `since`: the rest are older still.
                if kind == Kind::User {
                    lists.stop();
                    break;
                }
                continue;
            }
            match sink {
                Sink::DryRun(events) => {
                    events.push((svix_id(kind, &object, version), kind.event_type()));
                    tally.queued += 1;
                }
                Sink::Queue(enqueuer, _, _) => {
                    let entry = entry(kind, &object, version);
                    match enqueue::enqueue(enqueuer, &entry, |waiting| {
                        on(kind, Step::Waiting(waiting))
                    })
                    .await
                    {
                        Ok(EnqueueOutcome::Queued(_)) => tally.queued += 1,
                        Ok(EnqueueOutcome::Duplicate) => tally.already_queued += 1,
                        Err(error) => {
                            return Err(BackfillError::Queue {
                                kind: kind.plural(),
                                svix_id: entry.svix_id,
                                reason: error.to_string(),
                            });
                        }
                    }
                }
            }
        }
        if let (Sink::Queue(_, progress, _), Some(offset)) = (&*sink, lists.offset()) {
            progress.reached(kind.plural(), offset).await?;
        }
    }
    if let Sink::Queue(_, progress, _) = sink {
        progress.done(kind.plural()).await?;
    }
    Ok(tally)
}

/// The id the event is known by in the queue and in `processed_webhooks`: the same object
/// at the same version always gets the same one.
pub fn svix_id(kind: Kind, object: &Object, version: i64) -> String {
    format!("backfill:{}:{}:{version}", kind.name(), object.id)
}

fn entry(kind: Kind, object: &Object, version: i64) -> Entry {
    let now_ms = clerk_sync_runtime::unix_ms();
    Entry {
        svix_id: svix_id(kind, object, version),
        svix_timestamp: (now_ms / 1000).to_string(),
        event_type: kind.event_type().to_owned(),
        payload: object.envelope(kind.event_type(), version),
        received_at: now_ms,
        attempt: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(raw: &str) -> Object {
        let raw = serde_json::value::RawValue::from_string(raw.to_owned()).unwrap();
        Object {
            raw,
            id: "user_1".into(),
            updated_at: Some(1_716_883_500_000),
            created_at: None,
        }
    }

    #[test]
    fn the_envelope_carries_the_object_byte_for_byte_and_parses() {
        let data = r#"{ "object":"user", "id":"user_1", "first_name":"Zo\u00eb", "updated_at":1716883500000 }"#;
        let body = object(data).envelope(Kind::User.event_type(), 1_716_883_500_000);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.ends_with(&format!(r#""data":{data}}}"#)), "{text}");
        let event = clerk_sync_events::parse(&body, 0).unwrap();
        assert_eq!(event.event_type, "user.updated");
        assert_eq!(event.timestamp, 1_716_883_500_000);
        let clerk_sync_events::EventData::UserUpserted(user) = event.data else {
            panic!("not a user upsert: {event:?}")
        };
        assert_eq!(user.first_name.as_deref(), Some("Zoë"));
    }

    #[test]
    fn the_svix_id_is_the_object_and_its_version() {
        let object = object(r#"{"id":"user_1"}"#);
        assert_eq!(
            svix_id(Kind::User, &object, 1_716_883_500_000),
            "backfill:user:user_1:1716883500000"
        );
        assert!(
            svix_id(Kind::User, &object, 1).as_str() < "msg_2abc",
            "live events win ties"
        );
    }
}
