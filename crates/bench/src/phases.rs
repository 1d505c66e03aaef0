//! The measurements of one run, each against the running testbed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clerk_sync_queue::{Enqueuer, EnqueuerConfig, Entry, Keys, Pool};
use clerk_sync_signature::SigningSecret;
use clerk_sync_testbed::{Cluster, PREFIX, SECRET};
use hdrhistogram::Histogram;

use crate::budget::CpuBudget;
use crate::load;
use crate::payload::{Signed, signed, user_updated};

/// Users the events are spread over: enough that most events are updates of users seen before.
const USERS: usize = 20_000;
const T0: i64 = 1_716_883_200_000;

fn secret() -> anyhow::Result<SigningSecret> {
    SECRET.parse().context("the testbed's secret")
}

/// `count` signed requests with distinct ids; bodies are shared between requests of the
/// same user (the receiver stores them byte for byte, whatever they hold), which keeps a
/// long saturation run's memory to the ids and signatures.
pub(crate) fn requests(count: usize, offset: usize) -> anyhow::Result<Vec<Signed>> {
    let secret = secret()?;
    let bodies: Vec<bytes::Bytes> = (0..USERS.min(count))
        .map(|u| user_updated(u, T0 + u as i64))
        .collect();
    Ok((0..count)
        .map(|i| {
            let n = offset + i;
            signed(
                &secret,
                format!("msg_bench{n:09}"),
                bodies[i % bodies.len()].clone(),
            )
        })
        .collect())
}

/// Receiver saturation: 64 connections, closed loop.
pub struct ReceiverRun {
    pub accepted_per_sec: f64,
    pub latency: Histogram<u64>,
    pub other: u64,
}

pub async fn receiver_saturation(
    cluster: &Cluster,
    window: Duration,
) -> anyhow::Result<ReceiverRun> {
    let addr: SocketAddr = format!("127.0.0.1:{}", cluster.receiver_port).parse()?;
    // Enough for the window at well over anything this machine does.
    let requests = Arc::new(requests(60_000 * window.as_secs() as usize, 0)?);
    let run = load::saturate(addr, requests, 64, Duration::from_secs(2), window).await?;
    anyhow::ensure!(
        !run.exhausted,
        "the run ran out of pre-signed requests before its window closed"
    );
    Ok(ReceiverRun {
        accepted_per_sec: run.accepted_per_sec,
        latency: run.latency,
        other: run.other,
    })
}

/// End-to-end latency at a fixed rate: from when a request was due to when its row's
/// transaction committed (`pg_xact_commit_timestamp`), ms.
pub async fn end_to_end(
    cluster: &Cluster,
    db: &tokio_postgres::Client,
    rate: u32,
    seconds: u64,
) -> anyhow::Result<Histogram<u64>> {
    let addr: SocketAddr = format!("127.0.0.1:{}", cluster.receiver_port).parse()?;
    let count = rate as usize * seconds as usize;
    let sent = load::open_loop(addr, requests(count, 10_000_000)?, rate, 64).await?;
    anyhow::ensure!(
        sent.iter().all(|s| s.status == 202),
        "some requests were not accepted"
    );
    wait_for_rows(db, count as i64, Duration::from_secs(120)).await?;
    let committed: std::collections::HashMap<String, f64> = db
        .query(
            "SELECT svix_id, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 FROM clerk.processed_webhooks",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, f64>(1)))
        .collect();
    let mut latency = Histogram::<u64>::new(3)?;
    for request in &sent {
        let at = committed
            .get(&request.id)
            .context("an accepted event has no row")?;
        latency.record(((at - request.due_ms).max(0.0) * 1000.0) as u64)?;
    }
    Ok(latency)
}

/// Drain rate: `count` events already queued, applied by `workers` workers, events/s.
pub struct DrainRun {
    pub events_per_sec: f64,
    pub peak_rss_kib: u64,
}

/// With a `budget`, each worker is moved into a group of its own as soon as it is started,
/// before it has connected to anything.
pub async fn drain(
    cluster: &mut Cluster,
    db: &tokio_postgres::Client,
    redis: &Pool,
    count: usize,
    workers: usize,
    mut budget: Option<&mut CpuBudget>,
) -> anyhow::Result<DrainRun> {
    preload(redis, count).await?;
    let started = Instant::now();
    for _ in 0..workers {
        cluster.start_worker(&[("MIGRATE_ON_START", "false")])?;
        if let Some(budget) = budget.as_deref_mut() {
            let pid = *cluster
                .worker_pids()
                .last()
                .context("the worker just started")?;
            budget.confine(pid)?;
        }
    }
    wait_for_drained(redis, Duration::from_secs(600)).await?;
    let elapsed = started.elapsed();
    wait_for_rows(db, count as i64, Duration::from_secs(60)).await?;
    let peak_rss_kib = cluster
        .worker_pids()
        .into_iter()
        .filter_map(clerk_sync_testbed::peak_rss_kib)
        .max()
        .unwrap_or_default();
    Ok(DrainRun {
        events_per_sec: count as f64 / elapsed.as_secs_f64(),
        peak_rss_kib,
    })
}

