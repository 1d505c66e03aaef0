//! `session.*`: every one carries the whole session, so each is an upsert by version.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use super::user::User;
use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;
use crate::apply::{lock_key, opt_time};

/// A session: who signed in, from where, and how it stands.
pub(crate) struct Session;

/// The request's IP and user agent are the user's personal data.
static TABLE: Table =
    Table::new::<SessionRow<'static>>("sessions").personal("user_id", &["client_ip", "user_agent"]);

impl Stored for Session {
    type Row<'a> = SessionRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct SessionRow<'a> {
    id: &'a str,
    user_id: &'a str,
    client_id: Option<&'a str>,
    status: Option<&'a str>,
    last_active_organization_id: Option<&'a str>,
    last_active_at: Option<DateTime<Utc>>,
    expire_at: Option<DateTime<Utc>>,
    abandon_at: Option<DateTime<Utc>>,
    client_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(SessionRow);

impl Object for Session {
    const NAME: &'static str = "session";
    type Source = events::Session;
    type Table = Self;

    /// A session also takes its user's key: a user's deletion erases its sessions.
    fn also_locks(session: &events::Session, keys: &mut Vec<i64>) {
        keys.push(lock_key(User::LOCK, &session.user_id));
    }

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        session: &'a events::Session,
    ) -> Result<SessionRow<'a>, DbError> {
        let request = event.http_request.as_ref();
        Ok(SessionRow {
            id: &session.id,
            user_id: &session.user_id,
            client_id: session.client_id.as_deref(),
            status: session.status.as_deref(),
            last_active_organization_id: session.last_active_organization_id.as_deref(),
            last_active_at: opt_time(session.last_active_at, "data.last_active_at")?,
            expire_at: opt_time(session.expire_at, "data.expire_at")?,
            abandon_at: opt_time(session.abandon_at, "data.abandon_at")?,
            client_ip: request.and_then(|r| r.client_ip.as_deref()),
            user_agent: request.and_then(|r| r.user_agent.as_deref()),
            created_at: opt_time(session.created_at, "data.created_at")?,
            updated_at: Self::version(event, session)?,
            last_svix_id: svix_id,
        })
    }
}
