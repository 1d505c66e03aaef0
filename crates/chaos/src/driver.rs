//! Sends the planned events the way Svix delivers: signed, concurrently, at a steady pace,
//! retrying anything but a 2xx (or a 4xx, which Svix would not retry either) until it is
//! accepted, and sending some a second time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_sync_signature::{SigningSecret, sign};
use tokio::sync::{Mutex, Semaphore};

use crate::workload::{Kind, Planned};
use clerk_sync_testbed::SECRET;

/// What became of one event, as its sender saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Answered 2xx: the receiver promised it.
    Accepted,
    /// Answered 401: refused by verification.
    Refused,
    /// Answered another 4xx: a bug, reported.
    Rejected(u16),
    /// Never answered 2xx within the deadline: no promise was made.
    Unconfirmed,
}

/// The outcome of sending everything.
#[derive(Debug, Default)]
pub struct Sent {
    pub fates: BTreeMap<String, Fate>,
    /// Attempts that met a connection error or a 5xx: the faults the senders rode through.
    pub retries: u64,
    pub duplicates_answered: u64,
}

/// Sends `events` over about `pace` (spread evenly), `concurrency` at a time.
pub async fn send_all(
    url: String,
    events: Vec<Planned>,
    pace: Duration,
    concurrency: usize,
    deadline: Instant,
) -> Sent {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let secret: Option<SigningSecret> = SECRET.parse().ok();
    let Some(secret) = secret else {
        return Sent::default();
    };
    let secret = Arc::new(secret);
    let sent = Arc::new(Mutex::new(Sent::default()));
    let permits = Arc::new(Semaphore::new(concurrency));
    let gap = pace / events.len().max(1) as u32;
    let mut tasks = tokio::task::JoinSet::new();
    let mut resends = Vec::new();
    for event in events {
        tokio::time::sleep(gap).await;
        if event.resend {
            resends.push(event.clone());
        }
        let permit = permits.clone().acquire_owned().await;
        let (client, secret, sent, url) =
            (client.clone(), secret.clone(), sent.clone(), url.clone());
        tasks.spawn(async move {
            let _permit = permit;
            deliver(&client, &url, &secret, &event, deadline, &sent).await;
        });
    }
    // Redeliveries of events already accepted: each must change nothing.
    for event in resends {
        let (client, secret, sent, url) =
            (client.clone(), secret.clone(), sent.clone(), url.clone());
        tasks.spawn(async move {
            deliver(&client, &url, &secret, &event, deadline, &sent).await;
        });
    }
    while tasks.join_next().await.is_some() {}
    match Arc::try_unwrap(sent) {
        Ok(sent) => sent.into_inner(),
        Err(shared) => std::mem::take(&mut *shared.lock().await),
    }
}

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &SigningSecret,
    event: &Planned,
    deadline: Instant,
    sent: &Mutex<Sent>,
) {
    let mut wait = Duration::from_millis(50);
    loop {
        // Svix signs each attempt with a fresh timestamp; so do we.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signature = sign(secret, &event.svix_id, now, &event.body);
        let mut body = event.body.clone();
        if event.kind == Kind::Forged {
            body.extend_from_slice(b" ");
        }
        let outcome = client
            .post(url)
            .header("svix-id", &event.svix_id)
            .header("svix-timestamp", now.to_string())
            .header("svix-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let fate = match outcome {
            Ok(response) if response.status().is_success() => {
                if response.status().as_u16() == 200 {
                    sent.lock().await.duplicates_answered += 1;
                }
                Some(Fate::Accepted)
            }
            Ok(response) if response.status().as_u16() == 401 => Some(Fate::Refused),
            Ok(response)
                if response.status().is_client_error() && response.status().as_u16() != 408 =>
            {
                Some(Fate::Rejected(response.status().as_u16()))
            }
            _ => None,
        };
        if let Some(fate) = fate {
            let mut sent = sent.lock().await;
            // A resend's fate never downgrades the first delivery's.
            let entry = sent.fates.entry(event.svix_id.clone()).or_insert(fate);
            if *entry == Fate::Unconfirmed {
                *entry = fate;
            }
            return;
        }
        sent.lock().await.retries += 1;
        if Instant::now() >= deadline {
            sent.lock()
                .await
                .fates
                .entry(event.svix_id.clone())
                .or_insert(Fate::Unconfirmed);
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}
