//! `/metrics`, `/healthz` and `/readyz` on `WORKER_METRICS_BIND`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpResponse, web};
use clerk_sync_queue::redis;
use clerk_sync_runtime::http::{Limits, healthz, metrics_response};

use crate::metrics::{
    DLQ_LENGTH, DRIFT_OBJECTS, INSTANCE_MISMATCH, PENDING, RECONCILE_LAST_SUCCESS, RETRY_SET_SIZE,
    STREAM_LAG, STREAM_LENGTH,
};
use crate::startup::Shared;

/// Serves the probes on `listener` until the returned server is stopped.
pub(crate) fn serve(listener: TcpListener, shared: Arc<Shared>) -> std::io::Result<Server> {
    let shared = web::Data::from(shared);
    clerk_sync_runtime::http::serve(listener, Limits::INTERNAL, move |config| {
        config
            .app_data(shared.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics));
    })
}

/// 200 when both Redis and PostgreSQL answer: the worker can make progress.
async fn readyz(shared: web::Data<Shared>) -> HttpResponse {
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
    let body = serde_json::json!({"redis": redis_up, "postgres": postgres_up});
    if redis_up && postgres_up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text. The queue gauges are read at scrape time, so they are as fresh as the
/// scrape; when Redis does not answer they keep their last values.
async fn metrics(shared: web::Data<Shared>) -> HttpResponse {
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
    let mismatched = shared.guard.as_ref().is_some_and(|g| g.is_mismatched());
    metrics::gauge!(INSTANCE_MISMATCH).set(if mismatched { 1.0 } else { 0.0 });
    metrics_response(crate::metrics::handle().render())
}
