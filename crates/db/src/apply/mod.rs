//! The writes each event makes, and the transaction around them.
//!
//! [`apply_batch`] applies several events in one transaction: it takes the advisory locks of
//! every object the batch touches, in one sorted statement, then, per event, records its
//! `svix_id` in `processed_webhooks` (an id already there is a duplicate and changes
//! nothing) and makes the event's effect; last, one `sync_changes` row per event that
//! changed something (the change feed, `crate::feed`). One commit, one WAL flush, for the
//! whole batch.
//!
//! Why the locks: "newest wins" and "a deletion is final" are read-then-write rules, and two
//! workers may hold two events of one object at once. Locking every key of the batch up
//! front, in sorted order, serialises them without ever deadlocking: two transactions that
//! share a key queue on it, and no transaction waits while holding a key another needs
//! before it.

mod access;
mod billing;
mod lock;
mod messages;
mod organizations;
mod render;
mod sessions;
mod users;
pub(crate) mod versioned;

use std::collections::{HashMap, HashSet};

use clerk_sync_events::{Event, EventData};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use crate::DbError;
pub use lock::lock_key;
pub use render::render_user_upsert;

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
}

impl Outcome {
    /// `Applied` when an upsert wrote its row, `Stale` when a newer state stood.
    pub(crate) fn written(rows: usize) -> Self {
        if rows == 0 {
            Self::Stale
        } else {
            Self::Applied
        }
    }

