//! What can go wrong with a write, sorted by what the caller does next.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why a write did not happen, by what the caller should do about it: the split the worker
/// turns into "wait for Postgres", "retry later" or "dead-letter now".
///
/// Messages come from PostgreSQL's primary message only, never its `DETAIL` (which quotes
/// row values), so they can be logged and stored beside a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// PostgreSQL cannot be reached or cannot take writes (refused, lost, shutting down,
    /// read-only after a failover, the pool's wait bound passed). Nothing is wrong with the
    /// event: wait for the database, use up no attempt.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(String),
    /// A lock another session holds was not released within `lock_timeout`: another worker
    /// is applying an event of the same object, or a stalled session holds it until the
    /// server ends that session. Nothing is wrong with this event, so it must use up no
    /// attempt: hand it back and try again after a pause.
    #[error("waited too long for a lock another session holds: {0}")]
    Contended(String),
    /// This attempt failed, a later one may not: serialization failure, deadlock, statement
    /// timeout, a parent row not there yet. Retry with backoff.
    #[error("{0}")]
    Transient(String),
    /// The event can never be written: a constraint or a value PostgreSQL refuses.
    #[error("{0}")]
    Permanent(String),
}

impl DbError {
    /// Whether the database as a whole is the problem rather than this event.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::DatabaseError(kind, info) => classify(kind, info.message()),
            DieselError::BrokenTransactionManager | DieselError::RollbackErrorOnCommit { .. } => {
                Self::Unavailable(error.to_string())
            }
            other => Self::Transient(other.to_string()),
        }
    }
}

impl From<diesel::ConnectionError> for DbError {
    fn from(error: diesel::ConnectionError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for DbError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

fn classify(kind: DatabaseErrorKind, message: &str) -> DbError {
    use DatabaseErrorKind as K;
    let message_owned = message.to_owned();
    match kind {
        K::ClosedConnection | K::UnableToSendCommand | K::ReadOnlyTransaction => {
            DbError::Unavailable(message_owned)
        }
        // A child that names a parent not written yet may succeed once the parent is.
        K::SerializationFailure | K::ForeignKeyViolation => DbError::Transient(message_owned),
        K::UniqueViolation
        | K::NotNullViolation
        | K::CheckViolation
        | K::RestrictViolation
        | K::ExclusionViolation => DbError::Permanent(message_owned),
        // diesel does not expose the SQLSTATE of the rest, so the message decides. A server
        // whose `lc_messages` translates them falls back to retrying, which is always safe.
        _ => classify_message(message),
    }
}

fn classify_message(message: &str) -> DbError {
    const UNAVAILABLE: &[&str] = &[
        "terminating connection",
        "the database system is",
        "connection closed",
        "server closed the connection",
        "too many connections",
        "remaining connection slots",
        "cannot execute",
    ];
    // 55P03, lock_not_available: `lock_timeout` or NOWAIT.
    const CONTENDED: &[&str] = &["lock timeout", "could not obtain lock"];
    const PERMANENT: &[&str] = &[
        "invalid byte sequence",
        "unsupported Unicode escape sequence",
        "invalid input syntax",
        "value too long",
        "out of range",
        "character with byte sequence",
        "cannot be represented",
    ];
    let owned = message.to_owned();
    if UNAVAILABLE.iter().any(|m| message.contains(m)) {
        DbError::Unavailable(owned)
    } else if CONTENDED.iter().any(|m| message.contains(m)) {
        DbError::Contended(owned)
    } else if PERMANENT.iter().any(|m| message.contains(m)) {
        DbError::Permanent(owned)
    } else {
        DbError::Transient(owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_sorted_by_what_the_worker_does_next() {
        assert!(classify(DatabaseErrorKind::ClosedConnection, "x").is_unavailable());
        assert!(
            classify(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command"
            )
            .is_unavailable()
        );
        assert_eq!(
            classify(DatabaseErrorKind::Unknown, "deadlock detected"),
            DbError::Transient("deadlock detected".into())
        );
        assert!(matches!(
            classify(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout"
            ),
            DbError::Transient(_)
        ));
        assert!(matches!(
            classify(
                DatabaseErrorKind::Unknown,
                "canceling statement due to lock timeout"
            ),
            DbError::Contended(_)
        ));
        assert!(matches!(
            classify(
                DatabaseErrorKind::Unknown,
                "unsupported Unicode escape sequence"
            ),
            DbError::Permanent(_)
        ));
        assert!(matches!(
            classify(
                DatabaseErrorKind::CheckViolation,
                "new row violates check constraint"
            ),
            DbError::Permanent(_)
        ));
    }
}
