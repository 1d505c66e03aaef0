//! `{prefix}:reconcile`, a hash: how far the current run got (`run`, `offset:<kind>`,
//! `done:<kind>`), what the last finished run found (`last_success_ms`, `last_drift`),
//! which every worker exports as metrics and the alerts read, and when a run was last
//! refused (`last_refused_ms`), which a schedule waits a whole interval after.

use std::collections::HashMap;

use clerk_sync_clerk_api::Kind;
use clerk_sync_queue::{Keys, Pool, redis};

use super::{ReconcileError, Report, unix_ms};

/// How far an interrupted run got with one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Objects listed so far.
    At(u64),
    /// Finished.
    Done,
}

/// The run to resume.
pub(super) struct Resumed {
    pub(super) run: i64,
    fields: HashMap<String, String>,
}

impl Resumed {
    pub(super) fn progress(&self, kind: Kind) -> Option<Progress> {
        if self.fields.contains_key(&format!("done:{}", kind.name())) {
            return Some(Progress::Done);
        }
        self.fields
            .get(&format!("offset:{}", kind.name()))
            .and_then(|offset| offset.parse().ok())
            .map(Progress::At)
    }
}

/// What the last finished run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastRun {
    /// When it finished, Unix ms.
    pub finished_ms: i64,
    /// Per kind (`users`, …): missing, stale, extra.
    pub drift: Vec<(String, usize, usize, usize)>,
}

pub(super) struct Checkpoint {
    redis: Pool,
    key: String,
}

impl Checkpoint {
    pub(super) fn new(redis: Pool, keys: Keys) -> Self {
        Self {
            redis,
            key: keys.reconcile(),
        }
    }

    async fn conn(
        &self,
    ) -> Result<
        impl std::ops::DerefMut<Target = impl redis::aio::ConnectionLike + Send>,
        ReconcileError,
    > {
        self.redis
            .get()
            .await
            .map_err(|e| ReconcileError::Queue(e.to_string()))
    }

    /// The interrupted run, if there is one.
    pub(super) async fn interrupted(&self) -> Result<Option<Resumed>, ReconcileError> {
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.key)
            .query_async(&mut *conn)
            .await
            .map_err(queue_error)?;
        Ok(fields
            .get("run")
            .and_then(|run| run.parse().ok())
            .map(|run| Resumed { run, fields }))
    }

    /// Forgets any interrupted run and starts `run`.
    pub(super) async fn start(&self, run: i64) -> Result<(), ReconcileError> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        clear_progress(&mut pipe, &self.key);
        pipe.hset(&self.key, "run", run).ignore();
        pipe.query_async::<()>(&mut *conn)
            .await
            .map_err(queue_error)
    }

    /// Every object of `kind` up to `offset` has been listed and its repair queued.
    pub(super) async fn reached(&self, kind: Kind, offset: u64) -> Result<(), ReconcileError> {
        self.set(&format!("offset:{}", kind.name()), offset.to_string())
            .await
    }

    /// `kind` is finished.
    pub(super) async fn done(&self, kind: Kind) -> Result<(), ReconcileError> {
        self.set(&format!("done:{}", kind.name()), "1".into()).await
    }

    async fn set(&self, field: &str, value: String) -> Result<(), ReconcileError> {
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(&self.key)
            .arg(field)
            .arg(value)
            .query_async::<()>(&mut *conn)
            .await
            .map_err(queue_error)
    }

    /// The run finished: its progress goes, what it found stays for the metrics.
    pub(super) async fn finish(&self, report: &Report) -> Result<(), ReconcileError> {
        let drift: Vec<serde_json::Value> = report
            .kinds
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kind": k.kind, "missing": k.missing.len(), "stale": k.stale.len(),
                    "extra": k.extra.len(),
                })
            })
            .collect();
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        clear_progress(&mut pipe, &self.key);
        pipe.hset(&self.key, "last_success_ms", unix_ms())
            .ignore()
            .hset(
                &self.key,
                "last_drift",
                serde_json::Value::from(drift).to_string(),
            )
            .ignore();
        pipe.query_async::<()>(&mut *conn)
            .await
            .map_err(queue_error)
    }
}

impl Checkpoint {
    /// The run was refused: its progress goes, and when is kept, so a schedule does not
    /// start it again at once.
    pub(super) async fn refused(&self) -> Result<(), ReconcileError> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        clear_progress(&mut pipe, &self.key);
        pipe.hset(&self.key, "last_refused_ms", unix_ms()).ignore();
        pipe.query_async::<()>(&mut *conn)
            .await
            .map_err(queue_error)
    }
}

fn clear_progress(pipe: &mut redis::Pipeline, key: &str) {
    pipe.hdel(key, "run").ignore();
    for kind in Kind::ALL {
        pipe.hdel(key, format!("offset:{}", kind.name())).ignore();
        pipe.hdel(key, format!("done:{}", kind.name())).ignore();
    }
}

fn queue_error(error: redis::RedisError) -> ReconcileError {
    ReconcileError::Queue(error.to_string())
}

/// When a run under `keys` was last refused, Unix ms.
pub async fn last_refusal_ms(redis: &Pool, keys: &Keys) -> Result<Option<i64>, ReconcileError> {
    let mut conn = redis
        .get()
        .await
        .map_err(|e| ReconcileError::Queue(e.to_string()))?;
    redis::cmd("HGET")
        .arg(keys.reconcile())
        .arg("last_refused_ms")
        .query_async(&mut *conn)
        .await
        .map_err(queue_error)
}

/// Whether a run under `keys` was interrupted and waits to be resumed.
pub async fn interrupted(redis: &Pool, keys: &Keys) -> Result<bool, ReconcileError> {
    let run = Checkpoint::new(redis.clone(), keys.clone())
        .interrupted()
        .await?;
    Ok(run.is_some())
}

/// The last finished run under `keys`, if there was one.
pub async fn last_run(redis: &Pool, keys: &Keys) -> Result<Option<LastRun>, redis::RedisError> {
    let Ok(mut conn) = redis.get().await else {
        return Ok(None);
    };
    let (finished, drift): (Option<i64>, Option<String>) = redis::cmd("HMGET")
        .arg(keys.reconcile())
        .arg("last_success_ms")
        .arg("last_drift")
        .query_async(&mut *conn)
        .await?;
    let Some(finished_ms) = finished else {
        return Ok(None);
    };
    let drift = drift
        .and_then(|d| serde_json::from_str::<Vec<serde_json::Value>>(&d).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|k| {
            let count = |field: &str| k[field].as_u64().unwrap_or(0) as usize;
            Some((
                k["kind"].as_str()?.to_owned(),
                count("missing"),
                count("stale"),
                count("extra"),
            ))
        })
        .collect();
    Ok(Some(LastRun { finished_ms, drift }))
}
