//! `email.created`, `sms.created`: who a message went to and how it went; never what it
//! said. A deleted user's messages keep no recipient.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Channel, Event, Message};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Personal, Sql, Table};
use crate::apply::{Plan, lock_key, time};

pub(crate) const OBJECT: &str = "message";

pub(crate) static TABLE: Table = Table {
    name: "messages",
    columns: &[
        "id",
        "channel",
        "user_id",
        "recipient_id",
        "recipient",
        "slug",
        "status",
        "delivered_by_clerk",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: Some(Personal {
        owner: "user_id",
        columns: &["recipient"],
    }),
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

#[derive(Debug, Default, Serialize)]
pub(crate) struct MessageRow<'a> {
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

newest_wins!(MessageRow);

/// A message to a user takes that user's key too: their deletion erases the recipient.
pub(crate) fn keys(message: &Message, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, &message.id));
    if let Some(user) = message.user_id.as_deref() {
        keys.push(lock_key(super::user::OBJECT, user));
    }
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    channel: Channel,
    message: &'a Message,
) -> Result<(), DbError> {
    let at = time(
        message.created_at.unwrap_or(event.timestamp),
        "data.created_at",
    )?;
    let row = MessageRow {
        id: &message.id,
        channel: channel.as_str(),
        user_id: message.user_id.as_deref(),
        recipient_id: message.recipient_id(),
        recipient: message.recipient(),
        slug: message.slug.as_deref(),
        status: message.status.as_deref(),
        delivered_by_clerk: message.delivered_by_clerk,
        created_at: Some(at),
        // A message has no updated_at: the event's time orders its (rare) redeliveries.
        updated_at: time(event.timestamp, "timestamp")?,
        last_svix_id: svix_id,
    };
    plan.messages.offer(&message.id, row, Some(owner));
    Ok(())
}
