//! `session.*`: every one carries the whole session, so each is an upsert by version.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Session};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Personal, Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "session";

/// The request's IP and user agent are the user's personal data.
pub(crate) static TABLE: Table = Table {
    name: "sessions",
    columns: &[
        "id",
        "user_id",
        "client_id",
        "status",
        "last_active_organization_id",
        "last_active_at",
        "expire_at",
        "abandon_at",
        "client_ip",
        "user_agent",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: Some(Personal {
        owner: "user_id",
        columns: &["client_ip", "user_agent"],
    }),
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

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

/// A session also takes its user's key: a user's deletion erases its sessions.
pub(crate) fn keys(session: &Session, keys: &mut Vec<i64>) {
    keys.push(lock_key(super::user::OBJECT, &session.user_id));
    keys.push(lock_key(OBJECT, &session.id));
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &'a Event,
    session: &'a Session,
) -> Result<(), DbError> {
    let request = event.http_request.as_ref();
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
    plan.sessions.offer(&session.id, row, Some(owner));
    Ok(())
}
