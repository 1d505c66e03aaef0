//! Building the worker and running it: the pipelines, the promoter, the listeners.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use anyhow::Context as _;
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_db::{ApplyOptions, PgPool, PoolConfig, Pruned};
use clerk_sync_mirror::instance::{InstanceError, KeyGuard};
use clerk_sync_mirror::ondemand::Syncer;
use clerk_sync_mirror::reconcile::Reconciler;
use clerk_sync_queue::{Consumer, Keys, Pool, Promoter};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::api::ApiState;
use crate::consume::{PROMOTE_LIMIT, pipeline, promote_forever};
use crate::outage::DatabaseHealth;
use crate::prepare::{migrate, warn_if_redis_can_evict};
use crate::process::{Processed, Processor};
use crate::retention::{Retained, prune_forever};
use crate::schedule;

/// Connections the Backend API side (the application API, the instance checks) may hold
/// at once.
const API_CONNECTIONS: usize = 4;
/// How often a worker with a key checks it against the pinned instance, so
/// `clerk_sync_clerk_instance_mismatch` is current even with no API request or run to do
/// it. The key's instance is asked of Clerk once; each check after that reads the pin.
const INSTANCE_CHECK_EVERY: Duration = Duration::from_secs(30);

/// A built worker, ready to run. Binding happens in [`Worker::build`], so a test can bind
/// port 0 and read the port before running.
pub struct Worker {
    pub(crate) shared: Arc<Shared>,
    listener: Option<TcpListener>,
    api: Option<(TcpListener, Arc<ApiState>)>,
    reconcile: Option<(Reconciler, PoolConfig)>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) redis: Pool,
    pub(crate) db: PgPool,
    pub(crate) keys: Keys,
    pub(crate) processor: Processor,
    pub(crate) promoter: Promoter,
    pub(crate) health: DatabaseHealth,
    pub(crate) next_claim: Mutex<Instant>,
    /// The key's guard, when the worker has a key.
    pub(crate) guard: Option<Arc<KeyGuard>>,
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
            config.redis_url.expose(),
            config.pipelines() + 4,
            Duration::from_secs(5),
            response_timeout,
        )?;
        let db = clerk_sync_db::build_pool(&PoolConfig {
            url: config.database_url.expose().to_owned(),
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
            .with_context(|| format!("cannot listen on {}", config.metrics_bind))?;
        // A pool of its own for everything the Backend API side reads and writes: a burst
        // of sign-ups must not keep the pipelines waiting for a connection (a wait past the
        // bound reads as a PostgreSQL outage).
        let backend_db = clerk_sync_db::build_pool(&PoolConfig {
            url: config.database_url.expose().to_owned(),
            max_size: API_CONNECTIONS,
            statement_timeout: config.attempt_timeout,
            lock_timeout: config.session_lock_timeout(),
            idle_in_transaction_timeout: config.session_idle_timeout(),
            application_name: format!("clerk-sync-worker {} api", config.consumer_name),
            connect_timeout: Duration::from_secs(5),
        })?;
        // One budget for every Backend API call of the process: each client made from
        // `config.clerk` spends it.
        let guard = match &config.clerk {
            Some(clerk) => Some(Arc::new(KeyGuard::new(
                clerk.client(RetryPolicy::PROMPT)?,
                backend_db.clone(),
                config.database_schema,
            ))),
            None => None,
        };
        let api = match (&config.api, &config.clerk, &guard) {
            (Some(api), Some(clerk), Some(guard)) => {
                let listener = TcpListener::bind(api.bind)
                    .with_context(|| format!("cannot listen on {} (API_BIND)", api.bind))?;
                let syncer = Syncer::new(
                    backend_db.clone(),
                    clerk.client(RetryPolicy::PROMPT)?,
                    guard.clone(),
                    ApplyOptions {
                        user_delete_mode: config.user_delete_mode,
                        schema: config.database_schema,
                    },
                );
                let state = Arc::new(ApiState {
                    tokens: api.tokens.clone(),
                    syncer,
                });
                Some((listener, state))
            }
            (Some(_), _, _) => anyhow::bail!("the application API needs CLERK_SECRET_KEY"),
            (None, _, _) => None,
        };

        let reconcile = match (&config.clerk, &guard) {
            (Some(clerk), Some(guard)) if !config.reconcile_interval.is_zero() => {
                let client = clerk.client(RetryPolicy::PATIENT)?;
                let database = PoolConfig {
                    url: config.database_url.expose().to_owned(),
                    max_size: 1,
                    // Whole tables are read; a large instance takes a while.
                    statement_timeout: Duration::from_secs(600),
                    lock_timeout: config.session_lock_timeout(),
                    idle_in_transaction_timeout: config.session_idle_timeout(),
                    application_name: format!(
                        "clerk-sync-worker {} reconcile",
                        config.consumer_name
                    ),
                    connect_timeout: Duration::from_secs(5),
                };
                let reconciler = Reconciler::new(
                    client,
                    guard.clone(),
                    (database.clone(), config.database_schema),
                    redis.clone(),
                    keys.clone(),
                );
                Some((reconciler, database))
            }
            _ => None,
        };
        metrics::gauge!(crate::metrics::RECONCILE_INTERVAL_SECONDS).set(if reconcile.is_some() {
            config.reconcile_interval.as_secs_f64()
        } else {
            0.0
        });
        tracing::info!(
            consumer = %config.consumer_name,
            redis = %config.redis_url,
            postgres = %config.database_url,
            prefix = %config.stream_prefix,
            pipelines = config.pipelines(),
            batch_size = config.batch_size,
            api = api.as_ref().and_then(|(l, _)| l.local_addr().ok()).map(|a| a.to_string()),
            "worker ready"
        );
        let shared = Arc::new(Shared {
            processor: Processor {
                consumer,
                db: db.clone(),
                options: ApplyOptions {
                    user_delete_mode: config.user_delete_mode,
                    schema: config.database_schema,
                },
                max_attempts: config.max_attempts,
                backoff: config.backoff,
                attempt_timeout: config.attempt_timeout,
                keep_every: config.keep_every(),
            },
            promoter: Promoter::new(redis.clone(), keys.clone()),
            health: DatabaseHealth::new(db.clone()),
            next_claim: Mutex::new(Instant::now()),
            guard,
            redis,
            db,
            keys,
            config,
        });
        Ok(Some(Self {
            shared,
            listener: Some(listener),
            api,
            reconcile,
        }))
    }

    /// The metrics listener's port.
    pub fn metrics_port(&self) -> Option<u16> {
        self.listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The application API's port, when it is on.
    pub fn api_port(&self) -> Option<u16> {
        self.api
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Runs until `shutdown` is cancelled: then stops reading, finishes the batches in
    /// flight (each bounded by `ATTEMPT_TIMEOUT_MS`), and returns.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((listener, state)) = self.api.take() {
            let server = crate::api::serve(listener, state).context("cannot serve the API")?;
            tasks.spawn(serve_until(server, shutdown.clone()));
        }
        if let Some(guard) = self.shared.guard.clone() {
            tasks.spawn(watch_instance(guard, shutdown.clone()));
        }
        let config = &self.shared.config;
        for (what, retention) in [
            (Retained::Changes, config.changes_retention),
            (
                Retained::Rows(Pruned::Processed),
                config.processed_retention,
            ),
            (Retained::Rows(Pruned::Sessions), config.sessions_retention),
            (Retained::Rows(Pruned::Messages), config.messages_retention),
        ] {
            if retention.is_zero() {
                continue;
            }
            let database = PoolConfig {
                url: config.database_url.expose().to_owned(),
                max_size: 1,
                statement_timeout: config.attempt_timeout,
                lock_timeout: config.session_lock_timeout(),
                idle_in_transaction_timeout: config.session_idle_timeout(),
                application_name: format!("clerk-sync-worker {} retention", config.consumer_name),
                connect_timeout: Duration::from_secs(5),
            };
            let (schema, stop) = (config.database_schema, shutdown.clone());
            tasks.spawn(async move {
                prune_forever(what, retention, (database, schema), stop).await;
                Ok(())
            });
        }
        if let (Some((reconciler, database)), Some(guard)) =
            (self.reconcile.take(), self.shared.guard.clone())
        {
            let (redis, keys) = (self.shared.redis.clone(), self.shared.keys.clone());
            let interval = self.shared.config.reconcile_interval;
            let stop = shutdown.clone();
            tasks.spawn(async move {
                let schema = guard.schema();
                schedule::run_forever(
                    reconciler,
                    guard,
                    interval,
                    (database, schema),
                    redis,
                    keys,
                    stop,
                )
                .await;
                Ok(())
            });
        }
        if let Some(listener) = self.listener.take() {
            let server = crate::probes::serve(listener, self.shared.clone())
                .context("cannot serve the probes")?;
            tasks.spawn(serve_until(server, shutdown.clone()));
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

    /// Whether the key matches the pinned instance, as last checked; `None` without a key.
    pub fn instance_mismatched(&self) -> Option<bool> {
        self.shared.guard.as_ref().map(|g| g.is_mismatched())
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

/// Serves until `shutdown`, then stops taking connections and answers what is in flight.
async fn serve_until(server: Server, shutdown: CancellationToken) -> anyhow::Result<()> {
    let handle = server.handle();
    let running = tokio::spawn(server);
    shutdown.cancelled().await;
    handle.stop(true).await;
    running.await.context("listener task failed")??;
    Ok(())
}

/// Checks the key against the pinned instance now and then, so the mismatch gauge (and the
/// alert on it) is current whatever else the worker does. Until Clerk has said which
/// instance the key reads, it asks again at each check.
async fn watch_instance(guard: Arc<KeyGuard>, shutdown: CancellationToken) -> anyhow::Result<()> {
    loop {
        // Bounded, so a long 429 pause is waited out between checks, not inside one.
        let deadline = tokio::time::Instant::now() + INSTANCE_CHECK_EVERY;
        let checked = tokio::select! {
            checked = guard.check(Some(deadline)) => checked,
            () = shutdown.cancelled() => return Ok(()),
        };
        match checked {
            Ok(_) | Err(InstanceError::Mismatch { .. }) => {}
            Err(error) => tracing::debug!(%error, "cannot check CLERK_SECRET_KEY's instance yet"),
        }
        tokio::select! {
            () = tokio::time::sleep(INSTANCE_CHECK_EVERY) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
    }
}
