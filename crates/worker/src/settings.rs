//! The worker's configuration, from the environment and its flags.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use clerk_sync_db::{DeleteMode, Schema};
use clerk_sync_mirror::{Clerk, ClerkArgs};
use clerk_sync_runtime::{CommonArgs, DEFAULT_DATABASE_URL, ServiceUrl, parse_interval};

use crate::Backoff;
use crate::api::ApiTokens;

/// The default metrics listener.
pub const DEFAULT_METRICS_BIND: &str = "0.0.0.0:9090";
/// The default application API listener.
pub const DEFAULT_API_BIND: &str = "0.0.0.0:8081";
/// How often one worker reconciles the database with Clerk, when `CLERK_SECRET_KEY` is set.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// Attempts before an event is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Backoff base, ms.
pub const DEFAULT_RETRY_BASE_MS: u64 = 1000;
/// Backoff cap, ms.
pub const DEFAULT_RETRY_MAX_MS: u64 = 3_600_000;
/// Idle time after which another worker takes over an entry, ms.
pub const DEFAULT_CLAIM_IDLE_MS: u64 = 60_000;
/// The bound on one attempt (one batch's transaction), ms.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 30_000;
/// The longest a statement waits for a lock another session holds, unless set: short, so
/// that contention is noticed and the event postponed long before its attempt times out.
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5_000;
/// Events in flight per process. With the default batch size, four transactions at a time:
/// while one waits for its commit, the others keep PostgreSQL and the worker busy. On two
/// cores one worker with these settings drains at the machine's limit (BENCHMARKS.md).
pub const DEFAULT_CONCURRENCY: usize = 512;
/// Events per transaction at most. A batch costs a handful of statements however many
/// events it holds, so a backlog drains faster in larger ones; at a steady rate a batch
/// holds what has arrived, and latency does not wait on it to fill.
pub const DEFAULT_BATCH_SIZE: usize = 128;

/// What `USER_DELETE_MODE` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeleteModeArg {
    /// Keep a tombstone row with personal data erased.
    Soft,
    /// Delete the row.
    Hard,
}

/// One-off commands instead of running the daemon.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Exit 0 when this worker's `/healthz` answers 200 (for container healthchecks).
    Healthcheck,
}

/// The worker's settings, from flags or the environment.
#[derive(Debug, Parser)]
#[command(name = "clerk-sync-worker", version, about)]
pub struct Settings {
    /// A one-off command; without one, the daemon runs.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The PostgreSQL schema that holds everything clerk-sync creates.
    #[arg(long, env = "DATABASE_SCHEMA", value_name = "DATABASE_SCHEMA", default_value = clerk_sync_db::DEFAULT_SCHEMA, value_parser = Schema::parse)]
    pub database_schema: Schema,

