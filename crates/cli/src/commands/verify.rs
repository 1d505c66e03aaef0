//! `clerk-sync verify`: is the database level with Clerk? Reads every user, organization and
//! membership from the Backend API (ids and `updated_at`), then the same from PostgreSQL, and
//! prints the drift:
//!
//! - missing: in Clerk, not live in the database (never delivered, or still queued);
//! - extra: live in the database, gone from Clerk (a deletion that never arrived);
//! - stale: in both, older `updated_at` in the database (an update that never arrived).
//!
//! Exit status, as `diff` has it: 0 in step, 1 drift, 2 when the check could not be made
//! (a setting missing or refused, Clerk or PostgreSQL unreachable).
//!
//! Clerk is read first. A row the database has that is newer than that read (created or
//! updated by a webhook meanwhile) is not drift, so a busy instance does not cry wolf.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use super::backfill::progress_bar;
use crate::output;
use clerk_sync_clerk_api::{Client, Kind, Listing, RetryPolicy};
use clerk_sync_mirror::ClerkArgs;

mod report;

/// `clerk-sync verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    clerk: ClerkArgs,

    #[command(flatten)]
    database: crate::context::DatabaseArgs,

    /// Only these kinds, comma-separated; all three by default.
    #[arg(
        long,
        env = "VERIFY_ONLY",
        value_name = "VERIFY_ONLY",
        value_enum,
        value_delimiter = ','
    )]
    only: Vec<crate::kinds::KindArg>,

    /// Print the result as JSON, for scripts.
    #[arg(long, env = "VERIFY_JSON")]
    json: bool,
}

/// Id, `updated_at` and `deleted_at` of a row.
/// The same for a membership, with its organization.
/// A database row, as far as the comparison goes.
#[derive(Debug, Clone, Copy)]
struct Row {
    updated_at: i64,
    live: bool,
}

/// The comparison of one kind.
#[derive(Debug, Default)]
struct Drift {
    in_clerk: usize,
    in_database: usize,
    /// Id, Clerk's version, and whether the database has it deleted.
    missing: Vec<(String, Option<i64>, bool)>,
    /// Id, the database's version.
    extra: Vec<(String, i64)>,
    /// Id, Clerk's version, the database's version.
    stale: Vec<(String, i64, i64)>,
}

