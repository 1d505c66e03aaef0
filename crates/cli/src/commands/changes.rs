//! `clerk-sync changes [--after ID] [--follow] [--type T] [--json]`: prints the change feed,
//! `sync_changes`, in `id` order; with `--follow`, then each change as it commits, until
//! SIGINT or SIGTERM.
//!
//! A cursor given with `--after` that fell behind retention (below
//! `sync_changes_pruned.through_id`: changes after it were deleted unread) exits 3 before
//! printing anything, saying how far: the consumer must catch up from the objects' rows.
//!
//! Following listens before it reads, so a change committed in between is read rather than
//! lost, and reads by id after each notification (and every [`REREAD_EVERY`] without one),
//! so a notification that never arrives delays a change and never drops it. Ids are handed
//! out in commit order (see `clerk_sync_db`'s feed), so a cursor never passes a change
//! still to commit.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clerk_sync_db::{Change, ChangeListener, PoolConfig};

/// Rows read per statement.
const PAGE: i64 = 1000;
/// How often `--follow` reads again with no notification: the bound on the delay a lost
/// notification (a broken proxy, a full queue) can cause.
const REREAD_EVERY: Duration = Duration::from_secs(10);

/// `clerk-sync changes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only changes with an id above this one (a consumer's cursor); exits 3 when changes
    /// after it were already deleted by retention. Without it, from the oldest kept.
    #[arg(long, value_name = "ID")]
    after: Option<i64>,

    /// Keep printing each change as it commits, until SIGINT or SIGTERM.
    #[arg(long)]
    follow: bool,

    /// Only this object type (`user`, `organization_membership`, …) or event type
    /// (`user.created`, …); repeat it or separate with commas for several.
    #[arg(long = "type", value_name = "T", value_delimiter = ',')]
    types: Vec<String>,

    /// One JSON object per line, for scripts.
    #[arg(long)]
    json: bool,
}

/// Exit 0 once everything is printed or, with `--follow`, on SIGINT or SIGTERM; 3 when
/// `--after` fell behind retention.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = PoolConfig {
        url: args.database.url.expose().to_owned(),
        max_size: 1,
        statement_timeout: Duration::from_secs(30),
        lock_timeout: Duration::ZERO,
        idle_in_transaction_timeout: Duration::ZERO,
        application_name: "clerk-sync changes".into(),
        connect_timeout: Duration::from_secs(10),
    };
    let where_ = &args.database.url;
    let conn = clerk_sync_db::connect(&config)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {where_}"))?;
    // Listening before the first read: a change that commits between the two is notified.
    let mut listener = ChangeListener::start(conn, args.database.schema)
        .await
        .context("cannot listen for changes")?;
    if let Some(after) = args.after {
        let through = listener
            .pruned_through()
            .await
            .context("cannot read sync_changes_pruned")?;
        if after < through {
            eprintln!(
                "error: cursor {after} fell behind retention: changes up to id {through} were deleted (CHANGES_RETENTION), {} of them after the cursor at most; read the objects' current rows, then follow from --after {through}",
                through - after
            );
            return Ok(ExitCode::from(3));
        }
    }
    // Spawned now, so the signal handlers are in place before the first line is printed.
    let mut stop = tokio::spawn(clerk_sync_runtime::shutdown_signal());
    let mut printer = Printer::new(args.json);
    let mut cursor = print_after(
        &mut listener,
        args.after.unwrap_or(0),
        &args.types,
        &mut printer,
    )
    .await?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(ExitCode::SUCCESS),
            notified = listener.notified() => {
                notified.context("lost the connection to PostgreSQL while following")?;
            }
            () = tokio::time::sleep(REREAD_EVERY) => {}
        }
        cursor = print_after(&mut listener, cursor, &args.types, &mut printer).await?;
    }
}

/// Prints every change after `cursor`, page by page, and returns the new cursor.
async fn print_after(
    listener: &mut ChangeListener,
    mut cursor: i64,
    types: &[String],
    printer: &mut Printer,
) -> anyhow::Result<i64> {
    loop {
        let page = listener
            .read(cursor, PAGE, types)
            .await
            .context("cannot read sync_changes")?;
        for change in &page {
            printer.print(change)?;
            cursor = change.id;
        }
        if (page.len() as i64) < PAGE {
            return Ok(cursor);
        }
    }
}

/// Lines for people, under one header printed before the first; or JSON lines.
struct Printer {
    json: bool,
    header_printed: bool,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            header_printed: false,
        }
    }

    fn print(&mut self, change: &Change) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(change)?);
            return Ok(());
        }
        // Fixed columns rather than a drawn table: `--follow` prints a line at a time.
        if !self.header_printed {
            println!(
                "{:>8}  {:<24}  {:<8}  {:<24}  {:<32}  {:<32}  SVIX ID",
                "ID", "COMMITTED AT", "OP", "OBJECT TYPE", "OBJECT ID", "EVENT"
            );
            self.header_printed = true;
        }
        println!(
            "{:>8}  {:<24}  {:<8}  {:<24}  {:<32}  {:<32}  {}",
            change.id,
            change
                .committed_at
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            change.op.as_str(),
            change.object_type,
            change.object_id,
            change.event_type,
            change.svix_id,
        );
        Ok(())
    }
}
