//! The verdict: every accepted event applied exactly once in effect or dead-lettered with a
//! reason; the rows equal to the model; no poison applied; no outage dead-lettered anything;
//! no refused request in Redis; the change feed holds each event once at most, and only
//! events applied.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use clerk_sync_queue::{DeadLetters, Keys, field};

use crate::driver::{Fate, Sent};
use crate::model::expected;
use crate::workload::{Kind, Planned};

/// Counts and failures.
#[derive(Debug, Default)]
pub struct Verdict {
    pub sent: usize,
    pub accepted: usize,
    pub refused: usize,
    pub unconfirmed: usize,
    pub applied: usize,
    pub dead_lettered: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.lost == 0 && self.duplicated == 0
    }
}

pub async fn check(
    planned: &[Planned],
    sent: &Sent,
    database_url: &str,
    redis: &clerk_sync_queue::Pool,
    keys: &Keys,
) -> anyhow::Result<Verdict> {
    let mut v = Verdict {
        sent: planned.len(),
        ..Verdict::default()
    };
    let (db, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to the run's PostgreSQL")?;
    tokio::spawn(connection);

    let processed: BTreeSet<String> = db
        .query("SELECT svix_id FROM clerk.processed_webhooks", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let letters = DeadLetters::new(redis.clone(), keys.clone())
        .list(usize::MAX, None)
        .await?;
    let mut dead: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for letter in &letters {
        let entry = dead
            .entry(letter.text(field::SVIX_ID))
            .or_insert((0, letter.text(field::ERROR)));
        entry.0 += 1;
    }
    v.applied = processed.len();
    v.dead_lettered = letters.len();

    let mut applied_effects = Vec::new();
    for event in planned {
        let fate = sent
            .fates
            .get(&event.svix_id)
            .copied()
            .unwrap_or(Fate::Unconfirmed);
        match fate {
            Fate::Accepted => v.accepted += 1,
            Fate::Refused => v.refused += 1,
            Fate::Unconfirmed => v.unconfirmed += 1,
            Fate::Rejected(status) => v
                .failures
                .push(format!("{} answered {status}", event.svix_id)),
        }
        let in_db = processed.contains(&event.svix_id);
        let letter = dead.get(&event.svix_id);
        if letter.is_some_and(|(n, _)| *n > 1) || (in_db && letter.is_some()) {
            v.duplicated += 1;
        }
        match (&event.kind, fate) {
            (Kind::Good(effect), Fate::Accepted) => {
                if let Some((_, error)) = letter {
                    v.failures
                        .push(format!("{} was dead-lettered: {error}", event.svix_id));
                } else if !in_db {
                    v.lost += 1;
                    v.failures
                        .push(format!("{} was accepted and never applied", event.svix_id));
                }
                applied_effects.push((event.svix_id.as_str(), effect));
            }
            (Kind::Good(effect), Fate::Unconfirmed) if in_db => {
                applied_effects.push((event.svix_id.as_str(), effect))
            }
            (Kind::Poison, Fate::Accepted) => {
                if in_db {
                    v.failures
                        .push(format!("poison {} was applied", event.svix_id));
                } else if letter.is_none() {
                    v.lost += 1;
                    v.failures.push(format!(
                        "poison {} is neither applied nor dead-lettered",
                        event.svix_id
                    ));
                }
            }
            (Kind::Forged, Fate::Refused) => {
                if in_db || letter.is_some() {
                    v.failures
                        .push(format!("forged {} reached Redis", event.svix_id));
                }
            }
            (Kind::Forged, other) => v
                .failures
                .push(format!("forged {} was answered {other:?}", event.svix_id)),
            (Kind::Good(_) | Kind::Poison, _) => {}
        }
    }

    check_rows(&db, &expected(&applied_effects), &mut v).await?;
    check_erasure(&db, &mut v).await?;
    check_feed(&db, &processed, &mut v).await?;
    let forged_guards: u64 = {
        let forged: BTreeSet<&str> = planned
            .iter()
            .filter(|e| e.kind == Kind::Forged)
            .map(|e| e.svix_id.as_str())
            .collect();
        guarded_ids(redis, keys)
            .await?
            .iter()
            .filter(|id| forged.contains(id.as_str()))
            .count() as u64
    };
    if forged_guards > 0 {
        v.failures.push(format!(
            "{forged_guards} forged requests left a duplicate guard in Redis"
        ));
    }
    Ok(v)
}

/// Every svix-id the receiver's duplicate guard holds: the fields of its bucket hashes.
async fn guarded_ids(redis: &clerk_sync_queue::Pool, keys: &Keys) -> anyhow::Result<Vec<String>> {
    let mut conn = redis.get().await?;
    let buckets: Vec<String> = clerk_sync_queue::redis::cmd("KEYS")
        .arg(format!("{}:guard:*:h*", keys.tag()))
        .query_async(&mut *conn)
        .await?;
    let mut ids = Vec::new();
    for bucket in buckets {
        let fields: Vec<String> = clerk_sync_queue::redis::cmd("HKEYS")
            .arg(bucket)
            .query_async(&mut *conn)
            .await?;
        ids.extend(fields);
    }
    Ok(ids)
}

async fn check_rows(
    db: &tokio_postgres::Client,
    model: &BTreeMap<(String, String), crate::model::Expected>,
    v: &mut Verdict,
) -> anyhow::Result<()> {
    let queries = [
        (
            "users",
            "SELECT clerk_id, first_name, deleted_at IS NOT NULL FROM clerk.users",
        ),
        ("sessions", "SELECT id, status, false FROM clerk.sessions"),
        (
            "organizations",
            "SELECT id, name, deleted_at IS NOT NULL FROM clerk.organizations",
        ),
        (
            "organization_memberships",
            "SELECT id, role, deleted_at IS NOT NULL FROM clerk.organization_memberships",
        ),
    ];
    let mut actual = BTreeMap::new();
    for (table, sql) in queries {
        for row in db.query(sql, &[]).await? {
            let id: String = row.get(0);
            let value: Option<String> = row.get(1);
            let deleted: bool = row.get(2);
            actual.insert(
                (table.to_owned(), id),
                crate::model::Expected { value, deleted },
            );
        }
    }
    for (key, want) in model {
        match actual.get(key) {
            Some(got) if got == want => {}
            Some(got) => v
                .failures
                .push(format!("{} {}: {got:?}, expected {want:?}", key.0, key.1)),
            None => v.failures.push(format!("{} {} is missing", key.0, key.1)),
        }
    }
    for key in actual.keys() {
        // Organizations also arrive inside memberships; every one of the run has its own events.
        if !model.contains_key(key) {
            v.failures
                .push(format!("{} {} exists but no event made it", key.0, key.1));
        }
    }
    Ok(())
}

/// The change feed: at most one row per event, whatever was redelivered, retried or
/// interrupted, and only for events recorded as applied (a row of a rolled-back attempt
/// would be a change that never happened).
async fn check_feed(
    db: &tokio_postgres::Client,
    processed: &BTreeSet<String>,
    v: &mut Verdict,
) -> anyhow::Result<()> {
    let rows = db
        .query(
            "SELECT svix_id, count(*) FROM clerk.sync_changes GROUP BY svix_id",
            &[],
        )
        .await?;
    for row in rows {
        let svix_id: String = row.get(0);
        let count: i64 = row.get(1);
        if count > 1 {
            v.failures
                .push(format!("{svix_id} is in the change feed {count} times"));
        }
        if !processed.contains(&svix_id) {
            v.failures.push(format!(
                "{svix_id} is in the change feed but not in processed_webhooks"
            ));
        }
    }
    Ok(())
}

/// A deleted user's sessions keep no IP; a live user's keep theirs.
async fn check_erasure(db: &tokio_postgres::Client, v: &mut Verdict) -> anyhow::Result<()> {
    let leaks: i64 = db
        .query_one(
            "SELECT count(*) FROM clerk.sessions s JOIN clerk.tombstones t
               ON t.object_type = 'user' AND t.object_id = s.user_id
             WHERE s.client_ip IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if leaks > 0 {
        v.failures
            .push(format!("{leaks} sessions of deleted users kept their IP"));
    }
    Ok(())
}
