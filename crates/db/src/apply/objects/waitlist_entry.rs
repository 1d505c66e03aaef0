//! `waitlistEntry.*`.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, WaitlistEntry};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "waitlist_entry";

pub(crate) static TABLE: Table = Table {
    name: "waitlist_entries",
    columns: &[
        "id",
        "email_address",
        "status",
        "is_locked",
        "invitation_id",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

#[derive(Debug, Default, Serialize)]
pub(crate) struct WaitlistRow<'a> {
    id: &'a str,
    email_address: Option<&'a str>,
    status: Option<&'a str>,
    is_locked: Option<bool>,
    invitation_id: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(WaitlistRow);

pub(crate) fn keys(entry: &WaitlistEntry, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, &entry.id));
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    entry: &'a WaitlistEntry,
) -> Result<(), DbError> {
    let row = WaitlistRow {
        id: &entry.id,
        email_address: entry.email_address.as_deref(),
        status: entry.status.as_deref(),
        is_locked: entry.is_locked,
        invitation_id: entry.invitation.as_ref().map(|i| i.id.as_str()),
        created_at: opt_time(entry.created_at, "data.created_at")?,
        updated_at: time(
            entry.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    plan.waitlist_entries.offer(&entry.id, row, Some(owner));
    Ok(())
}
