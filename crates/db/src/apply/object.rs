//! A Clerk object as clerk-sync keeps it: one type per object, in its own file of `objects/`,
//! says everything about it (its table, its row, how an event stages it, how a deletion
//! marks it, its lock keys, its name in the change feed, what a user's deletion erases of
//! it), and the registry in `objects/mod.rs` names each once. Everything that goes over
//! every object derives from that registry: the plan's tables, their writes and settles in
//! each round, the list of tables a user's deletion erases from, and the dispatch of an
//! event to its object ([`Visitor`]).

use chrono::{DateTime, Utc};
use clerk_sync_events::{ClerkObject, Event};
use serde::Serialize;

use super::staged::{Deletion, Versioned};
use super::statement::Sql;
use super::table::Table;
use super::tables::Rows;
use super::{Plan, lock_key, time};
use crate::DbError;

/// What an event of an object does to the database.
pub(crate) trait Object {
    /// Its `object_type` in the change feed.
    const NAME: &'static str;
    /// The namespace of its advisory-lock keys. Every worker of a rolling deploy must compute
    /// the same keys, so it never changes once released.
    const LOCK: &'static str = Self::NAME;
    /// What its events carry: its parse target in the events crate.
    type Source: ClerkObject;
    /// The table it is stored in.
    type Table: Registered;
    /// The kind of Backend API list it is mirrored from, if Clerk lists it: backfill,
    /// `verify` and reconciliation read the database's rows of that kind from its table.
    const LISTED: Option<clerk_sync_events::Kind> = None;

    /// Its version as its row stores it: `updated_at`, or the event's time where it has
    /// none (events are then ordered by when they happened).
    fn version(event: &Event, source: &Self::Source) -> Result<DateTime<Utc>, DbError> {
        time(
            source.updated_at().unwrap_or(event.timestamp),
            "data.updated_at",
        )
    }

    /// The lock keys its event takes: its own, and [`Object::also_locks`].
    fn lock_keys(source: &Self::Source, keys: &mut Vec<i64>) {
        keys.push(lock_key(Self::LOCK, source.id()));
        Self::also_locks(source, keys);
    }

    /// The keys its event takes besides its own: those of the objects it carries, and its
    /// user's where a user's deletion erases what it holds.
    fn also_locks(_source: &Self::Source, _keys: &mut Vec<i64>) {}

    /// Its row as `svix_id`'s event states it.
    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        source: &'a Self::Source,
    ) -> Result<Row<'a, Self>, DbError>;

    /// Stages the rows of other objects it carries whole (a membership's organization, a
    /// role's permissions), each written by its own version.
    fn stage_carried<'a>(
        _plan: &mut Plan<'a>,
        _svix_id: &'a str,
        _event: &'a Event,
        _source: &'a Self::Source,
    ) -> Result<(), DbError> {
        Ok(())
    }
}

/// The row an object's table stores.
pub(crate) type Row<'a, O> = <<O as Object>::Table as Stored>::Row<'a>;

/// An object Clerk deletes, and how its deletion event marks it.
pub(crate) trait Deletable: Object {
    /// What its deletion event carries.
    type Deletion;

    /// The id of the object deleted.
    fn deleted_id(deletion: &Self::Deletion) -> &str;

    /// The lock keys its deletion takes.
    fn deletion_keys(deletion: &Self::Deletion, keys: &mut Vec<i64>) {
        keys.push(lock_key(Self::LOCK, Self::deleted_id(deletion)));
    }

    /// Stages the deletion for the batch's `owner`-th event: by default the row
    /// [`Table::mark_deleted`] writes, at the event's time.
    fn stage_deletion<'a>(
        plan: &mut Plan<'a>,
        owner: usize,
        svix_id: &'a str,
        event: &'a Event,
        deletion: &'a Self::Deletion,
    ) -> Result<(), DbError> {
        let id = Self::deleted_id(deletion);
        let row = Deletion::new(id, time(event.timestamp, "timestamp")?, svix_id);
        Self::Table::rows(plan)
            .deletions
            .offer(id, row, Some(owner));
        Ok(())
    }
}

