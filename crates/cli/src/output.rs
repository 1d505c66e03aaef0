//! How commands print: tables for people, JSON for scripts, ages as "3m 12s", progress
//! bars on a terminal.

use std::time::Duration;

use clerk_sync_clerk_api::Kind;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressStyle};

/// A table with a header row, sized to the terminal.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

pub use clerk_sync_runtime::unix_ms as now_ms;

/// A duration for people, to the second: `3m 12s`, `2days 4h`.
pub fn human(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
}

/// How long ago a time in ms was.
pub fn age(at_ms: u64) -> String {
    human(now_ms().saturating_sub(at_ms))
}

/// The time in ms encoded in a stream entry id (`<ms>-<seq>`).
pub fn entry_ms(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A progress bar for reading the list of `kind`.
pub fn progress_bar(kind: Kind) -> ProgressBar {
    // Drawn on standard error, and only when it is a terminal: scripts see the summary alone.
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} {prefix:<13} {pos:>7}/{len:7} [{bar:30}] {per_sec:>10} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(kind.plural());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints a value as pretty JSON.
pub fn json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ids_read_as_people_expect() {
        assert_eq!(human(999), "999ms");
        assert_eq!(human(192_000), "3m 12s");
        assert_eq!(entry_ms("1716883200000-3"), Some(1_716_883_200_000));
        assert_eq!(entry_ms("nope"), None);
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
