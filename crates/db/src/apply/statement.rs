//! The statements of a batch: each writes one table for every event of the batch at once,
//! from one bind holding the batch's rows as a JSON array, which PostgreSQL turns back into
//! rows of the table's own type with `json_populate_recordset`. One bind, whatever the
//! number of rows or columns, so the statement text never changes with the batch and is
//! prepared once per connection; and every value is cast by the column it lands in, so a
//! row that does not fit its table fails loudly instead of writing something else.

use std::sync::{Arc, Mutex};

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};

use crate::{DbError, Schema};

/// The connection of a batch's transaction, and the schema its statements name.
#[derive(Clone, Copy)]
pub(crate) struct Tx<'c> {
    pub(crate) conn: &'c AsyncPgConnection,
    pub(crate) schema: Schema,
}

/// A statement's text around its one bind, `$1`: the rows as a JSON array. Written with the
/// schema token (`@schema.users`), and rendered once for each schema it runs in.
#[derive(Debug)]
pub(crate) struct Sql {
    template: String,
    rendered: Mutex<Vec<(Schema, Arc<Split>)>>,
}

/// A rendered statement, split at its bind.
#[derive(Debug)]
struct Split {
    head: String,
    tail: String,
}

impl Sql {
    /// A statement with one `$1`.
    pub(crate) fn new(template: &str) -> Self {
        let binds = template.matches("$1").count();
        assert!(binds == 1, "a batch statement binds $1 once: {template}");
        Self {
            template: template.to_owned(),
            rendered: Mutex::default(),
        }
    }

    /// The statement with `json` bound.
    pub(crate) fn bind(&self, json: String) -> Bound<'_> {
        Bound { sql: self, json }
    }

    /// The text as PostgreSQL receives it in `schema`.
    pub(crate) fn text(&self, schema: Schema) -> String {
        let split = self.split(schema);
        format!("{}$1{}", split.head, split.tail)
    }

    fn split(&self, schema: Schema) -> Arc<Split> {
        let mut rendered = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, split)) = rendered.iter().find(|(s, _)| *s == schema) {
            return split.clone();
        }
        let text = schema.render(&self.template);
        let (head, tail) = text.split_once("$1").unwrap_or((&text, ""));
        let split = Arc::new(Split {
            head: head.to_owned(),
            tail: tail.to_owned(),
        });
        rendered.push((schema, split.clone()));
        split
    }
}

/// A [`Sql`] with its rows, ready to run. Each answers the keys it wrote (`RETURNING`).
pub(crate) struct Bound<'s> {
    sql: &'s Sql,
    json: String,
}

impl<'s> Bound<'s> {
    /// Runs it in the transaction, whose connection several statements of a batch share
    /// at once: they are sent one after another without waiting for each answer, and
    /// PostgreSQL runs them in that order.
    pub(crate) async fn written(self, tx: Tx<'_>) -> Result<Vec<String>, DbError> {
        let mut conn = tx.conn;
        Ok(Rendered::new(self, tx.schema)
            .load::<String>(&mut conn)
            .await?)
    }

    /// [`Bound::written`] for a statement of an object table, which answers each key it
    /// wrote with whether the object's version moved (see [`Written`]).
    pub(crate) async fn versions(self, tx: Tx<'_>) -> Result<Vec<Written>, DbError> {
        let mut conn = tx.conn;
        let rows = Versions(Rendered::new(self, tx.schema))
            .load::<(String, bool)>(&mut conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(key, moved)| Written { key, moved })
            .collect())
    }
}

/// A [`Bound`] rendered for one schema.
struct Rendered {
    split: Arc<Split>,
    json: String,
}

impl Rendered {
    fn new(bound: Bound<'_>, schema: Schema) -> Self {
        Self {
            split: bound.sql.split(schema),
            json: bound.json,
        }
    }
}

/// One object a statement wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) key: String,
    /// Whether the stored version changed: false for a tie (the same `updated_at` again
    /// under a larger event id), which rewrites the row as it was and is not announced
    /// in the change feed a second time.
    pub(crate) moved: bool,
}

/// A [`Rendered`] whose rows are `(key, moved)`.
struct Versions(Rendered);

impl QueryId for Versions {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Versions {
    type SqlType = (Text, Bool);
}

impl QueryFragment<Pg> for Versions {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// Any batch of rows as the JSON array a statement binds.
pub(crate) fn encode<T: serde::Serialize + ?Sized>(rows: &T) -> Result<String, DbError> {
    serde_json::to_string(rows)
        .map_err(|e| DbError::Permanent(format!("cannot encode a batch's rows: {e}")))
}

// No static query id: diesel-async then caches the prepared statement by its text, which
// is fixed per table and schema.
impl QueryId for Rendered {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Rendered {
    type SqlType = Text;
}

impl QueryFragment<Pg> for Rendered {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(&self.split.head);
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql(&self.split.tail);
        Ok(())
    }
}

/// A table of Clerk objects written by version: keyed by `id`, with `updated_at`,
/// `last_svix_id` and, when it can be deleted, `deleted_at`.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// Every column an upsert writes, `id` first. Never `deleted_at`: an upsert does not
    /// bring a deleted object back.
    pub(crate) columns: &'static [&'static str],
    /// What the table holds of a user's personal data, if anything.
    pub(crate) personal: Option<Personal>,
    /// For a table whose deletions keep the row with `deleted_at` ([`Table::mark_deleted`],
    /// or a statement of the object's own, as a membership's end), the object type the
    /// change feed names it by: a later update of a deleted object is then not announced as
    /// `upserted`.
    pub(crate) deletable: Option<&'static str>,
}

