//! Runs summarised the way BENCHMARKS.md records them: the median of the runs, with the
//! lowest and highest, and the ratios to the ceilings measured in the same runs.

use std::fmt::Write as _;

/// One run's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub receiver_rps: f64,
    pub receiver_p50_ms: f64,
    pub receiver_p99_ms: f64,
    pub receiver_p999_ms: f64,
    pub receiver_non_202: u64,
    pub bare_rps: f64,
    pub receiver_group: f64,
    pub paced_p50_ms: f64,
    pub paced_p99_ms: f64,
    pub e2e_p50_ms: f64,
    pub e2e_p99_ms: f64,
    pub drain_one: f64,
    pub drain_two: f64,
    pub drain_one_budget: f64,
    pub drain_two_budget: f64,
    pub receiver_rss_mib: f64,
    pub worker_rss_mib: f64,
    pub redis_xadd: f64,
    pub redis_script: f64,
    pub pgbench_tps: f64,
}

/// Median, min and max of one figure over the runs.
fn spread(runs: &[Figures], figure: impl Fn(&Figures) -> f64) -> (f64, f64, f64) {
    let mut values: Vec<f64> = runs.iter().map(figure).collect();
    values.sort_by(f64::total_cmp);
    let median = if values.is_empty() {
        0.0
    } else if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
    };
    (
        median,
        values.first().copied().unwrap_or(0.0),
        values.last().copied().unwrap_or(0.0),
    )
}

/// The median of one figure over the runs.
pub fn median(runs: &[Figures], figure: impl Fn(&Figures) -> f64) -> f64 {
    spread(runs, figure).0
}

