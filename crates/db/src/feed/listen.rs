//! Waiting for the feed's notifications instead of polling.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt as _;

use super::{Change, Op, read_changes};
use crate::{DbError, Schema};

/// The payload of one notification: which row was committed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ChangeNotice {
    /// The row's id.
    pub id: i64,
    /// Its object type.
    pub object_type: String,
    /// Its object's Clerk id.
    pub object_id: String,
    /// What happened to the object.
    pub op: Op,
}

/// A connection of its own that `LISTEN`s on its schema's channel ([`Schema::channel`]),
/// and reads the feed.
///
/// A notification says that rows were committed; the rows themselves are read by id
/// ([`ChangeListener::read`]). Follow the feed in this order, so nothing is missed:
/// [`ChangeListener::start`] (from then on notifications are kept), read everything after
/// the cursor, then wait with [`ChangeListener::notified`] and read again after each. A
/// notification lost or never sent (PostgreSQL drops none, but a connection may break)
/// delays a read; it never loses a row, because the read is by id.
pub struct ChangeListener {
    conn: AsyncPgConnection,
    schema: Schema,
}

impl ChangeListener {
    /// Listens on `conn`, which must not be in a pool: it stays listening until dropped.
    /// The connection must be one [`crate::connect`] made (it receives notifications).
    pub async fn start(mut conn: AsyncPgConnection, schema: Schema) -> Result<Self, DbError> {
        // A channel is an identifier, not a value: it cannot be bound. A schema's name is
        // checked, so its channel needs no quoting.
        diesel::sql_query(format!("LISTEN {}", schema.channel()))
            .execute(&mut conn)
            .await?;
        Ok(Self { conn, schema })
    }

    /// Waits for the next notification. `None` for one on the channel whose payload is
    /// not the feed's (someone else's `NOTIFY`): still a reason to read again. Cancel-safe:
    /// a notification that arrives while nothing waits is kept for the next call.
    pub async fn notified(&mut self) -> Result<Option<ChangeNotice>, DbError> {
        let mut notifications = std::pin::pin!(self.conn.notifications_stream());
        match notifications.next().await {
            Some(Ok(notification)) => Ok(serde_json::from_str(&notification.payload).ok()),
            Some(Err(error)) => Err(DbError::Unavailable(error.to_string())),
            None => Err(DbError::Unavailable(
                "the connection to PostgreSQL closed".into(),
            )),
        }
    }

    /// [`super::changes_pruned_through`] on the listening connection.
    pub async fn pruned_through(&mut self) -> Result<i64, DbError> {
        super::changes_pruned_through(&self.conn, self.schema).await
    }

    /// [`read_changes`] on the listening connection.
    pub async fn read(
        &mut self,
        after: i64,
        limit: i64,
        types: &[String],
    ) -> Result<Vec<Change>, DbError> {
        read_changes(&self.conn, self.schema, after, limit, types).await
    }
}
