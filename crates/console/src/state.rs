//! What every handler shares: the Redis pool and keys, the PostgreSQL pool and schema, the
//! tokens, and the change feed's broadcast.

use std::sync::Arc;

use clerk_sync_db::{PgPool, PoolConfig, Schema};
use clerk_sync_mirror::ondemand::Syncer;
use clerk_sync_queue::{DeadLetters, Keys, Pool};
use tokio::sync::broadcast;

use crate::auth::Tokens;
use crate::settings::ConsoleArgs;

/// How to reach Redis and PostgreSQL, and the console's own settings.
pub struct ConsoleConfig {
    /// Redis, as every process has it.
    pub redis: Pool,
    /// The queue's keys (`STREAM_PREFIX`).
    pub keys: Keys,
    /// PostgreSQL.
    pub database: PoolConfig,
    /// `DATABASE_SCHEMA`.
    pub schema: Schema,
    /// Listener and tokens.
    pub args: ConsoleArgs,
    /// The forced refresh behind "sync now", where a Backend API key is set.
    pub syncer: Option<Arc<Syncer>>,
}

/// The console's shared state; cheap to clone.
#[derive(Clone)]
pub struct Console(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub redis: Pool,
    pub keys: Keys,
    pub dead: DeadLetters,
    pub pg: PgPool,
    pub schema: Schema,
    pub tokens: Tokens,
    /// Each committed change's id, from the one `LISTEN` connection this process keeps.
    pub changes: broadcast::Sender<i64>,
    pub syncer: Option<Arc<Syncer>>,
}

impl Console {
    /// Builds the state and starts following the change feed (a task that keeps one
    /// `LISTEN` connection, reconnecting after a loss).
    pub fn start(config: ConsoleConfig) -> Result<Self, clerk_sync_db::DbError> {
        let pg = clerk_sync_db::build_pool(&config.database)?;
        let (changes, _) = broadcast::channel(256);
        tokio::spawn(crate::feed::listen(
            config.database.clone(),
            config.schema,
            changes.clone(),
        ));
        Ok(Self(Arc::new(Inner {
            dead: DeadLetters::new(config.redis.clone(), config.keys.clone()),
            redis: config.redis,
            keys: config.keys,
            pg,
            schema: config.schema,
            tokens: Tokens::new(&config.args),
            changes,
            syncer: config.syncer,
        })))
    }
}
