//! The stand-in for Clerk's Backend API (from test-support), and what the backfill and
//! verify tests share besides it (`setup`).

mod setup;

pub use clerk_sync_test_support::clerk_stub::*;
pub use setup::*;
