use diesel::RunQueryDsl as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

use crate::DbError;

/// Every migration of `migrations/`, compiled into the binaries.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The advisory lock migrations run under: replicas starting together queue on it instead
/// of racing to create the same tables. Two-key form, so it cannot meet the single-key locks
/// that serialise writes to one object.
const MIGRATION_LOCK: (i32, i32) = (0x636c_6b73, 1); // "clks"

/// Runs the pending migrations under the advisory lock and returns the versions applied
/// (empty when the schema was already current).
pub async fn run_migrations(conn: AsyncPgConnection) -> Result<Vec<String>, DbError> {
    // diesel_migrations is synchronous: it drives the async connection from a blocking
    // thread, so the runtime's workers are never blocked.
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        lock(&mut conn, "pg_advisory_lock")?;
        let outcome = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| DbError::Permanent(format!("migration failed: {e}")));
        // The lock dies with the session anyway; unlocking lets a pooled session go on.
        let unlocked = lock(&mut conn, "pg_advisory_unlock");
        let versions = outcome?;
        unlocked?;
        Ok(versions)
    })
    .await
    .map_err(|e| DbError::Unavailable(format!("migration task failed: {e}")))?
}

/// Versions applied to the database, oldest first, and those embedded but not yet applied.
pub async fn migration_status(
    conn: AsyncPgConnection,
) -> Result<(Vec<String>, Vec<String>), DbError> {
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let applied = conn
            .applied_migrations()
            .map_err(|e| DbError::Unavailable(e.to_string()))?
            .iter()
            .map(ToString::to_string)
            .collect();
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Unavailable(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        Ok((applied, pending))
    })
    .await
    .map_err(|e| DbError::Unavailable(format!("migration task failed: {e}")))?
}

fn lock(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
    function: &str,
) -> Result<(), DbError> {
    diesel::sql_query(format!(
        "SELECT {function}({}, {})",
        MIGRATION_LOCK.0, MIGRATION_LOCK.1
    ))
    .execute(conn)
    .map(drop)
    .map_err(DbError::from)
}
