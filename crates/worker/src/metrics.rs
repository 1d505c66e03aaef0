//! The worker's Prometheus metrics. Names carry units; labels stay low-cardinality (event
//! types are Clerk's fixed set, anything else is `other`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Events settled, by `type` and `outcome` (see [`OUTCOMES`]).
pub const EVENTS_TOTAL: &str = "clerk_sync_worker_events_total";
/// Time one batch's transaction took.
pub const APPLY_DURATION_SECONDS: &str = "clerk_sync_worker_apply_duration_seconds";
/// From the receiver accepting an event to its transaction committing.
pub const END_TO_END_SECONDS: &str = "clerk_sync_worker_end_to_end_seconds";
/// Events per transaction.
pub const BATCH_SIZE: &str = "clerk_sync_worker_batch_size";
/// Entries in the events stream.
pub const STREAM_LENGTH: &str = "clerk_sync_worker_stream_length";
/// Entries not yet delivered to the group.
pub const STREAM_LAG: &str = "clerk_sync_worker_stream_lag";
/// Entries delivered and not yet settled.
pub const PENDING: &str = "clerk_sync_worker_pending";
/// Events waiting for a retry.
pub const RETRY_SET_SIZE: &str = "clerk_sync_worker_retry_set_size";
/// Dead letters.
pub const DLQ_LENGTH: &str = "clerk_sync_worker_dlq_length";
/// 1 while PostgreSQL answers, 0 during an outage.
pub const POSTGRES_UP: &str = "clerk_sync_worker_postgres_up";
/// Entries taken over from idle consumers.
pub const CLAIMED_TOTAL: &str = "clerk_sync_worker_claimed_total";
/// Retries moved back onto the stream.
pub const PROMOTED_TOTAL: &str = "clerk_sync_worker_promoted_total";

/// Application API requests, by `route` (its template) and answered `status`.
pub const API_REQUESTS_TOTAL: &str = "clerk_sync_api_requests_total";
pub use clerk_sync_mirror::metrics::BACKEND_CALLS_TOTAL;
/// The application API's routes, as the `route` label spells them.
pub const API_ROUTES: &[&str] = &[
    "/v1/users/{id}",
    "/v1/sync/users/{id}",
    "/v1/organizations/{id}",
    "/v1/sync/organizations/{id}",
];
/// Every status the application API answers.
pub const API_STATUSES: &[&str] = &["200", "400", "401", "404", "500", "503"];

/// When the last reconciliation finished, Unix seconds (0: never), as recorded in Redis:
/// every worker exports the same value.
pub const RECONCILE_LAST_SUCCESS: &str = "clerk_sync_reconcile_last_success_timestamp_seconds";
/// `RECONCILE_INTERVAL` of this worker, seconds (0: it schedules none).
pub const RECONCILE_INTERVAL_SECONDS: &str = "clerk_sync_reconcile_interval_seconds";
/// Objects out of step found by the last reconciliation, by `kind` (users, organizations,
/// memberships) and `drift` (missing, stale, extra).
pub const DRIFT_OBJECTS: &str = "clerk_sync_drift_objects";
/// 1 while this worker's `CLERK_SECRET_KEY` belongs to another Clerk instance than the one
/// the database mirrors (its API fetches nothing, its reconciliation runs none).
pub const INSTANCE_MISMATCH: &str = "clerk_sync_clerk_instance_mismatch";
pub use clerk_sync_mirror::metrics::REFUSALS_TOTAL;
/// Scheduled reconciliations this worker ran, by `outcome` (ok, failed).
pub const RECONCILE_RUNS_TOTAL: &str = "clerk_sync_reconcile_runs_total";
/// The `kind` label of [`DRIFT_OBJECTS`].
pub const DRIFT_KINDS: &[&str] = &["users", "organizations", "memberships"];

/// Every `outcome` of [`EVENTS_TOTAL`].
pub const OUTCOMES: &[&str] = &[
    "applied",
    "stale",
    "duplicate",
    "ignored",
    "retried",
    "postponed",
    "dead_lettered",
];

/// The process-wide recorder, with its upkeep running; installed on first use so several
/// workers in one test process share it. Every labelled series is registered at 0 (each
/// Clerk event type, and `other`, by each outcome), so a dashboard or an alert sees 0 rather
/// than no data before the first event.
pub fn handle() -> PrometheusHandle {
    let handle = clerk_sync_runtime::install_prometheus(|| {
        let latency = [
            0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(APPLY_DURATION_SECONDS.into()), &latency)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(END_TO_END_SECONDS.into()), &latency)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(BATCH_SIZE.into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new())
    });
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        let types = clerk_sync_events::CLERK_EVENT_TYPES
            .iter()
            .copied()
            .chain(["other"]);
        for event_type in types {
            for outcome in OUTCOMES {
                metrics::counter!(EVENTS_TOTAL, "type" => event_type, "outcome" => *outcome)
                    .increment(0);
            }
        }
        for name in [CLAIMED_TOTAL, PROMOTED_TOTAL] {
            metrics::counter!(name).increment(0);
        }
        for route in API_ROUTES {
            for status in API_STATUSES {
                metrics::counter!(API_REQUESTS_TOTAL, "route" => *route, "status" => *status)
                    .increment(0);
            }
        }
        for status in clerk_sync_mirror::metrics::BACKEND_CALL_STATUSES {
            metrics::counter!(BACKEND_CALLS_TOTAL, "status" => *status).increment(0);
        }
        for outcome in ["ok", "failed"] {
            metrics::counter!(RECONCILE_RUNS_TOTAL, "outcome" => outcome).increment(0);
        }
        metrics::gauge!(RECONCILE_LAST_SUCCESS).set(0.0);
        metrics::gauge!(INSTANCE_MISMATCH).set(0.0);
        for reason in clerk_sync_mirror::metrics::REFUSAL_REASONS {
            metrics::counter!(REFUSALS_TOTAL, "reason" => *reason).increment(0);
        }
        for kind in DRIFT_KINDS {
            for drift in ["missing", "stale", "extra"] {
                metrics::gauge!(DRIFT_OBJECTS, "kind" => *kind, "drift" => drift).set(0.0);
            }
        }
    });
    handle
}

/// The `type` label: Clerk's event types as they are, anything else folded into `other`.
pub fn type_label(event_type: &str) -> String {
    if clerk_sync_events::is_clerk_type(event_type) {
        event_type.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts one settled event.
pub fn settled(event_type: &str, outcome: &'static str) {
    metrics::counter!(EVENTS_TOTAL, "type" => type_label(event_type), "outcome" => outcome)
        .increment(1);
}