/// The markdown table, with the context a reader needs to reproduce it; `budget` is the
/// CPU each worker was held to in the scale-out drain, when it ran.
pub fn markdown(
    runs: &[Figures],
    machine: &str,
    command: &str,
    settings: &str,
    budget: Option<u64>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{command}`  ");
    let _ = writeln!(out, "Machine: {machine}  ");
    let _ = writeln!(out, "Settings: {settings}  ");
    let _ = writeln!(out, "Runs: {} (median, with min and max)\n", runs.len());
    let _ = writeln!(out, "| # | measurement | median | min | max | target |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|");
    let mut row =
        |n: &str, name: &str, unit: &str, figure: &dyn Fn(&Figures) -> f64, target: &str| {
            let (median, min, max) = spread(runs, figure);
            // Ratios need the second decimal: 0.36 and 0.44 are on either side of a target.
            let p = if unit == "×" { 2 } else { 1 };
            let _ = writeln!(
                out,
                "| {n} | {name} | {median:.p$} {unit} | {min:.p$} | {max:.p$} | {target} |"
            );
        };
    row(
        "1",
        "receiver throughput, 64 connections (202/s)",
        "/s",
        &|f| f.receiver_rps,
        "",
    );
    row(
        "1",
        "receiver latency p50",
        "ms",
        &|f| f.receiver_p50_ms,
        "",
    );
    row(
        "1",
        "receiver latency p99",
        "ms",
        &|f| f.receiver_p99_ms,
        "< 5 ms",
    );
    row(
        "1",
        "receiver latency p99.9",
        "ms",
        &|f| f.receiver_p999_ms,
        "",
    );
    row(
        "1",
        "events per enqueue script call (group commit)",
        "",
        &|f| f.receiver_group,
        "",
    );
    row(
        "1b",
        "baseline: bare actix-web + one XADD per request, 64 connections (202/s)",
        "/s",
        &|f| f.bare_rps,
        "",
    );
    row(
        "1b",
        "receiver ÷ bare baseline, same run",
        "×",
        &|f| f.receiver_rps / f.bare_rps,
        "≥ 1.0",
    );
    row(
        "1c",
        "receiver latency p50, paced (see `--paced-rate`), no workers",
        "ms",
        &|f| f.paced_p50_ms,
        "",
    );
    row(
        "1c",
        "receiver latency p99, paced",
        "ms",
        &|f| f.paced_p99_ms,
        "< 5 ms",
    );
    row(
        "2",
        "end-to-end latency p50, 1,000 events/s, 2 workers",
        "ms",
        &|f| f.e2e_p50_ms,
        "",
    );
    row(
        "2",
        "end-to-end latency p99",
        "ms",
        &|f| f.e2e_p99_ms,
        "< 25 ms",
    );
    row("3", "drain, 1 worker", "events/s", &|f| f.drain_one, "");
    row("3", "drain, 2 workers", "events/s", &|f| f.drain_two, "");
    if let Some(millicores) = budget {
        row(
            "3b",
            &format!("drain, 1 worker held to {millicores}m CPU"),
            "events/s",
            &|f| f.drain_one_budget,
            "",
        );
        row(
            "3b",
            &format!("drain, 2 workers held to {millicores}m CPU each"),
            "events/s",
            &|f| f.drain_two_budget,
            "",
        );
    }
    row(
        "4",
        "receiver peak RSS",
        "MiB",
        &|f| f.receiver_rss_mib,
        "< 32 MiB",
    );
    row(
        "4",
        "worker peak RSS",
        "MiB",
        &|f| f.worker_rss_mib,
        "< 64 MiB",
    );
    row(
        "5",
        "ceiling: redis-benchmark XADD, same payload, 64 clients",
        "/s",
        &|f| f.redis_xadd,
        "",
    );
    row(
        "5",
        "ceiling: redis-benchmark EVALSHA of the enqueue script, same payload, 64 clients",
        "/s",
        &|f| f.redis_script,
        "",
    );
    row(
        "5",
        "ceiling: pgbench, worker SQL, 1 transaction per event, 2 clients",
        "tx/s",
        &|f| f.pgbench_tps,
        "",
    );
    row(
        "1/5",
        "receiver ÷ XADD ceiling",
        "×",
        &|f| f.receiver_rps / f.redis_xadd,
        "≥ 0.40",
    );
    row(
        "1/5",
        "receiver ÷ enqueue script ceiling",
        "×",
        &|f| f.receiver_rps / f.redis_script,
        "",
    );
    row(
        "3/5",
        "drain, 1 worker ÷ pgbench ceiling",
        "×",
        &|f| f.drain_one / f.pgbench_tps,
        "≥ 10",
    );
    row(
        "3/5",
        "drain, 2 workers ÷ pgbench ceiling",
        "×",
        &|f| f.drain_two / f.pgbench_tps,
        "≥ 10",
    );
    row(
        "3",
        "drain, 2 workers ÷ 1 worker",
        "×",
        &|f| f.drain_two / f.drain_one,
        "",
    );
    if let Some(millicores) = budget {
        row(
            "3b",
            &format!("drain, 2 workers ÷ 1 worker, {millicores}m CPU each"),
            "×",
            &|f| f.drain_two_budget / f.drain_one_budget,
            "≥ 1.5",
        );
    }
    let failed: u64 = runs.iter().map(|f| f.receiver_non_202).sum();
    if failed > 0 {
        let _ = writeln!(
            out,
            "\n{failed} saturation requests were answered other than 202."
        );
    }
    out
}

/// Cores, memory and CPU model, read from the machine.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!(
        "{cpus} cores ({model}), {memory_gib:.0} GiB; the load generator, Redis and PostgreSQL share them"
    )
}

/// The memory run, as a paragraph under the table.
pub fn memory(run: &crate::phases::MemoryRun) -> String {
    let growth = run.end_mib - run.warm_mib;
    format!(
        "\nReceiver memory, nothing scraping `/metrics`: {:.1} MiB after the first 100,000 \
         requests, {:.1} MiB after {} ({:+.1} MiB; target: flat within 2 MiB, {}).\n",
        run.warm_mib,
        run.end_mib,
        run.requests,
        growth,
        if growth.abs() <= 2.0 {
            "met"
        } else {
            "NOT met"
        }
    )
}

/// The reconciliation run, as a markdown section.
pub fn reconcile(r: &crate::reconcile::Figures) -> String {
    format!(
        "\n### Reconciliation of {users} users\n\n\
         | command | time | peak RSS (VmHWM) | exit | missing | stale | extra | queued |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n\
         | `clerk-sync reconcile --json --wait 0` | {:.1} s | {:.1} MiB | {} | {} | {} | {} | {} |\n\
         | `clerk-sync verify --json` | {:.1} s | {:.1} MiB | {} | {} | {} | {} | |\n",
        r.reconcile.seconds,
        r.reconcile.peak_mib,
        r.reconcile.status,
        r.reconcile.found.missing,
        r.reconcile.found.stale,
        r.reconcile.found.extra,
        r.reconcile.found.queued,
        r.verify.seconds,
        r.verify.peak_mib,
        r.verify.status,
        r.verify.found.missing,
        r.verify.found.stale,
        r.verify.found.extra,
        users = r.users,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_three_is_the_middle_one() {
        let runs: Vec<Figures> = [3.0, 1.0, 2.0]
            .iter()
            .map(|&r| Figures {
                receiver_rps: r,
                ..Figures::default()
            })
            .collect();
        assert_eq!(spread(&runs, |f| f.receiver_rps), (2.0, 1.0, 3.0));
    }
}
