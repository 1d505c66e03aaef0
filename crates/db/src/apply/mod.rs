//! The writes each event makes, and the transaction around them.
//!
//! [`apply_batch`] applies several events in one transaction: it takes the advisory locks of
//! every object the batch touches, in one sorted statement, records every `svix_id` in
//! `processed_webhooks` in one statement (an id already there is a duplicate and changes
//! nothing), then writes each table once for the whole batch (`plan`), and last writes one
//! `sync_changes` row per event that changed something (the change feed, `crate::feed`).
//! One commit, one WAL flush, and a handful of statements, whatever the batch holds.
//!
//! Why the locks: "newest wins" and "a deletion is final" are read-then-write rules, and two
//! workers may hold two events of one object at once. Locking every key of the batch up
//! front, in sorted order, serialises them without ever deadlocking: two transactions that
//! share a key queue on it, and no transaction waits while holding a key another needs
//! before it.
//!
//! Inside a batch, each object's events are reduced to the one the table keeps (`staged`):
//! the newest state by `(updated_at, svix_id)`, the earliest deletion, exactly as the
//! database compares them. The others are `Stale`, as they would be applied after it.
//!
//! Each Clerk object is one type in a module of its own in `objects` ([`object::Object`]);
//! an event reaches it through the registry's one match, `objects::visit` (the events
//! crate's documentation has the checklist for a new type).

mod lock;
pub(crate) mod object;
pub(crate) mod objects;
mod plan;
mod render;
mod staged;
pub(crate) mod statement;
pub(crate) mod table;
pub(crate) mod tables;

use std::collections::HashSet;

use clerk_sync_events::{Event, EventData};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use crate::{DbError, Schema};
pub use lock::lock_key;
use object::{LockKeys, Stage};
pub(crate) use plan::Plan;
pub use render::render_user_batch;
use statement::Tx;

/// The version of a row only a deletion has written: older than any event.
pub(crate) const NO_VERSION: chrono::DateTime<chrono::Utc> = chrono::DateTime::UNIX_EPOCH;

/// What `USER_DELETE_MODE` asks of a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// Keep the user's row with `deleted_at` and every personal field erased.
    #[default]
    Soft,
    /// Delete the user's row; only a tombstone without personal data remains.
    Hard,
}

/// How events are applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// See [`DeleteMode`].
    pub user_delete_mode: DeleteMode,
    /// The schema written to (`DATABASE_SCHEMA`).
    pub schema: Schema,
}

/// One event to apply.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    /// The Svix message id: the idempotency key.
    pub svix_id: &'a str,
    /// The parsed event.
    pub event: &'a Event,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event changed the database.
    Applied,
    /// Recorded, but a newer state (or a deletion) already stood: nothing else changed.
    Stale,
    /// Its `svix_id` was applied before: nothing changed.
    Duplicate,
    /// A type clerk-sync does not apply: nothing was written.
    Ignored,
    /// The event names another Clerk instance than the one the database mirrors
    /// (`sync_instance`): nothing was written, and it must be dead-lettered.
    InstanceMismatch,
}

impl Outcome {
    /// A label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::InstanceMismatch => "instance_mismatch",
        }
    }
}

