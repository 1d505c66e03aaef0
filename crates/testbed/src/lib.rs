//! A whole clerk-sync on one machine, for the programs that exercise it from outside: the
//! chaos run and the load benchmarks.
//!
//! [`Cluster`] owns a Redis (append-only, as docker-compose.yml runs it) and a PostgreSQL
//! cluster of its own, in a directory it is given and on free ports, and the receivers and
//! workers built next to the calling binary; each process can be killed (SIGKILL), stopped
//! (SIGTERM, or `pg_ctl stop`) and started again.

mod cluster;
mod postgres;
mod process;

pub use cluster::{Cluster, PREFIX, SECRET, free_port, wait_for};
pub use process::{peak_rss_kib, rss_kib};
