//! `/metrics`, `/healthz` and `/readyz` on `WORKER_METRICS_BIND`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clerk_sync_queue::redis;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{
    DLQ_LENGTH, DRIFT_OBJECTS, PENDING, RECONCILE_LAST_SUCCESS, RETRY_SET_SIZE, STREAM_LAG,
    STREAM_LENGTH,
};
use crate::startup::Shared;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// 200 while the process runs.
async fn healthz() -> impl IntoResponse {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
}

/// 200 when both Redis and PostgreSQL answer: the worker can make progress.
async fn readyz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let redis_up = tokio::time::timeout(Duration::from_secs(1), async {
        let mut conn = shared.redis.get().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut *conn)
            .await
            .ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let postgres_up = shared.health.is_up()
        && tokio::time::timeout(Duration::from_secs(1), clerk_sync_db::ping(&shared.db))
            .await
            .is_ok_and(|r| r.is_ok());
    let status = if redis_up && postgres_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({"redis": redis_up, "postgres": postgres_up})),
    )
}

/// Prometheus text. The queue gauges are read at scrape time, so they are as fresh as the
/// scrape; when Redis does not answer they keep their last values.
async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let stats = tokio::time::timeout(
        Duration::from_secs(1),
        clerk_sync_queue::queue_stats(&shared.redis, &shared.keys),
    )
    .await;
    if let Ok(Ok(stats)) = stats {
        metrics::gauge!(STREAM_LENGTH).set(stats.stream_length as f64);
        if let Some(lag) = stats.lag {
            metrics::gauge!(STREAM_LAG).set(lag as f64);
        }
        metrics::gauge!(PENDING).set(stats.pending as f64);
        metrics::gauge!(RETRY_SET_SIZE).set(stats.retry_size as f64);
        metrics::gauge!(DLQ_LENGTH).set(stats.dlq_length as f64);
    }
    let last = tokio::time::timeout(
        Duration::from_secs(1),
        clerk_sync_mirror::reconcile::last_run(&shared.redis, &shared.keys),
    )
    .await;
    if let Ok(Ok(Some(last))) = last {
        metrics::gauge!(RECONCILE_LAST_SUCCESS).set(last.finished_ms as f64 / 1000.0);
        for (kind, missing, stale, extra) in last.drift {
            for (drift, count) in [("missing", missing), ("stale", stale), ("extra", extra)] {
                metrics::gauge!(DRIFT_OBJECTS, "kind" => kind.clone(), "drift" => drift)
                    .set(count as f64);
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
}
