//! A batch staged per table, then written in three rounds of statements sent together.
//!
//! Statements of one round do not depend on each other, so they are sent at once and run in
//! whatever order; a round that reads what an earlier one wrote waits for it:
//!
//! 1. Users' deletions: tombstones, and the erasure of what other tables hold of them.
//! 2. Every upsert, and the rows deletions leave. An upsert of a deleted user, or of a
//!    session or message of one, finds the tombstone of round 1, as it would after.
//! 3. What follows a row just written: a user's addresses, a membership's end.

use std::collections::HashSet;

use super::object::Round;
use super::objects::Tables;
use super::objects::user::{self, Tombstone, User};
use super::staged::Staged;
use super::statement::Tx;
use super::tables::Rows;
use super::{DeleteMode, Outcome};
use crate::DbError;

/// Every table's rows for one batch, one per object, each with the event it belongs to.
#[derive(Default)]
pub(crate) struct Plan<'a> {
    pub(crate) user_deletions: Staged<'a, Tombstone<'a>>,
    pub(crate) users: Rows<'a, User>,
    pub(crate) tables: Tables<'a>,
}

impl Plan<'_> {
    /// Writes every staged row and marks `Applied` each event whose own row was written
    /// (and `quiet` each that left its object at the version it had); the others keep the
    /// outcome they had (`Stale`).
    pub(crate) async fn write(
        &self,
        tx: Tx<'_>,
        mode: DeleteMode,
        outcomes: &mut [Outcome],
        quiet: &mut HashSet<usize>,
    ) -> Result<(), DbError> {
        let deleted = user::write_deletions(tx, self).await?;
        self.user_deletions.settle(&deleted, outcomes, quiet);

        let ((), users, tables) = tokio::try_join!(
            user::write_deleted_rows(tx, self, mode),
            user::write_upserts(tx, self),
            self.tables.write(tx, Round::Two),
        )?;
        self.users.upserts.settle(&users, outcomes, quiet);
        self.tables.settle(&tables, outcomes, quiet);

        let ((), tables) = tokio::try_join!(
            user::write_addresses(tx, self, &users),
            self.tables.write(tx, Round::Three),
        )?;
        self.tables.settle(&tables, outcomes, quiet);
        Ok(())
    }
}
