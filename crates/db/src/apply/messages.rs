//! `email.created`, `sms.created`, `waitlistEntry.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Channel, Event, Message, WaitlistEntry};
use diesel::Insertable;
use diesel_async::AsyncPgConnection;

use super::versioned::upsert_newer;
use super::{Outcome, opt_time, time, users};
use crate::DbError;
use crate::schema::{messages, waitlist_entries};

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = messages, treat_none_as_null = true)]
struct MessageRow<'a> {
    id: &'a str,
    channel: &'a str,
    user_id: Option<&'a str>,
    recipient_id: Option<&'a str>,
    recipient: Option<&'a str>,
    slug: Option<&'a str>,
    status: Option<&'a str>,
    delivered_by_clerk: Option<bool>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

/// Who a message went to and how it went; never what it said. A deleted user's messages keep
/// no recipient.
pub(super) async fn create(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    channel: Channel,
    message: &Message,
) -> Result<Outcome, DbError> {
    let erased = match message.user_id.as_deref() {
        Some(user) => users::is_tombstoned(conn, user).await?,
        None => false,
    };
    let at = time(
        message.created_at.unwrap_or(event.timestamp),
        "data.created_at",
    )?;
    let row = MessageRow {
        id: &message.id,
        channel: channel.as_str(),
        user_id: message.user_id.as_deref(),
        recipient_id: message.recipient_id(),
        recipient: if erased { None } else { message.recipient() },
        slug: message.slug.as_deref(),
        status: message.status.as_deref(),
        delivered_by_clerk: message.delivered_by_clerk,
        created_at: Some(at),
        // A message has no updated_at: the event's time orders its (rare) redeliveries.
        updated_at: time(event.timestamp, "timestamp")?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(&mut conn, messages, &row)))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = waitlist_entries, treat_none_as_null = true)]
struct WaitlistRow<'a> {
    id: &'a str,
    email_address: Option<&'a str>,
    status: Option<&'a str>,
    is_locked: Option<bool>,
    invitation_id: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

pub(super) async fn upsert_waitlist_entry(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    entry: &WaitlistEntry,
) -> Result<Outcome, DbError> {
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
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        waitlist_entries,
        &row
    )))
}
