use std::collections::HashSet;

use clerk_sync_events::Event;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use crate::schema::processed_webhooks;

#[derive(Insertable)]
#[diesel(table_name = processed_webhooks)]
struct Record<'a> {
    svix_id: &'a str,
    event_type: &'a str,
    object_id: Option<&'a str>,
}

/// Records that the events are being applied, in the caller's transaction, in one statement.
/// Returns the ids that were not recorded before; the others are duplicates and must change
/// nothing. The ids must be distinct.
pub(crate) async fn record_all<'a>(
    mut conn: &AsyncPgConnection,
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
    let fresh: Vec<String> = diesel::insert_into(processed_webhooks::table)
        .values(&records)
        .on_conflict_do_nothing()
        .returning(processed_webhooks::svix_id)
        .get_results(&mut conn)
        .await?;
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
