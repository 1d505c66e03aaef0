//! `user.created`, `user.updated`, `user.deleted`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Event, User};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DeleteMode, Outcome, opt_time, time};
use crate::DbError;
use crate::schema::{
    messages, organization_invitations, sessions, tombstones, user_email_addresses as emails, users,
};

const OBJECT: &str = "user";

#[derive(Insertable)]
#[diesel(table_name = users)]
struct UserRow<'a> {
    clerk_id: &'a str,
    external_id: Option<&'a str>,
    username: Option<&'a str>,
    email: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    image_url: Option<&'a str>,
    phone: Option<&'a str>,
    public_metadata: Option<&'a serde_json::Value>,
    banned: Option<bool>,
    locked: Option<bool>,
    two_factor_enabled: Option<bool>,
    password_enabled: Option<bool>,
    last_sign_in_at: Option<DateTime<Utc>>,
    last_active_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    last_svix_id: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = emails)]
struct EmailRow<'a> {
    id: &'a str,
    user_id: &'a str,
    email_address: &'a str,
    verified: bool,
    verification_status: Option<&'a str>,
    is_primary: bool,
}

/// Every column but the key, from the row being inserted: a winning event replaces the
/// whole state, so no column keeps a value from an older one. A macro, because diesel's
/// `Excluded` type cannot be named in a function signature.
macro_rules! replace_all {
    () => {
        (
            users::external_id.eq(excluded(users::external_id)),
            users::username.eq(excluded(users::username)),
            users::email.eq(excluded(users::email)),
            users::first_name.eq(excluded(users::first_name)),
            users::last_name.eq(excluded(users::last_name)),
            users::image_url.eq(excluded(users::image_url)),
            users::phone.eq(excluded(users::phone)),
            users::public_metadata.eq(excluded(users::public_metadata)),
            users::banned.eq(excluded(users::banned)),
            users::locked.eq(excluded(users::locked)),
            users::two_factor_enabled.eq(excluded(users::two_factor_enabled)),
            users::password_enabled.eq(excluded(users::password_enabled)),
            users::last_sign_in_at.eq(excluded(users::last_sign_in_at)),
            users::last_active_at.eq(excluded(users::last_active_at)),
            users::created_at.eq(excluded(users::created_at)),
            users::updated_at.eq(excluded(users::updated_at)),
            users::deleted_at.eq(excluded(users::deleted_at)),
            users::last_svix_id.eq(excluded(users::last_svix_id)),
        )
    };
}

/// Writes the user's state unless a newer one, or a deletion, already stands.
pub(super) async fn upsert(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    user: &User,
) -> Result<Outcome, DbError> {
    if is_tombstoned(conn, &user.id).await? {
        return Ok(Outcome::Stale);
    }
    let written = upsert_statement(svix_id, event, user)?
        .execute(&mut conn)
        .await?;
    if written == 0 {
        return Ok(Outcome::Stale);
    }
    replace_email_addresses(conn, user).await?;
    Ok(Outcome::Applied)
}

/// The one statement that writes a user, apart from the connection so that building it can
/// be measured on its own (`benches/sql.rs`).
pub(crate) fn upsert_statement<'a>(
    svix_id: &'a str,
    event: &Event,
    user: &'a User,
) -> Result<impl QueryFragment<Pg> + QueryId + Send + use<'a>, DbError> {
    let row = UserRow {
        clerk_id: &user.id,
        external_id: user.external_id.as_deref(),
        username: user.username.as_deref(),
        email: user.primary_email(),
        first_name: user.first_name.as_deref(),
        last_name: user.last_name.as_deref(),
        image_url: user.image(),
        phone: user.primary_phone(),
        public_metadata: user.public_metadata.as_ref(),
        banned: user.banned,
        locked: user.locked,
        two_factor_enabled: user.two_factor_enabled,
        password_enabled: user.password_enabled,
        last_sign_in_at: opt_time(user.last_sign_in_at, "data.last_sign_in_at")?,
        last_active_at: opt_time(user.last_active_at, "data.last_active_at")?,
        created_at: opt_time(user.created_at, "data.created_at")?,
        // Events without `updated_at` are ordered by when they happened.
        updated_at: time(
            user.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        deleted_at: None,
        last_svix_id: svix_id,
    };
    let insert = diesel::insert_into(users::table)
        .values(row)
        .on_conflict(users::clerk_id)
        .do_update()
        .set(replace_all!());
    // (updated_at, last_svix_id) beats the stored pair: the newer state wins, and the event
    // id settles a tie the same way in any order. A deleted row is never written over.
    let newer = users::deleted_at.is_null().and(
        excluded(users::updated_at)
            .gt(users::updated_at)
            .or(excluded(users::updated_at)
                .eq(users::updated_at)
                .and(excluded(users::last_svix_id).gt(users::last_svix_id))),
    );
    Ok(diesel::query_dsl::methods::FilterDsl::filter(insert, newer))
}