impl Drift {
    fn count(&self) -> usize {
        self.missing.len() + self.extra.len() + self.stale.len()
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let clerk = args.clerk.require();
    if let Err(exit) = crate::context::hold_key(&clerk, &args.database).await {
        return Ok(exit);
    }
    // Exit 1 means drift, so a failure to check must not exit 1 as well.
    match check(&args, &clerk.client(RetryPolicy::PATIENT)?).await {
        Ok(drifts) => {
            let in_step = drifts.values().all(|d| d.count() == 0);
            if args.json {
                output::json(&report::as_json(&drifts, in_step));
            } else {
                report::print_tables(&drifts, in_step);
            }
            Ok(ExitCode::from(if in_step { 0 } else { 1 }))
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn check(args: &Args, client: &Client) -> anyhow::Result<BTreeMap<Kind, Drift>> {
    let kinds = crate::kinds::selected(&args.only);
    let started_ms = output::now_ms() as i64;
    let mut clerk = BTreeMap::new();
    for &kind in &kinds {
        let objects = read_clerk(client, kind)
            .await
            .with_context(|| format!("cannot list the {} in Clerk", kind.plural()))?;
        clerk.insert(kind, objects);
    }
    let mut database = read_database(&args.database, &kinds).await?;
    Ok(clerk
        .into_iter()
        .map(|(kind, in_clerk)| {
            let rows = database.remove(&kind).unwrap_or_default();
            (kind, compare(&in_clerk, &rows, started_ms))
        })
        .collect())
}

/// Every object of a kind in Clerk: id and version.
async fn read_clerk(client: &Client, kind: Kind) -> anyhow::Result<HashMap<String, Option<i64>>> {
    let progress = progress_bar(kind);
    let mut listing = Listing::new(client, kind, false);
    let mut objects = HashMap::new();
    while let Some(page) = listing.next_page().await? {
        if let Some(total) = listing.total() {
            progress.set_length(total);
        }
        progress.inc(page.objects.len() as u64);
        for object in page.objects {
            let version = object.version();
            objects.insert(object.id, version);
        }
    }
    progress.finish_and_clear();
    Ok(objects)
}

fn compare(
    clerk: &HashMap<String, Option<i64>>,
    rows: &HashMap<String, Row>,
    started_ms: i64,
) -> Drift {
    let mut drift = Drift {
        in_clerk: clerk.len(),
        in_database: rows.values().filter(|row| row.live).count(),
        ..Drift::default()
    };
    for (id, &version) in clerk {
        match rows.get(id) {
            Some(row) if row.live => {
                if let Some(version) = version.filter(|&v| row.updated_at < v) {
                    drift.stale.push((id.clone(), version, row.updated_at));
                }
            }
            row => drift.missing.push((id.clone(), version, row.is_some())),
        }
    }
    for (id, row) in rows {
        // Newer than the read of Clerk: created or updated since, not gone.
        if row.live && row.updated_at < started_ms && !clerk.contains_key(id) {
            drift.extra.push((id.clone(), row.updated_at));
        }
    }
    drift.missing.sort();
    drift.extra.sort();
    drift.stale.sort();
    drift
}

/// Every row of the kinds' tables: id, `updated_at`, and whether it is live. A membership
/// of an organization the database has deleted is not live: the application's views treat
/// it as gone, and so does Clerk.
async fn read_database(
    database: &crate::context::DatabaseArgs,
    kinds: &[Kind],
) -> anyhow::Result<BTreeMap<Kind, HashMap<String, Row>>> {
    // Whole tables are read; a large instance takes a while.
    let config = database.config("clerk-sync verify", Duration::from_secs(600));
    let where_ = database.display();
    let conn = clerk_sync_db::connect(&config)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {where_}"))?;
    let mut out = BTreeMap::new();
    for &kind in kinds {
        let rows = clerk_sync_db::inventory(&conn, database.schema, kind)
            .await
            .with_context(|| {
                format!(
                    "cannot read the {} from PostgreSQL at {where_}",
                    kind.plural()
                )
            })?
            .into_iter()
            .map(|(id, held)| {
                let row = Row {
                    updated_at: held.updated_at,
                    live: held.live,
                };
                (id, row)
            })
            .collect();
        out.insert(kind, rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_missing_extra_or_stale_and_nothing_newer() {
        let clerk: HashMap<String, Option<i64>> = [
            ("user_same", Some(100)),
            ("user_missing", Some(100)),
            ("user_deleted_here", Some(100)),
            ("user_stale", Some(200)),
            ("user_ahead", Some(100)),
        ]
        .into_iter()
        .map(|(id, v)| (id.to_owned(), v))
        .collect();
        let live = |updated_at| Row {
            updated_at,
            live: true,
        };
        let rows: HashMap<String, Row> = [
            ("user_same", live(100)),
            (
                "user_deleted_here",
                Row {
                    updated_at: 100,
                    live: false,
                },
            ),
            ("user_stale", live(150)),
            ("user_ahead", live(300)),
            ("user_extra", live(100)),
            ("user_created_meanwhile", live(5_000)),
        ]
        .into_iter()
        .map(|(id, row)| (id.to_owned(), row))
        .collect();
        let drift = compare(&clerk, &rows, 1_000);
        assert_eq!((drift.in_clerk, drift.in_database), (5, 5));
        assert_eq!(
            drift.missing,
            vec![
                ("user_deleted_here".to_owned(), Some(100), true),
                ("user_missing".to_owned(), Some(100), false)
            ]
        );
        assert_eq!(drift.extra, vec![("user_extra".to_owned(), 100)]);
        assert_eq!(drift.stale, vec![("user_stale".to_owned(), 200, 150)]);
    }
}
