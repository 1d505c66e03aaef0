//! The Prometheus recorder both daemons install, and its upkeep.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How often histograms are drained into their buckets. Without upkeep, samples recorded
/// between scrapes accumulate: memory then grows with traffic whenever nothing scrapes
/// `/metrics` (the compose stack scrapes nothing until Prometheus is up, or at all).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs `builder`'s recorder as the process's global one, once (several applications in
/// one test process share it), and starts its upkeep on a thread of its own, so it runs
/// whatever the async runtime is doing. Returns the handle `/metrics` renders.
pub fn install_prometheus(builder: impl FnOnce() -> PrometheusBuilder) -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed; ours is then simply not global.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start the metrics upkeep thread; memory grows until /metrics is scraped");
            }
            handle
        })
        .clone()
}
