//! `clerk-sync dlq list|show|replay|purge`: the dead-letter stream, for operators. Every move
//! of one dead letter is one atomic script call, so an interrupted `replay --all` neither
//! loses nor duplicates anything: what was moved is gone from the dead letters, the rest is
//! still there.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use clerk_sync_queue::{DeadLetter, DeadLetters, field};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::output::{self, age, clip, entry_ms};

/// `clerk-sync dlq`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Dead letters, oldest first: entry, age, type, attempts, error, svix_id.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only this event type.
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        /// JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Every field of one dead letter, the payload pretty-printed.
    Show {
        /// Its id in the dead-letter stream.
        entry: String,
        /// JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Move dead letters back onto the events stream as fresh events (attempt 0).
    Replay(Selection),
    /// Delete dead letters.
    Purge {
        #[command(flatten)]
        selection: Selection,
        /// Do not ask before purging everything.
        #[arg(long)]
        yes: bool,
    },
    /// Put dead letters written before the console's index (a version before it) in their
    /// groups, so the console's groups and searches find them. Safe to run again.
    Reindex,
}

#[derive(Debug, clap::Args)]
struct Selection {
    /// Ids in the dead-letter stream.
    #[arg(required_unless_present = "all")]
    entries: Vec<String>,
    /// Every dead letter (of `--type`, when given).
    #[arg(long, conflicts_with = "entries")]
    all: bool,
    /// With `--all`: only this event type.
    #[arg(long = "type", value_name = "TYPE", requires = "all")]
    event_type: Option<String>,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub async fn run(context: &crate::Context, args: Args) -> anyhow::Result<ExitCode> {
    let letters = DeadLetters::new(context.redis()?, context.keys());
    let unreachable = || {
        format!(
            "cannot read the dead letters at {}",
            context.redis_display()
        )
    };
    match args.command {
        DlqCommand::List {
            limit,
            event_type,
            json,
        } => {
            let found = letters
                .list(limit, event_type.as_deref())
                .await
                .with_context(unreachable)?;
            list(&found, json);
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Show { entry, json } => {
            let Some(letter) = letters.get(&entry).await.with_context(unreachable)? else {
                eprintln!("error: no dead letter {entry}");
                return Ok(ExitCode::FAILURE);
            };
            show(&letter, json);
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Replay(selection) => {
            let ids = select(&letters, &selection)
                .await
                .with_context(unreachable)?;
            settle(&ids, selection.json, "replayed", async |id| {
                letters.replay(id).await.map(|new| new.is_some())
            })
            .await
        }
        DlqCommand::Purge { selection, yes } => {
            let ids = select(&letters, &selection)
                .await
                .with_context(unreachable)?;
            if selection.all && !yes && !confirm(ids.len())? {
                eprintln!("nothing purged");
                return Ok(ExitCode::FAILURE);
            }
            settle(&ids, selection.json, "purged", async |id| {
                letters.purge(id).await
            })
            .await
        }
        DlqCommand::Reindex => {
            let indexed = letters.reindex().await.with_context(unreachable)?;
            println!("{indexed} dead letters indexed; every dead letter is in its group");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn select(
    letters: &DeadLetters,
    selection: &Selection,
) -> Result<Vec<String>, clerk_sync_queue::QueueError> {
    if selection.all {
        letters.ids(selection.event_type.as_deref()).await
    } else {
        Ok(selection.entries.clone())
    }
}

/// Applies `step` to each id, one atomic call each, with a progress bar for long runs.
/// Explicit ids that are not dead letters (any more) make the exit status 1.
async fn settle(
    ids: &[String],
    json: bool,
    verb: &str,
    step: impl AsyncFn(&str) -> Result<bool, clerk_sync_queue::QueueError>,
) -> anyhow::Result<ExitCode> {
    let progress = if ids.len() > 100 {
        let bar = ProgressBar::new(ids.len() as u64);
        let template = format!("{{spinner}} {verb} {{pos}}/{{len}} [{{bar:40}}] {{eta}}");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        if step(id)
            .await
            .with_context(|| format!("stopped at {id}; the rest are untouched"))?
        {
            done.push(id.clone());
        } else {
            missing.push(id.clone());
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if json {
        output::json(&json!({ verb: done, "not_found": missing }));
    } else {
        println!(
            "{verb} {} dead letter{}",
            done.len(),
            if done.len() == 1 { "" } else { "s" }
        );
        for id in &missing {
            eprintln!("no dead letter {id}");
        }
    }
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn confirm(count: usize) -> anyhow::Result<bool> {
    // Scripts (no terminal) are not asked: they said --all.
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    eprint!("purge all {count} dead letters? type yes to go on: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(answer.trim() == "yes")
}

fn list(letters: &[DeadLetter], json: bool) {
    if json {
        output::json(&Value::Array(letters.iter().map(summary).collect()));
        return;
    }
    if letters.is_empty() {
        println!("no dead letters");
        return;
    }
    let mut table = output::table(&["entry", "age", "type", "attempts", "error", "svix_id"]);
    for letter in letters {
        let failed_at = letter
            .number(field::FAILED_AT)
            .or_else(|| entry_ms(&letter.id));
        table.add_row(vec![
            letter.id.clone(),
            failed_at.map(age).unwrap_or_default(),
            letter.event_type(),
            letter.text(field::ATTEMPTS),
            clip(&letter.text(field::ERROR), 72),
            letter.text(field::SVIX_ID),
        ]);
    }
    println!("{table}");
}

fn summary(letter: &DeadLetter) -> Value {
    json!({
        "entry": letter.id,
        "type": letter.event_type(),
        "svix_id": letter.text(field::SVIX_ID),
        "attempts": letter.number(field::ATTEMPTS),
        "error": letter.text(field::ERROR),
        "failed_at": letter.number(field::FAILED_AT),
        "received_at": letter.number(field::RECEIVED_AT),
    })
}

fn show(letter: &DeadLetter, json: bool) {
    let payload = letter.get(field::PAYLOAD).unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    if json {
        let mut object = serde_json::Map::new();
        object.insert("entry".into(), Value::String(letter.id.clone()));
        for (name, value) in &letter.fields {
            let value = match (name.as_str(), &parsed) {
                (field::PAYLOAD, Some(parsed)) => parsed.clone(),
                _ => Value::String(String::from_utf8_lossy(value).into_owned()),
            };
            object.insert(name.clone(), value);
        }
        output::json(&Value::Object(object));
        return;
    }
    println!("entry           {}", letter.id);
    for (name, value) in &letter.fields {
        if name == field::PAYLOAD {
            continue;
        }
        let text = String::from_utf8_lossy(value);
        let when = match name.as_str() {
            field::FAILED_AT | field::RECEIVED_AT => text
                .parse::<u64>()
                .ok()
                .map(|ms| format!("  ({} ago)", age(ms)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        println!("{name:<15} {text}{when}");
    }
    println!("payload");
    match parsed {
        Some(value) => println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        None => println!("{}", String::from_utf8_lossy(payload)),
    }
}
