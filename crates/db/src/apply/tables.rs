//! The tables of a batch's plan, derived from the registry (`objects/mod.rs`): one field per
//! object's table holding the rows the batch stages for it, their writes in each round and
//! their settles, and the list of those tables.

use super::Outcome;
#[cfg(doc)]
use super::object::Registered;
use super::object::{Round, Stored};
use super::staged::{Deletion, Staged};
use super::statement::{Tx, Written};
use crate::DbError;

/// A table's rows for one batch: upserts and deletions, each reduced to one per object.
pub(crate) struct Rows<'a, T: Stored> {
    pub(crate) upserts: Staged<'a, T::Row<'a>>,
    pub(crate) deletions: Staged<'a, Deletion<'a>>,
}

impl<T: Stored> Default for Rows<'_, T> {
    fn default() -> Self {
        Self {
            upserts: Staged::default(),
            deletions: Staged::default(),
        }
    }
}

/// What a table's statements of one round wrote: by its upsert, by its deletion statement.
pub(crate) type WrittenRows = [Vec<Written>; 2];

impl<'a, T: Stored> Rows<'a, T> {
    /// Runs the table's statements of `round` (nothing is sent for an empty one).
    pub(crate) async fn write(&self, tx: Tx<'_>, round: Round) -> Result<WrittenRows, DbError> {
        let upserts = async {
            match round {
                Round::Two => self.upserts.write(tx, T::upsert()).await,
                Round::Three => Ok(Vec::new()),
            }
        };
        let deletions = async {
            match T::deletions() {
                Some((when, sql)) if when == round => self.deletions.write(tx, sql).await,
                _ => Ok(Vec::new()),
            }
        };
        let (upserts, deletions) = tokio::try_join!(upserts, deletions)?;
        Ok([upserts, deletions])
    }

    /// Marks the events whose rows `written` holds (see [`Staged::settle`]).
    pub(crate) fn settle(
        &self,
        written: &WrittenRows,
        outcomes: &mut [Outcome],
        quiet: &mut std::collections::HashSet<usize>,
    ) {
        self.upserts.settle(&written[0], outcomes, quiet);
        self.deletions.settle(&written[1], outcomes, quiet);
    }
}

/// Declares the registry of object tables: the plan's `Tables` with a field per table,
/// where each table's rows are kept ([`Registered`]), their writes and settles for a round,
/// and `TABLES`, the list a user's deletion erases from and the change feed reads deleted
/// objects from.
macro_rules! tables {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty ),+ $(,)?) => {
        /// Every object's table but the users' (whose writes are their own), with the rows
        /// a batch stages for it.
        #[derive(Default)]
        pub(crate) struct Tables<'a> {
            $( $(#[$doc])* pub(crate) $field: $crate::apply::tables::Rows<'a, $ty>, )+
        }

        $(
            impl $crate::apply::object::Registered for $ty {
                fn rows<'p, 'a>(
                    plan: &'p mut $crate::apply::Plan<'a>,
                ) -> &'p mut $crate::apply::tables::Rows<'a, Self> {
                    &mut plan.tables.$field
                }
            }
        )+

        impl Tables<'_> {
            /// Runs every table's statements of `round`, sent together on the one
            /// connection: they touch different rows, or commute.
            pub(crate) async fn write(
                &self,
                tx: $crate::apply::statement::Tx<'_>,
                round: $crate::apply::object::Round,
            ) -> Result<Vec<$crate::apply::tables::WrittenRows>, $crate::DbError> {
                let writes: Vec<
                    futures_util::future::BoxFuture<
                        '_,
                        Result<$crate::apply::tables::WrittenRows, $crate::DbError>,
                    >,
                > = vec![$(Box::pin(self.$field.write(tx, round)),)+];
                futures_util::future::try_join_all(writes).await
            }

            /// Marks the events whose rows were written, table by table, in the order
            /// [`Tables::write`] answered them.
            pub(crate) fn settle(
                &self,
                written: &[$crate::apply::tables::WrittenRows],
                outcomes: &mut [$crate::apply::Outcome],
                quiet: &mut std::collections::HashSet<usize>,
            ) {
                let mut written = written.iter();
                $(
                    if let Some(rows) = written.next() {
                        self.$field.settle(rows, outcomes, quiet);
                    }
                )+
            }
        }

        /// Every object's table but the users': a user's deletion erases what these hold of
        /// the user (`Table::personal`), and the change feed keeps deleted objects deleted
        /// (`Table::deletable`), both read from here.
        pub(crate) static TABLES: &[&$crate::apply::table::Table] =
            &[$(<$ty as $crate::apply::object::Stored>::TABLE,)+];
    };
}
pub(crate) use tables;