/// Columns of a user's personal data, and the column naming that user. A user's deletion
/// blanks them; a row written later for a deleted user is stored with them blank.
#[derive(Debug)]
pub(crate) struct Personal {
    pub(crate) owner: &'static str,
    pub(crate) columns: &'static [&'static str],
}

impl Table {
    /// Newest wins: insert each row, or replace every column of the stored one when the
    /// row's `(updated_at, last_svix_id)` beats the stored pair. Answers the ids written.
    pub(crate) fn upsert(&self) -> Sql {
        let name = self.name;
        let columns = self.columns.join(", ");
        let select = self
            .columns
            .iter()
            .map(|c| match &self.personal {
                Some(personal) if personal.columns.contains(c) => format!(
                    "CASE WHEN {} THEN NULL ELSE r.{c} END",
                    tombstoned(&format!("r.{}", personal.owner))
                ),
                _ => format!("r.{c}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let rest = &self.columns[1..];
        versioned_upsert(
            name,
            "id",
            &format!(
                "INSERT INTO @schema.{name} AS t ({columns}) \
                 SELECT {select} FROM r \
                 ON CONFLICT (id) DO UPDATE SET ({}) = ROW({}) \
                 WHERE (EXCLUDED.updated_at, EXCLUDED.last_svix_id) > (t.updated_at, t.last_svix_id) \
                 RETURNING t.id, t.updated_at",
                rest.join(", "),
                prefixed("EXCLUDED.", rest),
            ),
        )
    }

    /// Records deletions: `deleted_at` becomes the earliest deletion seen. A deletion that
    /// arrives first creates the row with the oldest possible version (`updated_at` at the
    /// epoch, no `last_svix_id`), so any upsert still fills it in; either order ends in the
    /// same row. `extra` are columns a deletion carries too. Answers the ids changed: a
    /// deletion no earlier than the one recorded changes nothing.
    pub(crate) fn mark_deleted(&self, extra: &[&str]) -> Sql {
        debug_assert!(
            self.deletable.is_some(),
            "{}: a table whose rows are marked deleted must say so in `deletable`, \
             or the change feed would announce an update of a deleted row",
            self.name
        );
        let name = self.name;
        let mut columns = vec!["id", "deleted_at", "updated_at", "last_svix_id"];
        columns.extend_from_slice(extra);
        Sql::new(&format!(
            "INSERT INTO @schema.{name} AS t ({}) \
             SELECT {} FROM json_populate_recordset(NULL::@schema.{name}, $1::json) r \
             ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at \
             WHERE t.deleted_at IS NULL OR EXCLUDED.deleted_at < t.deleted_at \
             RETURNING t.id, true",
            columns.join(", "),
            prefixed("r.", &columns),
        ))
    }

    /// Blanks the personal columns of the rows of the users in `$1` (a JSON array of ids),
    /// as a data-modifying `WITH` clause.
    pub(crate) fn erasure(&self) -> Option<String> {
        let personal = self.personal.as_ref()?;
        let blank = personal
            .columns
            .iter()
            .map(|c| format!("{c} = NULL"))
            .collect::<Vec<_>>()
            .join(", ");
        let any = personal
            .columns
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" OR ");
        Some(format!(
            "erase_{name} AS (UPDATE @schema.{name} SET {blank} \
             WHERE {owner} = ANY (ARRAY(SELECT id FROM erased)) AND ({any}))",
            name = self.name,
            owner = personal.owner,
        ))
    }
}

/// Whether the user `id` names (an SQL expression) is deleted: true, or NULL when not.
///
/// Every lookup of a batch statement is written so that PostgreSQL cannot turn it into a
/// join: a scalar subquery per row (an index probe), or `= ANY` over an array (an index
/// scan). The batch's rows come from a JSON function the planner guesses at 100 rows, and
/// against that guess a hash join over a whole table of tombstones or addresses looks as
/// cheap as a hundred probes; it is not, for a batch of 64 and a table of millions.
pub(crate) fn tombstoned(id: &str) -> String {
    format!(
        "(SELECT true FROM @schema.tombstones z WHERE z.object_type = 'user' AND z.object_id = {id})"
    )
}

/// An upsert of `table` keyed by `key`, over the batch's rows as `r`, answering each key
/// written and whether its version moved. `insert` reads `r` and returns the key and
/// `updated_at` of each row it wrote; the version each row had before is read in the same
/// statement (every part of it sees the table as it was before), by index probes only.
pub(crate) fn versioned_upsert(table: &str, key: &str, insert: &str) -> Sql {
    Sql::new(&format!(
        "WITH r AS MATERIALIZED (SELECT * FROM json_populate_recordset(NULL::@schema.{table}, $1::json)), \
         before AS MATERIALIZED (SELECT b.{key} AS key, b.updated_at FROM @schema.{table} b \
             WHERE b.{key} = ANY (ARRAY(SELECT r.{key} FROM r))), \
         w AS ({insert}) \
         SELECT w.{key}, w.updated_at IS DISTINCT FROM \
             (SELECT before.updated_at FROM before WHERE before.key = w.{key}) \
         FROM w"
    ))
}

pub(crate) fn prefixed(prefix: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
