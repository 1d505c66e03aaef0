//! `clerk-sync send`: Clerk's "Send Example", locally. Builds a realistic event (or takes a
//! file), signs it with the configured secret exactly as Svix does, posts it to the receiver
//! and prints the answer; no Clerk account or tunnel needed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clerk_sync_signature::{SigningSecrets, sign};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::output::{self, now_ms};

/// Where a local receiver listens.
const DEFAULT_URL: &str = "http://127.0.0.1:8080/webhooks/clerk";

/// `clerk-sync send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event type, e.g. `user.created` (any of Clerk's types).
    event_type: String,

    /// Send this file's body instead of a generated one (signed as is, byte for byte).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,

    /// The receiver's webhook endpoint.
    #[arg(long, env = "RECEIVER_URL", value_name = "RECEIVER_URL", default_value = DEFAULT_URL)]
    url: String,

    /// How many events to send, each with its own id.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,

    /// The signing secret(s); new signatures use the first.
    #[arg(long, env = "CLERK_WEBHOOK_SIGNING_SECRET", value_name = "CLERK_WEBHOOK_SIGNING_SECRET", hide_env_values = true, value_parser = parse_secrets)]
    signing_secret: Option<SigningSecrets>,

    /// The older name of the signing secret, read where the new one is unset.
    #[arg(long, env = "CLERK_WEBHOOK_SECRET", value_name = "CLERK_WEBHOOK_SECRET", hide_env_values = true, hide = true, value_parser = parse_secrets)]
    legacy_signing_secret: Option<SigningSecrets>,

    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

fn parse_secrets(value: &str) -> Result<SigningSecrets, String> {
    value.parse().map_err(|e| format!("{e}"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(secrets) = args
        .signing_secret
        .clone()
        .or(args.legacy_signing_secret.clone())
    else {
        clerk_sync_runtime::config_error(
            "CLERK_WEBHOOK_SIGNING_SECRET is required to sign events (the endpoint's signing secret, whsec_…)",
        );
    };
    let file_body = match &args.file {
        Some(path) => Some(read_file(path, &args.event_type)?),
        None => {
            if crate::examples::example(&args.event_type).is_none() {
                bail!(
                    "{} is not a Clerk event type; one of: {}",
                    args.event_type,
                    clerk_sync_events::CLERK_EVENT_TYPES.join(", ")
                );
            }
            None
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;

    let mut results = Vec::new();
    let mut all_ok = true;
    for _ in 0..args.count {
        let body = match &file_body {
            Some(body) => body.clone(),
            None => generate(&args.event_type)?,
        };
        let svix_id = format!("msg_{}", random(27));
        let timestamp = now_ms() / 1000;
        let signature = sign(secrets.primary(), &svix_id, timestamp, &body);
        let response = client
            .post(&args.url)
            .header("svix-id", &svix_id)
            .header("svix-timestamp", timestamp.to_string())
            .header("svix-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the receiver at {}", args.url))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        all_ok &= status.is_success();
        if args.json {
            let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            results.push(json!({"svix_id": svix_id, "status": status.as_u16(), "body": body}));
        } else {
            println!("{} {}  svix_id={svix_id}", status.as_u16(), text.trim());
        }
    }
    if args.json {
        output::json(&Value::Array(results));
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_file(path: &PathBuf, event_type: &str) -> anyhow::Result<Vec<u8>> {
    let body = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let declared = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
    if let Some(declared) = declared
        && declared != event_type
    {
        bail!(
            "{} holds a {declared} event, not {event_type}",
            path.display()
        );
    }
    Ok(body)
}

/// Clerk's example for the type, with a fresh object id and the current time, so each send
/// is a new object rather than a duplicate of the last.
fn generate(event_type: &str) -> anyhow::Result<Vec<u8>> {
    let example = crate::examples::example(event_type).unwrap_or("{}");
    let mut event: Value =
        serde_json::from_str(example).context("a built-in example is not JSON")?;
    let now = now_ms();
    event["timestamp"] = json!(now);
    if let Some(data) = event.get_mut("data").and_then(Value::as_object_mut) {
        if let Some(id) = data.get("id").and_then(Value::as_str) {
            // Keep Clerk's prefix (`user_`, `csub_item_`): the id's shape stays realistic.
            let prefix = id.rsplit_once('_').map_or("obj", |(prefix, _)| prefix);
            let fresh = format!("{prefix}_{}", random(27));
            data.insert("id".into(), json!(fresh));
        }
        for field in ["created_at", "updated_at"] {
            if data.contains_key(field) {
                data.insert(field.into(), json!(now));
            }
        }
    }
    Ok(serde_json::to_vec(&event)?)
}

fn random(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
