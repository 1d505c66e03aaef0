//! `user.created`, `user.updated`, `user.deleted`: the `users` row, its
//! `user_email_addresses`, and the `tombstones` row that makes a deletion final and erases
//! what other tables hold of the user.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Deleted, EmailAddress, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Deletable, Object, Registered, Stored};
use crate::apply::staged::{Keeps, Versioned, newest_wins};
use crate::apply::statement::{Sql, Tx, Written, encode};
use crate::apply::table::{Table, prefixed, tombstoned, versioned_upsert};
use crate::apply::tables::Rows;
use crate::apply::{DeleteMode, Plan, opt_time, time};

/// A user: the `users` row and their addresses. Not in the registry of tables: a user's
/// deletion is written first (round one), and their addresses after their row.
pub(crate) struct User;

/// Keyed by `clerk_id`, with statements of its own below.
static TABLE: Table = Table::new::<UserRow<'static>>("users");

impl Stored for User {
    type Row<'a> = UserRow<'a>;
    const TABLE: &'static Table = &TABLE;
    fn upsert() -> &'static Sql {
        &UPSERT
    }
}

impl Registered for User {
    fn rows<'p, 'a>(plan: &'p mut Plan<'a>) -> &'p mut Rows<'a, Self> {
        &mut plan.users
    }
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct UserRow<'a> {
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
    /// Written to `user_email_addresses` when this row wins.
    #[serde(skip)]
    addresses: Option<&'a events::User>,
}

newest_wins!(UserRow);

/// The `tombstones` row of a deletion; the earliest is kept.
#[derive(Debug, Serialize)]
pub(crate) struct Tombstone<'a> {
    object_type: &'static str,
    object_id: &'a str,
    deleted_at: DateTime<Utc>,
    svix_id: &'a str,
    /// Kept by the `users` row a soft deletion leaves.
    #[serde(skip)]
    external_id: Option<&'a str>,
}

impl<'a> Versioned<'a> for Tombstone<'a> {
    const KEEPS: Keeps = Keeps::Earliest;
    fn version(&self) -> (DateTime<Utc>, &'a str) {
        (self.deleted_at, self.svix_id)
    }
}

impl Object for User {
    const NAME: &'static str = "user";
    type Source = events::User;
    type Table = Self;
    const LISTED: Option<clerk_sync_events::Kind> = Some(clerk_sync_events::Kind::User);

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        user: &'a events::User,
    ) -> Result<UserRow<'a>, DbError> {
        Ok(UserRow {
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
            updated_at: Self::version(event, user)?,
            deleted_at: None,
            last_svix_id: svix_id,
            addresses: Some(user),
        })
    }
}

/// A deletion writes a tombstone, which erases what other tables hold of the user.
impl Deletable for User {
    type Deletion = Deleted;

    fn deleted_id(deleted: &Deleted) -> &str {
        &deleted.id
    }

    fn stage_deletion<'a>(
        plan: &mut Plan<'a>,
        owner: usize,
        svix_id: &'a str,
        event: &'a Event,
        deleted: &'a Deleted,
    ) -> Result<(), DbError> {
        let row = Tombstone {
            object_type: Self::NAME,
            object_id: &deleted.id,
            deleted_at: time(event.timestamp, "timestamp")?,
            svix_id,
            external_id: deleted.external_id.as_deref(),
        };
        plan.user_deletions.offer(&deleted.id, row, Some(owner));
        Ok(())
    }
}

/// The earliest deletion is the one kept, so two deletions of one user end the same in
/// either order; one no earlier than the recorded one changes nothing.
static TOMBSTONE: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO @schema.tombstones AS t (object_type, object_id, deleted_at, svix_id) \
         SELECT r.object_type, r.object_id, r.deleted_at, r.svix_id \
         FROM json_populate_recordset(NULL::@schema.tombstones, $1::json) r \
         ON CONFLICT (object_type, object_id) DO UPDATE \
         SET (deleted_at, svix_id) = ROW(EXCLUDED.deleted_at, EXCLUDED.svix_id) \
         WHERE (EXCLUDED.deleted_at, EXCLUDED.svix_id) < (t.deleted_at, t.svix_id) \
         RETURNING t.object_id, true",
    )
});

