use clerk_sync_events::Event;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use crate::schema::processed_webhooks;

/// Records that `svix_id` is being applied, in the caller's transaction. `false` when it was
/// recorded before: the event is a duplicate and must change nothing.
pub async fn record(
    conn: &mut AsyncPgConnection,
    svix_id: &str,
    event: &Event,
) -> Result<bool, DbError> {
    let inserted = diesel::insert_into(processed_webhooks::table)
        .values((
            processed_webhooks::svix_id.eq(svix_id),
            processed_webhooks::event_type.eq(&event.event_type),
            processed_webhooks::object_id.eq(event.object_id()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether `svix_id` was applied.
pub async fn is_processed(conn: &mut AsyncPgConnection, svix_id: &str) -> Result<bool, DbError> {
    let found = processed_webhooks::table
        .find(svix_id)
        .select(processed_webhooks::svix_id)
        .first::<String>(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}
