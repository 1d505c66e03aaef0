//! Group commit: requests waiting for Redis at the same moment go in one script call.
//!
//! A committer task takes every request waiting when it is free (up to a bound), sends
//! them in one call, and answers each request from that call's reply. While one group is
//! in Redis the next one fills, so under load Redis sees one call per group instead of one
//! per request, and an idle receiver sends a lone request at once, without waiting for
//! company. Committers sharing a queue take turns at it.

use std::sync::{Arc, Weak};

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::enqueue::{Inner, SHARED_CONNECTIONS};
use crate::{EnqueueError, EnqueueOutcome, Entry};

/// A request waiting for its group.
pub(crate) struct Pending {
    pub(crate) entry: Entry,
    pub(crate) reply: oneshot::Sender<Result<EnqueueOutcome, EnqueueError>>,
}

/// Requests waiting beyond this many make senders wait for room: memory stays bounded
/// whatever the rate.
const QUEUE_LENGTH: usize = 4096;

/// At most this many entries in one call, so one call stays short for Redis (a script
/// blocks every other client while it runs).
const MAX_GROUP: usize = 256;

/// At most this many payload bytes in one call, past the first entry: a group of large
/// bodies is cut short rather than sent as one huge command.
const MAX_GROUP_BYTES: usize = 1024 * 1024;

/// Starts the committers for `inner`; they stop when every enqueuer sharing it is dropped.
pub(crate) fn start(inner: Weak<Inner>) -> mpsc::Sender<Pending> {
    let (sender, receiver) = mpsc::channel(QUEUE_LENGTH);
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..SHARED_CONNECTIONS {
        tokio::spawn(commit(inner.clone(), receiver.clone()));
    }
    sender
}

async fn commit(inner: Weak<Inner>, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let Some(group) = next_group(&receiver).await else {
            return;
        };
        // A request whose sender gave up (timed out) is not written: it was answered 503,
        // and its retry should be queued, not found a duplicate of an event no one saw
        // accepted.
        let group: Vec<Pending> = group.into_iter().filter(|p| !p.reply.is_closed()).collect();
        if group.is_empty() {
            continue;
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let entries: Vec<&Entry> = group.iter().map(|p| &p.entry).collect();
        let outcomes = match inner.call(&entries).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                tracing::debug!(%error, size = group.len(), "group enqueue failed");
                group.iter().map(|_| Err(error.copy())).collect()
            }
        };
        drop(inner);
        for (pending, outcome) in group.into_iter().zip(outcomes) {
            // The requester may have timed out meanwhile; its answer is then already 503.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// The requests waiting now, at least one: `None` once every sender is gone.
async fn next_group(receiver: &Mutex<mpsc::Receiver<Pending>>) -> Option<Vec<Pending>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut bytes = 0;
    let mut group = vec![first];
    while group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
        match receiver.try_recv() {
            Ok(pending) => {
                bytes += pending.entry.payload.len();
                group.push(pending);
            }
            Err(_) => break,
        }
    }
    Some(group)
}
