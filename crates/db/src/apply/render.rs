//! The statement building of the apply step, apart from any connection, so a criterion
//! benchmark (`benches/sql.rs`) can catch a regression in it without a database.

use clerk_sync_events::{Event, EventData};
use diesel::pg::{Pg, PgMetadataLookup, PgTypeMetadata};
use diesel::query_builder::bind_collector::RawBytesBindCollector;
use diesel::query_builder::{QueryBuilder as _, QueryFragment};

use crate::DbError;

/// Every bind of the user statements has a built-in type, whose OID diesel knows without
/// asking the server; an unknown type is left for the server to infer.
struct BuiltInTypes;

impl PgMetadataLookup for BuiltInTypes {
    fn lookup_type(&mut self, _type_name: &str, _schema: Option<&str>) -> PgTypeMetadata {
        PgTypeMetadata::new(0, 0)
    }
}

/// Builds the upsert a `user.created`/`user.updated` event sends, as diesel-async does
/// before each execution: the row from the event, the SQL text, and every bind serialized
/// to its wire bytes. Answers the text and the binds' total size.
#[doc(hidden)]
pub fn render_user_upsert(svix_id: &str, event: &Event) -> Result<(String, usize), DbError> {
    let EventData::UserUpserted(user) = &event.data else {
        return Err(DbError::Permanent(format!(
            "{} does not write a user",
            event.event_type
        )));
    };
    let statement = super::users::upsert_statement(svix_id, event, user)?;
    let mut sql = diesel::pg::PgQueryBuilder::default();
    statement.to_sql(&mut sql, &Pg)?;
    let mut binds = RawBytesBindCollector::<Pg>::new();
    statement.collect_binds(&mut binds, &mut BuiltInTypes, &Pg)?;
    let bytes = binds.binds.iter().flatten().map(Vec::len).sum();
    Ok((sql.finish(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_payload_renders_and_other_events_are_refused() {
        for (name, body) in clerk_sync_test_support::clerk_payloads() {
            let event = clerk_sync_events::parse(&body, 0).expect(&name);
            let rendered = render_user_upsert("msg_1", &event);
            if name.starts_with("user.created") || name.starts_with("user.updated") {
                let (sql, binds) = rendered.expect(&name);
                assert!(sql.starts_with(r#"INSERT INTO "users""#), "{name}: {sql}");
                assert!(
                    sql.contains(r#"ON CONFLICT ("clerk_id") DO UPDATE"#),
                    "{name}"
                );
                assert!(
                    sql.contains(r#"WHERE (("users"."deleted_at" IS NULL)"#),
                    "{name}"
                );
                let user_id = event.object_id().expect("a user has an id");
                assert!(
                    binds >= user_id.len() + "msg_1".len(),
                    "{name}: {binds} bytes"
                );
            } else if !name.starts_with("user.") {
                assert!(rendered.is_err(), "{name} rendered a user upsert");
            }
        }
    }
}