/// Stages an object's row, after those it carries, for the batch's `owner`-th event
/// (`None` where another object's event carries it: that event's outcome is its own row's).
pub(crate) fn stage<'a, O: Object>(
    plan: &mut Plan<'a>,
    owner: Option<usize>,
    svix_id: &'a str,
    event: &'a Event,
    source: &'a O::Source,
) -> Result<(), DbError> {
    O::stage_carried(plan, svix_id, event, source)?;
    let row = O::row(svix_id, event, source)?;
    O::Table::rows(plan).upserts.offer(source.id(), row, owner);
    Ok(())
}

/// When a table's statements run in a batch: round two writes every upsert and the rows
/// deletions leave, round three what follows a row just written (a membership's end).
/// Round one, a user's deletion and its erasure, is the users' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    Two,
    Three,
}

/// A table of objects written by version.
pub(crate) trait Stored: Sized + 'static {
    /// The row one event stages; its fields are the table's columns.
    type Row<'a>: Versioned<'a> + Serialize + Default;
    /// The table: its columns, what it holds of a user's personal data, whether deletions
    /// mark its rows.
    const TABLE: &'static Table;

    /// Its newest-wins upsert.
    fn upsert() -> &'static Sql {
        Self::TABLE.upsert_statement()
    }

    /// How its deletions are written, and in which round: [`Table::mark_deleted`] in round
    /// two for a table whose rows deletions mark, nothing for objects Clerk never deletes.
    fn deletions() -> Option<(Round, &'static Sql)> {
        Self::TABLE
            .deletion_statement()
            .map(|sql| (Round::Two, sql))
    }
}

/// A table the registry holds: where a batch's plan keeps its rows. Implemented by the
/// registry's macro (and by hand for users, whose writes are their own), so an object whose
/// table is not registered does not compile.
pub(crate) trait Registered: Stored {
    /// The plan's rows of this table.
    fn rows<'p, 'a>(plan: &'p mut Plan<'a>) -> &'p mut Rows<'a, Self>;
}

/// An operation over an event's object, chosen by the registry's one match over every kind
/// of event ([`super::objects::visit`]).
pub(crate) trait Visitor<'e> {
    /// What the operation answers.
    type Out;
    /// An event that carries the object's state.
    fn upserted<O: Object>(self, source: &'e O::Source) -> Self::Out;
    /// An event that deletes the object.
    fn deleted<O: Deletable>(self, deletion: &'e O::Deletion) -> Self::Out;
    /// An event clerk-sync does not apply.
    fn unhandled(self) -> Self::Out;
}

/// The lock keys of an event.
pub(crate) struct LockKeys<'k>(pub(crate) &'k mut Vec<i64>);

impl<'e> Visitor<'e> for LockKeys<'_> {
    type Out = ();
    fn upserted<O: Object>(self, source: &'e O::Source) {
        O::lock_keys(source, self.0);
    }
    fn deleted<O: Deletable>(self, deletion: &'e O::Deletion) {
        O::deletion_keys(deletion, self.0);
    }
    fn unhandled(self) {}
}

/// Stages an event's rows.
pub(crate) struct Stage<'p, 'a> {
    pub(crate) plan: &'p mut Plan<'a>,
    pub(crate) owner: usize,
    pub(crate) svix_id: &'a str,
    pub(crate) event: &'a Event,
}

impl<'a> Visitor<'a> for Stage<'_, 'a> {
    type Out = Result<(), DbError>;
    fn upserted<O: Object>(self, source: &'a O::Source) -> Self::Out {
        stage::<O>(
            self.plan,
            Some(self.owner),
            self.svix_id,
            self.event,
            source,
        )
    }
    fn deleted<O: Deletable>(self, deletion: &'a O::Deletion) -> Self::Out {
        O::stage_deletion(self.plan, self.owner, self.svix_id, self.event, deletion)
    }
    fn unhandled(self) -> Self::Out {
        Ok(())
    }
}
