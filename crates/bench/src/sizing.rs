//! The capacity table operators size Redis and PostgreSQL from: the measured bytes per item
//! times what an instance of 10k, 100k and 1M daily users keeps at once with the default
//! retentions, and the worker replicas its peak rate needs.

use std::fmt::Write as _;

use crate::capacity::Capacity;

/// Events a daily user causes in a day, by kind: two sign-ins and their sign-outs
/// (`session.*`), 1.5 emails and 0.2 SMS sent (`email.created`, `sms.created`), 0.3 profile
/// changes (`user.updated`).
pub const MIX: [(&str, f64); 4] = [
    ("session.*", 4.0),
    ("email.created", 1.5),
    ("sms.created", 0.2),
    ("user.updated", 0.3),
];

/// Sessions a daily user starts in a day: the sign-ins of [`MIX`]'s `session.*` events
/// (each has its sign-out).
const SIGN_INS: f64 = 2.0;

/// Registered users per daily user.
const USERS_PER_DAILY_USER: f64 = 4.0;
/// The busiest second against the day's average.
const PEAK_FACTOR: f64 = 5.0;
/// Defaults: the guard's window, `PROCESSED_RETENTION`, `CHANGES_RETENTION` (days).
const PROCESSED_DAYS: f64 = 30.0;
const FEED_DAYS: f64 = 7.0;

fn events_per_user_day() -> f64 {
    MIX.iter().map(|(_, n)| n).sum()
}

/// Emails and SMS a daily user is sent in a day: a `messages` row each.
fn messages_per_user_day() -> f64 {
    MIX.iter()
        .filter(|(kind, _)| matches!(*kind, "email.created" | "sms.created"))
        .map(|(_, n)| n)
        .sum()
}

fn size(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The table, as markdown. `replica_rate` is what one worker replica applies per second
/// (the drain held to a replica's CPU when measured, else one unlimited worker).
pub fn markdown(c: &Capacity, replica_rate: f64, replica: &str) -> String {
    let mut out = String::new();
    let per_day = events_per_user_day();
    let mix: Vec<String> = MIX.iter().map(|(k, n)| format!("{n} `{k}`")).collect();
    let _ = writeln!(
        out,
        "\nBytes per item (capacity phase, {} events):\n",
        c.events
    );
    let _ = writeln!(out, "| item | bytes |");
    let _ = writeln!(out, "|---|---:|");
    let _ = writeln!(
        out,
        "| Redis: queued event (`{{prefix}}:events`, {} B body) | {:.0} |",
        c.payload_len, c.queued
    );
    let _ = writeln!(
        out,
        "| Redis: dead letter (`{{prefix}}:dlq`) | {:.0} |",
        c.dead_letter
    );
    let _ = writeln!(
        out,
        "| Redis: guarded event (hashes by window and id hash) | {:.0} |",
        c.guard
    );
    let _ = writeln!(
        out,
        "| Redis: guarded event, one string key per id (earlier versions) | {:.0} |",
        c.guard_per_key
    );
    let _ = writeln!(
        out,
        "| PostgreSQL: user with two email addresses and a phone | {:.0} |",
        c.pg_user
    );
    let _ = writeln!(
        out,
        "| PostgreSQL: `processed_webhooks` row | {:.0} |",
        c.pg_processed
    );
    let _ = writeln!(
        out,
        "| PostgreSQL: feed (`sync_changes`) row | {:.0} |",
        c.pg_feed
    );
    let _ = writeln!(
        out,
        "| PostgreSQL: session (`sessions` row, one per sign-in) | {:.0} |",
        c.pg_session
    );
    let _ = writeln!(
        out,
        "| PostgreSQL: email or SMS sent (`messages` row) | {:.0} |",
        c.pg_message
    );

    let _ = writeln!(
        out,
        "\nSteady state per daily user and day: {} ({per_day} events); {USERS_PER_DAILY_USER} registered \
         users per daily user; peak {PEAK_FACTOR} × the day's average rate; default retentions \
         (guard 24 h, kept one to two windows; `PROCESSED_RETENTION` 30 d; `CHANGES_RETENTION` 7 d, every \
         event counted as a change); an empty backlog. Replicas: one per {replica_rate:.0} events/s of \
         peak ({replica}) at half load, two at least. Sessions ({SIGN_INS} a day) and messages \
         ({} a day) are kept: their columns are a year's growth.\n",
        mix.join(", "),
        messages_per_user_day()
    );
    let _ = writeln!(
        out,
        "| daily users | events/day | peak events/s | Redis: guard | Redis: per 100,000 backlog or dead letters | PostgreSQL: users | PostgreSQL: `processed_webhooks` | PostgreSQL: feed | PostgreSQL: sessions, per year | PostgreSQL: messages, per year | worker replicas |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for daily in [10_000.0, 100_000.0, 1_000_000.0] {
        let events = daily * per_day;
        let peak = events / 86_400.0 * PEAK_FACTOR;
        let replicas = if replica_rate > 0.0 {
            (peak / (replica_rate * 0.5)).ceil().max(2.0)
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "| {daily:.0} | {events:.0} | {peak:.0} | {} to {} | {} / {} | {} | {} | {} | {} | {} | {replicas:.0} |",
            size(events * c.guard),
            size(2.0 * events * c.guard),
            size(100_000.0 * c.queued),
            size(100_000.0 * c.dead_letter),
            size(daily * USERS_PER_DAILY_USER * c.pg_user),
            size(events * PROCESSED_DAYS * c.pg_processed),
            size(events * FEED_DAYS * c.pg_feed),
            size(daily * SIGN_INS * 365.0 * c.pg_session),
            size(daily * messages_per_user_day() * 365.0 * c.pg_message),
        );
    }
    out
}
