//! How `verify` prints its findings: a table for people, JSON for scripts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::output;
use clerk_sync_clerk_api::Kind;
use clerk_sync_mirror::verify::Drift;

/// Drift lines the table shows; `--json` lists all.
const TABLE_ROWS: usize = 50;

pub(super) fn as_json(drifts: &BTreeMap<Kind, Drift>, in_step: bool) -> Value {
    let kinds: serde_json::Map<String, Value> = drifts
        .iter()
        .map(|(kind, d)| {
            let value = json!({
                "in_clerk": d.in_clerk,
                "in_database": d.in_database,
                "missing": d.missing.iter().map(|(id, clerk, deleted)| json!({
                    "id": id, "clerk_updated_at": clerk, "deleted_in_database": deleted,
                })).collect::<Vec<_>>(),
                "extra": d.extra.iter().map(|(id, db)| json!({
                    "id": id, "database_updated_at": db,
                })).collect::<Vec<_>>(),
                "stale": d.stale.iter().map(|(id, clerk, db)| json!({
                    "id": id, "clerk_updated_at": clerk, "database_updated_at": db,
                })).collect::<Vec<_>>(),
            });
            (kind.plural().to_owned(), value)
        })
        .collect();
    json!({
        "in_step": in_step,
        "drift": drifts.values().map(Drift::count).sum::<usize>(),
        "kinds": kinds,
    })
}

pub(super) fn print_tables(drifts: &BTreeMap<Kind, Drift>, in_step: bool) {
    let mut counts = output::table(&[
        "",
        "in Clerk",
        "in the database",
        "missing",
        "extra",
        "stale",
    ]);
    for (kind, d) in drifts {
        counts.add_row(vec![
            kind.plural().to_owned(),
            d.in_clerk.to_string(),
            d.in_database.to_string(),
            d.missing.len().to_string(),
            d.extra.len().to_string(),
            d.stale.len().to_string(),
        ]);
    }
    println!("{counts}");
    if in_step {
        println!("in step: the database holds what Clerk holds");
        return;
    }
    let mut lines = output::table(&[
        "kind",
        "drift",
        "id",
        "updated in Clerk",
        "updated in the database",
    ]);
    let mut hidden = 0;
    for (kind, d) in drifts {
        let name = kind.plural();
        let missing = d.missing.iter().map(|(id, clerk, deleted)| {
            let what = if *deleted {
                "missing (deleted here)"
            } else {
                "missing"
            };
            [name, what, id.as_str(), &time(*clerk), ""].map(str::to_owned)
        });
        let extra = d
            .extra
            .iter()
            .map(|(id, db)| [name, "extra", id.as_str(), "", &time(Some(*db))].map(str::to_owned));
        let stale = d.stale.iter().map(|(id, clerk, db)| {
            [
                name,
                "stale",
                id.as_str(),
                &time(Some(*clerk)),
                &time(Some(*db)),
            ]
            .map(str::to_owned)
        });
        for (shown, row) in missing.chain(extra).chain(stale).enumerate() {
            if shown < TABLE_ROWS {
                lines.add_row(row.to_vec());
            } else {
                hidden += 1;
            }
        }
    }
    println!("{lines}");
    if hidden > 0 {
        println!("… and {hidden} more (--json lists every one)");
    }
    let total: usize = drifts.values().map(Drift::count).sum();
    println!(
        "drift: {total}; `clerk-sync backfill` queues what is missing or stale; \
         extra rows were deleted in Clerk without the database hearing of it"
    );
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
