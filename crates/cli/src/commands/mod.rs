//! One subcommand per file.

pub mod backfill;
pub mod changes;
pub mod console;
pub mod dlq;
pub mod grant_read;
pub mod instance;
pub mod migrate;
pub mod reconcile;
pub mod send;
pub mod stats;
pub mod sync;
pub mod verify;
