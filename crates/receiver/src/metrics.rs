//! The receiver's Prometheus metrics. Names carry units; labels stay low-cardinality.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests to `/webhooks/clerk`, by answered status.
pub const REQUESTS_TOTAL: &str = "clerk_sync_receiver_requests_total";
/// Requests refused by verification, by reason (the error code).
pub const VERIFICATION_FAILURES_TOTAL: &str = "clerk_sync_receiver_verification_failures_total";
/// Time from handing an event to Redis to its answer.
pub const ENQUEUE_DURATION_SECONDS: &str = "clerk_sync_receiver_enqueue_duration_seconds";

/// The process-wide recorder. Installed on first use, so several applications in one test
/// process share it instead of panicking on a second install.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(ENQUEUE_DURATION_SECONDS.to_owned()),
                    &[
                        0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                        0.5, 1.0, 2.5,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed; ours is then simply not global.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
