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

/// How pooled connections are made.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// `postgres://…`; `?sslmode=require` for TLS with a verified certificate, anything
    /// else for none.
    pub url: String,
    /// Connections at most.
    pub max_size: usize,
    /// `statement_timeout` on every connection: the bound on one statement.
    pub statement_timeout: Duration,
    /// `application_name`, so `pg_stat_activity` shows who is connected.
    pub application_name: String,
    /// Bound on connecting and on waiting for a free connection.
    pub connect_timeout: Duration,
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
    let setup = Setup {
        pg,
        statement_timeout: config.statement_timeout,
        application_name: config.application_name.clone(),
        connect_timeout: config.connect_timeout,
    };
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
    Setup {
        pg,
        statement_timeout: config.statement_timeout,
        application_name: config.application_name.clone(),
        connect_timeout: config.connect_timeout,
    }
    .connect()
    .await
    .map_err(DbError::from)
}

#[derive(Clone)]
struct Setup {
    pg: tokio_postgres::Config,
    statement_timeout: Duration,
    application_name: String,
    connect_timeout: Duration,
}

impl Setup {
    async fn connect(mut self) -> diesel::ConnectionResult<AsyncPgConnection> {
        // Set at connect time, so no pooled connection ever runs without the bound.
        let options = format!(
            "{} -c statement_timeout={}",
            self.pg.get_options().unwrap_or_default(),
            self.statement_timeout.as_millis()
        );
        self.pg
            .options(options.trim())
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout);
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
