//! Writing the feed's rows, inside the transaction of the batch that made the changes.

use chrono::{DateTime, Utc};
use std::sync::LazyLock;

use clerk_sync_events::{ClerkObject as _, Event};

use super::Op;
use crate::DbError;
use crate::apply::object::{Deletable, Object, Visitor};
use crate::apply::objects::{self, TABLES};
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
    let Some((object_type, object_id, op, version_ms)) =
        objects::visit(&event.data, Subject(event))
    else {
        return Ok(None);
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

/// What an event is about: its object's type and id, what happened to it, and the version.
struct Subject<'a>(&'a Event);

impl<'a> Visitor<'a> for Subject<'a> {
    type Out = Option<(&'static str, &'a str, Op, i64)>;

    fn upserted<O: Object>(self, source: &'a O::Source) -> Self::Out {
        let version = source.updated_at().unwrap_or(self.0.timestamp);
        Some((O::NAME, source.id(), Op::Upserted, version))
    }

    /// A deletion's version is when it happened: the earliest deletion is the one kept.
    fn deleted<O: Deletable>(self, deletion: &'a O::Deletion) -> Self::Out {
        Some((
            O::NAME,
            O::deleted_id(deletion),
            Op::Deleted,
            self.0.timestamp,
        ))
    }

    fn unhandled(self) -> Self::Out {
        None
    }
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
    let deleted = TABLES
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
