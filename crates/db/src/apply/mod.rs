//! The writes each event makes, and the transaction around them.
//!
//! [`apply_batch`] applies several events in one transaction: it takes the advisory locks of
//! every object the batch touches, in one sorted statement, then, per event, records its
//! `svix_id` in `processed_webhooks` (an id already there is a duplicate and changes
//! nothing) and makes the event's effect. One commit, one WAL flush, for the whole batch.
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
mod sessions;
mod users;
pub(crate) mod versioned;

use clerk_sync_events::{Event, EventData};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use crate::DbError;
pub use lock::lock_key;

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
pub async fn apply_batch(
    conn: &mut AsyncPgConnection,
    events: &[Pending<'_>],
    options: ApplyOptions,
) -> Result<Vec<Outcome>, DbError> {
    if events
        .iter()
        .all(|p| matches!(p.event.data, EventData::Unhandled))
    {
        return Ok(vec![Outcome::Ignored; events.len()]);
    }
    conn.transaction(async |conn| {
        let mut keys: Vec<i64> = events.iter().flat_map(|p| lock::keys(p.event)).collect();
        lock::acquire(conn, &mut keys).await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for pending in events {
            outcomes.push(apply_locked(conn, *pending, options).await?);
        }
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

async fn apply_locked(
    conn: &mut AsyncPgConnection,
    pending: Pending<'_>,
    options: ApplyOptions,
) -> Result<Outcome, DbError> {
    let event = pending.event;
    if let EventData::Unhandled = event.data {
        return Ok(Outcome::Ignored);
    }
    if !crate::processed::record(conn, pending.svix_id, event).await? {
        return Ok(Outcome::Duplicate);
    }
    let id = pending.svix_id;
    use EventData as D;
    match &event.data {
        D::UserUpserted(user) => users::upsert(conn, id, event, user).await,
        D::UserDeleted(deleted) => {
            users::delete(conn, id, event, deleted, options.user_delete_mode).await
        }
        D::SessionUpserted(session) => sessions::upsert(conn, id, event, session).await,
        D::OrganizationUpserted(org) => organizations::upsert(conn, id, event, org).await,
        D::OrganizationDeleted(deleted) => organizations::delete(conn, event, deleted).await,
        D::MembershipUpserted(m) => organizations::upsert_membership(conn, id, event, m).await,
        D::MembershipDeleted(m) => organizations::delete_membership(conn, id, event, m).await,
        D::InvitationUpserted(i) => organizations::upsert_invitation(conn, id, event, i).await,
        D::DomainUpserted(d) => organizations::upsert_domain(conn, id, event, d).await,
        D::DomainDeleted(deleted) => organizations::delete_domain(conn, event, deleted).await,
        D::RoleUpserted(role) => access::upsert_role(conn, id, event, role).await,
        D::RoleDeleted(deleted) => access::delete_role(conn, event, deleted).await,
        D::PermissionUpserted(p) => access::upsert_permission(conn, id, event, p).await,
        D::PermissionDeleted(deleted) => access::delete_permission(conn, event, deleted).await,
        D::MessageCreated(channel, m) => messages::create(conn, id, event, *channel, m).await,
        D::WaitlistEntryUpserted(w) => messages::upsert_waitlist_entry(conn, id, event, w).await,
        D::SubscriptionUpserted(s) => billing::upsert_subscription(conn, id, event, s).await,
        D::SubscriptionItemUpserted(i) => billing::upsert_item(conn, id, event, i).await,
        D::PaymentAttemptUpserted(p) => billing::upsert_payment_attempt(conn, id, event, p).await,
        D::Unhandled => Ok(Outcome::Ignored),
    }
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
