//! The Backend API side of clerk-sync: everything that reads Clerk's Backend API on its own
//! initiative and writes what it finds, for the worker and the CLI alike.
//!
//! - [`backfill`]: every object Clerk lists fed into the queue, for `clerk-sync backfill`;
//! - [`verify`]: the database compared with Clerk's lists, for `clerk-sync verify`;
//! - [`ondemand`]: one user or organization fetched and applied through the webhook path,
//!   for the application API and `clerk-sync sync`;
//! - [`reconcile`]: the database compared with Clerk's lists and repaired through the queue;
//! - [`instance`]: the one Clerk instance the database mirrors, which every key is held to
//!   before anything is read with it;
//! - [`ClerkArgs`]: `CLERK_SECRET_KEY`, `CLERK_API_URL` and `CLERK_API_RATE`, declared once,
//!   and the process's one budget of Backend API requests ([`Clerk`]);
//! - [`Kind`]: the one enum of the kinds Clerk lists and clerk-sync mirrors.
//!
//! All read Clerk through [`clerk_sync_clerk_api::Client`]; what they write goes through the
//! same versioned apply path as every webhook (queued, or applied at once by [`ondemand`]),
//! so nothing they do can overwrite a newer state or bring a deleted object back. Progress
//! an interrupted run resumes from is the queue crate's `Progress`.

pub mod backfill;
pub mod instance;
pub mod metrics;
pub mod ondemand;
pub mod reconcile;
mod settings;
pub mod verify;

pub use settings::{Clerk, ClerkArgs};

/// The one enum of mirrored kinds, for callers that reach it through this crate.
pub use clerk_sync_events::Kind;
