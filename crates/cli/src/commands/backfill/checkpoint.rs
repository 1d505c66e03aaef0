//! `{prefix}:backfill` (the queue crate's [`Progress`]): how far a backfill got, so a run
//! interrupted (SIGINT, a crash, a 5xx storm) and started again with `--resume` goes on from
//! the last page it had queued. A run that finishes deletes it; a run without `--resume`
//! starts over.

use clerk_sync_clerk_api::Kind;
use clerk_sync_queue::{Keys, Pool, Position, Progress, Recorded};

/// Where an interrupted backfill stopped.
pub(super) struct Checkpoint {
    progress: Progress,
    recorded: Recorded,
}

impl Checkpoint {
    /// The recorded progress with `resume`; otherwise forgets it and starts over.
    pub(super) async fn open(redis: Pool, keys: &Keys, resume: bool) -> anyhow::Result<Self> {
        let progress = Progress::backfill(redis, keys);
        let recorded = if resume {
            progress.recorded().await?
        } else {
            progress.clear().await?;
            Recorded::default()
        };
        Ok(Self { progress, recorded })
    }

    pub(super) fn position(&self, kind: Kind) -> Position {
        self.recorded.position(kind.plural())
    }

    /// Every object of `kind` up to `offset` is queued.
    pub(super) async fn reached(&self, kind: Kind, offset: u64) -> anyhow::Result<()> {
        Ok(self.progress.reached(kind.plural(), offset).await?)
    }

    /// `kind` is finished.
    pub(super) async fn done(&self, kind: Kind) -> anyhow::Result<()> {
        Ok(self.progress.done(kind.plural()).await?)
    }

    /// The whole backfill is finished: nothing to resume.
    pub(super) async fn finish(&self) -> anyhow::Result<()> {
        Ok(self.progress.clear().await?)
    }
}
