//! The capacity phase: what one queued event, dead letter and guarded event cost Redis, and
//! what one user, `processed_webhooks` row and feed row cost PostgreSQL, each measured as
//! the difference in the store's own accounting before and after many of them.

use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_queue::redis;
use clerk_sync_queue::{Enqueuer, EnqueuerConfig, Entry, Keys, Pool, field};
use clerk_sync_testbed::PREFIX;

use crate::payload::{email_created, session_created, user_updated};

/// Bytes per item.
#[derive(Debug, Clone, Default)]
pub struct Capacity {
    /// How many events the Redis figures were measured over.
    pub events: usize,
    /// The duplicate guard as earlier versions laid it out: a string key per id with a TTL.
    pub guard_per_key: f64,
    /// The duplicate guard as it is: ids in small expiring hashes.
    pub guard: f64,
    /// One entry of `{prefix}:events` with a ~2.5 KB `user.updated` body.
    pub queued: f64,
    /// One entry of `{prefix}:dlq`: the same entry with its error line.
    pub dead_letter: f64,
    /// The payload's length, for the reader.
    pub payload_len: usize,
    /// PostgreSQL: one user with its two email addresses and phone number (users and
    /// addresses tables, indexes included).
    pub pg_user: f64,
    /// One `processed_webhooks` row, index included.
    pub pg_processed: f64,
    /// One `sync_changes` row, indexes included.
    pub pg_feed: f64,
    /// One `sessions` row (a sign-in), indexes included.
    pub pg_session: f64,
    /// One `messages` row (an email or SMS sent), indexes included.
    pub pg_message: f64,
}

async fn used_memory(redis: &Pool) -> anyhow::Result<f64> {
    let mut conn = redis.get().await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut *conn)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory has no used_memory")
}

/// Resets Redis's command statistics, so [`events_per_call`] counts from here.
pub async fn reset_command_stats(redis: &Pool) -> anyhow::Result<()> {
    let mut conn = redis.get().await?;
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(&mut *conn)
        .await?;
    Ok(())
}

/// XADDs per EVALSHA since the last reset: how many events the receiver's script calls
/// carried on average (commands a script runs are counted too).
pub async fn events_per_call(redis: &Pool) -> anyhow::Result<f64> {
    let mut conn = redis.get().await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut *conn)
        .await?;
    let calls = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0)
    };
    let scripts = calls("evalsha") + calls("eval");
    Ok(if scripts > 0.0 {
        calls("xadd") / scripts
    } else {
        0.0
    })
}

async fn flush(redis: &Pool) -> anyhow::Result<()> {
    let mut conn = redis.get().await?;
    redis::cmd("FLUSHALL")
        .arg("SYNC")
        .query_async::<()>(&mut *conn)
        .await?;
    Ok(())
}

fn entry(n: usize) -> Entry {
    Entry {
        svix_id: format!("msg_{n:027}"),
        svix_timestamp: "1716883200".into(),
        event_type: "user.updated".into(),
        payload: user_updated(n % 20_000, 1_716_883_200_000 + n as i64).to_vec(),
        received_at: 1_716_883_200_000,
        attempt: 0,
    }
}

/// Redis's figures over `events` events, in a Redis of the bench's own, emptied first.
pub async fn redis_bytes(redis: &Pool, events: usize) -> anyhow::Result<Capacity> {
    let mut capacity = Capacity {
        events,
        payload_len: entry(0).payload.len(),
        ..Capacity::default()
    };
    let keys = Keys::new(PREFIX);

    // The guard as it was: `SET {prefix}:seen:<id> <entry id> EX 86400`.
    flush(redis).await?;
    let before = used_memory(redis).await?;
    for chunk in (0..events).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for &n in chunk {
            pipe.cmd("SET")
                .arg(keys.seen(&entry(n).svix_id))
                .arg(format!("1716883200{n:03}-0"))
                .arg("EX")
                .arg(86_400)
                .ignore();
        }
        let mut conn = redis.get().await?;
        pipe.query_async::<()>(&mut *conn).await?;
    }
    capacity.guard_per_key = (used_memory(redis).await? - before) / events as f64;

    // The guard as it is, through the enqueue script; then the stream, by deleting it.
    flush(redis).await?;
    let enqueuer = Enqueuer::new(
        redis.clone(),
        keys.clone(),
        EnqueuerConfig {
            high_water: 0,
            timeout: Duration::from_secs(30),
            ..EnqueuerConfig::default()
        },
    );
    let before = used_memory(redis).await?;
    for chunk in (0..events).collect::<Vec<_>>().chunks(256) {
        let entries: Vec<Entry> = chunk.iter().map(|&n| entry(n)).collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        for outcome in enqueuer.enqueue_group(&refs).await {
            outcome.context("enqueue for the capacity phase")?;
        }
    }
    let with_stream = used_memory(redis).await?;
    {
        let mut conn = redis.get().await?;
        redis::cmd("DEL")
            .arg(keys.events())
            .query_async::<()>(&mut *conn)
            .await?;
    }
    let guard_only = used_memory(redis).await?;
    capacity.guard = (guard_only - before) / events as f64;
    capacity.queued = (with_stream - guard_only) / events as f64;

    // Dead letters: a tenth as many, each the entry plus why it failed.
    let letters = (events / 10).max(1);
    let before = used_memory(redis).await?;
    for chunk in (0..letters).collect::<Vec<_>>().chunks(500) {
        let mut pipe = redis::pipe();
        for &n in chunk {
            let e = entry(n);
            let mut xadd = redis::cmd("XADD");
            xadd.arg(keys.dlq()).arg("*");
            for (name, value) in e.fields() {
                xadd.arg(name).arg(value);
            }
            xadd.arg(field::ERROR)
                .arg("user.updated: data.email_addresses[0].email_address: missing field")
                .arg(field::FAILED_AT)
                .arg("1716883200123")
                .arg(field::ATTEMPTS)
                .arg("1");
            pipe.add_command(xadd).ignore();
        }
        let mut conn = redis.get().await?;
        pipe.query_async::<()>(&mut *conn).await?;
    }
    capacity.dead_letter = (used_memory(redis).await? - before) / letters as f64;
    flush(redis).await?;
    Ok(capacity)
}

