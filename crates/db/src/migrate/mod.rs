//! The embedded migrations, run into the schema (`DATABASE_SCHEMA`): created when missing,
//! the migrations' own history kept in it, and a database of the layout from before schemas
//! existed (everything in `public`) moved into it first.

mod upgrade;

use diesel::QueryableByName;
use diesel::RunQueryDsl as _;
use diesel::migration::MigrationSource;
use diesel::sql_types::{Bool, Text};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

use crate::schema::Lock;
use crate::{DbError, Schema};

/// Every migration of `migrations/`, compiled into the binaries.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A connection the synchronous migration harness drives, on a blocking thread.
type Sync = AsyncConnectionWrapper<AsyncPgConnection>;

/// Runs the pending migrations into `schema` under its migration lock, and returns the
/// versions applied (empty when it was current). Creates the schema when it is missing (an
/// administrator may have created it for a role that cannot), and first moves clerk-sync's
/// tables out of `public` where an older version put them.
pub async fn run_migrations(
    conn: AsyncPgConnection,
    schema: Schema,
) -> Result<Vec<String>, DbError> {
    // diesel_migrations is synchronous: it drives the async connection from a blocking
    // thread, so the runtime's workers are never blocked.
    tokio::task::spawn_blocking(move || {
        let mut conn: Sync = conn.into();
        lock(&mut conn, "pg_advisory_lock", schema)?;
        let outcome = migrate(&mut conn, schema);
        // The lock dies with the session anyway; unlocking lets a pooled session go on.
        let unlocked = lock(&mut conn, "pg_advisory_unlock", schema);
        let versions = outcome?;
        unlocked?;
        Ok(versions)
    })
    .await
    .map_err(|e| DbError::Unavailable(format!("migration task failed: {e}")))?
}

fn migrate(conn: &mut Sync, schema: Schema) -> Result<Vec<String>, DbError> {
    ensure_schema(conn, schema)?;
    upgrade::move_from_public(conn, schema)?;
    search_path(conn, schema)?;
    conn.run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| DbError::Permanent(format!("migration failed: {e}")))
}

/// Versions applied to `schema`, oldest first, and those embedded but not yet applied.
pub async fn migration_status(
    conn: AsyncPgConnection,
    schema: Schema,
) -> Result<(Vec<String>, Vec<String>), DbError> {
    tokio::task::spawn_blocking(move || {
        let mut conn: Sync = conn.into();
        if !schema_exists(&mut conn, schema)? {
            let pending = embedded_versions();
            return Ok((Vec::new(), pending));
        }
        search_path(&mut conn, schema)?;
        let mut applied: Vec<String> = conn
            .applied_migrations()
            .map_err(|e| DbError::Unavailable(e.to_string()))?
            .iter()
            .map(ToString::to_string)
            .collect();
        applied.sort();
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

/// The version of every embedded migration, oldest first.
fn embedded_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

fn schema_exists(conn: &mut Sync, schema: Schema) -> Result<bool, DbError> {
    let found: Exists = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS exists",
    )
    .bind::<Text, _>(schema.name())
    .get_result(conn)?;
    Ok(found.exists)
}

/// Creates the schema unless it is there: `CREATE SCHEMA IF NOT EXISTS` would need CREATE
/// on the database even when the schema exists, which a role given a schema by an
/// administrator does not have.
fn ensure_schema(conn: &mut Sync, schema: Schema) -> Result<(), DbError> {
    if schema_exists(conn, schema)? {
        return Ok(());
    }
    diesel::sql_query(format!("CREATE SCHEMA {}", schema.quoted())).execute(conn)?;
    tracing::info!(schema = %schema, "created the schema clerk-sync lives in");
    Ok(())
}

/// The migration files name no schema: on this connection (a session of its own, never a
/// pooled one), everything they create and read is the schema's.
fn search_path(conn: &mut Sync, schema: Schema) -> Result<(), DbError> {
    diesel::sql_query(format!("SET search_path TO {}", schema.quoted())).execute(conn)?;
    Ok(())
}

fn lock(conn: &mut Sync, function: &str, schema: Schema) -> Result<(), DbError> {
    let (a, b) = schema.lock(Lock::Migration);
    diesel::sql_query(format!("SELECT {function}({a}, {b})"))
        .execute(conn)
        .map(drop)
        .map_err(DbError::from)
}

/// Builds the layout of the versions from before schemas existed: the migrations they had,
/// run into `public` with their history there. For the upgrade's tests.
#[doc(hidden)]
pub async fn build_legacy_layout(conn: AsyncPgConnection) -> Result<(), DbError> {
    tokio::task::spawn_blocking(move || {
        let mut conn: Sync = conn.into();
        diesel::sql_query("SET search_path TO public").execute(&mut conn)?;
        // Creates the history table where the harness looks for it.
        conn.applied_migrations()
            .map_err(|e| DbError::Permanent(e.to_string()))?;
        let all = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
            .map_err(|e| DbError::Permanent(e.to_string()))?;
        for migration in all
            .iter()
            .filter(|m| upgrade::created_in_public(&m.name().version().to_string()).is_some())
        {
            conn.run_migration(migration.as_ref())
                .map_err(|e| DbError::Permanent(format!("legacy migration failed: {e}")))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| DbError::Unavailable(format!("migration task failed: {e}")))?
}
