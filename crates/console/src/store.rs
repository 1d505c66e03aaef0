//! The console's reads and writes of PostgreSQL: the audit log, one object's rows and
//! history, the change feed by page, and applied events per minute. Every query is bounded
//! by an index and a `LIMIT`.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb, Text};
use diesel_async::RunQueryDsl;

use crate::respond::Failure;
use crate::state::Console;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Jsonb)]
    value: serde_json::Value,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    minute: i64,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The tables one object's rows may be in, and the indexed column naming it there.
const ROWS: &[(&str, &str)] = &[
    ("users", "clerk_id"),
    ("user_email_addresses", "user_id"),
    ("sessions", "user_id"),
    ("sessions", "id"),
    ("organizations", "id"),
    ("organization_memberships", "id"),
    ("organization_memberships", "user_id"),
    ("organization_memberships", "organization_id"),
    ("tombstones", "object_id"),
];

/// Rows of one table at most, so an object with many sessions stays one page.
const ROW_LIMIT: i64 = 50;

impl Console {
    async fn conn(&self) -> Result<clerk_sync_db::PgConn, Failure> {
        self.0
            .pg
            .get()
            .await
            .map_err(|e| Failure::from(clerk_sync_db::DbError::Unavailable(e.to_string())))
    }

    fn sql(&self, text: &str) -> String {
        text.replace("@s", &self.0.schema.quoted())
    }

    /// Events applied in each of the `minutes` whole minutes up to `now_ms`, oldest first.
    pub(crate) async fn applied_per_minute(
        &self,
        now_ms: u64,
        minutes: u64,
    ) -> Result<Vec<u64>, Failure> {
        let mut conn = self.conn().await?;
        let end = (now_ms - now_ms % 60_000 + 60_000) as i64;
        let from = end - minutes as i64 * 60_000;
        let rows: Vec<Count> = diesel::sql_query(self.sql(
            "SELECT (extract(epoch FROM date_trunc('minute', processed_at)) * 1000)::bigint AS minute, \
                 count(*) AS count FROM @s.processed_webhooks \
             WHERE processed_at >= to_timestamp($1 / 1000.0) GROUP BY 1",
        ))
        .bind::<BigInt, _>(from)
        .load(&mut *conn)
        .await?;
        let mut out = vec![0; minutes as usize];
        for row in rows {
            let slot = (row.minute - from) / 60_000;
            if let Some(cell) = usize::try_from(slot).ok().and_then(|s| out.get_mut(s)) {
                *cell = row.count as u64;
            }
        }
        Ok(out)
    }

    /// Writes one audit row; returns its id.
    pub(crate) async fn audit(
        &self,
        token: &str,
        action: &str,
        target: &serde_json::Value,
        affected: u64,
        outcome: &str,
    ) -> Result<i64, Failure> {
        let mut conn = self.conn().await?;
        let row: Id = diesel::sql_query(self.sql(
            "INSERT INTO @s.console_audit (token, action, target, affected, outcome) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        ))
        .bind::<Text, _>(token)
        .bind::<Text, _>(action)
        .bind::<Jsonb, _>(target)
        .bind::<BigInt, _>(affected as i64)
        .bind::<Text, _>(outcome)
        .get_result(&mut *conn)
        .await?;
        Ok(row.id)
    }

    /// Audit rows newest first, below id `before` when given.
    pub(crate) async fn audit_page(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, Failure> {
        self.newest_first("console_audit", before, limit).await
    }

    /// Feed rows newest first, below id `before` when given.
    pub(crate) async fn changes_page(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, Failure> {
        self.newest_first("sync_changes", before, limit).await
    }

    /// A keyset page of `table` (one of ours, named here, never from input) by its `id`.
    async fn newest_first(
        &self,
        table: &'static str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, Failure> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(self.sql(&format!(
            "SELECT to_jsonb(t) AS value FROM @s.{table} t \
             WHERE t.id < $1 ORDER BY t.id DESC LIMIT $2"
        )))
        .bind::<BigInt, _>(before.unwrap_or(i64::MAX))
        .bind::<BigInt, _>(limit)
        .load(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(|r| r.value).collect())
    }

    /// Feed rows after id `after`, oldest first, for the live page.
    pub(crate) async fn changes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, Failure> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(self.sql(
            "SELECT to_jsonb(c) AS value FROM @s.sync_changes c \
             WHERE c.id > $1 ORDER BY c.id LIMIT $2",
        ))
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit)
        .load(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(|r| r.value).collect())
    }

    /// The Clerk ids a search names: itself, the object of an `svix_id`, or the users with
    /// that primary email address.
    pub(crate) async fn resolve(&self, q: &str) -> Result<Vec<String>, Failure> {
        let mut conn = self.conn().await?;
        let sql = if q.contains('@') {
            "SELECT clerk_id AS name FROM @s.users WHERE email = $1 LIMIT 20"
        } else {
            "SELECT object_id AS name FROM @s.processed_webhooks \
             WHERE svix_id = $1 AND object_id IS NOT NULL"
        };
        let rows: Vec<Name> = diesel::sql_query(self.sql(sql))
            .bind::<Text, _>(q)
            .load(&mut *conn)
            .await?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    /// One object's rows (table, row), its processed webhooks and its feed rows, newest first.
    pub(crate) async fn story(&self, id: &str) -> Result<Story, Failure> {
        let mut conn = self.conn().await?;
        let mut story = Story::default();
        for (table, column) in ROWS {
            // Tombstones are keyed by (object_type, object_id): name the type to use the key.
            let kind = if *table == "tombstones" {
                " AND t.object_type = 'user'"
            } else {
                ""
            };
            let rows: Vec<Row> = diesel::sql_query(self.sql(&format!(
                "SELECT to_jsonb(t) AS value FROM @s.{table} t WHERE t.{column} = $1{kind} LIMIT $2"
            )))
            .bind::<Text, _>(id)
            .bind::<BigInt, _>(ROW_LIMIT)
            .load(&mut *conn)
            .await?;
            story
                .rows
                .extend(rows.into_iter().map(|r| ((*table).to_owned(), r.value)));
        }
        let processed: Vec<Row> = diesel::sql_query(self.sql(
            "SELECT to_jsonb(p) AS value FROM @s.processed_webhooks p \
             WHERE p.object_id = $1 ORDER BY p.processed_at DESC LIMIT $2",
        ))
        .bind::<Text, _>(id)
        .bind::<BigInt, _>(ROW_LIMIT)
        .load(&mut *conn)
        .await?;
        story.processed = processed.into_iter().map(|r| r.value).collect();
        let changes: Vec<Row> = diesel::sql_query(self.sql(
            "SELECT to_jsonb(c) AS value FROM @s.sync_changes c \
             WHERE c.object_id = $1 ORDER BY c.id DESC LIMIT $2",
        ))
        .bind::<Text, _>(id)
        .bind::<BigInt, _>(ROW_LIMIT)
        .load(&mut *conn)
        .await?;
        story.changes = changes.into_iter().map(|r| r.value).collect();
        Ok(story)
    }
}

/// What PostgreSQL holds of one object.
#[derive(Debug, Default, serde::Serialize)]
pub struct Story {
    /// (table, row) for each row naming it.
    pub rows: Vec<(String, serde_json::Value)>,
    /// Its `processed_webhooks` rows.
    pub processed: Vec<serde_json::Value>,
    /// Its `sync_changes` rows.
    pub changes: Vec<serde_json::Value>,
}
