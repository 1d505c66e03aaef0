//! What a worker checks and prepares before it takes events: the migrations, waited for
//! while PostgreSQL comes up, and Redis's eviction policy.

use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_db::PoolConfig;
use clerk_sync_queue::{Pool, redis};
use tokio_util::sync::CancellationToken;

use crate::Config;

/// Runs the migrations, waiting for PostgreSQL to answer first; `false` when `shutdown`
/// came while waiting.
pub(crate) async fn migrate(config: &Config, shutdown: &CancellationToken) -> anyhow::Result<bool> {
    let pool_config = PoolConfig {
        url: config.database_url.expose().to_owned(),
        max_size: 1,
        // Migrations may rewrite tables: no statement timeout.
        statement_timeout: Duration::ZERO,
        lock_timeout: Duration::ZERO,
        idle_in_transaction_timeout: Duration::ZERO,
        application_name: "clerk-sync-worker migrations".into(),
        connect_timeout: Duration::from_secs(5),
    };
    let mut attempt = 0;
    loop {
        let connected = tokio::select! {
            connected = clerk_sync_db::connect(&pool_config) => connected,
            () = shutdown.cancelled() => return Ok(false),
        };
        match connected {
            Ok(conn) => {
                let applied = clerk_sync_db::run_migrations(conn, config.database_schema)
                    .await
                    .context("migrations failed")?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "migrations applied");
                }
                return Ok(true);
            }
            Err(error) if attempt < 30 => {
                attempt += 1;
                tracing::warn!(%error, "PostgreSQL does not answer yet; retrying the migrations");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = shutdown.cancelled() => return Ok(false),
                }
            }
            Err(error) => {
                return Err(error).context("PostgreSQL did not answer for the migrations");
            }
        }
    }
}

/// Queue keys have no TTL, so only an `allkeys-*` policy can evict them. Managed Redis
/// often refuses CONFIG: then we can only say so.
pub(crate) async fn warn_if_redis_can_evict(redis: &Pool) {
    let policy = async {
        let mut conn = redis.get().await.ok()?;
        let reply: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut *conn)
            .await
            .ok()?;
        reply.get(1).cloned()
    };
    match tokio::time::timeout(Duration::from_secs(2), policy).await {
        Ok(Some(policy)) if policy.starts_with("allkeys") => tracing::warn!(
            %policy,
            "Redis's maxmemory-policy can evict queue keys under memory pressure: events could be lost; use noeviction"
        ),
        Ok(Some(policy)) => tracing::debug!(%policy, "Redis eviction policy"),
        _ => tracing::info!("cannot read Redis's maxmemory-policy; make sure it is noeviction"),
    }
}
