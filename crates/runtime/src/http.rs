//! What every listener of every process shares: one way to serve (actix-web, with bounds on
//! slow and idle clients and on connections), one error body, one liveness answer, and
//! Prometheus text.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::ServiceConfig;
use actix_web::{App, HttpResponse, HttpServer, web};

/// How a listener treats its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection that has not sent a whole request head this long after it opened (or
    /// after its previous request) is closed.
    pub request_head: Duration,
    /// A keep-alive connection idle this long is closed.
    pub idle: Duration,
    /// Connections open at once at most; more wait in the kernel's backlog.
    pub connections: usize,
    /// Threads serving requests; `None`, one per core.
    pub workers: Option<usize>,
    /// Whether a client that closes its side of the connection is still answered. Off, its
    /// request is dropped there: a caller that has given up no longer costs anything.
    pub answer_half_closed: bool,
}

impl Limits {
    /// For the worker's API and probes, and the console: 10 s for a request head, 60 s of
    /// idleness, a few hundred connections, on one thread (they are light), and a request
    /// dropped as soon as its client hangs up.
    pub const INTERNAL: Self = Self {
        request_head: Duration::from_secs(10),
        idle: Duration::from_secs(60),
        connections: 256,
        workers: Some(1),
        answer_half_closed: false,
    };

    /// For the receiver: 5 s for a request head (bodies have their own bound in the
    /// handler), 75 s of idleness, so a sender's pooled connections outlive its pauses,
    /// every core, and a request answered even when its sender has half-closed: once a body
    /// is read, its entry is enqueued and the outcome reported.
    pub const RECEIVER: Self = Self {
        request_head: Duration::from_secs(5),
        idle: Duration::from_secs(75),
        connections: 25_000,
        workers: None,
        answer_half_closed: true,
    };
}

/// Serves `routes` on `listener` within `limits`; anything else answers 404 with the
/// common error body. Signals are the caller's: stop the returned server's handle.
pub fn serve<F>(listener: TcpListener, limits: Limits, routes: F) -> std::io::Result<Server>
where
    F: Fn(&mut ServiceConfig) + Send + Clone + 'static,
{
    let mut server = HttpServer::new(move || {
        App::new()
            .configure(routes.clone())
            .default_service(web::to(|| async {
                error_response(StatusCode::NOT_FOUND, "not_found", "no such route", None)
            }))
    })
    .client_request_timeout(limits.request_head)
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(limits.idle)
    .max_connections(limits.connections)
    .h1_allow_half_closed(limits.answer_half_closed)
    .shutdown_timeout(30)
    .disable_signals();
    if let Some(workers) = limits.workers {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}

/// The error body every listener answers: `{"error": code, "message": …}` (the message
/// where there is one to give), with `Retry-After` (whole seconds, at least 1) when a later
/// try may succeed.
pub fn error_response<'a>(
    status: StatusCode,
    code: &str,
    message: impl Into<Option<&'a str>>,
    retry_after: Option<Duration>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Some(wait) = retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds.max(1))));
    }
    match message.into() {
        Some(message) => response.json(serde_json::json!({"error": code, "message": message})),
        None => response.json(serde_json::json!({"error": code})),
    }
}

/// `GET /healthz`: 200 while the process runs, whatever its dependencies say.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Prometheus text exposition.
pub fn metrics_response(text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn errors_carry_a_stable_code_and_a_whole_retry_after() {
        let response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "try again later",
            Some(Duration::from_millis(1500)),
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
        let body = to_bytes(response.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "upstream_unavailable", "message": "try again later"})
        );
        let short = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "x",
            "y",
            Some(Duration::ZERO),
        );
        assert_eq!(short.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
