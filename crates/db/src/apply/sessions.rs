//! `session.*`: every one carries the whole session, so each is an upsert by version.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Session};
use diesel::Insertable;
use diesel_async::AsyncPgConnection;

use super::versioned::upsert_newer;
use super::{Outcome, opt_time, time, users};
use crate::DbError;
use crate::schema::sessions;

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = sessions, treat_none_as_null = true)]
struct SessionRow<'a> {
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

/// The request's IP and user agent are the user's personal data: a session of a deleted
/// user is stored without them, whatever order its events come in.
pub(super) async fn upsert(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    session: &Session,
) -> Result<Outcome, DbError> {
    let request = if users::is_tombstoned(conn, &session.user_id).await? {
        None
    } else {
        event.http_request.as_ref()
    };
    let row = SessionRow {
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
        updated_at: time(
            session.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    let written = upsert_newer!(&mut conn, sessions, &row);
    Ok(Outcome::written(written))
}
