//! The receiver's Prometheus metrics. Names carry units; labels stay low-cardinality.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests to `/webhooks/clerk`, by answered status.
pub const REQUESTS_TOTAL: &str = "clerk_sync_receiver_requests_total";
/// Requests refused by verification, by reason (the error code).
pub const VERIFICATION_FAILURES_TOTAL: &str = "clerk_sync_receiver_verification_failures_total";
/// Time from handing an event to Redis to its answer.
pub const ENQUEUE_DURATION_SECONDS: &str = "clerk_sync_receiver_enqueue_duration_seconds";

/// Unix seconds of the last webhook answered 2xx (queued or duplicate): the age of this is
/// how long Clerk has delivered nothing, which no error counter can show.
pub const LAST_ACCEPTED_TIMESTAMP_SECONDS: &str =
    "clerk_sync_receiver_last_accepted_timestamp_seconds";

/// Every status the webhook route answers, so each series exists (at 0) from start.
const STATUSES: &[&str] = &["200", "202", "400", "401", "408", "413", "503"];
/// Every verification failure reason (see [`crate::ApiError::code`]).
const REASONS: &[&str] = &[
    "missing_header",
    "malformed_header",
    "invalid_signature",
    "timestamp_out_of_tolerance",
];

/// The process-wide recorder, with its upkeep running. Installed on first use, so several
/// applications in one test process share it. Every labelled series is registered at 0,
/// so a dashboard or an alert sees 0 rather than no data before the first event.
pub fn handle() -> PrometheusHandle {
    let handle = clerk_sync_runtime::install_prometheus(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(ENQUEUE_DURATION_SECONDS.to_owned()),
                &[
                    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                    1.0, 2.5,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new())
    });
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        for status in STATUSES {
            metrics::counter!(REQUESTS_TOTAL, "status" => *status).increment(0);
        }
        for reason in REASONS {
            metrics::counter!(VERIFICATION_FAILURES_TOTAL, "reason" => *reason).increment(0);
        }
        metrics::gauge!(LAST_ACCEPTED_TIMESTAMP_SECONDS).set(0.0);
    });
    handle
}

/// The series every webhook request records, looked up once: a lookup by name and labels
/// costs more than the increment itself.
pub struct Webhook {
    requests: Vec<(StatusCode, Counter)>,
    pub last_accepted: Gauge,
    pub enqueue_duration: Histogram,
}

impl Webhook {
    /// Counts one request answered `status`.
    pub fn count_request(&self, status: StatusCode) {
        match self.requests.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.increment(1),
            None => metrics::counter!(REQUESTS_TOTAL, "status" => status.as_str().to_owned())
                .increment(1),
        }
    }
}

/// The webhook route's series, registered with the recorder on first use.
pub fn webhook() -> &'static Webhook {
    static WEBHOOK: OnceLock<Webhook> = OnceLock::new();
    WEBHOOK.get_or_init(|| {
        handle();
        Webhook {
            requests: STATUSES
                .iter()
                .filter_map(|s| StatusCode::from_bytes(s.as_bytes()).ok())
                .map(|status| {
                    let counter =
                        metrics::counter!(REQUESTS_TOTAL, "status" => status.as_str().to_owned());
                    (status, counter)
                })
                .collect(),
            last_accepted: metrics::gauge!(LAST_ACCEPTED_TIMESTAMP_SECONDS),
            enqueue_duration: metrics::histogram!(ENQUEUE_DURATION_SECONDS),
        }
    })
}
