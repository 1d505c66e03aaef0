//! The CLI as operators run it: the real binary against the real Redis and PostgreSQL.

#![allow(clippy::unwrap_used)] // a test that cannot set itself up should stop there

mod migrate;