    /// PostgreSQL. May hold a password, so it is never printed.
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true, hide_default_value = true, value_parser = parse_database_url)]
    pub database_url: ServiceUrl,

    /// Listener for `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "WORKER_METRICS_BIND", value_name = "WORKER_METRICS_BIND", default_value = DEFAULT_METRICS_BIND)]
    pub metrics_bind: SocketAddr,

    /// Attempts before an event is dead-lettered.
    #[arg(long, env = "MAX_ATTEMPTS", value_name = "MAX_ATTEMPTS", default_value_t = DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,

    /// Backoff base, ms: retry n waits random(0, min(RETRY_MAX_MS, RETRY_BASE_MS * 2^n)).
    #[arg(long, env = "RETRY_BASE_MS", value_name = "RETRY_BASE_MS", default_value_t = DEFAULT_RETRY_BASE_MS)]
    pub retry_base_ms: u64,

    /// Backoff cap, ms.
    #[arg(long, env = "RETRY_MAX_MS", value_name = "RETRY_MAX_MS", default_value_t = DEFAULT_RETRY_MAX_MS)]
    pub retry_max_ms: u64,

    /// An entry a consumer has held unacknowledged this long is taken over by another, ms.
    #[arg(long, env = "CLAIM_IDLE_MS", value_name = "CLAIM_IDLE_MS", default_value_t = DEFAULT_CLAIM_IDLE_MS)]
    pub claim_idle_ms: u64,

    /// The longest one attempt (one batch's transaction) may take, ms; also each
    /// connection's statement_timeout. Must be shorter than CLAIM_IDLE_MS.
    #[arg(long, env = "ATTEMPT_TIMEOUT_MS", value_name = "ATTEMPT_TIMEOUT_MS", default_value_t = DEFAULT_ATTEMPT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub attempt_timeout_ms: u64,

    /// How long a statement waits for a lock another session holds before the event is
    /// postponed (no attempt used up), ms. Default: 5000, or half of ATTEMPT_TIMEOUT_MS when
    /// that is shorter. Must be shorter than ATTEMPT_TIMEOUT_MS.
    #[arg(long, env = "LOCK_TIMEOUT_MS", value_name = "LOCK_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub lock_timeout_ms: Option<u64>,

    /// A worker session that opened a transaction and then went silent this long (frozen,
    /// partitioned) is ended by PostgreSQL, releasing its locks, ms. Default:
    /// ATTEMPT_TIMEOUT_MS. Must be shorter than CLAIM_IDLE_MS, so the locks are free before
    /// another worker takes the stalled worker's entries over.
    #[arg(long, env = "IDLE_IN_TRANSACTION_TIMEOUT_MS", value_name = "IDLE_IN_TRANSACTION_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_in_transaction_timeout_ms: Option<u64>,

    /// Events in flight per process.
    #[arg(long, env = "WORKER_CONCURRENCY", value_name = "WORKER_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY, value_parser = positive)]
    pub concurrency: usize,

    /// Events applied per transaction at most.
    #[arg(long, env = "WORKER_BATCH_SIZE", value_name = "WORKER_BATCH_SIZE", default_value_t = DEFAULT_BATCH_SIZE, value_parser = positive)]
    pub batch_size: usize,

    /// What a `user.deleted` leaves behind.
    #[arg(
        long,
        env = "USER_DELETE_MODE",
        value_name = "USER_DELETE_MODE",
        value_enum,
        default_value = "soft"
    )]
    pub user_delete_mode: DeleteModeArg,

    /// Run the embedded migrations at start (under an advisory lock). Set false where a
    /// separate `clerk-sync migrate` job runs them.
    #[arg(long, env = "MIGRATE_ON_START", value_name = "MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// This process's name in the consumer group; host name and pid by default.
    #[arg(
        long,
        env = "WORKER_CONSUMER_NAME",
        value_name = "WORKER_CONSUMER_NAME"
    )]
    pub consumer_name: Option<String>,

    /// Bearer token(s) of the application API, separated by spaces or commas during a
    /// rotation; set, it turns the API on. Never printed.
    #[arg(long, env = "CLERK_SYNC_API_TOKEN", value_name = "CLERK_SYNC_API_TOKEN", hide_env_values = true, value_parser = ApiTokens::parse)]
    pub api_token: Option<ApiTokens>,

    /// The application API's listener (only with CLERK_SYNC_API_TOKEN).
    #[arg(long, env = "API_BIND", value_name = "API_BIND", default_value = DEFAULT_API_BIND)]
    pub api_bind: SocketAddr,

    /// Clerk's Backend API, for the application API and the scheduled reconciliation.
    #[command(flatten)]
    pub clerk: ClerkArgs,

    /// How often one worker reconciles the database with Clerk (`6h`, `30m`); `0` turns it
    /// off. Default: 6h when CLERK_SECRET_KEY is set, else off.
    #[arg(long, env = "RECONCILE_INTERVAL", value_name = "RECONCILE_INTERVAL", value_parser = parse_interval)]
    pub reconcile_interval: Option<Duration>,

    /// How long `sync_changes` rows are kept (`7d`, `36h`); `0` keeps all.
    #[arg(long, env = "CHANGES_RETENTION", value_name = "CHANGES_RETENTION", default_value = "7d", value_parser = parse_interval)]
    pub changes_retention: Duration,

    /// How long `processed_webhooks` rows are kept (`30d`); `0` keeps all. An event delivered
    /// again after its row went changes nothing (every row keeps its newest version); keep
    /// it above Svix's retry horizon and the longest dead letters wait before a replay, so
    /// those are still recognised as duplicates by id.
    #[arg(long, env = "PROCESSED_RETENTION", value_name = "PROCESSED_RETENTION", default_value = "30d", value_parser = parse_interval)]
    pub processed_retention: Duration,

    /// How long a session is kept after it ended (signed out, removed, revoked, expired or
    /// abandoned) (`90d`); `0`, the default, keeps all. A session still going is kept
    /// however old.
    #[arg(long, env = "SESSIONS_RETENTION", value_name = "SESSIONS_RETENTION", default_value = "0", value_parser = parse_interval)]
    pub sessions_retention: Duration,

    /// How long `messages` rows (emails and SMS sent) are kept (`90d`); `0`, the default,
    /// keeps all.
    #[arg(long, env = "MESSAGES_RETENTION", value_name = "MESSAGES_RETENTION", default_value = "0", value_parser = parse_interval)]
    pub messages_retention: Duration,

    /// Settings shared by every binary.
    #[command(flatten)]
    pub common: CommonArgs,
}

fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a positive integer".into()),
    }
}

impl Settings {
    /// Resolves the settings, exiting with status 2 when they contradict each other.
    pub fn into_config(self) -> Config {
        if self.claim_idle_ms <= self.attempt_timeout_ms {
            clerk_sync_runtime::config_error(&format!(
                "CLAIM_IDLE_MS ({} ms) must be longer than ATTEMPT_TIMEOUT_MS ({} ms), the longest one attempt may take; otherwise an entry still being applied is claimed and applied twice at once",
                self.claim_idle_ms, self.attempt_timeout_ms
            ));
        }
        if let Some(lock) = self.lock_timeout_ms
            && lock >= self.attempt_timeout_ms
        {
            clerk_sync_runtime::config_error(&format!(
                "LOCK_TIMEOUT_MS ({lock} ms) must be shorter than ATTEMPT_TIMEOUT_MS ({} ms); otherwise waiting for another worker's lock counts as a failed attempt",
                self.attempt_timeout_ms
            ));
        }
        if let Some(idle) = self.idle_in_transaction_timeout_ms
            && idle >= self.claim_idle_ms
        {
            clerk_sync_runtime::config_error(&format!(
                "IDLE_IN_TRANSACTION_TIMEOUT_MS ({idle} ms) must be shorter than CLAIM_IDLE_MS ({} ms); otherwise a stalled worker still holds its locks when its entries are taken over",
                self.claim_idle_ms
            ));
        }
        let clerk = self.clerk.clerk();
        let reconcile_interval = match (self.reconcile_interval, &clerk) {
            (Some(interval), None) if !interval.is_zero() => clerk_sync_runtime::config_error(
                "CLERK_SECRET_KEY is required when RECONCILE_INTERVAL turns scheduled reconciliation on",
            ),
            (Some(interval), _) => interval,
            (None, Some(_)) => DEFAULT_RECONCILE_INTERVAL,
            (None, None) => Duration::ZERO,
        };
        let api = match (self.api_token, &clerk) {
            (None, _) => None,
            (Some(_), None) => clerk_sync_runtime::config_error(
                "CLERK_SECRET_KEY is required when CLERK_SYNC_API_TOKEN turns the application API on: it fetches users and organizations from Clerk's Backend API",
            ),
            (Some(tokens), Some(_)) => Some(ApiConfig {
                bind: self.api_bind,
                tokens,
            }),
        };
        Config {
            api,
            clerk,
            reconcile_interval,
            changes_retention: self.changes_retention,
            processed_retention: self.processed_retention,
            sessions_retention: self.sessions_retention,
            messages_retention: self.messages_retention,
            redis_url: self.common.redis_url,
            database_url: self.database_url,
            database_schema: self.database_schema,
            stream_prefix: self.common.stream_prefix,
            metrics_bind: self.metrics_bind,
            consumer_name: self.consumer_name.unwrap_or_else(default_consumer_name),
            max_attempts: self.max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(self.retry_base_ms),
                max: Duration::from_millis(self.retry_max_ms),
            },
            claim_idle: Duration::from_millis(self.claim_idle_ms),
            attempt_timeout: Duration::from_millis(self.attempt_timeout_ms),
            lock_timeout: self.lock_timeout_ms.map(Duration::from_millis),
            idle_in_transaction_timeout: self
                .idle_in_transaction_timeout_ms
                .map(Duration::from_millis),
            concurrency: self.concurrency,
            batch_size: self.batch_size.min(self.concurrency),
            user_delete_mode: match self.user_delete_mode {
                DeleteModeArg::Soft => DeleteMode::Soft,
                DeleteModeArg::Hard => DeleteMode::Hard,
            },
            migrate_on_start: self.migrate_on_start,
            read_block: Duration::from_secs(1),
        }
    }
}

