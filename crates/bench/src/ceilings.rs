//! What Redis and PostgreSQL can do on this machine, measured by their own tools in the same
//! run: `redis-benchmark` doing the receiver's write (XADD of the same payload, same
//! concurrency), and `pgbench` doing the worker's per-event SQL as one transaction per event.

use std::process::Command;

use anyhow::{Context as _, bail};
use clerk_sync_testbed::Cluster;

/// XADDs per second of a `payload_len`-byte field, `clients` at a time.
pub fn redis_xadd(
    cluster: &Cluster,
    payload_len: usize,
    clients: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let payload = "x".repeat(payload_len);
    let rps = redis_benchmark(
        cluster,
        clients,
        requests,
        &["XADD", "{bench}:events", "*", "payload", &payload],
    )?;
    flush(cluster)?;
    Ok(rps)
}

/// Runs per second of the receiver's enqueue script for one entry (a fresh id each call, the six entry fields, no high-water mark), `clients` at a time: what Redis
/// alone makes of the atomic step the receiver cannot do without.
pub fn redis_enqueue_script(
    cluster: &Cluster,
    payload_len: usize,
    clients: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let loaded = Command::new("redis-cli")
        .args(["-p", &cluster.redis_port.to_string()])
        .args(["SCRIPT", "LOAD", clerk_sync_queue::ENQUEUE_SCRIPT])
        .output()?;
    let sha = String::from_utf8_lossy(&loaded.stdout).trim().to_owned();
    if sha.len() != 40 {
        bail!("cannot load the enqueue script: {sha}");
    }
    let payload = "x".repeat(payload_len);
    // One entry per call, as an idle receiver sends it: a group of one.
    #[rustfmt::skip]
    let args = [
        "EVALSHA", &sha, "1", "{bench}:events", "86400", "0", "{bench}", "12",
        "msg___rand_int__",
        "svix_id", "msg___rand_int__", "svix_timestamp", "1700000000",
        "type", "user.updated", "payload", &payload, "received_at", "1700000000000",
        "attempt", "0",
    ];
    let rps = redis_benchmark(cluster, clients, requests, &args)?;
    flush(cluster)?;
    Ok(rps)
}

/// `redis-benchmark` of one command; `__rand_int__` in it becomes a random number below 10^9,
/// so guard keys do not repeat.
fn redis_benchmark(
    cluster: &Cluster,
    clients: usize,
    requests: usize,
    command: &[&str],
) -> anyhow::Result<f64> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &cluster.redis_port.to_string()])
        .args(["-c", &clients.to_string(), "-n", &requests.to_string()])
        .args(["-r", "1000000000", "--csv"])
        .args(command)
        .output()
        .context("cannot run redis-benchmark (Debian: redis-tools)")?;
    let csv = String::from_utf8_lossy(&output.stdout);
    // `"test","rps",…` then one line per command.
    let rps = csv
        .lines()
        .nth(1)
        .and_then(|line| line.split(',').nth(1))
        .and_then(|field| field.trim_matches('"').parse::<f64>().ok());
    match rps {
        Some(rps) => Ok(rps),
        None => bail!("cannot read redis-benchmark's output: {csv}"),
    }
}

/// Empties Redis, and its append-only file with it, so one ceiling does not slow the next.
fn flush(cluster: &Cluster) -> anyhow::Result<()> {
    Command::new("redis-cli")
        .args(["-p", &cluster.redis_port.to_string(), "FLUSHALL"])
        .output()?;
    Ok(())
}

/// The SQL the worker runs for one `user.updated`: lock, record, tombstone check, newest-wins
/// upsert, replace the addresses. One transaction per event, as an unbatched worker would.
const PER_EVENT: &str = r#"\set n random(1, 1000000000)
\set u random(1, 20000)
BEGIN;
SELECT pg_advisory_xact_lock(:u);
INSERT INTO clerk.processed_webhooks (svix_id, event_type, object_id)
  VALUES ('pgbench_' || :client_id || '_' || :n, 'user.updated', 'user_' || :u) ON CONFLICT DO NOTHING;
SELECT deleted_at FROM clerk.tombstones WHERE object_type = 'user' AND object_id = 'user_' || :u;
INSERT INTO clerk.users (clerk_id, external_id, username, email, first_name, last_name, image_url, phone,
    public_metadata, banned, locked, two_factor_enabled, password_enabled, last_sign_in_at,
    last_active_at, created_at, updated_at, deleted_at, last_svix_id)
  VALUES ('user_' || :u, NULL, NULL, 'a.user' || :u || '@example.com', 'First', 'Last',
    'https://img.clerk.com/x', '+15555550100', '{"plan": "pro"}', false, false, false, true,
    now(), now(), now(), clock_timestamp(), NULL, 'pgbench_' || :client_id || '_' || :n)
  ON CONFLICT (clerk_id) DO UPDATE SET external_id = excluded.external_id,
    username = excluded.username, email = excluded.email, first_name = excluded.first_name,
    last_name = excluded.last_name, image_url = excluded.image_url, phone = excluded.phone,
    public_metadata = excluded.public_metadata, banned = excluded.banned, locked = excluded.locked,
    two_factor_enabled = excluded.two_factor_enabled, password_enabled = excluded.password_enabled,
    last_sign_in_at = excluded.last_sign_in_at, last_active_at = excluded.last_active_at,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    deleted_at = excluded.deleted_at, last_svix_id = excluded.last_svix_id
  WHERE users.deleted_at IS NULL AND (excluded.updated_at > users.updated_at
    OR (excluded.updated_at = users.updated_at AND excluded.last_svix_id > users.last_svix_id));
DELETE FROM clerk.user_email_addresses WHERE user_id = 'user_' || :u
  AND id <> ALL(ARRAY['idn_a' || :u, 'idn_b' || :u]);
INSERT INTO clerk.user_email_addresses (id, user_id, email_address, verified, verification_status, is_primary)
  VALUES ('idn_a' || :u, 'user_' || :u, 'a.user' || :u || '@example.com', true, 'verified', true),
         ('idn_b' || :u, 'user_' || :u, 'b.user' || :u || '@example.com', true, 'verified', false)
  ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, email_address = excluded.email_address,
    verified = excluded.verified, verification_status = excluded.verification_status,
    is_primary = excluded.is_primary;
COMMIT;
"#;

/// Transactions per second of [`PER_EVENT`], `clients` at a time, for `seconds`.
pub fn pgbench_per_event(cluster: &Cluster, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let script = cluster.dir.join("per_event.sql");
    std::fs::write(&script, PER_EVENT)?;
    let output = Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.pg_port.to_string(),
            "-U",
            "postgres",
            "-n",
        ])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.to_string(),
            "-T",
            &seconds.to_string(),
        ])
        .arg("-f")
        .arg(&script)
        .arg("postgres")
        .output()
        .context("cannot run pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| line.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok());
    match tps {
        Some(tps) => Ok(tps),
        None => bail!(
            "cannot read pgbench's output: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
