//! The pool of async connections, each with an empty `search_path` so every statement names its
//! schema.

use std::str::FromStr as _;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use futures_util::FutureExt as _;
use tokio_postgres::config::SslMode;

use crate::DbError;

/// A pool of async Diesel connections.
pub type PgPool = Pool<AsyncPgConnection>;
/// One connection out of [`PgPool`].
pub type PgConn = Object<AsyncPgConnection>;

/// How pooled connections are made. Its `Debug` leaves the URL out: it may hold a password.
#[derive(Clone)]
pub struct PoolConfig {
    /// `postgres://…`; `?sslmode=require` for TLS with a verified certificate, anything
    /// else for none.
    pub url: String,
    /// Connections at most.
    pub max_size: usize,
    /// `statement_timeout` on every connection: the bound on one statement.
    pub statement_timeout: Duration,
    /// `lock_timeout` on every connection: how long a statement waits for a lock another
    /// session holds before it fails with [`DbError::Contended`]. Zero waits forever.
    pub lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` on every connection: a session that opened a
    /// transaction and then went silent this long (its process frozen, its network cut) is
    /// ended by the server, which releases its locks. Zero never ends it.
    pub idle_in_transaction_timeout: Duration,
    /// `application_name`, so `pg_stat_activity` shows who is connected.
    pub application_name: String,
    /// Bound on connecting and on waiting for a free connection.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConfig")
            .field("max_size", &self.max_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Checks a `DATABASE_URL` as the pool will read it, for a settings parser: a malformed URL
/// stops the process at start. The reason never quotes the value: it may hold a password.
pub fn parse_database_url(value: &str) -> Result<String, String> {
    match tokio_postgres::Config::from_str(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(_) => Err("is not a valid PostgreSQL URL".into()),
    }
}

/// Builds the pool. Connections are made lazily, so this succeeds while PostgreSQL is down;
/// only a malformed URL fails here.
pub fn build_pool(config: &PoolConfig) -> Result<PgPool, DbError> {
    let pg = tokio_postgres::Config::from_str(&config.url)
        .map_err(|_| DbError::Permanent("DATABASE_URL is not a valid PostgreSQL URL".into()))?;
    let setup = Setup::new(pg, config);
    let mut manager_config = ManagerConfig::default();
    manager_config.custom_setup = Box::new(move |_url| setup.clone().connect().boxed());
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        &config.url,
        manager_config,
    );
    Pool::builder(manager)
        .max_size(config.max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(config.connect_timeout))
        .create_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.connect_timeout))
        .build()
        .map_err(|e| DbError::Permanent(format!("cannot build the PostgreSQL pool: {e}")))
}

/// Opens one connection outside any pool (migrations, admin work).
pub async fn connect(config: &PoolConfig) -> Result<AsyncPgConnection, DbError> {
    let pg = tokio_postgres::Config::from_str(&config.url)
        .map_err(|_| DbError::Permanent("DATABASE_URL is not a valid PostgreSQL URL".into()))?;
    Setup::new(pg, config)
        .connect()
        .await
        .map_err(DbError::from)
}

/// TCP keepalive probes start after this much silence on a connection...
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// ...are sent this far apart...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ...and this many unanswered ones end the connection: a peer gone without a word (a
/// partition, a host powered off) is noticed in about 25 s rather than the kernel's two hours.
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent and not acknowledged for this long ends the connection (`TCP_USER_TIMEOUT`):
/// the same bound while a request is on the wire, where keepalives do not probe.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Setup {
    pg: tokio_postgres::Config,
    statement_timeout: Duration,
    lock_timeout: Duration,
    idle_in_transaction_timeout: Duration,
    application_name: String,
    connect_timeout: Duration,
}

impl Setup {
    fn new(pg: tokio_postgres::Config, config: &PoolConfig) -> Self {
        Self {
            pg,
            statement_timeout: config.statement_timeout,
            lock_timeout: config.lock_timeout,
            idle_in_transaction_timeout: config.idle_in_transaction_timeout,
            application_name: config.application_name.clone(),
            connect_timeout: config.connect_timeout,
        }
    }

    async fn connect(mut self) -> diesel::ConnectionResult<AsyncPgConnection> {
        // Set at connect time, so no pooled connection ever runs without the bounds. The
        // server's keepalives matter as much as ours: they let PostgreSQL end the session of
        // a worker it can no longer reach, and with it the locks that session holds.
        // Every batch statement is planned for the tables as they are now: a generic plan,
        // which PostgreSQL settles on after five runs of a prepared statement, is costed
        // for the tables as they were then, and one made while `user_email_addresses` was
        // empty scanned the whole table for each batch once it held 40,000 rows. Planning
        // a batch's few statements costs far less than one such scan.
        // An empty search_path: every statement names its schema, and one that does not
        // fails here instead of reaching an application's table of the same name.
        let options = format!(
            "{} -c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={} \
             -c plan_cache_mode=force_custom_plan -c search_path= \
             -c tcp_keepalives_idle={} -c tcp_keepalives_interval={} -c tcp_keepalives_count={}",
            self.pg.get_options().unwrap_or_default(),
            self.statement_timeout.as_millis(),
            self.lock_timeout.as_millis(),
            self.idle_in_transaction_timeout.as_millis(),
            KEEPALIVE_IDLE.as_secs(),
            KEEPALIVE_INTERVAL.as_secs(),
            KEEPALIVE_RETRIES,
        );
        self.pg
            .options(options.trim())
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        let timed_out =
            || diesel::ConnectionError::BadConnection("timed out connecting to PostgreSQL".into());
        let failed =
            |e: tokio_postgres::Error| diesel::ConnectionError::BadConnection(e.to_string());
        // TLS only when asked for: under libpq's default `prefer`, a distribution's default
        // server with its self-signed certificate would fail verification, where libpq
        // would not verify at all.
        if self.pg.get_ssl_mode() == SslMode::Require {
            let (client, connection) = tokio::time::timeout(
                self.connect_timeout,
                self.pg.connect(crate::tls::connector()),
            )
            .await
            .map_err(|_| timed_out())?
            .map_err(failed)?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        } else {
            self.pg.ssl_mode(SslMode::Disable);
            let (client, connection) =
                tokio::time::timeout(self.connect_timeout, self.pg.connect(tokio_postgres::NoTls))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(failed)?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        }
    }
}

/// Checks that PostgreSQL answers, through the pool.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    use diesel_async::RunQueryDsl as _;
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
