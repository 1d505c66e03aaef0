//! A run's record in `{prefix}:reconcile` (the queue crate's [`Progress`]): how far the
//! current run got (`run`, `offset:<kind>`, `done:<kind>`), what the last finished run found
//! (`last_success_ms`, `last_drift`), which every worker exports as metrics and the alerts
//! read, and when a run was last refused (`last_refused_ms`), which a schedule waits a whole
//! interval after.

use clerk_sync_clerk_api::Kind;
use clerk_sync_queue::{Keys, Pool, Position, Progress, ProgressError, Recorded};
use clerk_sync_runtime::unix_ms;

use super::{ReconcileError, Report};

/// The run to resume.
pub(super) struct Resumed {
    pub(super) run: i64,
    recorded: Recorded,
}

impl Resumed {
    pub(super) fn position(&self, kind: Kind) -> Position {
        self.recorded.position(kind.plural())
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

fn lists() -> Vec<&'static str> {
    Kind::ALL.iter().map(|kind| kind.plural()).collect()
}

impl From<ProgressError> for ReconcileError {
    fn from(error: ProgressError) -> Self {
        ReconcileError::Queue(error.to_string())
    }
}

pub(super) struct Checkpoint(Progress);

impl Checkpoint {
    pub(super) fn new(redis: Pool, keys: &Keys) -> Self {
        Self(Progress::reconcile(redis, keys))
    }

    /// The interrupted run, if there is one.
    pub(super) async fn interrupted(&self) -> Result<Option<Resumed>, ReconcileError> {
        let recorded = self.0.recorded().await?;
        Ok(recorded.get("run").map(|run| Resumed { run, recorded }))
    }

    /// Forgets any interrupted run and starts `run`.
    pub(super) async fn start(&self, run: i64) -> Result<(), ReconcileError> {
        let set = [("run".to_owned(), run.to_string())];
        Ok(self.0.restart(&lists(), &["run"], &set).await?)
    }

    /// Every object of `kind` up to `offset` has been listed and its repair queued.
    pub(super) async fn reached(&self, kind: Kind, offset: u64) -> Result<(), ReconcileError> {
        Ok(self.0.reached(kind.plural(), offset).await?)
    }

    /// `kind` is finished.
    pub(super) async fn done(&self, kind: Kind) -> Result<(), ReconcileError> {
        Ok(self.0.done(kind.plural()).await?)
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
        let set = [
            ("last_success_ms".to_owned(), unix_ms().to_string()),
            (
                "last_drift".to_owned(),
                serde_json::Value::from(drift).to_string(),
            ),
        ];
        Ok(self.0.restart(&lists(), &["run"], &set).await?)
    }

    /// The run was refused: its progress goes, and when is kept, so a schedule does not
    /// start it again at once.
    pub(super) async fn refused(&self) -> Result<(), ReconcileError> {
        let set = [("last_refused_ms".to_owned(), unix_ms().to_string())];
        Ok(self.0.restart(&lists(), &["run"], &set).await?)
    }
}

/// When a run under `keys` was last refused, Unix ms.
pub async fn last_refusal_ms(redis: &Pool, keys: &Keys) -> Result<Option<i64>, ReconcileError> {
    Ok(Progress::reconcile(redis.clone(), keys)
        .get("last_refused_ms")
        .await?)
}

/// Whether a run under `keys` was interrupted and waits to be resumed.
pub async fn interrupted(redis: &Pool, keys: &Keys) -> Result<bool, ReconcileError> {
    let run = Checkpoint::new(redis.clone(), keys).interrupted().await?;
    Ok(run.is_some())
}

/// The last finished run under `keys`, if there was one.
pub async fn last_run(redis: &Pool, keys: &Keys) -> Result<Option<LastRun>, ProgressError> {
    let progress = Progress::reconcile(redis.clone(), keys);
    let recorded = progress.recorded().await?;
    let Some(finished_ms) = recorded.get("last_success_ms") else {
        return Ok(None);
    };
    let drift = recorded
        .get::<String>("last_drift")
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
