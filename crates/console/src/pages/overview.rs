//! `GET /`: the pipeline at a glance, with the last hour's applied and dead-lettered events
//! per minute as a chart drawn on the server (inline SVG, no script).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use clerk_sync_queue::redis;

use super::{age, entry_ms, time};
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;

const MINUTES: u64 = 60;

#[derive(Debug, serde::Serialize)]
pub struct Consumer {
    name: String,
    pending: u64,
    idle_ms: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct Minute {
    at: u64,
    applied: u64,
    dead_lettered: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct Overview {
    stream_length: u64,
    lag: Option<u64>,
    pending: u64,
    oldest_pending_age_ms: Option<u64>,
    retry_size: u64,
    next_retry_at: Option<u64>,
    dead_letters: u64,
    consumers: Vec<Consumer>,
    last_queued_at: Option<u64>,
    last_reconcile_at: Option<u64>,
    last_drift: serde_json::Value,
    per_minute: Vec<Minute>,
}

/// One bar pair of the chart, in SVG units.
pub struct Bar {
    x: u64,
    applied_y: u64,
    applied_h: u64,
    dead_y: u64,
    dead_h: u64,
    title: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Overview,
    bars: Vec<Bar>,
    peak: u64,
}

impl OverviewPage<'_> {
    fn ago(&self, ms: u64) -> String {
        age(ms)
    }
    fn duration(&self, ms: u64) -> String {
        // An age in ms is shown as the time it started.
        age(clerk_sync_runtime::unix_ms().saturating_sub(ms))
    }
    fn drift(&self) -> String {
        if self.v.last_drift.is_null() {
            return String::new();
        }
        self.v.last_drift.to_string()
    }
}

pub async fn page(req: HttpRequest, console: web::Data<Console>, me: Viewer) -> HttpResponse {
    let result = overview(&console).await.map(|v| {
        respond::page(&req, &v, || {
            let (bars, peak) = chart(&v.per_minute);
            OverviewPage {
                me: Some(&me.0),
                v: &v,
                bars,
                peak,
            }
        })
    });
    respond::outcome(&req, &me.0, result)
}

async fn overview(console: &Console) -> Result<Overview, Failure> {
    let state = &console.0;
    let now = clerk_sync_runtime::unix_ms();
    let stats = clerk_sync_queue::queue_stats(&state.redis, &state.keys).await?;
    let consumers = clerk_sync_queue::consumer_idle(&state.redis, &state.keys).await?;
    let dead = state.dead.per_minute(now, MINUTES).await?;
    let applied = console.applied_per_minute(now, MINUTES).await?;
    let mut conn = state
        .redis
        .get()
        .await
        .map_err(clerk_sync_queue::QueueError::from)?;
    // XINFO STREAM fails while the stream does not exist yet: nothing queued so far.
    let info: Option<redis::streams::StreamInfoStreamReply> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(state.keys.events())
        .query_async(&mut *conn)
        .await
        .ok();
    let (reconciled, drift): (Option<u64>, Option<String>) = redis::cmd("HMGET")
        .arg(state.keys.reconcile())
        .arg("last_success_ms")
        .arg("last_drift")
        .query_async(&mut *conn)
        .await
        .map_err(clerk_sync_queue::QueueError::from)?;
    let end = now - now % 60_000 + 60_000;
    Ok(Overview {
        stream_length: stats.stream_length,
        lag: stats.lag,
        pending: stats.pending,
        oldest_pending_age_ms: stats
            .oldest_pending_id
            .as_deref()
            .and_then(entry_ms)
            .map(|ms| now.saturating_sub(ms)),
        retry_size: stats.retry_size,
        next_retry_at: stats.next_retry_ms,
        dead_letters: stats.dlq_length,
        consumers: consumers
            .into_iter()
            .map(|(name, pending, idle_ms)| Consumer {
                name,
                pending,
                idle_ms,
            })
            .collect(),
        last_queued_at: info
            .map(|i| i.last_generated_id)
            .as_deref()
            .and_then(entry_ms)
            .filter(|ms| *ms > 0),
        last_reconcile_at: reconciled,
        last_drift: drift
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(serde_json::Value::Null),
        per_minute: (0..MINUTES as usize)
            .map(|i| Minute {
                at: end - (MINUTES - i as u64) * 60_000,
                applied: applied.get(i).copied().unwrap_or(0),
                dead_lettered: dead.get(i).copied().unwrap_or(0),
            })
            .collect(),
    })
}

/// Bars 10 units wide, applied beside dead-lettered, scaled to the busiest minute, in a
/// 600 × 120 box.
fn chart(minutes: &[Minute]) -> (Vec<Bar>, u64) {
    let peak = minutes
        .iter()
        .map(|m| m.applied.max(m.dead_lettered))
        .max()
        .unwrap_or(0)
        .max(1);
    let height = |n: u64| (n * 110).div_ceil(peak).min(110);
    let bars = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (a, d) = (height(m.applied), height(m.dead_lettered));
            Bar {
                x: i as u64 * 10,
                applied_y: 120 - a,
                applied_h: a,
                dead_y: 120 - d,
                dead_h: d,
                title: format!(
                    "{}: {} applied, {} dead-lettered",
                    time(m.at),
                    m.applied,
                    m.dead_lettered
                ),
            }
        })
        .collect();
    (bars, peak)
}
