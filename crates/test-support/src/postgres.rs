//! One PostgreSQL database per test, cloned from a template migrated once per set of
//! migrations, and dropped when the test ends.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio_postgres::NoTls;

/// Where the tests' PostgreSQL is: `DATABASE_URL`, or the local default.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/clerk_sync".into())
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// `url` with `search_path` set to `schema` for the connections made from it: a test's own
/// SQL then names clerk-sync's tables as an application whose `search_path` holds the
/// schema would. clerk-sync's own connections set theirs empty whatever the URL says.
pub fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A database of its own for one test, with every migration applied. Dropped on drop.
pub struct TestDatabase {
    /// Connection URL of this test's database.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Clones the template for the current migrations, building it first if no test has.
    pub async fn new() -> Self {
        let server = database_url();
        let admin = admin(&server).await;
        let template = ensure_template(&admin, &server).await;
        let name = format!("clerk_sync_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
        Self {
            url: in_schema(
                &with_database(&server, &name),
                clerk_sync_db::DEFAULT_SCHEMA,
            ),
            name,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes every write of `user`'s row fail, as a trigger of the application's might while
    /// a table is being reorganised: a real failure that a later attempt may get past, and
    /// neither a lock wait nor an outage. Lifted by [`TestDatabase::clear_obstacle`].
    pub async fn obstruct_user(&self, user: &str) {
        let user = user.replace('\'', "''");
        self.batch(&format!(
            "CREATE OR REPLACE FUNCTION test_obstruct() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.clerk_id = '{user}' THEN \
               RAISE EXCEPTION 'users is being reorganised; try again later'; \
             END IF; RETURN NEW; END $$; \
             CREATE TRIGGER test_obstruct BEFORE INSERT OR UPDATE ON users \
             FOR EACH ROW EXECUTE FUNCTION test_obstruct();"
        ))
        .await;
    }

    /// Lifts [`TestDatabase::obstruct_user`].
    pub async fn clear_obstacle(&self) {
        self.batch("DROP TRIGGER IF EXISTS test_obstruct ON users; DROP FUNCTION IF EXISTS test_obstruct();")
            .await;
    }

    /// Runs `sql` in this database as the administrator the tests connect as.
    pub async fn batch(&self, sql: &str) {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.name));
        tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A login role of its own for one test: no superuser, no role or database creation, a
/// password (whatever the server's `pg_hba.conf` asks for). Dropped on drop: declare it
/// before the databases it owns objects in, so they are dropped first.
pub struct TestRole {
    /// The role's name.
    pub name: String,
    password: String,
}

impl TestRole {
    /// Creates the role.
    pub async fn new() -> Self {
        let name = format!("clerk_sync_role_{}", uuid::Uuid::new_v4().simple());
        let password = uuid::Uuid::new_v4().simple().to_string();
        admin(&database_url())
            .await
            .batch_execute(&format!(
                "CREATE ROLE {name} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE"
            ))
            .await
            .unwrap_or_else(|e| panic!("cannot create role {name}: {e}"));
        Self { name, password }
    }

    /// `url` (a test database's) with this role as its user.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{}@{host}", self.name, self.password)
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                admin(&database_url())
                    .await
                    .batch_execute(&format!("DROP ROLE IF EXISTS {name}"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test role {}", self.name);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime, which cannot block; a thread of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = admin(&database_url()).await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

async fn admin(server: &str) -> tokio_postgres::Client {
    let url = with_database(server, "postgres");
    let (client, connection) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(&url, NoTls),
    )
    .await
    .unwrap_or_else(|_| panic!("PostgreSQL did not answer at {url} within 10 s"))
    .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The template's name carries a hash of the migrations, so a changed migration gets a new
/// template instead of a stale one. Built under an advisory lock (test binaries run in
/// parallel), under a temporary name renamed only once complete.
async fn ensure_template(admin: &tokio_postgres::Client, server: &str) -> String {
    let digest = migrations_digest();
    let template = format!("clerk_sync_tmpl_{digest}");
    let building = format!("{template}_building");
    admin
        .batch_execute("SELECT pg_advisory_lock(7263511)")
        .await
        .expect("template lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        // Left behind by a run that died halfway.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop a half-built template");
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create the template");
        let config = clerk_sync_db::PoolConfig {
            url: with_database(server, &building),
            max_size: 1,
            statement_timeout: Duration::from_secs(60),
            lock_timeout: std::time::Duration::ZERO,
            idle_in_transaction_timeout: std::time::Duration::ZERO,
            application_name: "clerk-sync-tests".into(),
            connect_timeout: Duration::from_secs(10),
        };
        let conn = clerk_sync_db::connect(&config)
            .await
            .expect("connect to the template");
        clerk_sync_db::run_migrations(conn, clerk_sync_db::Schema::default())
            .await
            .unwrap_or_else(|e| panic!("migrations fail: {e}"));
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .expect("publish the template");
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(7263511)")
        .await
        .expect("template unlock");
    template
}

fn migrations_digest() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut hasher = Sha256::new();
    // Where the migrations put things is part of the template too: a template migrated
    // into `public` by an older harness must not be taken for one migrated into the schema.
    hasher.update(format!("schema {}\n", clerk_sync_db::DEFAULT_SCHEMA));
    for file in files {
        hasher.update(
            file.strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/clerk_sync?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