/// Applies `events` in one transaction and returns one outcome per event, in order. On an
/// error nothing of the batch is written.
pub async fn apply_batch(
    conn: &mut AsyncPgConnection,
    events: &[Pending<'_>],
    options: ApplyOptions,
) -> Result<Vec<Outcome>, DbError> {
    let mut outcomes: Vec<Outcome> = events
        .iter()
        .map(|p| match p.event.data {
            EventData::Unhandled => Outcome::Ignored,
            _ => Outcome::Duplicate,
        })
        .collect();
    // The first of several deliveries of one id in a batch is the one applied.
    let mut seen = HashSet::new();
    let mut candidates: Vec<usize> = (0..events.len())
        .filter(|&i| outcomes[i] == Outcome::Duplicate && seen.insert(events[i].svix_id))
        .collect();
    if candidates.is_empty() {
        return Ok(outcomes);
    }
    conn.transaction(async |conn| {
        let tx = Tx {
            conn,
            schema: options.schema,
        };
        hold_to_instance(tx, events, &mut candidates, &mut outcomes).await?;
        let mut keys = Vec::new();
        for &i in &candidates {
            lock_keys(events[i].event, &mut keys);
        }
        lock::acquire(tx, &mut keys).await?;
        let records: Vec<(&str, &Event)> = candidates
            .iter()
            .map(|&i| (events[i].svix_id, events[i].event))
            .collect();
        let fresh = crate::processed::record_all(tx, &records).await?;
        let mut plan = Plan::default();
        for &i in candidates
            .iter()
            .filter(|&&i| fresh.contains(events[i].svix_id))
        {
            outcomes[i] = Outcome::Stale;
            stage(&mut plan, i, events[i])?;
        }
        let mut quiet = HashSet::new();
        plan.write(tx, options.user_delete_mode, &mut outcomes, &mut quiet)
            .await?;
        // Last, because it takes the feed's lock, which every writer of the feed then
        // waits on until this transaction has committed (see `crate::feed`). One version of
        // an object is announced once: not again by an event that tied it.
        let mut changes = Vec::new();
        for (i, _) in outcomes
            .iter()
            .enumerate()
            .filter(|(i, o)| **o == Outcome::Applied && !quiet.contains(i))
        {
            changes.extend(crate::feed::entry(events[i])?);
        }
        crate::feed::record(tx, &changes).await?;
        Ok(outcomes)
    })
    .await
}

/// Sets apart the events that name another Clerk instance than the pinned one, pinning the
/// first instance named when none is pinned yet. Events that name none are applied: a
/// sender may leave `instance_id` out, the Backend API's objects (fetches, backfill,
/// reconciliation) carry none, their key having been checked instead, and Clerk's own
/// examples ("Send Example", `clerk-sync send`) name an instance that is no one's.
async fn hold_to_instance(
    tx: Tx<'_>,
    events: &[Pending<'_>],
    candidates: &mut Vec<usize>,
    outcomes: &mut [Outcome],
) -> Result<(), DbError> {
    let named = |i: usize| events[i].event.named_instance();
    let Some(first) = candidates.iter().find_map(|&i| named(i)) else {
        return Ok(());
    };
    let pinned = match crate::instance::pinned_instance(tx.conn, tx.schema).await? {
        Some(pinned) => pinned,
        None => crate::instance::pin_instance(tx.conn, tx.schema, first, None).await?,
    };
    candidates.retain(|&i| match named(i) {
        Some(instance) if instance != pinned.instance_id => {
            outcomes[i] = Outcome::InstanceMismatch;
            false
        }
        _ => true,
    });
    Ok(())
}

/// Applies one event in its own transaction.
pub async fn apply_one(
    conn: &mut AsyncPgConnection,
    pending: Pending<'_>,
    options: ApplyOptions,
) -> Result<Outcome, DbError> {
    let outcomes = apply_batch(conn, std::slice::from_ref(&pending), options).await?;
    Ok(outcomes[0])
}

/// The objects an event's effect reads or writes. Events that touch what a user's deletion
/// erases (sessions, messages, accepted invitations) take the user's key too, so a deletion
/// and such an event never interleave.
fn lock_keys(event: &Event, keys: &mut Vec<i64>) {
    objects::visit(&event.data, LockKeys(keys));
}

/// Stages the rows event `i` writes: its own object's, and those it carries of others.
fn stage<'a>(plan: &mut Plan<'a>, i: usize, pending: Pending<'a>) -> Result<(), DbError> {
    let stage = Stage {
        plan,
        owner: i,
        svix_id: pending.svix_id,
        event: pending.event,
    };
    objects::visit(&pending.event.data, stage)
}

/// A Clerk time in ms as a timestamp; `field` names it when it is out of range.
/// Years 1 to 9999 only: rows travel to PostgreSQL as RFC 3339 text, which has no other.
pub(crate) fn time(ms: i64, field: &str) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
    use chrono::Datelike as _;
    chrono::DateTime::from_timestamp_millis(ms)
        .filter(|t| (1..=9999).contains(&t.year()))
        .ok_or_else(|| DbError::Permanent(format!("{field} is out of range")))
}

/// [`time`] for optional fields.
pub(crate) fn opt_time(
    ms: Option<i64>,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbError> {
    ms.map(|ms| time(ms, field)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workers of two versions run side by side in a rolling deploy: an object's lock key
    /// must not change with the code, or two of them would write one object at once. The
    /// namespaces below are the released ones.
    #[test]
    fn every_event_locks_its_object_under_the_namespace_every_version_uses() {
        struct Namespace;
        impl<'e> object::Visitor<'e> for Namespace {
            type Out = Option<(&'static str, &'static str)>;
            fn upserted<O: object::Object>(self, _: &'e O::Source) -> Self::Out {
                Some((O::NAME, O::LOCK))
            }
            fn deleted<O: object::Deletable>(self, _: &'e O::Deletion) -> Self::Out {
                Some((O::NAME, O::LOCK))
            }
            fn unhandled(self) -> Self::Out {
                None
            }
        }
        let released = [
            ("user", "user"),
            ("session", "session"),
            ("organization", "organization"),
            ("organization_membership", "membership"),
            ("organization_invitation", "invitation"),
            ("organization_domain", "domain"),
            ("role", "role"),
            ("permission", "permission"),
            ("email", "message"),
            ("sms", "message"),
            ("waitlist_entry", "waitlist_entry"),
            ("subscription", "subscription"),
            ("subscription_item", "subscription_item"),
            ("payment_attempt", "payment_attempt"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (name, body) in clerk_sync_test_support::clerk_payloads() {
            let event = clerk_sync_events::parse(&body, 0).expect(&name);
            let Some((object, namespace)) = objects::visit(&event.data, Namespace) else {
                continue;
            };
            let released = released.iter().find(|(o, _)| *o == object);
            assert_eq!(released.map(|r| r.1), Some(namespace), "{name}: {object}");
            let id = event.object_id().expect(&name);
            let mut keys = Vec::new();
            lock_keys(&event, &mut keys);
            assert!(keys.contains(&lock_key(namespace, id)), "{name}");
            seen.insert(object);
        }
        let all: std::collections::BTreeSet<_> = released.iter().map(|r| r.0).collect();
        assert_eq!(seen, all, "an object no corpus payload locks");
    }
}
