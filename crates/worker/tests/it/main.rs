//! The worker against the real local Redis and PostgreSQL: each test has its own stream
//! prefix and its own database.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod api;
mod apply;
mod crash;
mod failures;
mod helpers;
mod outage;
mod poison;
mod process;
mod reconcile;
mod schema;
mod stall;
mod trust;
