//! Logging: one line per event, as text or JSON.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

impl LogFormat {
    /// The SPEC's default: JSON unless a person is watching.
    pub fn detect() -> Self {
        if std::io::stdout().is_terminal() {
            Self::Pretty
        } else {
            Self::Json
        }
    }
}

/// Lines waiting for the writer at most: about 2.5 MB of JSON lines, a third of a second of the
/// receiver's logging at saturation.
const LOG_LINES_BUFFERED: usize = 8 * 1024;

/// Keeps the log writer running; dropping it flushes what is still buffered. `main` holds it
/// until the process ends.
#[must_use = "log lines still buffered are lost when the guard is dropped early"]
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Starts the global subscriber. `RUST_LOG` refines the level; the default is `info`.
///
/// Lines are written by a thread of their own, so a request or a batch never waits on the
/// write(2) to stdout, and under load many lines leave in one write instead of one each.
/// At most `LOG_LINES_BUFFERED` lines wait: when the log sink stalls longer than that,
/// further lines are dropped rather than stalling the events or growing memory without
/// bound (a flood of refused requests logs a line each).
///
/// Called once per process, by `main`; a second call (tests building several apps) does
/// not replace the first subscriber.
pub fn init_tracing(format: Option<LogFormat>) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .thread_name("log-writer")
        .buffered_lines_limit(LOG_LINES_BUFFERED)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(writer);
    let _ = match format.unwrap_or_else(LogFormat::detect) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    LogGuard(guard)
}

/// Tracing for the CLI: warnings and errors only (RUST_LOG refines), on stderr, so stdout
/// carries nothing but the command's output, which scripts may parse.
pub fn init_cli_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
}
