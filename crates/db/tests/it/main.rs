//! The database rules against the real local PostgreSQL, one database per test.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod batches;
mod carried;
mod erasure;
mod feed;
mod feed_order;
mod helpers;
mod migrations;
mod mirror_retention;
mod organizations;
mod permutations;
mod readme;
mod records;
mod retention;
mod upgrade;
mod users;
