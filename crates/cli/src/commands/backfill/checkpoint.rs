//! `{prefix}:backfill`, a hash: how far a backfill got (`offset:<kind>`, objects listed and
//! queued; `done:<kind>`), so a run interrupted (SIGINT, a crash, a 5xx storm) and started
//! again with `--resume` goes on from the last page it had queued. A run that finishes
//! deletes it; a run without `--resume` starts over.

use std::collections::HashMap;

use anyhow::Context as _;
use clerk_sync_clerk_api::Kind;
use clerk_sync_queue::{Keys, Pool, redis};

/// Where an interrupted backfill stopped.
pub(super) struct Checkpoint {
    redis: Pool,
    key: String,
    fields: HashMap<String, String>,
}

/// How far one kind got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Nothing recorded: from the start.
    Start,
    /// Objects listed and queued so far.
    At(u64),
    /// Finished.
    Done,
}

impl Checkpoint {
    /// The recorded progress with `resume`; otherwise forgets it and starts over.
    pub(super) async fn open(redis: Pool, keys: &Keys, resume: bool) -> anyhow::Result<Self> {
        let key = keys.backfill();
        let mut conn = redis.get().await.context("cannot reach Redis")?;
        let fields: HashMap<String, String> = if resume {
            redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut *conn)
                .await?
        } else {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut *conn)
                .await?;
            HashMap::new()
        };
        drop(conn);
        Ok(Self { redis, key, fields })
    }

    pub(super) fn progress(&self, kind: Kind) -> Progress {
        if self.fields.contains_key(&format!("done:{}", kind.name())) {
            return Progress::Done;
        }
        self.fields
            .get(&format!("offset:{}", kind.name()))
            .and_then(|offset| offset.parse().ok())
            .map_or(Progress::Start, Progress::At)
    }

    /// Every object of `kind` up to `offset` is queued.
    pub(super) async fn reached(&self, kind: Kind, offset: u64) -> anyhow::Result<()> {
        self.set(&format!("offset:{}", kind.name()), offset.to_string())
            .await
    }

    /// `kind` is finished.
    pub(super) async fn done(&self, kind: Kind) -> anyhow::Result<()> {
        self.set(&format!("done:{}", kind.name()), "1".into()).await
    }

    /// The whole backfill is finished: nothing to resume.
    pub(super) async fn finish(&self) -> anyhow::Result<()> {
        let mut conn = self.redis.get().await.context("cannot reach Redis")?;
        redis::cmd("DEL")
            .arg(&self.key)
            .query_async::<()>(&mut *conn)
            .await?;
        Ok(())
    }

    async fn set(&self, field: &str, value: String) -> anyhow::Result<()> {
        let mut conn = self.redis.get().await.context("cannot reach Redis")?;
        redis::cmd("HSET")
            .arg(&self.key)
            .arg(field)
            .arg(value)
            .query_async::<()>(&mut *conn)
            .await
            .context("cannot record the backfill's progress")?;
        Ok(())
    }
}
