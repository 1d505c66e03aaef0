//! The two writes every object table shares, as macros because diesel's `Excluded` type
//! cannot be named in a function signature.
//!
//! - [`upsert_newer!`]: insert the row, or replace every column the row holds when its
//!   `(updated_at, last_svix_id)` beats the stored pair. `deleted_at` is never in a row, so an
//!   upsert never brings a deleted object back; fields still take the newest state.
//! - [`mark_deleted!`]: set `deleted_at` to the earliest deletion seen, creating the row with
//!   the oldest possible version when the deletion arrives first, so that any upsert still
//!   fills the row in. Either order ends in the same row. A deletion no earlier than the one
//!   recorded writes nothing (stale).

use chrono::{DateTime, Utc};

/// The version of a row only a deletion has written: older than any event.
pub(crate) const NO_VERSION: DateTime<Utc> = DateTime::UNIX_EPOCH;

diesel::define_sql_function! {
    /// PostgreSQL's `LEAST`, which ignores NULLs.
    fn least(a: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>, b: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>;
}

/// Newest-wins upsert of `$row` into `$table`; evaluates to the rows written (0: stale).
macro_rules! upsert_newer {
    ($conn:expr, $table:ident, $row:expr) => {{
        use diesel::upsert::excluded;
        use diesel::{BoolExpressionMethods as _, ExpressionMethods as _};
        let row = $row;
        let insert = diesel::insert_into($table::table)
            .values(row)
            .on_conflict($table::id)
            .do_update()
            .set(row);
        let newer = excluded($table::updated_at)
            .gt($table::updated_at)
            .or(excluded($table::updated_at)
                .eq($table::updated_at)
                .and(excluded($table::last_svix_id).gt($table::last_svix_id)));
        diesel_async::RunQueryDsl::execute(
            diesel::query_dsl::methods::FilterDsl::filter(insert, newer),
            $conn,
        )
        .await?
    }};
}

/// Records the deletion of `$id` in `$table` at `$at`, with `$extra` column assignments for
/// a row the deletion creates; evaluates to the rows written.
macro_rules! mark_deleted {
    ($conn:expr, $table:ident, $id:expr, $at:expr $(, $extra:expr)*) => {{
        use diesel::ExpressionMethods as _;
        use diesel::upsert::excluded;
        use diesel::BoolExpressionMethods as _;
        let at: chrono::DateTime<chrono::Utc> = $at;
        let insert = diesel::insert_into($table::table)
            .values((
                $table::id.eq($id),
                $table::deleted_at.eq(Some(at)),
                $table::updated_at.eq($crate::apply::versioned::NO_VERSION),
                $table::last_svix_id.eq(""),
                $($extra,)*
            ))
            .on_conflict($table::id)
            .do_update()
            .set($table::deleted_at.eq($crate::apply::versioned::least(
                $table::deleted_at,
                excluded($table::deleted_at),
            )));
        // A deletion already recorded as early or earlier changes nothing: 0 rows, so the
        // event is stale and writes no change feed row.
        let changes = $table::deleted_at
            .is_null()
            .or(excluded($table::deleted_at).lt($table::deleted_at));
        diesel_async::RunQueryDsl::execute(
            diesel::query_dsl::methods::FilterDsl::filter(insert, changes),
            $conn,
        )
        .await?
    }};
}

pub(crate) use {mark_deleted, upsert_newer};