/// Erases what other tables hold of the deleted users' personal data, linked by their user
/// id (each table says which columns: `Table::personal`), and their addresses. Memberships,
/// subscriptions and payments keep the link and nothing personal. Erasing twice changes
/// nothing, so it runs for every deletion of the batch, stale or not.
static ERASE: LazyLock<Sql> = LazyLock::new(|| {
    let clauses: Vec<String> = super::TABLES
        .iter()
        .filter_map(|table| table.erasure())
        .collect();
    Sql::new(&format!(
        "WITH erased AS MATERIALIZED (SELECT r.object_id AS id \
             FROM json_populate_recordset(NULL::@schema.tombstones, $1::json) r), {} \
         DELETE FROM @schema.user_email_addresses WHERE user_id = ANY (ARRAY(SELECT id FROM erased))",
        clauses.join(", ")
    ))
});

/// A soft deletion leaves the row with `deleted_at` and nothing personal: a function of the
/// kept (earliest) deletion alone, so it is written only where that deletion is this one.
static SOFT_DELETE: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(&format!(
        "INSERT INTO @schema.users AS t ({columns}) \
         SELECT {select} FROM json_populate_recordset(NULL::@schema.users, $1::json) r \
         WHERE r.last_svix_id = (SELECT z.svix_id FROM @schema.tombstones z \
             WHERE z.object_type = 'user' AND z.object_id = r.clerk_id) \
         ON CONFLICT (clerk_id) DO UPDATE SET ({rest}) = ROW({excluded}) \
         RETURNING t.clerk_id",
        columns = TABLE.columns().join(", "),
        select = prefixed("r.", TABLE.columns()),
        rest = TABLE.columns()[1..].join(", "),
        excluded = prefixed("EXCLUDED.", &TABLE.columns()[1..]),
    ))
});

/// A hard deletion removes the row, where the kept deletion is this one (as a soft one
/// rewrites it): a stale deletion after a switch from `soft` leaves the soft row alone.
static HARD_DELETE: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "DELETE FROM @schema.users WHERE clerk_id = ANY (ARRAY(SELECT r.object_id \
             FROM json_populate_recordset(NULL::@schema.tombstones, $1::json) r \
             WHERE r.svix_id = (SELECT z.svix_id FROM @schema.tombstones z \
                 WHERE z.object_type = 'user' AND z.object_id = r.object_id))) \
         RETURNING clerk_id",
    )
});

/// Newest wins, and a deleted user is never written over: neither a row with `deleted_at`
/// nor one whose tombstone stands (a hard deletion leaves no row).
static UPSERT: LazyLock<Sql> = LazyLock::new(|| {
    versioned_upsert(
        "users",
        "clerk_id",
        &format!(
            "INSERT INTO @schema.users AS t ({columns}) \
             SELECT {select} FROM r \
             WHERE {gone} IS NULL \
             ON CONFLICT (clerk_id) DO UPDATE SET ({rest}) = ROW({excluded}) \
             WHERE t.deleted_at IS NULL \
                 AND (EXCLUDED.updated_at, EXCLUDED.last_svix_id) > (t.updated_at, t.last_svix_id) \
             RETURNING t.clerk_id, t.updated_at",
            columns = TABLE.columns().join(", "),
            select = prefixed("r.", TABLE.columns()),
            rest = TABLE.columns()[1..].join(", "),
            excluded = prefixed("EXCLUDED.", &TABLE.columns()[1..]),
            gone = tombstoned("r.clerk_id"),
        ),
    )
});

/// Drops the addresses a user no longer has.
static DROP_ADDRESSES: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "WITH w AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) AS w(user_id text, ids text[])) \
         DELETE FROM @schema.user_email_addresses e \
         WHERE e.user_id = ANY (ARRAY(SELECT user_id FROM w)) \
             AND e.id <> ALL (ARRAY(SELECT unnest(ids) FROM w)) \
         RETURNING e.id",
    )
});

static WRITE_ADDRESSES: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO @schema.user_email_addresses AS t \
             (id, user_id, email_address, verified, verification_status, is_primary) \
         SELECT r.id, r.user_id, r.email_address, r.verified, r.verification_status, r.is_primary \
         FROM json_populate_recordset(NULL::@schema.user_email_addresses, $1::json) r \
         ON CONFLICT (id) DO UPDATE \
         SET (user_id, email_address, verified, verification_status, is_primary) = \
             ROW(EXCLUDED.user_id, EXCLUDED.email_address, EXCLUDED.verified, \
                 EXCLUDED.verification_status, EXCLUDED.is_primary) \
         RETURNING t.id",
    )
});

