//! `waitlistEntry.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::opt_time;
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;

/// Someone waiting to be let in.
pub(crate) struct WaitlistEntry;

static TABLE: Table = Table::new::<WaitlistRow<'static>>("waitlist_entries");

impl Stored for WaitlistEntry {
    type Row<'a> = WaitlistRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for WaitlistEntry {
    const NAME: &'static str = "waitlist_entry";
    type Source = events::WaitlistEntry;
    type Table = Self;

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        entry: &'a events::WaitlistEntry,
    ) -> Result<WaitlistRow<'a>, DbError> {
        Ok(WaitlistRow {
            id: &entry.id,
            email_address: entry.email_address.as_deref(),
            status: entry.status.as_deref(),
            is_locked: entry.is_locked,
            invitation_id: entry.invitation.as_ref().map(|i| i.id.as_str()),
            created_at: opt_time(entry.created_at, "data.created_at")?,
            updated_at: Self::version(event, entry)?,
            last_svix_id: svix_id,
        })
    }
}
