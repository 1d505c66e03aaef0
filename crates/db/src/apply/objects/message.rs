//! `email.created`, `sms.created`: who a message went to and how it went; never what it
//! said. A deleted user's messages keep no recipient.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Message};
use serde::Serialize;

use super::user::User;
use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;
use crate::apply::{lock_key, time};

/// The table of every message, whichever its channel.
pub(crate) struct Messages;

/// An email Clerk sent.
pub(crate) struct Email;

/// A text message Clerk sent.
pub(crate) struct Sms;

static TABLE: Table =
    Table::new::<MessageRow<'static>>("messages").personal("user_id", &["recipient"]);

impl Stored for Messages {
    type Row<'a> = MessageRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

/// Email and SMS differ only in their channel, which is their name in the change feed.
macro_rules! message {
    ($channel:ty, $name:literal) => {
        impl Object for $channel {
            const NAME: &'static str = $name;
            const LOCK: &'static str = "message";
            type Source = Message;
            type Table = Messages;

            fn also_locks(message: &Message, keys: &mut Vec<i64>) {
                also_locks(message, keys);
            }

            fn row<'a>(
                svix_id: &'a str,
                event: &'a Event,
                message: &'a Message,
            ) -> Result<MessageRow<'a>, DbError> {
                row(Self::NAME, svix_id, event, message)
            }
        }
    };
}

message!(Email, "email");
message!(Sms, "sms");

/// A message to a user takes that user's key too: their deletion erases the recipient.
fn also_locks(message: &Message, keys: &mut Vec<i64>) {
    if let Some(user) = message.user_id.as_deref() {
        keys.push(lock_key(User::LOCK, user));
    }
}

fn row<'a>(
    channel: &'a str,
    svix_id: &'a str,
    event: &'a Event,
    message: &'a Message,
) -> Result<MessageRow<'a>, DbError> {
    let at = time(
        message.created_at.unwrap_or(event.timestamp),
        "data.created_at",
    )?;
    Ok(MessageRow {
        id: &message.id,
        channel,
        user_id: message.user_id.as_deref(),
        recipient_id: message.recipient_id(),
        recipient: message.recipient(),
        slug: message.slug.as_deref(),
        status: message.status.as_deref(),
        delivered_by_clerk: message.delivered_by_clerk,
        created_at: Some(at),
        updated_at: time(event.timestamp, "timestamp")?,
        last_svix_id: svix_id,
    })
}
