//! The console's routes in-process, against the real local Redis and PostgreSQL, each test
//! with its own database and key prefix.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod actions;
mod auth;
mod helpers;
mod pages;
mod sync;
