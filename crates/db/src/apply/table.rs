//! The tables of Clerk objects, and the statements every one of them is written with.

use std::sync::OnceLock;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::statement::Sql;

/// A table of Clerk objects written by version: keyed by `id`, with `updated_at`,
/// `last_svix_id` and, when it can be deleted, `deleted_at`. Declared as a `static` by its
/// object's module, which also holds the statements built from it.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// Every column an upsert writes: the fields of the object's row, `id` first. Never
    /// `deleted_at`: an upsert does not bring a deleted object back.
    columns: fn() -> Vec<&'static str>,
    /// What the table holds of a user's personal data, if anything.
    pub(crate) personal: Option<Personal>,
    /// For a table whose deletions keep the row with `deleted_at` ([`Table::mark_deleted`],
    /// or a statement of the object's own, as a membership's end), the object type the
    /// change feed names it by: a later update of a deleted object is then not announced as
    /// `upserted`.
    pub(crate) deletable: Option<&'static str>,
    /// Columns a deletion carries and writes beside `deleted_at` (an organization's slug).
    deletion_columns: &'static [&'static str],
    built: Built,
}

/// What is built once from a table's declaration.
#[derive(Debug, Default)]
struct Built {
    columns: OnceLock<Vec<&'static str>>,
    upsert: OnceLock<Sql>,
    deletion: OnceLock<Sql>,
}

/// Columns of a user's personal data, and the column naming that user. A user's deletion
/// blanks them; a row written later for a deleted user is stored with them blank.
#[derive(Debug)]
pub(crate) struct Personal {
    pub(crate) owner: &'static str,
    pub(crate) columns: &'static [&'static str],
}

impl Table {
    /// A table whose columns are the fields of `Row`, of objects Clerk never deletes and
    /// that hold nothing personal.
    pub(crate) const fn new<Row: Serialize + Default>(name: &'static str) -> Self {
        Self {
            name,
            columns: fields::<Row>,
            personal: None,
            deletable: None,
            deletion_columns: &[],
            built: Built {
                columns: OnceLock::new(),
                upsert: OnceLock::new(),
                deletion: OnceLock::new(),
            },
        }
    }

    /// Every column an upsert writes, `id` first.
    pub(crate) fn columns(&'static self) -> &'static [&'static str] {
        self.built.columns.get_or_init(self.columns)
    }

    /// The table holds `columns` of the personal data of the user its `owner` column names.
    pub(crate) const fn personal(
        mut self,
        owner: &'static str,
        columns: &'static [&'static str],
    ) -> Self {
        self.personal = Some(Personal { owner, columns });
        self
    }

    /// Deletions of `object` mark its rows deleted, writing `carried` too.
    pub(crate) const fn deletable(
        mut self,
        object: &'static str,
        carried: &'static [&'static str],
    ) -> Self {
        self.deletable = Some(object);
        self.deletion_columns = carried;
        self
    }

    /// [`Table::upsert`], built once.
    pub(crate) fn upsert_statement(&'static self) -> &'static Sql {
        self.built.upsert.get_or_init(|| self.upsert())
    }

    /// [`Table::mark_deleted`], built once; `None` for a table deletions do not mark.
    pub(crate) fn deletion_statement(&'static self) -> Option<&'static Sql> {
        self.deletable?;
        Some(self.built.deletion.get_or_init(|| self.mark_deleted()))
    }

    /// Newest wins: insert each row, or replace every column of the stored one when the
    /// row's `(updated_at, last_svix_id)` beats the stored pair. Answers the ids written.
    fn upsert(&'static self) -> Sql {
        let name = self.name;
        let all = self.columns();
        let columns = all.join(", ");
        let select = all
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
        let rest = &all[1..];
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
    /// same row, with the columns a deletion carries. Answers the ids changed: a deletion
    /// no earlier than the one recorded changes nothing.
    fn mark_deleted(&self) -> Sql {
        let name = self.name;
        let mut columns = vec!["id", "deleted_at", "updated_at", "last_svix_id"];
        columns.extend_from_slice(self.deletion_columns);
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

/// The names of the fields `Row` serializes, in order: read back from its JSON, as every
/// batch statement reads its rows. Once per table; the names live as long as the process.
fn fields<Row: Serialize + Default>() -> Vec<&'static str> {
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(Keys(Vec::new()))
        }
    }
    impl<'de> Visitor<'de> for Keys {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a row")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Keys, A::Error> {
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                self.0.push(key);
            }
            Ok(self)
        }
    }
    let json = serde_json::to_string(&Row::default()).expect("a row serializes to JSON");
    let Keys(keys) = serde_json::from_str(&json).expect("a row is a JSON object");
    keys.into_iter()
        .map(|key| &*Box::leak(key.into_boxed_str()))
        .collect()
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