/// Makes the stored addresses exactly the event's: the winning state is the whole truth.
async fn replace_email_addresses(mut conn: &AsyncPgConnection, user: &User) -> Result<(), DbError> {
    let ids: Vec<&str> = user.email_addresses.iter().map(|e| e.id.as_str()).collect();
    diesel::delete(
        emails::table
            .filter(emails::user_id.eq(&user.id))
            .filter(emails::id.ne_all(&ids)),
    )
    .execute(&mut conn)
    .await?;
    if ids.is_empty() {
        return Ok(());
    }
    let primary = user.primary_email_address_id.as_deref();
    let rows: Vec<EmailRow<'_>> = user
        .email_addresses
        .iter()
        .map(|e| EmailRow {
            id: &e.id,
            user_id: &user.id,
            email_address: &e.email_address,
            verified: e.verified(),
            verification_status: e.verification_status(),
            is_primary: primary == Some(e.id.as_str()),
        })
        .collect();
    diesel::insert_into(emails::table)
        .values(&rows)
        .on_conflict(emails::id)
        .do_update()
        .set((
            emails::user_id.eq(excluded(emails::user_id)),
            emails::email_address.eq(excluded(emails::email_address)),
            emails::verified.eq(excluded(emails::verified)),
            emails::verification_status.eq(excluded(emails::verification_status)),
            emails::is_primary.eq(excluded(emails::is_primary)),
        ))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Records the deletion and erases the user. The earliest deletion is the one kept, so two
/// deletions of one user end the same in either order.
pub(super) async fn delete(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    deleted: &Deleted,
    mode: DeleteMode,
) -> Result<Outcome, DbError> {
    let deleted_at = time(event.timestamp, "timestamp")?;
    let insert = diesel::insert_into(tombstones::table)
        .values((
            tombstones::object_type.eq(OBJECT),
            tombstones::object_id.eq(&deleted.id),
            tombstones::deleted_at.eq(deleted_at),
            tombstones::svix_id.eq(svix_id),
        ))
        .on_conflict((tombstones::object_type, tombstones::object_id))
        .do_update()
        .set((
            tombstones::deleted_at.eq(excluded(tombstones::deleted_at)),
            tombstones::svix_id.eq(excluded(tombstones::svix_id)),
        ));
    let earlier = excluded(tombstones::deleted_at)
        .lt(tombstones::deleted_at)
        .or(excluded(tombstones::deleted_at)
            .eq(tombstones::deleted_at)
            .and(excluded(tombstones::svix_id).lt(tombstones::svix_id)));
    let written = diesel::query_dsl::methods::FilterDsl::filter(insert, earlier)
        .execute(&mut conn)
        .await?;
    if written == 0 {
        return Ok(Outcome::Stale);
    }

    erase_elsewhere(conn, &deleted.id).await?;
    diesel::delete(emails::table.filter(emails::user_id.eq(&deleted.id)))
        .execute(&mut conn)
        .await?;
    match mode {
        DeleteMode::Hard => {
            diesel::delete(users::table.find(&deleted.id))
                .execute(&mut conn)
                .await?;
        }
        DeleteMode::Soft => {
            // The tombstone row is a function of the deletion alone, whatever came before.
            let row = UserRow {
                clerk_id: &deleted.id,
                external_id: deleted.external_id.as_deref(),
                username: None,
                email: None,
                first_name: None,
                last_name: None,
                image_url: None,
                phone: None,
                public_metadata: None,
                banned: None,
                locked: None,
                two_factor_enabled: None,
                password_enabled: None,
                last_sign_in_at: None,
                last_active_at: None,
                created_at: None,
                updated_at: deleted_at,
                deleted_at: Some(deleted_at),
                last_svix_id: svix_id,
            };
            diesel::insert_into(users::table)
                .values(&row)
                .on_conflict(users::clerk_id)
                .do_update()
                .set(replace_all!())
                .execute(&mut conn)
                .await?;
        }
    }
    Ok(Outcome::Applied)
}

/// Whether the user was deleted: what was theirs is then stored without personal data.
pub(super) async fn is_tombstoned(mut conn: &AsyncPgConnection, id: &str) -> Result<bool, DbError> {
    let found = tombstones::table
        .find((OBJECT, id))
        .select(tombstones::deleted_at)
        .first::<DateTime<Utc>>(&mut conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Erases what other tables hold of the user's personal data, linked by their user id:
/// sessions' IPs and user agents, messages' recipients, the address of invitations they
/// accepted. Memberships, subscriptions and payments keep the link and nothing personal.
/// Rows of the user that arrive later are stored erased (see `is_tombstoned`), so the result
/// does not depend on the order of delivery.
async fn erase_elsewhere(mut conn: &AsyncPgConnection, user_id: &str) -> Result<(), DbError> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)))
        .set((
            sessions::client_ip.eq(None::<&str>),
            sessions::user_agent.eq(None::<&str>),
        ))
        .execute(&mut conn)
        .await?;
    diesel::update(messages::table.filter(messages::user_id.eq(user_id)))
        .set(messages::recipient.eq(None::<&str>))
        .execute(&mut conn)
        .await?;
    diesel::update(
        organization_invitations::table.filter(organization_invitations::user_id.eq(user_id)),
    )
    .set(organization_invitations::email_address.eq(None::<&str>))
    .execute(&mut conn)
    .await?;
    Ok(())
}
