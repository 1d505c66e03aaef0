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
