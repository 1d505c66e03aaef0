//! The worker: takes events off `{prefix}:events` as a member of the `workers` consumer
//! group and applies them to PostgreSQL, exactly once in effect, in any order.
//!
//! Each of a process's pipelines loops: claim entries idle past `CLAIM_IDLE_MS` (a crashed
//! worker's) or read new ones, parse them, apply the batch in one transaction (object locks,
//! `processed_webhooks` rows, each table written once), and settle every entry of the batch
//! in one script call:
//!
//! - applied (or stale, or a duplicate, or a type not applied): acknowledged and removed;
//! - failed in a way a later attempt may not ([`Failure::Transient`]): parked in
//!   `{prefix}:retry` for a full-jitter delay, then promoted back by any worker's promoter;
//!   after `MAX_ATTEMPTS`, dead-lettered;
//! - failed for good ([`Failure::Permanent`]): dead-lettered at once, with the reason;
//! - PostgreSQL unreachable ([`Failure::DatabaseDown`]): handed back unharmed, and every
//!   pipeline waits while one prober checks with backoff; no attempt is used up.
//!
//! A batch that fails is split in halves, each applied again, down to the event at fault:
//! one bad event pays alone, in about `2·log2(n)` transactions instead of `n`. An entry
//! delivered more than `MAX_ATTEMPTS` times without being settled (it crashes its workers)
//! is dead-lettered instead of crashing them forever.

mod api;
mod consume;
mod failure;
pub mod metrics;
mod outage;
mod prepare;
mod probes;
mod process;
mod retention;
mod schedule;
mod settings;
mod startup;

pub use api::{ApiTokens, DEADLINE as API_DEADLINE};
pub use clerk_sync_mirror::Clerk;
pub use clerk_sync_runtime::Backoff;
pub use failure::Failure;
pub use settings::{ApiConfig, Command, Config, Settings, default_consumer_name};
pub use startup::{Drained, Worker};
