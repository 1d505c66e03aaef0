//! Writing the feed's rows, inside the transaction of the batch that made the changes.

use chrono::{DateTime, Utc};
use clerk_sync_events::EventData;
use diesel::sql_types::{Array, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{CHANGES_CHANNEL, FEED_LOCK, Op};
use crate::DbError;
use crate::apply::objects as o;
use crate::apply::{Pending, time};

/// One feed row, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    object_type: &'a str,
    object_id: &'a str,
    op: Op,
    event_type: &'a str,
    svix_id: &'a str,
    version: DateTime<Utc>,
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

/// Writes `entries`, in order, and announces each on [`CHANGES_CHANNEL`] (delivered
/// at commit, and only then). Must be the transaction's last statement: it takes
/// [`FEED_LOCK`], which then serialises the rest of the transaction with every other writer
/// of the feed, so nothing slow may follow it (see the module's documentation for why).
pub(crate) async fn record<'a>(
    mut conn: &AsyncPgConnection,
    entries: &[Entry<'a>],
) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Entry<'a>) -> &'a str| entries.iter().map(f).collect::<Vec<&str>>();
    let versions: Vec<DateTime<Utc>> = entries.iter().map(|e| e.version).collect();
    // An update of an object already deleted still writes its fields (so every order of
    // its events ends in the same row) but leaves it deleted: announcing it as `upserted`
    // would tell a consumer the object is back. Users never get here (their tombstone
    // makes such an update stale).
    // One statement: the lock, every row, every notification. Every row the INSERT reads
    // is joined to the lock's row, so no id is drawn (the identity's default is evaluated
    // per row inserted) before the lock is held, whatever plan PostgreSQL picks. The
    // volatile lock keeps its CTE from being inlined or evaluated twice.
    diesel::sql_query(
        "WITH feed_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($1, $2)), \
         written AS ( \
             INSERT INTO sync_changes (object_type, object_id, op, event_type, svix_id, version) \
             SELECT c.object_type, c.object_id, c.op, c.event_type, c.svix_id, c.version \
             FROM feed_lock CROSS JOIN unnest($3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::timestamptz[]) WITH ORDINALITY \
                 AS c(object_type, object_id, op, event_type, svix_id, version, n) \
             WHERE c.op = 'deleted' OR NOT EXISTS ( \
                 SELECT 1 FROM organizations t WHERE c.object_type = 'organization' \
                     AND t.id = c.object_id AND t.deleted_at IS NOT NULL \
                 UNION ALL SELECT 1 FROM organization_memberships t \
                     WHERE c.object_type = 'organization_membership' \
                     AND t.id = c.object_id AND t.deleted_at IS NOT NULL \
                 UNION ALL SELECT 1 FROM organization_domains t \
                     WHERE c.object_type = 'organization_domain' \
                     AND t.id = c.object_id AND t.deleted_at IS NOT NULL \
                 UNION ALL SELECT 1 FROM roles t WHERE c.object_type = 'role' \
                     AND t.id = c.object_id AND t.deleted_at IS NOT NULL \
                 UNION ALL SELECT 1 FROM permissions t WHERE c.object_type = 'permission' \
                     AND t.id = c.object_id AND t.deleted_at IS NOT NULL) \
             ORDER BY c.n \
             RETURNING id, object_type, object_id, op) \
         SELECT pg_notify($9, format('{\"id\":%s,\"object_type\":%s,\"object_id\":%s,\"op\":%s}', \
             id, to_json(object_type), to_json(object_id), to_json(op))) \
         FROM written ORDER BY id",
    )
    .bind::<Integer, _>(FEED_LOCK.0)
    .bind::<Integer, _>(FEED_LOCK.1)
    .bind::<Array<Text>, _>(column(|e| e.object_type))
    .bind::<Array<Text>, _>(column(|e| e.object_id))
    .bind::<Array<Text>, _>(column(|e| e.op.as_str()))
    .bind::<Array<Text>, _>(column(|e| e.event_type))
    .bind::<Array<Text>, _>(column(|e| e.svix_id))
    .bind::<Array<Timestamptz>, _>(versions)
    .bind::<Text, _>(CHANGES_CHANNEL)
    .execute(&mut conn)
    .await?;
    Ok(())
}
