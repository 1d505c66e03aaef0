//! Fixtures the test suites share: the published corpus (Clerk payloads and Svix vectors)
//! copied beside this crate, isolated Redis key prefixes, and (with the `postgres` feature)
//! a PostgreSQL database per test, so tests run in parallel against the one local Redis and
//! Postgres without seeing each other's data.

use std::path::PathBuf;

/// A stand-in for Clerk's Backend API.
#[cfg(feature = "clerk-stub")]
pub mod clerk_stub;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "proxy")]
mod proxy;
mod redis_keys;
mod wait;
#[cfg(feature = "postgres")]
pub use postgres::{TestDatabase, TestRole, database_url, in_schema, with_database};
#[cfg(feature = "proxy")]
pub use proxy::Proxy;
pub use redis_keys::{delete_keys, read_stream, redis_url};
pub use wait::{eventually, try_eventually};

/// The corpus folder: `svix_vectors.json` and `clerk/<event type>__<source>.json`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every Clerk payload of the corpus, as `(file name, raw bytes)`, sorted by name.
pub fn clerk_payloads() -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir().join("clerk");
    let mut payloads: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (name, bytes)
        })
        .collect();
    payloads.sort();
    payloads
}

/// A stream prefix no other test uses, so each test has its own keys.
pub fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_holds_every_clerk_event_type() {
        let payloads = clerk_payloads();
        assert!(payloads.len() >= 45, "only {} payloads", payloads.len());
        assert!(
            payloads
                .iter()
                .any(|(name, _)| name.starts_with("user.created"))
        );
    }

    /// Every payload says where it comes from, so that what the tests hold Clerk to is
    /// Clerk's own word, not ours.
    #[test]
    fn every_payload_has_its_source_recorded() {
        let sources = std::fs::read_to_string(corpus_dir().join("clerk").join("SOURCES.md"))
            .expect("corpus/clerk/SOURCES.md");
        for (name, _) in clerk_payloads() {
            assert!(
                sources.contains(&format!("| {name} |")),
                "{name} has no row in SOURCES.md"
            );
        }
    }
}