/// An enqueuer writing where the bench's workers read, with no high-water mark: a phase
/// queues its whole load before the workers start.
pub(crate) fn enqueuer(redis: &Pool) -> Enqueuer {
    Enqueuer::new(
        redis.clone(),
        Keys::new(PREFIX),
        EnqueuerConfig {
            high_water: 0,
            ..EnqueuerConfig::default()
        },
    )
}

/// Queues `count` events the way the receiver does, many at a time.
async fn preload(redis: &Pool, count: usize) -> anyhow::Result<()> {
    use futures_util::StreamExt as _;
    let enqueuer = enqueuer(redis);
    futures_util::stream::iter(0..count)
        .map(|n| {
            let enqueuer = enqueuer.clone();
            async move {
                let payload = user_updated(n % USERS, T0 + n as i64);
                let entry = Entry {
                    svix_id: format!("msg_drain{n:09}"),
                    svix_timestamp: "1716883200".into(),
                    event_type: "user.updated".into(),
                    payload: payload.to_vec(),
                    received_at: 0,
                    attempt: 0,
                };
                enqueuer.enqueue(&entry).await
            }
        })
        .buffer_unordered(64)
        .for_each(|_| async {})
        .await;
    Ok(())
}

/// Waits for the events stream to be empty: workers delete an entry once its transaction
/// has committed. Asking Redis, not counting rows, because a `count(*)` over a growing table
/// every few milliseconds would take PostgreSQL's time from the workers being measured.
async fn wait_for_drained(redis: &Pool, within: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let events = Keys::new(PREFIX).events();
    loop {
        let mut conn = redis.get().await?;
        let left: u64 = clerk_sync_queue::redis::cmd("XLEN")
            .arg(&events)
            .query_async(&mut *conn)
            .await?;
        if left == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < within,
            "{left} events still queued after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn wait_for_rows(
    db: &tokio_postgres::Client,
    count: i64,
    within: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let done: i64 = db
            .query_one("SELECT count(*) FROM clerk.processed_webhooks", &[])
            .await?
            .get(0);
        if done >= count {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < within,
            "only {done} of {count} events applied within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The receiver's resident memory over a long run that nothing scrapes.
pub struct MemoryRun {
    pub requests: usize,
    /// RSS after the first chunk (warmed up), MiB.
    pub warm_mib: f64,
    /// RSS after the last, MiB.
    pub end_mib: f64,
}

/// Sends `total` requests to a fresh receiver in chunks of 100,000 as fast as it answers,
/// with nothing scraping `/metrics`, and reads its resident memory after the first chunk and
/// after the last. Each chunk is signed just before it is sent (the timestamps must stay in
/// the tolerance window), and the stream is trimmed between chunks, so Redis stays small.
pub async fn receiver_memory(
    cluster: &mut Cluster,
    redis: &Pool,
    total: usize,
) -> anyhow::Result<MemoryRun> {
    const CHUNK: usize = 100_000;
    cluster.stop_receiver()?;
    cluster.start_receiver(&[("QUEUE_HIGH_WATER", "0")]).await?;
    let pid = cluster
        .receiver_pid()
        .context("the receiver is not running")?;
    let addr: SocketAddr = format!("127.0.0.1:{}", cluster.receiver_port).parse()?;
    let rss = || {
        clerk_sync_testbed::rss_kib(pid)
            .map(|kib| kib as f64 / 1024.0)
            .context("cannot read the receiver's RSS")
    };
    let (mut sent, mut warm_mib) = (0, None);
    while sent < total {
        let count = CHUNK.min(total - sent);
        let chunk = Arc::new(requests(count, 10_000_000 + sent)?);
        let run =
            load::saturate(addr, chunk, 64, Duration::ZERO, Duration::from_secs(3600)).await?;
        anyhow::ensure!(run.other == 0, "{} requests were not accepted", run.other);
        sent += count;
        let mut conn = redis.get().await?;
        clerk_sync_queue::redis::cmd("XTRIM")
            .arg(Keys::new(PREFIX).events())
            .arg("MAXLEN")
            .arg(0)
            .query_async::<()>(&mut *conn)
            .await?;
        if warm_mib.is_none() {
            warm_mib = Some(rss()?);
        }
    }
    Ok(MemoryRun {
        requests: total,
        warm_mib: warm_mib.unwrap_or_default(),
        end_mib: rss()?,
    })
}

/// Empties the queue and the tables between measurements.
pub async fn reset(
    cluster: &mut Cluster,
    db: &tokio_postgres::Client,
    redis: &Pool,
) -> anyhow::Result<()> {
    while !cluster.workers.is_empty() {
        cluster.stop_worker(0, false)?;
    }
    let mut conn = redis.get().await?;
    clerk_sync_queue::redis::cmd("FLUSHALL")
        .query_async::<()>(&mut *conn)
        .await?;
    db.batch_execute(
        "TRUNCATE clerk.processed_webhooks, clerk.users, clerk.user_email_addresses, clerk.tombstones, clerk.sync_changes; \
         CHECKPOINT",
    )
    .await?;
    Ok(())
}
