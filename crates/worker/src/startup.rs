//! Building the worker and running it: the pipelines, the promoter, the metrics listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clerk_sync_db::{ApplyOptions, PgPool, PoolConfig};
use clerk_sync_queue::{Consumer, Keys, Pool, Promoter, redis};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::metrics::{CLAIMED_TOTAL, PROMOTED_TOTAL};
use crate::outage::DatabaseHealth;
use crate::process::{Processed, Processor};

/// Retries promoted per script call.
const PROMOTE_LIMIT: usize = 500;

/// A built worker, ready to run. Binding happens in [`Worker::build`], so a test can bind
/// port 0 and read the port before running.
pub struct Worker {
    pub(crate) shared: Arc<Shared>,
    listener: Option<TcpListener>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) redis: Pool,
    pub(crate) db: PgPool,
    pub(crate) keys: Keys,
    pub(crate) processor: Processor,
    pub(crate) promoter: Promoter,
    pub(crate) health: DatabaseHealth,
    next_claim: Mutex<Instant>,
}

/// What [`Worker::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Entries taken from the stream (read or claimed).
    pub deliveries: usize,
}

impl Worker {
    /// Connects (lazily), checks Redis's eviction policy, creates the consumer group, runs
    /// the migrations when asked, and binds the metrics listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::start(config, &CancellationToken::new())
            .await?
            .context("stopped while starting")
    }

    /// [`Worker::build`], given up when `shutdown` is cancelled first: `None` then. Waiting
    /// for PostgreSQL to answer the migrations stops at once; migrations already running
    /// finish first (each runs in its own transaction), so nothing is left half-done.
    pub async fn start(
        config: Config,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        // A read blocks for `read_block`; every other command answers in far less.
        let response_timeout = config.read_block + Duration::from_secs(5);
        let redis = clerk_sync_queue::connect(
            &config.redis_url,
            config.pipelines() + 4,
            Duration::from_secs(5),
            response_timeout,
        )?;
        let db = clerk_sync_db::build_pool(&PoolConfig {
            url: config.database_url.clone(),
            max_size: config.pipelines() + 1,
            statement_timeout: config.attempt_timeout,
            lock_timeout: config.session_lock_timeout(),
            idle_in_transaction_timeout: config.session_idle_timeout(),
            application_name: format!("clerk-sync-worker {}", config.consumer_name),
            connect_timeout: Duration::from_secs(5),
        })?;
        let keys = Keys::new(&config.stream_prefix);
        let consumer = Consumer::new(redis.clone(), keys.clone(), config.consumer_name.clone());

        warn_if_redis_can_evict(&redis).await;
        if let Err(error) = consumer.ensure_group().await {
            // Not fatal: reads recreate the group once Redis answers.
            tracing::warn!(%error, "cannot create the consumer group yet");
        }
        if config.migrate_on_start && !migrate(&config, shutdown).await? {
            return Ok(None);
        }
        if shutdown.is_cancelled() {
            return Ok(None);
        }
        crate::metrics::handle();
        let listener = TcpListener::bind(config.metrics_bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.metrics_bind))?;

        tracing::info!(
            consumer = %config.consumer_name,
            redis = %clerk_sync_runtime::redact_url(&config.redis_url),
            postgres = %clerk_sync_runtime::redact_url(&config.database_url),
            prefix = %config.stream_prefix,
            pipelines = config.pipelines(),
            batch_size = config.batch_size,
            "worker ready"
        );
        let shared = Arc::new(Shared {
            processor: Processor {
                consumer,
                db: db.clone(),
                options: ApplyOptions {
                    user_delete_mode: config.user_delete_mode,
                },
                max_attempts: config.max_attempts,
                backoff: config.backoff,
                attempt_timeout: config.attempt_timeout,
                keep_every: config.keep_every(),
            },
            promoter: Promoter::new(redis.clone(), keys.clone()),
            health: DatabaseHealth::new(db.clone()),
            next_claim: Mutex::new(Instant::now()),
            redis,
            db,
            keys,
            config,
        });
        Ok(Some(Self {
            shared,
            listener: Some(listener),
        }))
    }

    /// The metrics listener's port.
    pub fn metrics_port(&self) -> Option<u16> {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Runs until `shutdown` is cancelled: then stops reading, finishes the batches in
    /// flight (each bounded by `ATTEMPT_TIMEOUT_MS`), and returns.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(listener) = self.listener.take() {
            let shared = self.shared.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move { crate::http::serve(listener, shared, stop).await });
        }
        for index in 0..self.shared.config.pipelines() {
            let shared = self.shared.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                pipeline(shared, index, stop).await;
                Ok(())
            });
        }
        let shared = self.shared.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            promote_forever(shared, stop).await;
            Ok(())
        });
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(error = format!("{error:#}"), "worker task failed")
                }
                Err(error) => tracing::error!(%error, "worker task panicked"),
            }
        }
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Processes until there is nothing left: no entry to read or to claim, and no retry
    /// waiting (waiting for due retries as needed). For tests and one-off catch-ups; every
    /// wait is bounded by `timeout`.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<Drained> {
        let shared = &self.shared;
        let deadline = Instant::now() + timeout;
        let mut drained = Drained::default();
        loop {
            anyhow::ensure!(Instant::now() < deadline, "not drained within {timeout:?}");
            shared.promoter.promote(PROMOTE_LIMIT).await?;
            let consumer = &shared.processor.consumer;
            let mut batch = consumer
                .claim_idle(shared.config.claim_idle, shared.config.batch_size)
                .await?;
            if batch.is_empty() {
                batch = consumer
                    .read(shared.config.batch_size, Duration::ZERO)
                    .await?;
            }
            if batch.is_empty() {
                let stats = clerk_sync_queue::queue_stats(&shared.redis, &shared.keys).await?;
                if stats.retry_size == 0 && stats.pending == 0 {
                    return Ok(drained);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            drained.deliveries += batch.len();
            if let Processed::DatabaseDown(reason) = shared.processor.process(batch).await? {
                anyhow::bail!("PostgreSQL is unavailable: {reason}");
            }
        }
    }
}