/// The deletions of the batch: tombstones and erasure. Before any upsert, so that an
/// upsert of the same batch finds the tombstone, as it would after. Answers the users
/// whose kept deletion is now one of this batch.
pub(crate) async fn write_deletions(tx: Tx<'_>, plan: &Plan<'_>) -> Result<Vec<Written>, DbError> {
    let deletions = &plan.user_deletions;
    if deletions.is_empty() {
        return Ok(Vec::new());
    }
    let json = deletions.json()?;
    let (written, _) = tokio::try_join!(
        TOMBSTONE.bind(json.clone()).versions(tx),
        ERASE.bind(json).written(tx),
    )?;
    Ok(written)
}

/// The row each deletion leaves, after the tombstones: a soft deletion's is a function of
/// the kept deletion, which the tombstone now names.
pub(crate) async fn write_deleted_rows(
    tx: Tx<'_>,
    plan: &Plan<'_>,
    mode: DeleteMode,
) -> Result<(), DbError> {
    let deletions = &plan.user_deletions;
    if deletions.is_empty() {
        return Ok(());
    }
    let statement = match mode {
        DeleteMode::Soft => {
            let rows: Vec<UserRow<'_>> = deletions
                .rows()
                .map(|t| UserRow {
                    clerk_id: t.object_id,
                    external_id: t.external_id,
                    updated_at: t.deleted_at,
                    deleted_at: Some(t.deleted_at),
                    last_svix_id: t.svix_id,
                    ..UserRow::default()
                })
                .collect();
            SOFT_DELETE.bind(encode(&rows)?)
        }
        DeleteMode::Hard => HARD_DELETE.bind(deletions.json()?),
    };
    statement.written(tx).await?;
    Ok(())
}

#[derive(Serialize)]
struct Kept<'a> {
    user_id: &'a str,
    ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct AddressRow<'a> {
    id: &'a str,
    user_id: &'a str,
    email_address: &'a str,
    verified: bool,
    verification_status: Option<&'a str>,
    is_primary: bool,
}

/// The users of the batch, newest state wins. Answers the ids written.
pub(crate) async fn write_upserts(tx: Tx<'_>, plan: &Plan<'_>) -> Result<Vec<Written>, DbError> {
    plan.users.upserts.write(tx, &UPSERT).await
}

/// The addresses of the users whose rows were just `written` become exactly their events':
/// the winning state is the whole truth. Two statements sent together: they touch
/// different address ids.
pub(crate) async fn write_addresses(
    tx: Tx<'_>,
    plan: &Plan<'_>,
    written: &[Written],
) -> Result<(), DbError> {
    if written.is_empty() {
        return Ok(());
    }
    let written: HashSet<&str> = written.iter().map(|w| w.key.as_str()).collect();
    let mut kept = Vec::new();
    // One row per address id: a statement cannot write one row twice.
    let mut addresses: BTreeMap<&str, AddressRow<'_>> = BTreeMap::new();
    for row in plan.users.upserts.rows() {
        let Some(user) = row.addresses.filter(|_| written.contains(row.clerk_id)) else {
            continue;
        };
        kept.push(Kept {
            user_id: row.clerk_id,
            ids: user.email_addresses.iter().map(|e| e.id.as_str()).collect(),
        });
        let primary = user.primary_email_address_id.as_deref();
        for e in &user.email_addresses {
            addresses.insert(&e.id, address(e, row.clerk_id, primary));
        }
    }
    let kept = encode(&kept)?;
    let addresses = encode(&addresses.into_values().collect::<Vec<_>>())?;
    tokio::try_join!(
        DROP_ADDRESSES.bind(kept).written(tx),
        WRITE_ADDRESSES.bind(addresses).written(tx),
    )?;
    Ok(())
}

fn address<'a>(e: &'a EmailAddress, user_id: &'a str, primary: Option<&str>) -> AddressRow<'a> {
    AddressRow {
        id: &e.id,
        user_id,
        email_address: &e.email_address,
        verified: e.verified(),
        verification_status: e.verification_status(),
        is_primary: primary == Some(e.id.as_str()),
    }
}
