//! The console's bounded reads at scale: the grouped dead-letter page and one object's story
//! found by email, with 100,000 dead letters in Redis and 1,000,000 users in PostgreSQL,
//! each timed from a client over HTTP against the console running in this process.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clerk_sync_console::{Console, ConsoleArgs, ConsoleConfig, parse_tokens};
use clerk_sync_queue::{Consumer, Entry, Keys, Pool, Settlement};
use clerk_sync_testbed::{Cluster, PREFIX};
use hdrhistogram::Histogram;

const TOKEN: &str = "bench-console-token-0001";
/// Requests timed per page.
const SAMPLES: usize = 50;

/// Latencies of the console's pages, ms.
pub struct ConsoleRun {
    pub dead_letters: usize,
    pub users: usize,
    /// (page, p50 ms, p99 ms)
    pub pages: Vec<(String, f64, f64)>,
}

pub async fn console(
    cluster: &Cluster,
    db: &tokio_postgres::Client,
    redis: &Pool,
    dead_letters: usize,
    users: usize,
) -> anyhow::Result<ConsoleRun> {
    let keys = Keys::new(PREFIX);
    db.batch_execute(&format!(
        "INSERT INTO clerk.users (clerk_id, email, first_name, updated_at, last_svix_id) \
             SELECT 'user_bench' || g, 'user' || g || '@example.com', 'Bench', now(), 'msg_seed' || g \
             FROM generate_series(1, {users}) g; \
         INSERT INTO clerk.processed_webhooks (svix_id, event_type, object_id) \
             SELECT 'msg_seed' || g, 'user.created', 'user_bench' || g FROM generate_series(1, {users}) g; \
         ANALYZE clerk.users; ANALYZE clerk.processed_webhooks"
    ))
    .await
    .context("seeding the users")?;
    plant(redis, &keys, dead_letters).await?;

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let console = Console::start(ConsoleConfig {
        redis: redis.clone(),
        keys,
        database: clerk_sync_db::PoolConfig {
            url: cluster.database_url(),
            max_size: 4,
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_secs(60),
            application_name: "clerk-sync-bench console".into(),
            connect_timeout: Duration::from_secs(10),
        },
        schema: clerk_sync_db::Schema::default(),
        args: ConsoleArgs {
            bind: listener.local_addr()?,
            operator_tokens: parse_tokens(TOKEN).map_err(anyhow::Error::msg)?,
            viewer_tokens: None,
        },
        syncer: None,
    })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(clerk_sync_console::serve(console, listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut pages = Vec::new();
    let middle = users / 2;
    for (name, path) in [
        (
            "dead letters, grouped".to_owned(),
            "/dead-letters".to_owned(),
        ),
        (
            "dead letters of one group".to_owned(),
            "/dead-letters?type=user.updated&reason=gave+up+after+N+attempts".to_owned(),
        ),
        (
            "object search by email".to_owned(),
            format!("/objects?q=user{middle}%40example.com"),
        ),
        (
            "object story".to_owned(),
            format!("/objects/user_bench{middle}"),
        ),
    ] {
        let mut latency = Histogram::<u64>::new(3)?;
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let response = http
                .get(format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .header("Accept", "application/json")
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.bytes().await?;
            latency.record(started.elapsed().as_micros() as u64)?;
        }
        pages.push((
            name,
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
        ));
    }
    let _ = stop.send(());
    server.await??;
    Ok(ConsoleRun {
        dead_letters,
        users,
        pages,
    })
}

/// Dead-letters `count` events through the workers' own settling step (so the index is
/// kept as in production), spread over four types and two reasons.
async fn plant(redis: &Pool, keys: &Keys, count: usize) -> anyhow::Result<()> {
    let consumer = Consumer::new(redis.clone(), keys.clone(), "bench-dead-letters");
    consumer.ensure_group().await?;
    let types = [
        "user.created",
        "user.updated",
        "session.created",
        "organization.updated",
    ];
    let mut done = 0;
    while done < count {
        let batch = (count - done).min(1_000);
        let mut pipe = clerk_sync_queue::redis::pipe();
        for i in done..done + batch {
            let kind = types[i % types.len()];
            let entry = Entry {
                svix_id: format!("msg_dead{i:07}"),
                svix_timestamp: "1716883200".into(),
                event_type: kind.into(),
                payload: format!(r#"{{"type":"{kind}","data":{{"id":"user_bench{i}"}}}}"#)
                    .into_bytes(),
                received_at: 1_716_883_200_000,
                attempt: 0,
            };
            pipe.xadd(keys.events(), "*", &entry.fields());
        }
        let mut conn = redis.get().await?;
        pipe.query_async::<()>(&mut *conn).await?;
        drop(conn);
        let deliveries = consumer.read(batch, Duration::ZERO).await?;
        let mut settlement = Settlement::new();
        for (n, delivery) in deliveries.iter().enumerate() {
            let error = if n % 2 == 0 {
                "gave up after 8 attempts: deadlock detected"
            } else {
                "data.id: missing field"
            };
            settlement.dead_letter(&delivery.id, error, 8);
        }
        consumer.settle(&settlement).await?;
        done += batch;
    }
    Ok(())
}

/// The console's lines of the report.
pub fn report(run: &ConsoleRun) -> String {
    let mut out = format!(
        "\nConsole pages with {} dead letters and {} users ({} requests each, JSON over HTTP, target under 200 ms):\n\n| page | p50 ms | p99 ms |\n|---|---|---|\n",
        run.dead_letters, run.users, SAMPLES
    );
    for (page, p50, p99) in &run.pages {
        out.push_str(&format!("| {page} | {p50:.1} | {p99:.1} |\n"));
    }
    out
}
