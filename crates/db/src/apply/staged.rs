//! A batch's rows for one statement, reduced to one per key before anything is written:
//! `INSERT … ON CONFLICT DO UPDATE` cannot touch a row twice in one statement, and the
//! winner inside the batch is decided by the same order the database applies, so reducing
//! first changes nothing but the number of rows sent.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Outcome;
use super::statement::{Sql, Tx, Written};
use crate::DbError;

/// A row with a version, whose event id lives as long as the batch (`'a`), so the
/// reduction can remember it without a copy.
pub(crate) trait Versioned<'a>: Serialize {
    /// Which of two versions of one object the table keeps: the newest state, or the
    /// earliest deletion.
    const KEEPS: Keeps;
    /// `(updated_at, last_svix_id)`, or a deletion's `(deleted_at, svix_id)`.
    fn version(&self) -> (DateTime<Utc>, &'a str);
}

/// Implements [`Versioned`] for rows that keep the newest state, by their
/// `(updated_at, last_svix_id)`.
macro_rules! newest_wins {
    ($($row:ident),+ $(,)?) => {$(
        impl<'a> $crate::apply::staged::Versioned<'a> for $row<'a> {
            const KEEPS: $crate::apply::staged::Keeps = $crate::apply::staged::Keeps::Newest;
            fn version(&self) -> (chrono::DateTime<chrono::Utc>, &'a str) {
                (self.updated_at, self.last_svix_id)
            }
        }
    )+};
}
pub(crate) use newest_wins;

/// Whether the table keeps version `new` of an object over `old`.
fn beats<'a, R: Versioned<'a>>(new: (DateTime<Utc>, &str), old: (DateTime<Utc>, &str)) -> bool {
    match R::KEEPS {
        Keeps::Newest => new > old,
        Keeps::Earliest => new < old,
    }
}

/// See [`Versioned::KEEPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keeps {
    Newest,
    Earliest,
}

/// One row per key: the version the table keeps, and the event whose own object it is
/// (`None` for a row an event carries of another object: a membership's organization).
pub(crate) struct Staged<'a, R> {
    rows: BTreeMap<&'a str, Slot<'a, R>>,
}

struct Slot<'a, R> {
    row: R,
    owner: Option<usize>,
    /// The newest of the object's own events in the batch, when the row kept is one another
    /// event carries: if that row is written, the object changed, and its own event is the
    /// one the change feed announces it by.
    own: Option<((DateTime<Utc>, &'a str), usize)>,
}

impl<R> Default for Staged<'_, R> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
        }
    }
}

impl<'a, R: Versioned<'a>> Staged<'a, R> {
    /// Keeps `row` for `key` if it beats the row already staged there.
    pub(crate) fn offer(&mut self, key: &'a str, row: R, owner: Option<usize>) {
        let own = owner.map(|i| (row.version(), i));
        match self.rows.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(Slot { row, owner, own });
            }
            Entry::Occupied(mut slot) => {
                let slot = slot.get_mut();
                if let Some(new) = own
                    && slot.own.is_none_or(|(old, _)| beats::<R>(new.0, old))
                {
                    slot.own = Some(new);
                }
                if beats::<R>(row.version(), slot.row.version()) {
                    slot.row = row;
                    slot.owner = owner;
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows kept, in key order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &R> {
        self.rows.values().map(|slot| &slot.row)
    }

    /// The rows as the JSON array a batch statement binds.
    pub(crate) fn json(&self) -> Result<String, DbError> {
        super::statement::encode(&self.rows().collect::<Vec<&R>>())
    }

    /// Runs `sql` over the rows; answers the keys it wrote. Nothing is sent when empty.
    pub(crate) async fn write(&self, tx: Tx<'_>, sql: &Sql) -> Result<Vec<Written>, DbError> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        sql.bind(self.json()?).versions(tx).await
    }

    /// Marks `Applied` each event whose own row is among `written`; where the row written is
    /// one another event carried, the object's newest own event of the batch. An event that
    /// rewrote its object at the version it had goes into `quiet`: applied, not announced.
    pub(crate) fn settle(
        &self,
        written: &[Written],
        outcomes: &mut [Outcome],
        quiet: &mut HashSet<usize>,
    ) {
        for w in written {
            let slot = self.rows.get(w.key.as_str());
            if let Some(owner) = slot.and_then(|s| s.owner.or(s.own.map(|(_, i)| i))) {
                outcomes[owner] = Outcome::Applied;
                if !w.moved {
                    quiet.insert(owner);
                }
            }
        }
    }
}

/// The row every deletion of a versioned object writes (see `Table::mark_deleted`).
#[derive(Debug, Serialize)]
pub(crate) struct Deletion<'a> {
    pub(crate) id: &'a str,
    pub(crate) deleted_at: DateTime<Utc>,
    /// The epoch: a deletion carries no state, so any upsert beats it.
    pub(crate) updated_at: DateTime<Utc>,
    /// Empty for the same reason.
    pub(crate) last_svix_id: &'a str,
    /// The deleting event's id, to settle a tie between two deletions at one time.
    #[serde(skip)]
    pub(crate) svix_id: &'a str,
    /// An organization's slug, which its deletion carries; `None` elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slug: Option<&'a str>,
}

impl<'a> Deletion<'a> {
    pub(crate) fn new(id: &'a str, deleted_at: DateTime<Utc>, svix_id: &'a str) -> Self {
        Self {
            id,
            deleted_at,
            updated_at: super::NO_VERSION,
            last_svix_id: "",
            svix_id,
            slug: None,
        }
    }
}

impl<'a> Versioned<'a> for Deletion<'a> {
    const KEEPS: Keeps = Keeps::Earliest;
    fn version(&self) -> (DateTime<Utc>, &'a str) {
        (self.deleted_at, self.svix_id)
    }
}
