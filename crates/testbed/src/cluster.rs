//! A whole deployment on this machine: receivers, workers, Redis and PostgreSQL, started as
//! processes.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The signing secret the receiver is given and the driver signs with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The stream prefix of the run.
pub const PREFIX: &str = "chaos";

/// A port nothing listens on at the moment of asking, below the kernel's ephemeral range.
///
/// The cluster's Redis, PostgreSQL and receiver are stopped and started again on the same
/// port. A port from the ephemeral range can be handed, while its server is down, to any
/// process that binds port 0 (a worker's metrics listener) or opens a connection (its
/// local port), and the server then cannot start again: a chaos run once saw its receiver
/// refused its own port and its requests answered 404 by a worker's metrics listener.
pub fn free_port() -> anyhow::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let below = ephemeral_start().max(LOWEST + 1_000);
    let span = below - LOWEST;
    // Start where this process's id points, so that runs side by side rarely probe the same
    // ports, and never hand out the same port twice in one run.
    let offset = std::process::id() % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOWEST + (offset + step) % span)?;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between {LOWEST} and {below}")
}

/// The first port the kernel hands out on its own (Linux: `ip_local_port_range`).
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// How the run's processes are named and reached.
pub struct Cluster {
    /// The run's directory: data and logs.
    pub dir: PathBuf,
    /// Redis's port.
    pub redis_port: u16,
    /// PostgreSQL's port.
    pub pg_port: u16,
    /// The receiver's port.
    pub receiver_port: u16,
    bin_dir: PathBuf,
    pub(crate) pg_bin: PathBuf,
    /// Run PostgreSQL's tools as this user (they refuse to run as root).
    pub(crate) pg_user: Option<String>,
    redis: Option<Child>,
    receiver: Option<Child>,
    /// The running workers, by consumer name.
    pub workers: Vec<(String, Child)>,
    next_worker: usize,
}

impl Cluster {
    /// Creates the directory and finds the binaries; starts nothing.
    pub fn new(dir: PathBuf) -> anyhow::Result<Self> {
        let bin_dir = std::env::current_exe()?
            .parent()
            .context("the chaos binary has no directory")?
            .to_path_buf();
        for bin in ["clerk-sync-receiver", "clerk-sync-worker"] {
            if !bin_dir.join(bin).exists() {
                bail!(
                    "{bin} is not built next to this binary; run `cargo build --workspace --bins` first"
                );
            }
        }
        let pg_bin = postgres_bin_dir()?;
        let pg_user = if is_root() {
            Some("postgres".to_owned())
        } else {
            None
        };
        std::fs::create_dir_all(dir.join("redis"))?;
        Ok(Self {
            redis_port: free_port()?,
            pg_port: free_port()?,
            receiver_port: free_port()?,
            dir,
            bin_dir,
            pg_bin,
            pg_user,
            redis: None,
            receiver: None,
            workers: Vec::new(),
            next_worker: 0,
        })
    }

    /// Redis's process id, while it runs.
    pub fn redis_pid(&self) -> Option<u32> {
        self.redis.as_ref().map(Child::id)
    }

