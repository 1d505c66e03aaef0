//! What every clerk-sync process does before and after its real work: read its settings
//! from the environment (failing in one line with exit status 2), start tracing in the
//! configured format, turn SIGTERM/SIGINT into a future the main loop can select on, and
//! install the Prometheus recorder with its upkeep; and the full-jitter [`Backoff`] every
//! retry loop uses.

mod backoff;
mod clock;
mod healthcheck;
pub mod http;
mod prometheus;
mod service_url;
mod settings;
mod shutdown;
mod telemetry;

pub use backoff::Backoff;
pub use clock::unix_ms;
pub use healthcheck::healthcheck;
pub use prometheus::install_prometheus;
pub use service_url::ServiceUrl;
pub use settings::{
    CommonArgs, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, DEFAULT_STREAM_PREFIX, config_error,
    parse_interval, parse_or_exit,
};
pub use shutdown::shutdown_signal;
pub use telemetry::{LogFormat, LogGuard, init_cli_tracing, init_tracing};