/// `<host name>-<pid>`: unique per process, and recognisable in `XINFO CONSUMERS`.
pub fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

/// The application API, when `CLERK_SYNC_API_TOKEN` turns it on.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// See `API_BIND`; port 0 picks a free one.
    pub bind: SocketAddr,
    /// See `CLERK_SYNC_API_TOKEN`.
    pub tokens: ApiTokens,
}

/// Everything the worker runs with, resolved and validated. Tests build this directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// The application API; `None` serves none.
    pub api: Option<ApiConfig>,
    /// Clerk's Backend API (its key, and this process's budget of requests); required by
    /// the application API and the reconciliation.
    pub clerk: Option<Clerk>,
    /// See `RECONCILE_INTERVAL`; zero schedules none.
    pub reconcile_interval: Duration,
    /// See `CHANGES_RETENTION`; zero keeps every row.
    pub changes_retention: Duration,
    /// See `PROCESSED_RETENTION`; zero keeps every row.
    pub processed_retention: Duration,
    /// See `SESSIONS_RETENTION`; zero keeps every row.
    pub sessions_retention: Duration,
    /// See `MESSAGES_RETENTION`; zero keeps every row.
    pub messages_retention: Duration,
    /// See `REDIS_URL`.
    pub redis_url: ServiceUrl,
    /// See `DATABASE_URL`.
    pub database_url: ServiceUrl,
    /// See `DATABASE_SCHEMA`.
    pub database_schema: Schema,
    /// See `STREAM_PREFIX`.
    pub stream_prefix: String,
    /// See `WORKER_METRICS_BIND`; port 0 picks a free one.
    pub metrics_bind: SocketAddr,
    /// See `WORKER_CONSUMER_NAME`.
    pub consumer_name: String,
    /// See `MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// See `RETRY_BASE_MS` and `RETRY_MAX_MS`.
    pub backoff: Backoff,
    /// See `CLAIM_IDLE_MS`.
    pub claim_idle: Duration,
    /// See `ATTEMPT_TIMEOUT_MS`.
    pub attempt_timeout: Duration,
    /// See `LOCK_TIMEOUT_MS`; `None` derives it from `attempt_timeout`.
    pub lock_timeout: Option<Duration>,
    /// See `IDLE_IN_TRANSACTION_TIMEOUT_MS`; `None` is `attempt_timeout`.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// See `WORKER_CONCURRENCY`.
    pub concurrency: usize,
    /// See `WORKER_BATCH_SIZE`.
    pub batch_size: usize,
    /// See `USER_DELETE_MODE`.
    pub user_delete_mode: DeleteMode,
    /// See `MIGRATE_ON_START`.
    pub migrate_on_start: bool,
    /// How long one read waits for new entries: also how quickly a stop is noticed.
    pub read_block: Duration,
}

impl Config {
    /// Transactions applied at once: enough batches to keep `concurrency` events in flight.
    pub fn pipelines(&self) -> usize {
        self.concurrency.div_ceil(self.batch_size).max(1)
    }

    /// Each connection's `lock_timeout`.
    pub fn session_lock_timeout(&self) -> Duration {
        // Never zero: to PostgreSQL, a zero lock_timeout means waiting forever.
        self.lock_timeout
            .unwrap_or_else(|| {
                Duration::from_millis(DEFAULT_LOCK_TIMEOUT_MS).min(self.attempt_timeout / 2)
            })
            .max(Duration::from_millis(1))
    }

    /// Each connection's `idle_in_transaction_session_timeout`.
    pub fn session_idle_timeout(&self) -> Duration {
        self.idle_in_transaction_timeout
            .unwrap_or(self.attempt_timeout)
    }

    /// How often a pipeline tells the group it still holds its entries: well inside
    /// `claim_idle`, so a live worker's entries are never taken over.
    pub fn keep_every(&self) -> Duration {
        (self.claim_idle / 4).max(Duration::from_millis(50))
    }
}

/// `DATABASE_URL` checked as the pool will read it, kept so that it never prints whole.
fn parse_database_url(value: &str) -> Result<ServiceUrl, String> {
    clerk_sync_db::parse_database_url(value).map(ServiceUrl::new)
}
