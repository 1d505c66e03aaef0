//! The PostgreSQL schema that holds everything clerk-sync creates (`DATABASE_SCHEMA`,
//! `clerk` unless set), so it can live in an application's own database beside the
//! application's tables, and two deployments can share one database in two schemas.
//!
//! Every statement names the schema: its text is written with the token [`SCHEMA`]
//! (`@schema.users`), rendered once per schema into the quoted name (`"clerk".users`). No
//! statement relies on `search_path`, which a pooler in transaction mode may not keep; the
//! connections clerk-sync makes set it empty, so a name left unqualified fails loudly
//! instead of reaching the application's `public.users`. The migrations, whose files name no
//! schema, run on a connection whose `search_path` is the schema alone.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest as _, Sha256};

/// The token statements name the schema with.
pub(crate) const SCHEMA: &str = "@schema";

/// The schema when `DATABASE_SCHEMA` is unset.
pub const DEFAULT_SCHEMA: &str = "clerk";

/// A valid schema name: lower-case letters, digits and `_`, starting with a letter or `_`,
/// at most 63 bytes, not `public` and not PostgreSQL's own (`pg_…`, `information_schema`).
/// Copied freely: each distinct name is kept once for the life of the process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Schema(&'static str);

impl Schema {
    /// Checks `name`; the message says what is wrong.
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        let valid_start = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        if !valid_start
            || name.len() > 63
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(
                "must be a schema name: lower-case letters, digits and _, starting with a letter, at most 63 characters"
                    .into(),
            );
        }
        if name == "public" || name == "information_schema" || name.starts_with("pg_") {
            return Err(
                "must be a schema of clerk-sync's own, not public or one of PostgreSQL's".into(),
            );
        }
        Ok(Self(intern(name)))
    }

    /// The name, as configured.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// The name quoted as an identifier, as statements use it.
    pub fn quoted(self) -> String {
        format!("\"{}\"", self.0)
    }

    /// `text` with every [`SCHEMA`] token naming this schema, `@channel` its feed's
    /// channel and `@feed_lock` the two keys of its feed lock.
    pub(crate) fn render(self, text: &str) -> String {
        let (a, b) = self.lock(Lock::Feed);
        text.replace(SCHEMA, &self.quoted())
            .replace("@channel", &self.channel())
            .replace("@feed_lock", &format!("{a}, {b}"))
    }

    /// The channel the change feed announces committed rows on: `clerk_sync_changes` for
    /// the default schema (as before schemas existed), `clerk_sync_changes_<schema>` for any
    /// other, so each deployment's consumers are woken by their own changes only.
    pub fn channel(self) -> String {
        if self.0 == DEFAULT_SCHEMA {
            "clerk_sync_changes".to_owned()
        } else {
            format!("clerk_sync_changes_{}", self.0)
        }
    }

    /// The advisory lock of `lock` for this schema, in the two-key `(int4, int4)` space,
    /// which PostgreSQL keeps apart from the one-key space of the object locks. The default
    /// schema keeps the keys clerk-sync used before schemas existed, so workers of both
    /// versions exclude each other during an upgrade; any other schema has keys of its
    /// own, so two deployments never wait on each other.
    pub fn lock(self, lock: Lock) -> (i32, i32) {
        let number = lock as i32;
        if self.0 == DEFAULT_SCHEMA {
            let space = match lock {
                Lock::Reconcile => 0x434c_4b53, // "CLKS"
                _ => 0x636c_6b73,               // "clks"
            };
            return (space, number);
        }
        let digest = Sha256::new()
            .chain_update(b"clerk-sync schema:")
            .chain_update(self.0.as_bytes())
            .finalize();
        let space = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        (space, number)
    }
}

/// The advisory locks a deployment takes, each held by one session at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Migrations: replicas starting together queue instead of racing.
    Migration = 1,
    /// Reconciliation: one run at a time, scheduled or by hand.
    Reconcile = 2,
    /// The change feed: ids handed out in commit order.
    Feed = 3,
    /// Retention of the change feed: one pruner at a time.
    Prune = 4,
    /// Retention of `processed_webhooks`: one pruner at a time.
    PruneProcessed = 5,
    /// Retention of ended sessions (`SESSIONS_RETENTION`): one pruner at a time.
    PruneSessions = 6,
    /// Retention of sent messages (`MESSAGES_RETENTION`): one pruner at a time.
    PruneMessages = 7,
}

impl Default for Schema {
    fn default() -> Self {
        Self(DEFAULT_SCHEMA)
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schema({})", self.0)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Keeps each schema name once, so a [`Schema`] is a copyable `&'static str`; a process
/// names one or two.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(kept) = names.get(name) {
        return kept;
    }
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(name.to_owned(), kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_never_public() {
        assert_eq!(Schema::parse("clerk").unwrap().name(), "clerk");
        assert_eq!(
            Schema::parse(" staging_2 ").unwrap().quoted(),
            "\"staging_2\""
        );
        for bad in [
            "",
            "Clerk",
            "2clerk",
            "clerk-sync",
            "a\"b",
            "public",
            "pg_catalog",
        ] {
            assert!(Schema::parse(bad).is_err(), "{bad}");
        }
        assert!(Schema::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn the_default_schema_keeps_its_channel_and_locks_and_others_get_their_own() {
        let clerk = Schema::default();
        assert_eq!(clerk.channel(), "clerk_sync_changes");
        assert_eq!(clerk.lock(Lock::Migration), (0x636c_6b73, 1));
        assert_eq!(clerk.lock(Lock::Reconcile), (0x434c_4b53, 2));
        assert_eq!(clerk.lock(Lock::Feed), (0x636c_6b73, 3));
        assert_eq!(clerk.lock(Lock::Prune), (0x636c_6b73, 4));
        let staging = Schema::parse("staging").unwrap();
        assert_eq!(staging.channel(), "clerk_sync_changes_staging");
        for lock in [
            Lock::Migration,
            Lock::Reconcile,
            Lock::Feed,
            Lock::Prune,
            Lock::PruneProcessed,
            Lock::PruneSessions,
            Lock::PruneMessages,
        ] {
            assert_ne!(staging.lock(lock), clerk.lock(lock));
            assert_eq!(
                staging.lock(lock),
                Schema::parse("staging").unwrap().lock(lock)
            );
        }
        assert_eq!(
            staging.render("SELECT 1 FROM @schema.users"),
            "SELECT 1 FROM \"staging\".users"
        );
    }
}
