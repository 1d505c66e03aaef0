//! `processed_webhooks`: the ids applied, which make every redelivery a no-op.

use std::collections::HashSet;
use std::sync::LazyLock;

use clerk_sync_events::Event;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::apply::statement::{Sql, Tx, encode};
use crate::{DbError, Schema};

#[derive(serde::Serialize)]
struct Record<'a> {
    svix_id: &'a str,
    event_type: &'a str,
    object_id: Option<&'a str>,
}

static RECORD: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO @schema.processed_webhooks (svix_id, event_type, object_id) \
         SELECT r.svix_id, r.event_type, r.object_id \
         FROM json_populate_recordset(NULL::@schema.processed_webhooks, $1::json) r \
         ON CONFLICT DO NOTHING RETURNING svix_id",
    )
});

/// Records that the events are being applied, in the caller's transaction, in one statement.
/// Returns the ids that were not recorded before; the others are duplicates and must change
/// nothing. The ids must be distinct.
pub(crate) async fn record_all<'a>(
    tx: Tx<'_>,
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
    let fresh = RECORD.bind(encode(&records)?).written(tx).await?;
    Ok(fresh.into_iter().collect())
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Bool)]
    found: bool,
}

/// Whether `svix_id` was applied.
pub async fn is_processed(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    svix_id: &str,
) -> Result<bool, DbError> {
    let Found { found } = diesel::sql_query(schema.render(
        "SELECT EXISTS (SELECT 1 FROM @schema.processed_webhooks WHERE svix_id = $1) AS found",
    ))
    .bind::<Text, _>(svix_id)
    .get_result(&mut conn)
    .await?;
    Ok(found)
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// How many of `svix_ids` are recorded as processed: a waiter's check of a batch of ids it
/// queued, in one statement.
pub async fn count_processed(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    svix_ids: &[String],
) -> Result<usize, DbError> {
    let Counted { count } = diesel::sql_query(schema.render(
        "SELECT count(*) AS count FROM @schema.processed_webhooks WHERE svix_id = ANY($1)",
    ))
    .bind::<diesel::sql_types::Array<Text>, _>(svix_ids)
    .get_result(&mut conn)
    .await?;
    Ok(usize::try_from(count).unwrap_or_default())
}
