//! What the database holds of the objects Clerk's Backend API lists, by id: the version and
//! whether the object is live. `verify` and `reconcile` compare this with Clerk.
//!
//! Each kind's table and id column come from the registry: the object whose `LISTED` is
//! that kind. Reconciliation reads it in bounded pieces (the rows of one page of Clerk's
//! list, then the live rows Clerk did not list, page by page); `verify` reads it whole.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use clerk_sync_events::Kind;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};

use crate::apply::object::{Object, Stored};
use crate::apply::objects::{membership::Membership, organization::Organization, user::User};
use crate::{DbError, Schema};

/// One object as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its version, `updated_at` in Unix ms.
    pub updated_at: i64,
    /// Not deleted. A membership of an organization the database has deleted is not live:
    /// the application's views treat it as gone, and so does Clerk.
    pub live: bool,
    /// A membership's organization and user, which its deletion event names.
    pub member_of: Option<(String, String)>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    live: bool,
    #[diesel(sql_type = Nullable<Text>)]
    organization_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
}

impl Row {
    fn held(self) -> (String, Held) {
        let held = Held {
            updated_at: self.updated_at.timestamp_millis(),
            live: self.live,
            member_of: self.organization_id.zip(self.user_id),
        };
        (self.id, held)
    }
}

/// The registered object of `kind`: its table and id column.
fn source(kind: Kind) -> (&'static str, &'static str) {
    fn of<O: Object>(kind: Kind) -> (&'static str, &'static str) {
        // The registry says which object is listed as which kind; the test below holds
        // this match to it.
        debug_assert_eq!(O::LISTED, Some(kind));
        let table = <O::Table as Stored>::TABLE;
        (table.name, table.columns().first().copied().unwrap_or("id"))
    }
    match kind {
        Kind::User => of::<User>(kind),
        Kind::Organization => of::<Organization>(kind),
        Kind::Membership => of::<Membership>(kind),
    }
}

/// A query of `kind`'s rows as [`Row`]s, `t` the kind's table, for a `WHERE` to follow.
fn select(kind: Kind) -> String {
    let (table, id) = source(kind);
    let (live, member_of) = match kind {
        // A membership of an organization the database has deleted is gone with it.
        Kind::Membership => (
            format!(
                "t.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM @schema.{} o \
                 WHERE o.id = t.organization_id AND o.deleted_at IS NOT NULL)",
                source(Kind::Organization).0
            ),
            "t.organization_id, t.user_id",
        ),
        Kind::User | Kind::Organization => (
            "t.deleted_at IS NULL".to_owned(),
            "NULL::text AS organization_id, NULL::text AS user_id",
        ),
    };
    format!("SELECT t.{id} AS id, t.updated_at, {live} AS live, {member_of} FROM @schema.{table} t")
}

/// Every object of one kind, by id. Whole tables are read: the caller's connection should
/// allow a long statement on a large instance.
pub async fn inventory(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    kind: Kind,
) -> Result<HashMap<String, Held>, DbError> {
    let rows: Vec<Row> = diesel::sql_query(schema.render(&select(kind)))
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().map(Row::held).collect())
}

/// The objects of `kind` among `ids` (one page of Clerk's list), by id.
pub async fn held_of(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    kind: Kind,
    ids: &[&str],
) -> Result<HashMap<String, Held>, DbError> {
    let (_, id) = source(kind);
    let sql = format!("{} WHERE t.{id} = ANY($1)", select(kind));
    let rows: Vec<Row> = diesel::sql_query(schema.render(&sql))
        .bind::<Array<Text>, _>(ids)
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().map(Row::held).collect())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// How many objects of `kind` the database holds live.
pub async fn live_count(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    kind: Kind,
) -> Result<usize, DbError> {
    let sql = format!(
        "SELECT count(*) AS count FROM ({}) r WHERE r.live",
        select(kind)
    );
    let count: Count = diesel::sql_query(schema.render(&sql))
        .get_result(&mut conn)
        .await?;
    Ok(usize::try_from(count.count).unwrap_or_default())
}

/// Up to `limit` objects of `kind` that the database holds live, older than `before_ms`,
/// whose ids are after `after` and not in the session's temporary table `unlisted_from`
/// (one `id text PRIMARY KEY` column), in id order: the next page of rows to look for in
/// Clerk one by one.
pub async fn live_not_in(
    mut conn: &AsyncPgConnection,
    schema: Schema,
    kind: Kind,
    (unlisted_from, after): (&str, &str),
    before_ms: i64,
    limit: i64,
) -> Result<Vec<(String, Held)>, DbError> {
    let (_, id) = source(kind);
    let sql = format!(
        "SELECT * FROM ({select} WHERE t.{id} > $1) r \
         WHERE r.live AND r.updated_at < to_timestamp($2::float8 / 1000) \
           AND NOT EXISTS (SELECT 1 FROM pg_temp.{unlisted_from} s WHERE s.id = r.id) \
         ORDER BY r.id LIMIT $3",
        select = select(kind),
    );
    let rows: Vec<Row> = diesel::sql_query(schema.render(&sql))
        .bind::<Text, _>(after)
        .bind::<BigInt, _>(before_ms)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().map(Row::held).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mirrored kind is read from the one registered object that says it is listed
    /// so: a kind added without its object (or an object that forgets `LISTED`) fails here.
    #[test]
    fn the_registry_holds_one_object_of_every_mirrored_kind() {
        use crate::apply::object::{Deletable, Visitor};
        struct Listed;
        impl<'e> Visitor<'e> for Listed {
            type Out = Option<(Kind, &'static str)>;
            fn upserted<O: Object>(self, _: &'e O::Source) -> Self::Out {
                O::LISTED.map(|kind| (kind, <O::Table as Stored>::TABLE.name))
            }
            fn deleted<O: Deletable>(self, _: &'e O::Deletion) -> Self::Out {
                O::LISTED.map(|kind| (kind, <O::Table as Stored>::TABLE.name))
            }
            fn unhandled(self) -> Self::Out {
                None
            }
        }
        let mut listed: Vec<(Kind, &str)> = clerk_sync_test_support::clerk_payloads()
            .into_iter()
            .filter_map(|(name, body)| {
                let event = clerk_sync_events::parse(&body, 0).expect(&name);
                crate::apply::objects::visit(&event.data, Listed)
            })
            .collect();
        listed.sort();
        listed.dedup();
        let kinds: Vec<Kind> = listed.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, Kind::ALL, "one object per kind: {listed:?}");
        for (kind, table) in listed {
            assert_eq!(source(kind).0, table, "{kind:?}");
        }
    }
}