/// One loop of read (or claim), apply, settle. Several run per process, each with its own
/// transaction, so one slow batch does not hold up the rest.
async fn pipeline(shared: Arc<Shared>, index: usize, shutdown: CancellationToken) {
    let consumer = &shared.processor.consumer;
    let mut redis_failures: u32 = 0;
    while !shutdown.is_cancelled() {
        if !shared.health.is_up() && !shared.health.wait_until_up(&shutdown).await {
            break;
        }
        let batch = match next_batch(&shared).await {
            Ok(batch) => batch,
            Err(error) => {
                redis_failures = redis_failures.saturating_add(1);
                let wait = crate::Backoff {
                    base: Duration::from_millis(100),
                    max: Duration::from_secs(5),
                }
                .delay(redis_failures.min(16))
                .max(Duration::from_millis(50));
                tracing::warn!(pipeline = index, %error, "cannot read from Redis; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        redis_failures = 0;
        if batch.is_empty() {
            continue;
        }
        match shared.processor.process(batch).await {
            Ok(Processed::Settled) => {}
            Ok(Processed::DatabaseDown(reason)) => shared.health.mark_down(&reason, &shutdown),
            Err(error) => {
                tracing::warn!(pipeline = index, %error, "cannot settle entries; they stay pending and will be claimed again");
            }
        }
    }
    tracing::debug!(
        pipeline = index,
        consumer = consumer.name(),
        "pipeline stopped"
    );
}

/// Claims idle entries when it is time to look (one pipeline at a time), else reads.
async fn next_batch(
    shared: &Shared,
) -> Result<Vec<clerk_sync_queue::Delivery>, clerk_sync_queue::QueueError> {
    let config = &shared.config;
    let consumer = &shared.processor.consumer;
    let claim_now = {
        let mut next = shared.next_claim.lock().await;
        let now = Instant::now();
        if now >= *next {
            let every =
                (config.claim_idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
            *next = now + every;
            true
        } else {
            false
        }
    };
    if claim_now {
        let claimed = consumer
            .claim_idle(config.claim_idle, config.batch_size)
            .await?;
        if !claimed.is_empty() {
            tracing::info!(
                count = claimed.len(),
                "claimed entries idle longer than CLAIM_IDLE_MS"
            );
            metrics::counter!(CLAIMED_TOTAL).increment(claimed.len() as u64);
            return Ok(claimed);
        }
    }
    consumer.read(config.batch_size, config.read_block).await
}

/// Moves due retries back onto the stream, sleeping until the next is due (at most half a
/// second, so a retry added by another worker is not missed for long).
async fn promote_forever(shared: Arc<Shared>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let wait = match shared.promoter.promote(PROMOTE_LIMIT).await {
            Ok(promoted) => {
                if promoted.moved > 0 {
                    metrics::counter!(PROMOTED_TOTAL).increment(promoted.moved);
                    tracing::debug!(moved = promoted.moved, "retries promoted");
                }
                if promoted.moved as usize == PROMOTE_LIMIT {
                    Duration::ZERO
                } else {
                    let now = crate::process::unix_ms();
                    promoted
                        .next_due_ms
                        .map_or(Duration::from_millis(500), |due| {
                            Duration::from_millis(due.saturating_sub(now))
                        })
                        .clamp(Duration::from_millis(10), Duration::from_millis(500))
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot promote retries; trying again");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => break,
        }
    }
}

/// Runs the migrations, waiting for PostgreSQL to answer first; `false` when `shutdown`
/// came while waiting.
async fn migrate(config: &Config, shutdown: &CancellationToken) -> anyhow::Result<bool> {
    let pool_config = PoolConfig {
        url: config.database_url.clone(),
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
                let applied = clerk_sync_db::run_migrations(conn)
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
async fn warn_if_redis_can_evict(redis: &Pool) {
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