    /// `redis://…` of the run's Redis.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    /// `postgres://…` of the run's PostgreSQL (database `postgres`).
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port)
    }

    /// The receiver's webhook endpoint.
    pub fn receiver_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks/clerk", self.receiver_port)
    }

    pub(crate) fn log(&self, name: &str) -> anyhow::Result<File> {
        Ok(File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))?)
    }

    // --- Redis ---------------------------------------------------------------------------

    /// Starts Redis as docker-compose.yml runs it: append-only, fsync every second, never
    /// evicting; it replays its AOF when restarted.
    pub async fn start_redis(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.redis.is_none(), "Redis runs already");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.redis_port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .args(["--maxmemory-policy", "noeviction"])
            .arg("--dir")
            .arg(self.dir.join("redis"))
            .stdout(self.log("redis")?)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        self.redis = Some(child);
        let url = self.redis_url();
        wait_for("Redis", Duration::from_secs(30), async || {
            let Ok(client) = clerk_sync_queue::redis::Client::open(url.as_str()) else {
                return false;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return false;
            };
            clerk_sync_queue::redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
        })
        .await
    }

    /// Stops Redis: SIGKILL (a crash) or SIGTERM (a clean shutdown).
    pub fn stop_redis(&mut self, crash: bool) -> anyhow::Result<()> {
        if let Some(mut child) = self.redis.take() {
            signal(&mut child, crash)?;
        }
        Ok(())
    }

    // --- clerk-sync ----------------------------------------------------------------------

    fn clerk_sync(&self, bin: &str, log: &str) -> anyhow::Result<Command> {
        let mut command = Command::new(self.bin_dir.join(bin));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", self.redis_url())
            .env("DATABASE_URL", self.database_url())
            .env("STREAM_PREFIX", PREFIX)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(self.log(log)?)
            .stderr(self.log(log)?);
        // The settings that shape a worker's throughput pass through, so their effect can be
        // measured without a rebuild; everything else is the cluster's own.
        for name in ["WORKER_CONCURRENCY", "WORKER_BATCH_SIZE"] {
            if let Ok(value) = std::env::var(name) {
                command.env(name, value);
            }
        }
        Ok(command)
    }

    /// Starts a receiver with `settings` on top of the cluster's own; waits for /healthz.
    pub async fn start_receiver(&mut self, settings: &[(&str, &str)]) -> anyhow::Result<()> {
        let mut command = self.clerk_sync("clerk-sync-receiver", "receiver")?;
        command
            .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
            .env("RECEIVER_BIND", format!("127.0.0.1:{}", self.receiver_port));
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command.spawn().context("cannot start the receiver")?;
        self.receiver = Some(child);
        let url = format!("http://127.0.0.1:{}/healthz", self.receiver_port);
        wait_for("the receiver", Duration::from_secs(30), async || {
            reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await
    }

    /// SIGTERMs the receiver and returns its exit code.
    pub fn stop_receiver(&mut self) -> anyhow::Result<Option<i32>> {
        match self.receiver.take() {
            Some(mut child) => signal(&mut child, false),
            None => Ok(None),
        }
    }

    /// A worker with `settings` (environment variables) on top of the cluster's own.
    pub fn start_worker(&mut self, settings: &[(&str, &str)]) -> anyhow::Result<String> {
        let name = format!("worker-{}", self.next_worker);
        self.next_worker += 1;
        let mut command = self.clerk_sync("clerk-sync-worker", &name)?;
        command
            .env("WORKER_CONSUMER_NAME", &name)
            .env("WORKER_METRICS_BIND", "127.0.0.1:0");
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.workers.push((name.clone(), child));
        Ok(name)
    }

    /// The receiver's process id, while it runs.
    pub fn receiver_pid(&self) -> Option<u32> {
        self.receiver.as_ref().map(Child::id)
    }

    /// The workers' process ids.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(|(_, child)| child.id()).collect()
    }

    /// Stops one worker; `crash` is SIGKILL, otherwise SIGTERM and the exit status.
    pub fn stop_worker(
        &mut self,
        index: usize,
        crash: bool,
    ) -> anyhow::Result<(String, Option<i32>)> {
        let (name, mut child) = self.workers.remove(index);
        let code = signal(&mut child, crash)?;
        Ok((name, code))
    }

    /// Freezes the worker at `index` (SIGSTOP), as a paused container or a partition would;
    /// returns its name.
    pub fn pause_worker(&self, index: usize) -> anyhow::Result<String> {
        self.signal_worker(index, "-STOP")
    }

    /// Lets a frozen worker go on (SIGCONT).
    pub fn resume_worker(&self, index: usize) -> anyhow::Result<String> {
        self.signal_worker(index, "-CONT")
    }

    fn signal_worker(&self, index: usize, signal: &str) -> anyhow::Result<String> {
        let (name, child) = self.workers.get(index).context("no such worker")?;
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()?;
        Ok(name.clone())
    }

    /// Stops everything; PostgreSQL last, so workers do not log its absence.
    pub fn shutdown(&mut self) {
        let _ = self.stop_receiver();
        while !self.workers.is_empty() {
            let _ = self.stop_worker(0, false);
        }
        let _ = self.stop_redis(false);
        let _ = self.stop_postgres(false);
    }
}

/// Sends SIGKILL (`crash`) or SIGTERM and waits for the exit; returns the exit code.
fn signal(child: &mut Child, crash: bool) -> anyhow::Result<Option<i32>> {
    if crash {
        child.kill()?;
    } else {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
    }
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill()?;
            bail!("process {} did not stop within 60 s of SIGTERM", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it holds, for at most `within`.
pub async fn wait_for(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} was not ready within {within:?}")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, or Debian's versioned directory.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|dir| Path::new(dir).join("initdb").exists())
        .context("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
}
