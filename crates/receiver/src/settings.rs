//! The receiver's settings, from flags or the environment.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use clerk_sync_queue::EnqueuerConfig;
use clerk_sync_runtime::{CommonArgs, ServiceUrl};
use clerk_sync_signature::{DEFAULT_TOLERANCE_SECS, SigningSecrets};

/// The default listen address.
pub const DEFAULT_BIND: &str = "0.0.0.0:8080";
/// Bodies larger than this get 413 unless `MAX_BODY_BYTES` says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The receiver's settings, from flags or the environment.
#[derive(Debug, Parser)]
#[command(name = "clerk-sync-receiver", version, about)]
pub struct Settings {
    /// The endpoint's signing secret(s), `whsec_…`, separated by spaces or commas during a
    /// rotation.
    #[arg(
        long,
        env = "CLERK_WEBHOOK_SIGNING_SECRET",
        value_name = "CLERK_WEBHOOK_SIGNING_SECRET",
        hide_env_values = true,
        value_parser = parse_secrets
    )]
    signing_secret: Option<SigningSecrets>,

    /// The older name of the signing secret, read where the new one is unset.
    #[arg(
        long,
        env = "CLERK_WEBHOOK_SECRET",
        value_name = "CLERK_WEBHOOK_SECRET",
        hide_env_values = true,
        hide = true,
        value_parser = parse_secrets
    )]
    legacy_signing_secret: Option<SigningSecrets>,

    /// Listen address.
    #[arg(long, env = "RECEIVER_BIND", value_name = "RECEIVER_BIND", default_value = DEFAULT_BIND)]
    bind: SocketAddr,

    /// Accepted distance, in seconds, between `svix-timestamp` and now, either way.
    #[arg(
        long,
        env = "WEBHOOK_TOLERANCE_SECS",
        value_name = "WEBHOOK_TOLERANCE_SECS",
        default_value_t = DEFAULT_TOLERANCE_SECS
    )]
    tolerance_secs: u64,

    /// Larger request bodies are refused with 413 while being read.
    #[arg(
        long,
        env = "MAX_BODY_BYTES",
        value_name = "MAX_BODY_BYTES",
        default_value_t = DEFAULT_MAX_BODY_BYTES
    )]
    max_body_bytes: usize,

    /// Stream length at which new events get 503 (0: no limit).
    #[arg(
        long,
        env = "QUEUE_HIGH_WATER",
        value_name = "QUEUE_HIGH_WATER",
        default_value_t = EnqueuerConfig::default().high_water
    )]
    queue_high_water: u64,

    /// Settings shared by every binary.
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_secrets(value: &str) -> Result<SigningSecrets, String> {
    value.parse().map_err(|e| format!("{e}"))
}

impl Settings {
    /// Resolves the settings into what the application runs with, exiting with status 2
    /// when no signing secret is configured.
    pub fn into_config(self) -> Config {
        let Some(secrets) = self.signing_secret.or(self.legacy_signing_secret) else {
            clerk_sync_runtime::config_error(
                "CLERK_WEBHOOK_SIGNING_SECRET is required (the endpoint's signing secret, whsec_…)",
            )
        };
        Config {
            secrets,
            bind: self.bind,
            tolerance_secs: self.tolerance_secs,
            max_body_bytes: self.max_body_bytes,
            redis_url: self.common.redis_url,
            stream_prefix: self.common.stream_prefix,
            enqueue: EnqueuerConfig {
                high_water: self.queue_high_water,
                ..EnqueuerConfig::default()
            },
            body_read_timeout: Duration::from_secs(30),
            clock: crate::Clock::system(),
        }
    }
}

/// Everything the application needs, resolved and validated. Tests build this directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// Secrets a request may be signed with.
    pub secrets: SigningSecrets,
    /// Listen address; port 0 picks a free one.
    pub bind: SocketAddr,
    /// See `WEBHOOK_TOLERANCE_SECS`.
    pub tolerance_secs: u64,
    /// See `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// See `REDIS_URL`.
    pub redis_url: ServiceUrl,
    /// See `STREAM_PREFIX`.
    pub stream_prefix: String,
    /// Duplicate-guard TTL, high-water mark and the bound on one enqueue.
    pub enqueue: EnqueuerConfig,
    /// A client sending its body slower than this is answered 408 and dropped.
    pub body_read_timeout: Duration,
    /// Now, for the timestamp tolerance: the system clock outside tests.
    pub clock: crate::Clock,
}

/// The secret docker-compose.yml and .env.example ship so the stack runs on a fresh clone.
/// It is public, so a receiver running with it accepts anyone's webhooks.
pub const DEVELOPMENT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Whether one of `secrets` is [`DEVELOPMENT_SECRET`].
pub fn uses_development_secret(secrets: &SigningSecrets) -> bool {
    let Ok(development) = DEVELOPMENT_SECRET.parse::<clerk_sync_signature::SigningSecret>() else {
        return false;
    };
    secrets.iter().any(|s| s.key() == development.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_secret_is_recognised_in_a_rotation_too() {
        let rotation: SigningSecrets =
            format!("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD {DEVELOPMENT_SECRET}")
                .parse()
                .unwrap_or_else(|_| unreachable!());
        assert!(uses_development_secret(&rotation));
        let own: SigningSecrets = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        assert!(!uses_development_secret(&own));
    }
}