    /// A label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

/// Applies `events` in one transaction and returns one outcome per event, in order. On an
/// error nothing of the batch is written.
///
/// The statements are pipelined: the locks, then every event's `processed_webhooks` row in
/// one statement, then the upserts of every new event sent together, then the deletions.
/// Deletions come last because they also erase what other rows hold of a user, and an
/// upsert of the same batch must not write after the erasure. Every upsert is versioned, so
/// the order among them does not change the result; only a user's events, whose addresses
/// follow the row in a second step, are applied one after another. The change feed's rows,
/// one per event `Applied`, come last of all, and are announced at commit.
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
    let candidates: Vec<usize> = (0..events.len())
        .filter(|&i| outcomes[i] == Outcome::Duplicate && seen.insert(events[i].svix_id))
        .collect();
    if candidates.is_empty() {
        return Ok(outcomes);
    }
    conn.transaction(async |conn| {
        let mut keys: Vec<i64> = candidates
            .iter()
            .flat_map(|&i| lock::keys(events[i].event))
            .collect();
        lock::acquire(conn, &mut keys).await?;
        let shared: &AsyncPgConnection = conn;
        let records: Vec<(&str, &Event)> = candidates
            .iter()
            .map(|&i| (events[i].svix_id, events[i].event))
            .collect();
        let fresh = crate::processed::record_all(shared, &records).await?;
        let new: Vec<usize> = candidates
            .into_iter()
            .filter(|&i| fresh.contains(events[i].svix_id))
            .collect();

        // A user's row and then its addresses are two steps: events of one user go in one
        // chain, in order; everything else is a single versioned statement and runs free.
        let mut chains: Vec<Vec<usize>> = Vec::new();
        let mut chain_of_user: HashMap<&str, usize> = HashMap::new();
        for &i in &new {
            match &events[i].event.data {
                EventData::UserUpserted(user) => {
                    let chain = *chain_of_user.entry(user.id.as_str()).or_insert_with(|| {
                        chains.push(Vec::new());
                        chains.len() - 1
                    });
                    chains[chain].push(i);
                }
                _ => chains.push(vec![i]),
            }
        }
        let runs = chains.iter().map(|chain| async move {
            let mut done = Vec::with_capacity(chain.len());
            for &i in chain {
                done.push((i, upsert(shared, events[i]).await?));
            }
            Ok::<_, DbError>(done)
        });
        for (i, outcome) in futures_util::future::try_join_all(runs)
            .await?
            .into_iter()
            .flatten()
        {
            outcomes[i] = outcome;
        }
        for &i in &new {
            if let Some(outcome) = delete(shared, events[i], options).await? {
                outcomes[i] = outcome;
            }
        }
        // Last, because it takes the feed's lock, which every writer of the feed then
        // waits on until this transaction has committed (see `crate::feed`).
        let mut changes = Vec::new();
        for &i in new.iter().filter(|&&i| outcomes[i] == Outcome::Applied) {
            changes.extend(crate::feed::entry(events[i])?);
        }
        crate::feed::record(shared, &changes).await?;
        Ok(outcomes)
    })
    .await
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

/// The state an event carries, written by version. Deletions have no state to write, except
/// a membership's, which carries the whole membership.
async fn upsert(conn: &AsyncPgConnection, pending: Pending<'_>) -> Result<Outcome, DbError> {
    let (id, event) = (pending.svix_id, pending.event);
    use EventData as D;
    match &event.data {
        D::UserUpserted(user) => users::upsert(conn, id, event, user).await,
        D::SessionUpserted(session) => sessions::upsert(conn, id, event, session).await,
        D::OrganizationUpserted(org) => organizations::upsert(conn, id, event, org).await,
        D::MembershipUpserted(m) | D::MembershipDeleted(m) => {
            organizations::upsert_membership(conn, id, event, m).await
        }
        D::InvitationUpserted(i) => organizations::upsert_invitation(conn, id, event, i).await,
        D::DomainUpserted(d) => organizations::upsert_domain(conn, id, event, d).await,
        D::RoleUpserted(role) => access::upsert_role(conn, id, event, role).await,
        D::PermissionUpserted(p) => access::upsert_permission(conn, id, event, p).await,
        D::MessageCreated(channel, m) => messages::create(conn, id, event, *channel, m).await,
        D::WaitlistEntryUpserted(w) => messages::upsert_waitlist_entry(conn, id, event, w).await,
        D::SubscriptionUpserted(s) => billing::upsert_subscription(conn, id, event, s).await,
        D::SubscriptionItemUpserted(i) => billing::upsert_item(conn, id, event, i).await,
        D::PaymentAttemptUpserted(p) => billing::upsert_payment_attempt(conn, id, event, p).await,
        D::UserDeleted(_)
        | D::OrganizationDeleted(_)
        | D::DomainDeleted(_)
        | D::RoleDeleted(_)
        | D::PermissionDeleted(_) => Ok(Outcome::Applied),
        D::Unhandled => Ok(Outcome::Ignored),
    }
}

/// The deletion an event makes, if it makes one; its outcome replaces the upsert's.
async fn delete(
    conn: &AsyncPgConnection,
    pending: Pending<'_>,
    options: ApplyOptions,
) -> Result<Option<Outcome>, DbError> {
    let (id, event) = (pending.svix_id, pending.event);
    use EventData as D;
    let outcome = match &event.data {
        D::UserDeleted(deleted) => {
            users::delete(conn, id, event, deleted, options.user_delete_mode).await?
        }
        D::OrganizationDeleted(deleted) => organizations::delete(conn, event, deleted).await?,
        D::MembershipDeleted(m) => organizations::end_membership(conn, event, m).await?,
        D::DomainDeleted(deleted) => organizations::delete_domain(conn, event, deleted).await?,
        D::RoleDeleted(deleted) => access::delete_role(conn, event, deleted).await?,
        D::PermissionDeleted(deleted) => access::delete_permission(conn, event, deleted).await?,
        // Named one by one, so a new kind of event must say here whether it deletes.
        D::UserUpserted(_)
        | D::SessionUpserted(_)
        | D::OrganizationUpserted(_)
        | D::MembershipUpserted(_)
        | D::InvitationUpserted(_)
        | D::DomainUpserted(_)
        | D::RoleUpserted(_)
        | D::PermissionUpserted(_)
        | D::MessageCreated(..)
        | D::WaitlistEntryUpserted(_)
        | D::SubscriptionUpserted(_)
        | D::SubscriptionItemUpserted(_)
        | D::PaymentAttemptUpserted(_)
        | D::Unhandled => return Ok(None),
    };
    Ok(Some(outcome))
}

/// A Clerk time in ms as a timestamp; `field` names it when it is out of range.
pub(crate) fn time(ms: i64, field: &str) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| DbError::Permanent(format!("{field} is out of range")))
}

/// [`time`] for optional fields.
pub(crate) fn opt_time(
    ms: Option<i64>,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbError> {
    ms.map(|ms| time(ms, field)).transpose()
}
