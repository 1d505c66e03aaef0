//! Writing the feed's rows, inside the transaction of the batch that made the changes.

use chrono::{DateTime, Utc};
use clerk_sync_events::EventData;
use std::sync::LazyLock;

use super::Op;
use crate::DbError;
use crate::apply::objects as o;
use crate::apply::statement::{Sql, Tx, encode};
use crate::apply::{Pending, time};

/// One feed row, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Entry<'a> {
    object_type: &'a str,
    object_id: &'a str,
    #[serde(serialize_with = "op_str")]
    op: Op,
    event_type: &'a str,
    svix_id: &'a str,
    version: DateTime<Utc>,
}

fn op_str<S: serde::Serializer>(op: &Op, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(op.as_str())
}

/// The feed row of an applied event: the object it is about, what happened to it, and the
/// version newest-wins compared. `None` for an event that never changes anything.
///
/// One row per event, for its own object: what else an event writes on the way (the
/// organization inside a membership, a role's permissions, a subscription's items) has
/// events of its own.
pub(crate) fn entry<'a>(pending: Pending<'a>) -> Result<Option<Entry<'a>>, DbError> {
    let event = pending.event;
    // A deletion's version is when it happened: the earliest deletion is the one kept.
    let deleted = |object_type: &'a str, object_id: &'a str| {
        (object_type, object_id, Op::Deleted, event.timestamp)
    };
    let upserted = |object_type: &'a str, object_id: &'a str, updated_at: Option<i64>| {
        let version = updated_at.unwrap_or(event.timestamp);
        (object_type, object_id, Op::Upserted, version)
    };
    use EventData as D;
    // Exhaustive, so a new kind of event cannot be forgotten here.
    let (object_type, object_id, op, version_ms) = match &event.data {
        D::UserUpserted(u) => upserted(o::user::OBJECT, &u.id, u.updated_at),
        D::UserDeleted(d) => deleted(o::user::OBJECT, &d.id),
        D::SessionUpserted(s) => upserted(o::session::OBJECT, &s.id, s.updated_at),
        D::OrganizationUpserted(org) => upserted(o::organization::OBJECT, &org.id, org.updated_at),
        D::OrganizationDeleted(d) => deleted(o::organization::OBJECT, &d.id),
        D::MembershipUpserted(m) => upserted(o::membership::OBJECT, &m.id, m.updated_at),
        D::MembershipDeleted(m) => deleted(o::membership::OBJECT, &m.id),
        D::InvitationUpserted(i) => upserted(o::invitation::OBJECT, &i.id, i.updated_at),
        D::DomainUpserted(d) => upserted(o::domain::OBJECT, &d.id, d.updated_at),
        D::DomainDeleted(d) => deleted(o::domain::OBJECT, &d.id),
        D::RoleUpserted(r) => upserted(o::role::OBJECT, &r.id, r.updated_at),
        D::RoleDeleted(d) => deleted(o::role::OBJECT, &d.id),
        D::PermissionUpserted(p) => upserted(o::permission::OBJECT, &p.id, p.updated_at),
        D::PermissionDeleted(d) => deleted(o::permission::OBJECT, &d.id),
        // A message has no updated_at: the event's time is its version, as in `messages`.
        D::MessageCreated(channel, m) => upserted(channel.as_str(), &m.id, None),
        D::WaitlistEntryUpserted(w) => upserted(o::waitlist_entry::OBJECT, &w.id, w.updated_at),
        D::SubscriptionUpserted(s) => upserted(o::subscription::OBJECT, &s.id, s.updated_at),
        D::SubscriptionItemUpserted(i) => {
            upserted(o::subscription_item::OBJECT, &i.id, i.updated_at)
        }
        D::PaymentAttemptUpserted(p) => upserted(o::payment_attempt::OBJECT, &p.id, p.updated_at),
        D::Unhandled => return Ok(None),
    };
    Ok(Some(Entry {
        object_type,
        object_id,
        op,
        event_type: &event.event_type,
        svix_id: pending.svix_id,
        version: time(version_ms, "the event's version")?,
    }))
}

/// One statement: the lock, every row, every notification. Every row the INSERT reads is
/// joined to the lock's row, so no id is drawn (the identity's default is evaluated per row
/// inserted) before the lock is held, whatever plan PostgreSQL picks. The volatile lock
/// keeps its CTE from being inlined or evaluated twice. The rows keep the batch's order.
///
/// An update of an object already deleted still writes its fields (so every order of its
/// events ends in the same row) but leaves it deleted: announcing it as `upserted` would
/// tell a consumer the object is back. Users never get here (their tombstone makes such an
/// update stale).
static RECORD: LazyLock<Sql> = LazyLock::new(|| {
    let deleted = o::TABLES
        .iter()
        .filter_map(|table| Some((table.deletable?, table.name)))
        .map(|(object, table)| {
            format!(
                "SELECT 1 FROM @schema.{table} t WHERE c.object_type = '{object}' \
             AND t.id = c.object_id AND t.deleted_at IS NOT NULL"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    Sql::new(&format!(
        "WITH feed_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(@feed_lock)), \
         written AS ( \
             INSERT INTO @schema.sync_changes (object_type, object_id, op, event_type, svix_id, version) \
             SELECT c.object_type, c.object_id, c.op, c.event_type, c.svix_id, c.version \
             FROM feed_lock CROSS JOIN json_populate_recordset(NULL::@schema.sync_changes, $1::json) \
                 WITH ORDINALITY AS c \
             WHERE c.op = 'deleted' OR NOT EXISTS ({deleted}) \
             ORDER BY c.ordinality \
             RETURNING id, object_type, object_id, op) \
         SELECT pg_notify('@channel', \
             format('{{\"id\":%s,\"object_type\":%s,\"object_id\":%s,\"op\":%s}}', \
             id, to_json(object_type), to_json(object_id), to_json(op)))::text \
         FROM written ORDER BY id"
    ))
});

/// Writes `entries`, in order, and announces each on the schema's channel (delivered at
/// commit, and only then). Must be the transaction's last statement: it takes the schema's
/// feed lock, which then serialises the rest of the transaction with every other writer of
/// the feed, so nothing slow may follow it (see the module's documentation for why).
pub(crate) async fn record<'a>(tx: Tx<'_>, entries: &[Entry<'a>]) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    RECORD.bind(encode(entries)?).written(tx).await?;
    Ok(())
}