/// PostgreSQL's figures, from the tables as the workers left them: compacted first, so the
/// figure is live data, not the dead versions a run of updates leaves behind.
pub async fn postgres_bytes(
    db: &tokio_postgres::Client,
    capacity: &mut Capacity,
) -> anyhow::Result<()> {
    db.batch_execute(
        "VACUUM FULL ANALYZE clerk.users, clerk.user_email_addresses, clerk.processed_webhooks, clerk.sync_changes",
    )
    .await?;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM clerk.users)::float8, \
                    (pg_total_relation_size('clerk.users') + pg_total_relation_size('clerk.user_email_addresses'))::float8, \
                    (SELECT count(*) FROM clerk.processed_webhooks)::float8, \
                    pg_total_relation_size('clerk.processed_webhooks')::float8, \
                    (SELECT count(*) FROM clerk.sync_changes)::float8, \
                    pg_total_relation_size('clerk.sync_changes')::float8",
            &[],
        )
        .await?;
    let per = |count: f64, bytes: f64| if count > 0.0 { bytes / count } else { 0.0 };
    capacity.pg_user = per(row.get(0), row.get(1));
    capacity.pg_processed = per(row.get(2), row.get(3));
    capacity.pg_feed = per(row.get(4), row.get(5));
    Ok(())
}

/// PostgreSQL's bytes per `sessions` and per `messages` row: `count` sign-ins and as many
/// emailed codes queued as the receiver queues them, applied by one worker, then compacted.
pub async fn postgres_session_and_message_bytes(
    cluster: &mut clerk_sync_testbed::Cluster,
    db: &tokio_postgres::Client,
    redis: &Pool,
    count: usize,
    capacity: &mut Capacity,
) -> anyhow::Result<()> {
    db.batch_execute("TRUNCATE clerk.sessions, clerk.messages")
        .await?;
    let enqueuer = crate::phases::enqueuer(redis);
    let version = 1_716_883_200_000;
    for chunk in (0..count).collect::<Vec<_>>().chunks(128) {
        let entries: Vec<Entry> = chunk
            .iter()
            .flat_map(|&n| {
                let t = version + n as i64;
                [
                    ("session.created", session_created(n, t), "s"),
                    ("email.created", email_created(n, t), "e"),
                ]
                .map(|(kind, body, tag)| Entry {
                    svix_id: format!("msg_{tag}{n:026}"),
                    svix_timestamp: "1716883200".into(),
                    event_type: kind.into(),
                    payload: body.to_vec(),
                    received_at: version as u64,
                    attempt: 0,
                })
            })
            .collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        for outcome in enqueuer.enqueue_group(&refs).await {
            outcome.context("queueing the capacity phase's sessions and emails")?;
        }
    }
    cluster.start_worker(&[("MIGRATE_ON_START", "false")])?;
    crate::phases::wait_for_rows(db, 2 * count as i64, Duration::from_secs(600)).await?;
    db.batch_execute("VACUUM FULL ANALYZE clerk.sessions, clerk.messages")
        .await?;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM clerk.sessions)::float8, \
                    pg_total_relation_size('clerk.sessions')::float8, \
                    (SELECT count(*) FROM clerk.messages)::float8, \
                    pg_total_relation_size('clerk.messages')::float8",
            &[],
        )
        .await?;
    let (sessions, messages): (f64, f64) = (row.get(0), row.get(2));
    anyhow::ensure!(
        sessions as usize == count && messages as usize == count,
        "{sessions} sessions and {messages} messages applied of {count} each"
    );
    capacity.pg_session = row.get::<_, f64>(1) / sessions;
    capacity.pg_message = row.get::<_, f64>(3) / messages;
    Ok(())
}
