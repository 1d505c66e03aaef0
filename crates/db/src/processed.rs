use std::collections::HashSet;
use std::sync::LazyLock;

use clerk_sync_events::Event;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use crate::apply::statement::{Sql, encode};
use crate::schema::processed_webhooks;

#[derive(serde::Serialize)]
struct Record<'a> {
    svix_id: &'a str,
    event_type: &'a str,
    object_id: Option<&'a str>,
}

static RECORD: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO processed_webhooks (svix_id, event_type, object_id) \
         SELECT r.svix_id, r.event_type, r.object_id \
         FROM json_populate_recordset(NULL::processed_webhooks, $1::json) r \
         ON CONFLICT DO NOTHING RETURNING svix_id",
    )
});

/// Records that the events are being applied, in the caller's transaction, in one statement.
/// Returns the ids that were not recorded before; the others are duplicates and must change
/// nothing. The ids must be distinct.
pub(crate) async fn record_all<'a>(
    conn: &AsyncPgConnection,
    events: &[(&'a str, &'a Event)],
) -> Result<HashSet<String>, DbError> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let records: Vec<Record<'_>> = events
        .iter()
        .map(|(svix_id, event)| Record {
            svix_id,
            event_type: &event.event_type,
            object_id: event.object_id(),
        })
        .collect();
    let fresh = RECORD.bind(encode(&records)?).written(conn).await?;
    Ok(fresh.into_iter().collect())
}

/// Whether `svix_id` was applied.
pub async fn is_processed(mut conn: &AsyncPgConnection, svix_id: &str) -> Result<bool, DbError> {
    let found = processed_webhooks::table
        .find(svix_id)
        .select(processed_webhooks::svix_id)
        .first::<String>(&mut conn)
        .await
        .optional()?;
    Ok(found.is_some())
}
