//! The load generator: HTTP/1.1 keep-alive connections to the receiver, driven either closed
//! loop (each connection sends its next request when the last is answered: saturation) or
//! open loop (requests are due at a fixed rate whatever the answers: latency measured from
//! when each was due, so a stall is not hidden by sending less).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::payload::Signed;

struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .context("cannot connect to the receiver")?;
        stream.set_nodelay(true)?;
        let (sender, connection) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// Posts one signed event; returns the status.
    async fn post(&mut self, request: &Signed) -> anyhow::Result<u16> {
        self.sender.ready().await?;
        let http = hyper::Request::post("/webhooks/clerk")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("svix-id", &request.id)
            .header("svix-timestamp", &request.timestamp)
            .header("svix-signature", &request.signature)
            .body(Full::new(request.body.clone()))?;
        let response = self.sender.send_request(http).await?;
        let status = response.status().as_u16();
        // Read the body, so the connection is ready for the next request.
        response.into_body().collect().await?;
        Ok(status)
    }
}

/// What a closed-loop run measured.
pub struct Saturation {
    /// Requests answered 202 per second, in the measured window.
    pub accepted_per_sec: f64,
    /// Latency of every request of the window, µs.
    pub latency: Histogram<u64>,
    /// Answers other than 202.
    pub other: u64,
    /// Every request was sent before the window closed.
    pub exhausted: bool,
}

/// Sends `requests` over `connections` as fast as they are answered; measures the `window`
/// after `warmup`.
pub async fn saturate(
    addr: SocketAddr,
    requests: Arc<Vec<Signed>>,
    connections: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Saturation> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (measure_from, measure_to) = (started + warmup, started + warmup + window);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (requests, next) = (requests.clone(), next.clone());
        let mut connection = Connection::open(addr).await?;
        tasks.spawn(async move {
            let mut latency = Histogram::<u64>::new(3)?;
            let (mut accepted, mut other) = (0u64, 0u64);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                if index >= requests.len() || sent >= measure_to {
                    break;
                }
                let status = connection.post(&requests[index]).await?;
                if sent >= measure_from {
                    latency.record(sent.elapsed().as_micros() as u64)?;
                    if status == 202 {
                        accepted += 1
                    } else {
                        other += 1
                    }
                }
            }
            Ok::<_, anyhow::Error>((latency, accepted, other))
        });
    }
    let mut latency = Histogram::<u64>::new(3)?;
    let (mut accepted, mut other) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (histogram, a, o) = done??;
        latency.add(histogram)?;
        accepted += a;
        other += o;
    }
    Ok(Saturation {
        accepted_per_sec: accepted as f64 / window.as_secs_f64(),
        latency,
        other,
        exhausted: next.load(Ordering::Relaxed) >= requests.len(),
    })
}

/// One request of an open-loop run: its id, when it was due (ms since the epoch), its status.
pub struct Sent {
    pub id: String,
    pub due_ms: f64,
    pub status: u16,
    /// From when it was due to its answer, µs.
    pub answered_after_us: u64,
}

/// Sends `requests` at `rate` per second, spread over `connections`.
pub async fn open_loop(
    addr: SocketAddr,
    requests: Vec<Signed>,
    rate: u32,
    connections: usize,
) -> anyhow::Result<Vec<Sent>> {
    let (jobs, queue) = async_channel(requests.len());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let queue = queue.clone();
        let mut connection = Connection::open(addr).await?;
        tasks.spawn(async move {
            let mut sent = Vec::new();
            while let Some((request, due_ms, due)) = next_job(&queue).await {
                let status = connection.post(&request).await?;
                sent.push(Sent {
                    id: request.id,
                    due_ms,
                    status,
                    answered_after_us: due.elapsed().as_micros() as u64,
                });
            }
            Ok::<_, anyhow::Error>(sent)
        });
    }
    let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() * 1000.0;
    let start = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate));
    for (i, request) in requests.into_iter().enumerate() {
        let due = gap * i as u32;
        tokio::time::sleep_until((start + due).into()).await;
        let due_ms = epoch_ms + due.as_secs_f64() * 1000.0;
        jobs.send((request, due_ms, start + due))
            .await
            .context("the senders stopped")?;
    }
    drop(jobs);
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    Ok(all)
}

type Job = (Signed, f64, Instant);
type Queue = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Job>>>;

fn async_channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Job>, Queue) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
    (tx, Arc::new(tokio::sync::Mutex::new(rx)))
}

async fn next_job(queue: &Queue) -> Option<Job> {
    queue.lock().await.recv().await
}
