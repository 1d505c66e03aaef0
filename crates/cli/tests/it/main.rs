//! The CLI as operators run it: the real binary against the real Redis and PostgreSQL, and a
//! local stand-in for Clerk's Backend API.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod backfill;
mod changes;
mod clerk_stub;
mod console;
mod dlq;
mod migrate;
mod privilege;
mod queue;
mod reconcile;
mod reconcile_large;
mod send;
mod stats;
mod sync;
mod trust;
mod verify;
