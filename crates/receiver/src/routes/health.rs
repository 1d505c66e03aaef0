//! `/readyz` and `/metrics`; `/healthz` is every listener's own (`runtime::http`).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use clerk_sync_queue::redis;

use crate::startup::AppState;

/// 200 when Redis answers a PING within a second, 503 otherwise: a readiness probe.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = async {
        let mut conn = state
            .pool
            .get()
            .await
            .map_err(|error| tracing::debug!(%error, "readiness: no Redis connection"))
            .ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut *conn)
            .await
            .map_err(|error| tracing::debug!(%error, "readiness: PING failed"))
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Some(_)) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        _ => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "error": "queue_unavailable"})),
    }
}

/// Prometheus text exposition.
pub async fn metrics() -> HttpResponse {
    clerk_sync_runtime::http::metrics_response(crate::metrics::handle().render())
}
