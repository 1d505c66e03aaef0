//! clerk-sync's PostgreSQL side: the schema, its migrations, the pool, and the writes each
//! Clerk event makes.
//!
//! A parsed [`clerk_sync_events::Event`] flows into [`apply_batch`] with the connection the
//! caller took from a [`PgPool`]; everything happens in one transaction: the batch's object
//! locks, the `processed_webhooks` row of each event and its effect, so an event is either
//! wholly applied and recorded, or not at all. The same transaction writes the change feed
//! (`sync_changes`, one row per event that changed an object, announced with `NOTIFY` at
//! commit), which [`read_changes`] and [`ChangeListener`] follow. Query functions take a
//! connection, never the pool, so callers decide what shares a transaction.
//!
//! Every failure is a [`DbError`] that says what to do next: wait for the database, retry
//! the event later, or give up on it.
//!
//! Nothing here blocks the async runtime: queries run on `diesel-async` over tokio-postgres,
//! and the synchronous migration harness runs on a blocking thread.

mod apply;
mod error;
mod feed;
mod grants;
mod instance;
mod inventory;
mod migrate;
mod pool;
mod processed;
/// Reads for the application API.
pub mod read;
mod schema;
mod tls;

#[doc(hidden)]
pub use apply::render_user_batch;
pub use apply::{ApplyOptions, DeleteMode, Outcome, Pending, apply_batch, apply_one, lock_key};
pub use diesel_async::AsyncPgConnection;
pub use error::DbError;
pub use feed::{
    Change, ChangeListener, ChangeNotice, Op, Pruned, changes_pruned_through, prune_changes,
    prune_rows, read_changes,
};
pub use grants::grant_read;
pub use instance::{PinnedInstance, pin_instance, pinned_instance, repin_instance};
pub use inventory::{Held, held_of, inventory, live_count, live_not_in};
pub use migrate::{MIGRATIONS, build_legacy_layout, migration_status, run_migrations};
pub use pool::{PgConn, PgPool, PoolConfig, build_pool, connect, parse_database_url, ping};
pub use processed::{count_processed, is_processed};
pub use schema::{DEFAULT_SCHEMA, Lock, Schema};
