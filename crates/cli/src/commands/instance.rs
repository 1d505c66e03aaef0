//! `clerk-sync instance`: the Clerk instance this database mirrors (`sync_instance`), and,
//! with `CLERK_SECRET_KEY` set, whether the key belongs to it. `clerk-sync instance pin
//! <ins_…> --confirm` is the only way to change it.
//!
//! Exit status: 0 when the pin is shown (and the key, if any, matches) or changed; 1 when
//! the key belongs to another instance; 2 when nothing could be read, or `pin` lacks
//! `--confirm`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_db::PinnedInstance;
use clerk_sync_mirror::ClerkArgs;

use crate::output;

/// `clerk-sync instance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to change; without it, the pin is printed.
    #[command(subcommand)]
    action: Option<Action>,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Also ask Clerk which instance this key belongs to (optional).
    #[command(flatten)]
    clerk: ClerkArgs,

    /// Print as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Pin another instance: from now on only its keys and webhooks are accepted, and
    /// the current one's are refused. Its objects already here stay as they are.
    Pin {
        /// The instance, `ins_…` (the Clerk dashboard's instance settings, or `clerk-sync
        /// instance` with that instance's key).
        instance_id: String,

        /// Required: changing the pin changes which Clerk this database follows.
        #[arg(long)]
        confirm: bool,
    },
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pool = args
        .database
        .pool("clerk-sync instance", Duration::from_secs(30))?;
    let conn = pool.get().await.with_context(|| {
        format!(
            "cannot connect to PostgreSQL at {}",
            args.database.display()
        )
    })?;
    match args.action {
        Some(Action::Pin {
            instance_id,
            confirm,
        }) => {
            if !clerk_sync_clerk_api::is_instance_id(&instance_id) {
                eprintln!("error: not a Clerk instance id: ins_ followed by letters and digits");
                return Ok(ExitCode::from(2));
            }
            if !confirm {
                eprintln!(
                    "error: pinning {instance_id} makes this database refuse every key and webhook of the instance it mirrors now; add --confirm to do it"
                );
                return Ok(ExitCode::from(2));
            }
            let before = clerk_sync_db::pinned_instance(&conn, args.database.schema).await?;
            let pinned =
                clerk_sync_db::repin_instance(&conn, args.database.schema, &instance_id, None)
                    .await?;
            tracing::warn!(
                from = before.as_ref().map(|p| p.instance_id.as_str()),
                to = %pinned.instance_id,
                "the pinned Clerk instance was changed"
            );
            match before {
                Some(before) if before.instance_id != instance_id => println!(
                    "pinned {instance_id} (was {}): keys and webhooks of {} are refused from now on",
                    before.instance_id, before.instance_id
                ),
                _ => println!("pinned {instance_id}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let pinned = clerk_sync_db::pinned_instance(&conn, args.database.schema).await?;
            let key = match args.clerk.clerk() {
                Some(clerk) => {
                    let client = clerk.client(RetryPolicy::PATIENT)?;
                    match client.instance(None).await {
                        Ok(instance) => Some(instance),
                        Err(error) => {
                            eprintln!(
                                "error: cannot ask Clerk which instance CLERK_SECRET_KEY belongs to: {error}"
                            );
                            return Ok(ExitCode::from(2));
                        }
                    }
                }
                None => None,
            };
            let matches = match (&pinned, &key) {
                (Some(pinned), Some(key)) => Some(pinned.instance_id == key.id),
                _ => None,
            };
            if args.json {
                output::json(&serde_json::json!({
                    "pinned": pinned,
                    "key_instance": key.as_ref().map(|k| serde_json::json!({"id": k.id, "environment_type": k.environment_type})),
                    "key_matches": matches,
                }));
            } else {
                print(pinned.as_ref(), key.as_ref(), matches);
            }
            Ok(ExitCode::from(if matches == Some(false) { 1 } else { 0 }))
        }
    }
}

fn print(
    pinned: Option<&PinnedInstance>,
    key: Option<&clerk_sync_clerk_api::Instance>,
    matches: Option<bool>,
) {
    match pinned {
        Some(pinned) => println!(
            "pinned: {} ({}), since {}",
            pinned.instance_id,
            pinned
                .environment_type
                .as_deref()
                .unwrap_or("environment not known: pinned by a webhook or by hand"),
            pinned.pinned_at.format("%Y-%m-%dT%H:%M:%SZ"),
        ),
        None => println!(
            "not pinned yet: the first Backend API use with a key, or the first applied webhook that names its instance, pins it"
        ),
    }
    if let Some(key) = key {
        let verdict = match matches {
            Some(true) => "matches",
            Some(false) => {
                "ANOTHER INSTANCE: refused by backfill, verify, reconcile, sync and the workers"
            }
            None => "would be pinned by its first use",
        };
        println!(
            "CLERK_SECRET_KEY: {} ({}): {verdict}",
            key.id,
            key.environment_type
                .as_deref()
                .unwrap_or("environment not said")
        );
    }
}
