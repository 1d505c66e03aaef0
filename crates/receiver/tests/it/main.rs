//! The receiver over real HTTP against the real local Redis; each test has its own prefix.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod corpus;
mod group_commit;
mod helpers;
mod hostile;
mod process;
mod redis_outage;
mod refusals;
mod tls;
