//! `clerk-sync sync (user | organization) <id>`: the application API's forced refresh, from
//! the command line: the object fetched from Clerk's Backend API and applied through the
//! webhook path (an older state changes nothing, a deleted object stays deleted), then
//! printed as the API would answer it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_clerk_api::RetryPolicy;
use clerk_sync_db::{ApplyOptions, DeleteMode};
use clerk_sync_events::Kind;
use clerk_sync_mirror::ClerkArgs;
use clerk_sync_mirror::ondemand::{SyncError, Syncer};

/// What to refresh.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Object {
    /// A user (`user_…`): its `user_profiles` row.
    User,
    /// An organization (`org_…`), with its members.
    Organization,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What kind of object.
    #[arg(value_enum)]
    object: Object,

    /// Its Clerk id.
    id: String,

    #[command(flatten)]
    clerk: ClerkArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// What a deletion leaves behind, as the workers are configured (`soft` or `hard`).
    #[arg(long, env = "USER_DELETE_MODE", value_name = "USER_DELETE_MODE", default_value = "soft", value_parser = ["soft", "hard"])]
    user_delete_mode: String,

    /// Print the row as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 with the row printed, 1 when Clerk does not have the object or it was deleted, 2
/// when Clerk or PostgreSQL could not be reached.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kind = match args.object {
        Object::User => Kind::User,
        Object::Organization => Kind::Organization,
    };
    if !kind.is_valid_id(&args.id) {
        eprintln!(
            "error: not a Clerk {} id: {} followed by letters and digits",
            kind.name(),
            kind.prefix()
        );
        return Ok(ExitCode::from(2));
    }
    let clerk = args.clerk.require();
    let guard = match crate::context::hold_key(&clerk, &args.database).await {
        Ok(guard) => guard,
        Err(exit) => return Ok(exit),
    };
    let pool = args
        .database
        .pool("clerk-sync sync", Duration::from_secs(30))?;
    let client = clerk.client(RetryPolicy::PATIENT)?;
    let options = ApplyOptions {
        user_delete_mode: if args.user_delete_mode == "hard" {
            DeleteMode::Hard
        } else {
            DeleteMode::Soft
        },
        schema: args.database.schema,
    };
    let syncer = Syncer::new(pool, client, guard, options);
    match syncer.refresh(kind, &args.id, None).await {
        Ok(Some(row)) => {
            if args.json {
                println!("{row}");
            } else {
                print_fields(&row);
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            eprintln!(
                "{} {}: Clerk does not have it, or it was deleted; nothing written",
                kind.name(),
                args.id
            );
            Ok(ExitCode::from(1))
        }
        Err(
            error
            @ (SyncError::Upstream { .. } | SyncError::Database | SyncError::InstanceMismatch),
        ) => {
            eprintln!("error: {error} (the log says more: RUST_LOG=info)");
            Ok(ExitCode::from(2))
        }
        Err(error @ SyncError::Failed) => Err(error).context("cannot apply what Clerk answered"),
    }
}

/// One `name  value` line per column, values as JSON.
fn print_fields(row: &serde_json::Value) {
    let Some(fields) = row.as_object() else {
        println!("{row}");
        return;
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in fields {
        let value = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        println!("{name:width$}  {value}");
    }
}
