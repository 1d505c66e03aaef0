"""What the deployment files must agree with: the documented settings and metrics.

The names below are the public contract (SPEC.md's Configuration table plus the settings the
binaries add); a deployment file that sets anything else has a typo the binaries would
silently ignore, so the checks refuse it.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]

RECEIVER, WORKER, CLI = "clerk-sync-receiver", "clerk-sync-worker", "clerk-sync"
ALL = {RECEIVER, WORKER, CLI}

# Environment variable -> the binaries that read it.
SETTINGS = {
    "CLERK_WEBHOOK_SIGNING_SECRET": {RECEIVER, CLI},
    "CLERK_WEBHOOK_SECRET": {RECEIVER, CLI},
    "REDIS_URL": ALL,
    "DATABASE_URL": {WORKER, CLI},
    "DATABASE_SCHEMA": {WORKER, CLI},
    "RECEIVER_BIND": {RECEIVER},
    "WORKER_METRICS_BIND": {WORKER},
    "STREAM_PREFIX": ALL,
    "WEBHOOK_TOLERANCE_SECS": {RECEIVER},
    "MAX_BODY_BYTES": {RECEIVER},
    "QUEUE_HIGH_WATER": {RECEIVER},
    "MAX_ATTEMPTS": {WORKER},
    "RETRY_BASE_MS": {WORKER},
    "RETRY_MAX_MS": {WORKER},
    "CLAIM_IDLE_MS": {WORKER},
    "ATTEMPT_TIMEOUT_MS": {WORKER},
    "WORKER_CONCURRENCY": {WORKER},
    "WORKER_BATCH_SIZE": {WORKER},
    "WORKER_CONSUMER_NAME": {WORKER},
    "MIGRATE_ON_START": {WORKER},
    "USER_DELETE_MODE": {WORKER, CLI},
    "LOCK_TIMEOUT_MS": {WORKER},
    "IDLE_IN_TRANSACTION_TIMEOUT_MS": {WORKER},
    "CLERK_SYNC_API_TOKEN": {WORKER},
    "API_BIND": {WORKER},
    "CLERK_SECRET_KEY": {WORKER, CLI},
    "CLERK_API_URL": {WORKER, CLI},
    "CLERK_API_RATE": {WORKER, CLI},
    "RECONCILE_INTERVAL": {WORKER},
    "CHANGES_RETENTION": {WORKER},
    "PROCESSED_RETENTION": {WORKER},
    "SESSIONS_RETENTION": {WORKER},
    "MESSAGES_RETENTION": {WORKER},
    "CONSOLE_BIND": {CLI},
    "CLERK_SYNC_CONSOLE_TOKEN": {CLI},
    "CLERK_SYNC_CONSOLE_VIEWER_TOKEN": {CLI},
    "LOG_FORMAT": ALL,
    "RUST_LOG": ALL,
}

# The defaults the timing checks fall back on when a file leaves a setting out.
DEFAULTS = {"ATTEMPT_TIMEOUT_MS": 30000, "CLAIM_IDLE_MS": 60000, "API_BIND": "0.0.0.0:8081"}

# Metric -> type, as the binaries export them.
METRICS = {
    "clerk_sync_receiver_requests_total": "counter",
    "clerk_sync_receiver_verification_failures_total": "counter",
    "clerk_sync_receiver_enqueue_duration_seconds": "histogram",
    "clerk_sync_receiver_last_accepted_timestamp_seconds": "gauge",
    "clerk_sync_worker_events_total": "counter",
    "clerk_sync_worker_apply_duration_seconds": "histogram",
    "clerk_sync_worker_end_to_end_seconds": "histogram",
    "clerk_sync_worker_batch_size": "histogram",
    "clerk_sync_worker_stream_length": "gauge",
    "clerk_sync_worker_stream_lag": "gauge",
    "clerk_sync_worker_pending": "gauge",
    "clerk_sync_worker_retry_set_size": "gauge",
    "clerk_sync_worker_dlq_length": "gauge",
    "clerk_sync_worker_postgres_up": "gauge",
    "clerk_sync_worker_claimed_total": "counter",
    "clerk_sync_worker_promoted_total": "counter",
    "clerk_sync_reconcile_last_success_timestamp_seconds": "gauge",
    "clerk_sync_reconcile_interval_seconds": "gauge",
    "clerk_sync_reconcile_runs_total": "counter",
    "clerk_sync_drift_objects": "gauge",
    "clerk_sync_api_requests_total": "counter",
    "clerk_sync_api_backend_calls_total": "counter",
    "clerk_sync_clerk_instance_mismatch": "gauge",
    "clerk_sync_reconcile_refusals_total": "counter",
}

CONSUMER_GROUP = "workers"

errors: list[str] = []


def fail(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


def check_settings(where: str, binary: str, names) -> None:
    """Every name must be documented, and read by the binary it is given to."""
    for name in sorted(names):
        if name not in SETTINGS:
            fail(where, f"{name} is not a documented setting")
        elif binary not in SETTINGS[name]:
            fail(where, f"{name} is not read by {binary}")


def port_of(bind: str) -> int:
    return int(bind.rsplit(":", 1)[1])


def seconds(duration) -> float:
    """A Compose duration (`45s`, `1m30s`) or a number of seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    return sum(float(n) * units[u] for n, u in parts)


def stream_key(prefix: str) -> str:
    return "{" + prefix + "}:events"
