//! The receiver beside its baseline: a bare actix-web + XADD receiver saturated the same way
//! in the same run, and the receiver's latency at a paced rate, well under saturation.

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_testbed::Cluster;
use hdrhistogram::Histogram;

use crate::load;
use crate::phases::{ReceiverRun, requests};

/// The bare receiver, stopped when dropped.
struct Bare {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_bare(cluster: &Cluster) -> anyhow::Result<Bare> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .context("the bench's directory")?
        .join("clerk-sync-bench-bare-receiver");
    let port = clerk_sync_testbed::free_port()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let child = Command::new(&bin)
        .env("REDIS_URL", cluster.redis_url())
        .env("BIND", addr.to_string())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let bare = Bare { child, addr };
    clerk_sync_testbed::wait_for("the bare receiver", Duration::from_secs(30), async || {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await?;
    Ok(bare)
}

/// The bare receiver saturated as the receiver is: 64 connections, closed loop.
pub async fn bare_saturation(cluster: &Cluster, window: Duration) -> anyhow::Result<ReceiverRun> {
    let bare = start_bare(cluster).await?;
    // A bare XADD answers far faster than anything that guards: room for it.
    let requests = Arc::new(requests(150_000 * window.as_secs() as usize, 50_000_000)?);
    let run = load::saturate(bare.addr, requests, 64, Duration::from_secs(2), window).await?;
    drop(bare);
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

/// The receiver's latency at `rate` events/s sent open loop over 16 connections, from when
/// each request was due to its answer, µs; no workers, so only the receiver and Redis count.
pub async fn paced(cluster: &Cluster, rate: u32, seconds: u64) -> anyhow::Result<Histogram<u64>> {
    let addr: SocketAddr = format!("127.0.0.1:{}", cluster.receiver_port).parse()?;
    let count = rate as usize * seconds as usize;
    let sent = load::open_loop(addr, requests(count, 30_000_000)?, rate, 16).await?;
    anyhow::ensure!(
        sent.iter().all(|s| s.status == 202),
        "some paced requests were not accepted"
    );
    let mut latency = Histogram::<u64>::new(3)?;
    for s in &sent {
        latency.record(s.answered_after_us)?;
    }
    Ok(latency)
}
