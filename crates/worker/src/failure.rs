//! Why an attempt failed, and what that means for the event: wait, retry or dead-letter.

use clerk_sync_db::DbError;
use clerk_sync_events::ParseError;
use clerk_sync_queue::EntryError;

/// Why one attempt at an event failed, sorted by what happens to the event next. This split
/// is the worker's core decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A later attempt may succeed (serialization failure, deadlock, a statement timeout, a
    /// parent row not there yet): retried with full-jitter backoff until `MAX_ATTEMPTS`.
    #[error("{0}")]
    Transient(String),
    /// No attempt can succeed (body not JSON, a required field missing or mistyped, a value
    /// PostgreSQL refuses): dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
    /// A lock another session holds was not released in time (another worker applies an
    /// event of the same object, or a stalled session holds it until PostgreSQL ends that
    /// session): postponed with backoff, no attempt used up, never dead-lettered for it.
    #[error("{0}")]
    Contended(String),
    /// PostgreSQL as a whole is unreachable: the event is handed back unharmed, no attempt
    /// is used up, and the worker waits for the database.
    #[error("{0}")]
    DatabaseDown(String),
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(_) => Self::DatabaseDown(error.to_string()),
            DbError::Contended(_) => Self::Contended(error.to_string()),
            DbError::Transient(m) => Self::Transient(m),
            DbError::Permanent(m) => Self::Permanent(m),
        }
    }
}

impl From<ParseError> for Failure {
    fn from(error: ParseError) -> Self {
        Self::Permanent(error.to_string())
    }
}

impl From<EntryError> for Failure {
    fn from(error: EntryError) -> Self {
        Self::Permanent(format!("not a queue entry: {error}"))
    }
}
