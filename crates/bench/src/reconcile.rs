//! Reconciliation at a million users: `clerk-sync reconcile` against the stand-in
//! ([`crate::standin`]) and a database filled with `COPY`, its time and peak RSS (`VmHWM`,
//! read from `/proc` while it runs), beside `clerk-sync verify` over the same data.
//!
//! The database holds every user but one in a thousand (missing), one in a thousand at an
//! older version (stale), and a hundred users Clerk does not have (extra), so every path of
//! a run is taken: repairs queued, extras asked for by id and deleted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clerk_sync_testbed::Cluster;
use futures_util::SinkExt as _;

use crate::standin;

/// Users in the database Clerk does not have.
const EXTRA: usize = 100;

/// What one command cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Wall time.
    pub seconds: f64,
    /// Peak resident set, MiB.
    pub peak_mib: f64,
    /// Its exit status.
    pub status: i32,
    /// What it found, from its `--json`: objects out of step and repairs queued.
    pub found: Found,
}

/// A run's findings, summed over the kinds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found {
    pub missing: u64,
    pub stale: u64,
    pub extra: u64,
    pub queued: u64,
}

impl Found {
    /// From `reconcile --json` (whole counts under `counts`) or `verify --json` (lists).
    fn read(json: &serde_json::Value) -> Self {
        let mut found = Self {
            queued: json["queued"].as_u64().unwrap_or_default(),
            ..Self::default()
        };
        let kinds: Vec<&serde_json::Value> = match &json["kinds"] {
            serde_json::Value::Array(kinds) => kinds.iter().collect(),
            serde_json::Value::Object(kinds) => kinds.values().collect(),
            _ => Vec::new(),
        };
        for kind in kinds {
            let count = |field: &str| {
                kind["counts"][field]
                    .as_u64()
                    .or_else(|| kind[field].as_array().map(|a| a.len() as u64))
                    .unwrap_or_default()
            };
            found.missing += count("missing");
            found.stale += count("stale");
            found.extra += count("extra");
        }
        found
    }
}

/// Both commands over `users` users.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub users: usize,
    pub reconcile: Cost,
    pub verify: Cost,
}

pub async fn measure(cluster: &Cluster, users: usize) -> anyhow::Result<Figures> {
    let api = standin::start(users).await?;
    let (db, connection) =
        tokio_postgres::connect(&cluster.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    db.batch_execute(
        "TRUNCATE clerk.users CASCADE; TRUNCATE clerk.organizations CASCADE; \
         TRUNCATE clerk.organization_memberships; TRUNCATE clerk.sync_instance",
    )
    .await?;
    let started = Instant::now();
    fill(&db, users).await?;
    println!(
        "reconcile: {users} users copied into PostgreSQL in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let env = [
        ("CLERK_API_URL", api.as_str()),
        ("CLERK_SECRET_KEY", "sk_test_bench_standin"),
        ("CLERK_API_RATE", "100000"),
        ("DATABASE_URL", &cluster.database_url()),
        ("REDIS_URL", &cluster.redis_url()),
        ("STREAM_PREFIX", "bench-reconcile"),
    ];
    let out = |name: &str| cluster.dir.join(format!("{name}.json"));
    let reconcile = run(
        &env,
        &["reconcile", "--json", "--wait", "0"],
        out("reconcile"),
    )
    .await?;
    println!(
        "reconcile: {users} users in {:.1} s, peak RSS {:.1} MiB (exit {}), found {:?}",
        reconcile.seconds, reconcile.peak_mib, reconcile.status, reconcile.found
    );
    let verify = run(&env, &["verify", "--json"], out("verify")).await?;
    println!(
        "verify: {users} users in {:.1} s, peak RSS {:.1} MiB (exit {}), found {:?}",
        verify.seconds, verify.peak_mib, verify.status, verify.found
    );
    anyhow::ensure!(
        reconcile.status == 1 || reconcile.status == 0,
        "reconcile failed (exit {}); its output is above",
        reconcile.status
    );
    Ok(Figures {
        users,
        reconcile,
        verify,
    })
}

/// The users, through `COPY … FROM STDIN`: all but the missing ones, the stale ones older,
/// and the extras.
async fn fill(db: &tokio_postgres::Client, users: usize) -> anyhow::Result<()> {
    let sink = db
        .copy_in("COPY clerk.users (clerk_id, first_name, updated_at, last_svix_id) FROM STDIN")
        .await?;
    let mut sink = std::pin::pin!(sink);
    let stamp = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339()
    };
    let mut chunk = String::with_capacity(1 << 20);
    let rows = (0..users)
        .filter(|n| n % 1000 != 1)
        .map(|n| {
            let version = if n % 1000 == 2 {
                standin::VERSION - 1000
            } else {
                standin::VERSION
            };
            (standin::user_id(n), version)
        })
        .chain((0..EXTRA).map(|n| (format!("user_benchextra{n:05}"), standin::VERSION - 5000)));
    for (id, version) in rows {
        chunk.push_str(&format!(
            "{id}\tBench\t{}\tbackfill:bench\n",
            stamp(version)
        ));
        if chunk.len() > (1 << 20) - 256 {
            sink.send(bytes::Bytes::from(std::mem::take(&mut chunk)))
                .await?;
        }
    }
    sink.send(bytes::Bytes::from(chunk)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// Runs `clerk-sync args` with `env`, reading its peak RSS until it exits, on a thread of
/// its own (the stand-in answers on this runtime meanwhile).
async fn run(env: &[(&str, &str)], args: &[&str], out: std::path::PathBuf) -> anyhow::Result<Cost> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || run_blocking(&env, &args, &out)).await?
}

fn run_blocking(
    env: &[(String, String)],
    args: &[String],
    out: &std::path::Path,
) -> anyhow::Result<Cost> {
    let bin = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .join("clerk-sync");
    let started = Instant::now();
    let mut child = Command::new(&bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::from(std::fs::File::create(out)?))
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id();
    let mut peak_kib = 0;
    let status = loop {
        // VmHWM only grows: the last reading before the exit is the peak.
        if let Some(kib) = clerk_sync_testbed::peak_rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out)?).unwrap_or_default();
    Ok(Cost {
        seconds,
        peak_mib: peak_kib as f64 / 1024.0,
        status: status.code().unwrap_or(-1),
        found: Found::read(&json),
    })
}
