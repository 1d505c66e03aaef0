//! The queue's atomic steps against the real local Redis, each test under its own prefix.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod connections;
mod dead_letters;
mod dlq_index;
mod guard;
mod helpers;
mod settle_batch;
mod settling;
