//! Read access for an application's own database role: what `clerk-sync grant-read` gives.

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

use crate::{DbError, Schema};

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Lets `role` read `schema`: `USAGE` on it, `SELECT` on every table and view in it now,
/// and, by default privileges, on those later migrations add. Nothing that writes. The
/// default privileges cover what the role running this creates: run it as the role that
/// runs the migrations. `Ok(false)` when no such role exists.
pub async fn grant_read(
    conn: &mut AsyncPgConnection,
    schema: Schema,
    role: &str,
) -> Result<bool, DbError> {
    let Exists { exists } = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1) AS exists",
    )
    .bind::<Text, _>(role)
    .get_result(conn)
    .await?;
    if !exists {
        return Ok(false);
    }
    // Identifiers cannot be bound: the role is quoted, its quotes doubled.
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    let schema = schema.quoted();
    let statements = [
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}"),
    ];
    conn.transaction::<_, DbError, _>(async |conn| {
        for statement in &statements {
            diesel::sql_query(statement).execute(conn).await?;
        }
        Ok(())
    })
    .await?;
    Ok(true)
}
