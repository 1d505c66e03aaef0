//! PostgreSQL outages: while the database is unreachable, every pipeline stops taking
//! events and one prober checks, with backoff, until it answers again.

use std::sync::Arc;
use std::time::Duration;

use clerk_sync_db::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Backoff;
use crate::metrics::POSTGRES_UP;

/// Probes start fast and settle at a few seconds apart.
const PROBE_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(200),
    max: Duration::from_secs(5),
};

/// Whether PostgreSQL is taken to be up, shared by every pipeline of one worker.
#[derive(Clone)]
pub(crate) struct DatabaseHealth {
    up: Arc<watch::Sender<bool>>,
    pool: PgPool,
}

impl DatabaseHealth {
    pub(crate) fn new(pool: PgPool) -> Self {
        metrics::gauge!(POSTGRES_UP).set(1.0);
        Self {
            up: Arc::new(watch::Sender::new(true)),
            pool,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Records an outage and, if no prober runs yet, starts one.
    pub(crate) fn mark_down(&self, reason: &str, shutdown: &CancellationToken) {
        let was_up = self.up.send_replace(false);
        if !was_up {
            return;
        }
        metrics::gauge!(POSTGRES_UP).set(0.0);
        tracing::error!(
            reason,
            "PostgreSQL is unavailable; holding off until it answers"
        );
        let this = self.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { this.probe_until_up(shutdown).await });
    }

    /// Waits until PostgreSQL is up; `false` when the worker is stopping instead.
    pub(crate) async fn wait_until_up(&self, shutdown: &CancellationToken) -> bool {
        let mut up = self.up.subscribe();
        tokio::select! {
            result = up.wait_for(|up| *up) => result.is_ok(),
            () = shutdown.cancelled() => false,
        }
    }

    async fn probe_until_up(&self, shutdown: CancellationToken) {
        let mut attempt = 0;
        loop {
            let wait = PROBE_BACKOFF.delay(attempt).max(Duration::from_millis(50));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            if clerk_sync_db::ping(&self.pool).await.is_ok() {
                tracing::info!("PostgreSQL answers again; resuming");
                metrics::gauge!(POSTGRES_UP).set(1.0);
                self.up.send_replace(true);
                return;
            }
            attempt = attempt.saturating_add(1).min(16);
        }
    }
}
