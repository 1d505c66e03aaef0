//! A migrated database per test, and the few reads the tests make of it.

use std::time::Duration;

use clerk_sync_db::{
    ApplyOptions, AsyncPgConnection, DeleteMode, Outcome, Pending, PoolConfig, apply_one,
};
use clerk_sync_events::Event;
use clerk_sync_test_support::TestDatabase;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

pub fn pool_config(url: &str) -> PoolConfig {
    PoolConfig {
        url: url.to_owned(),
        max_size: 4,
        statement_timeout: Duration::from_secs(10),
        lock_timeout: std::time::Duration::ZERO,
        idle_in_transaction_timeout: std::time::Duration::ZERO,
        application_name: "clerk-sync-db-tests".into(),
        connect_timeout: Duration::from_secs(5),
    }
}

/// Every table an event may write, but `processed_webhooks`.
pub const TABLES: &[&str] = &[
    "users",
    "user_email_addresses",
    "tombstones",
    "sessions",
    "organizations",
    "organization_memberships",
    "organization_invitations",
    "organization_domains",
    "roles",
    "permissions",
    "messages",
    "waitlist_entries",
    "subscriptions",
    "subscription_items",
    "payment_attempts",
];

/// A corpus payload by its event type (the first file of that type), parsed.
pub fn corpus(event_type: &str) -> (Vec<u8>, Event) {
    let (_, body) = clerk_sync_test_support::clerk_payloads()
        .into_iter()
        .find(|(name, _)| name.split("__").next() == Some(event_type))
        .unwrap_or_else(|| panic!("no {event_type} in the corpus"));
    let event = clerk_sync_events::parse(&body, 0).unwrap();
    (body, event)
}

/// A JSON body with `f` applied, parsed.
pub fn edited(body: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Event {
    let mut json: serde_json::Value = serde_json::from_slice(body).unwrap();
    f(&mut json);
    clerk_sync_events::parse(json.to_string().as_bytes(), 0).unwrap()
}

pub struct Db {
    pub database: TestDatabase,
    pub conn: AsyncPgConnection,
}

pub async fn db() -> Db {
    let database = TestDatabase::new().await;
    let conn = clerk_sync_db::connect(&pool_config(&database.url))
        .await
        .unwrap();
    Db { database, conn }
}

impl Db {
    pub async fn connection(&self) -> AsyncPgConnection {
        clerk_sync_db::connect(&pool_config(&self.database.url))
            .await
            .unwrap()
    }

    /// Another session holding `lock`, as another worker busy with it would; the lock goes
    /// when the returned connection is dropped.
    pub async fn holding(&self, lock: clerk_sync_db::Lock) -> AsyncPgConnection {
        let other = self.connection().await;
        let (a, b) = clerk_sync_db::Schema::default().lock(lock);
        diesel::sql_query(format!("SELECT pg_advisory_lock({a}, {b})"))
            .execute(&mut &other)
            .await
            .unwrap();
        other
    }

    pub async fn apply(&mut self, svix_id: &str, event: &Event, mode: DeleteMode) -> Outcome {
        apply_one(
            &mut self.conn,
            Pending { svix_id, event },
            ApplyOptions {
                user_delete_mode: mode,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    /// Applies `events` in batches of the given sizes (cycled), as a worker does.
    pub async fn apply_in_batches(
        &mut self,
        events: &[(String, Event)],
        sizes: &[usize],
        mode: DeleteMode,
    ) {
        let mut start = 0;
        let mut sizes = sizes.iter().cycle();
        while start < events.len() {
            let size = (*sizes.next().unwrap_or(&1)).max(1);
            let end = (start + size).min(events.len());
            let batch: Vec<Pending<'_>> = events[start..end]
                .iter()
                .map(|(svix_id, event)| Pending { svix_id, event })
                .collect();
            clerk_sync_db::apply_batch(
                &mut self.conn,
                &batch,
                ApplyOptions {
                    user_delete_mode: mode,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            start = end;
        }
    }

    /// Every row of a query, as JSON objects, for comparing whole tables. The query names
    /// clerk-sync's tables as an application whose `search_path` holds the schema would;
    /// the connection's own (empty, as clerk-sync sets it) is restored after, so what
    /// clerk-sync runs on it must still name its schema.
    pub async fn rows(&mut self, sql: &str) -> Vec<serde_json::Value> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            row: String,
        }
        self.execute("SET search_path TO clerk").await;
        let rows = diesel::sql_query(format!("SELECT to_jsonb(t)::text AS row FROM ({sql}) t"))
            .load::<Row>(&mut self.conn)
            .await;
        self.execute("RESET search_path").await;
        rows.unwrap()
            .into_iter()
            .map(|r| serde_json::from_str(&r.row).unwrap())
            .collect()
    }

    async fn execute(&mut self, sql: &str) {
        diesel::sql_query(sql)
            .execute(&mut self.conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Everything events leave behind, every table, but the wall-clock `processed_at`.
    pub async fn snapshot(&mut self) -> Vec<Vec<serde_json::Value>> {
        let mut tables = Vec::new();
        for table in TABLES {
            tables.push(
                self.rows(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                    .await,
            );
        }
        tables.push(
            self.rows(
                "SELECT svix_id, event_type, object_id FROM processed_webhooks ORDER BY svix_id",
            )
            .await,
        );
        tables
    }

    pub async fn user(&mut self, id: &str) -> Option<serde_json::Value> {
        self.rows(&format!("SELECT * FROM users WHERE clerk_id = '{id}'"))
            .await
            .into_iter()
            .next()
    }

    pub async fn truncate(&mut self) {
        self.execute(
            "TRUNCATE clerk.users, clerk.user_email_addresses, clerk.tombstones, clerk.processed_webhooks",
        )
        .await;
    }
}

/// A `user.created`/`user.updated` body as Clerk sends it.
pub fn user_body(
    kind: &str,
    id: &str,
    updated_at: i64,
    first_name: &str,
    emails: &[(&str, &str)],
    primary: Option<&str>,
) -> String {
    let addresses: Vec<serde_json::Value> = emails
        .iter()
        .map(|(idn, address)| {
            serde_json::json!({
                "id": idn, "object": "email_address", "email_address": address,
                "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []
            })
        })
        .collect();
    serde_json::json!({
        "object": "event",
        "type": kind,
        "timestamp": updated_at,
        "instance_id": "ins_test",
        "data": {
            "object": "user", "id": id, "first_name": first_name, "last_name": "Doe",
            "image_url": "https://img.clerk.com/x", "username": null, "external_id": "ext_1",
            "primary_email_address_id": primary, "email_addresses": addresses,
            "phone_numbers": [{"id": "idn_phone", "phone_number": "+15555550100"}],
            "primary_phone_number_id": "idn_phone",
            "public_metadata": {"plan": "pro"}, "private_metadata": {"ssn": "do-not-store"},
            "unsafe_metadata": {}, "banned": false, "locked": false,
            "two_factor_enabled": false, "password_enabled": true,
            "last_sign_in_at": updated_at, "created_at": 1_700_000_000_000i64, "updated_at": updated_at
        }
    })
    .to_string()
}

pub fn user_event(kind: &str, id: &str, updated_at: i64, first_name: &str) -> Event {
    let body = user_body(
        kind,
        id,
        updated_at,
        first_name,
        &[("idn_a", "jane@example.com")],
        Some("idn_a"),
    );
    clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
}

pub fn deleted_event(id: &str, timestamp: i64) -> Event {
    let body = serde_json::json!({
        "object": "event", "type": "user.deleted", "timestamp": timestamp,
        "data": {"object": "user", "id": id, "deleted": true, "external_id": "ext_1"}
    })
    .to_string();
    clerk_sync_events::parse(body.as_bytes(), 0).unwrap()
}

impl Db {
    /// Empties every table an event writes, `processed_webhooks` and the change feed too:
    /// a clean slate for events of every kind (`truncate` clears the users' tables only).
    /// `DELETE`, not `TRUNCATE`: on tables this small it is many times faster, which counts
    /// in a property run that starts over hundreds of times.
    pub async fn clear(&mut self) {
        let statements: String = TABLES
            .iter()
            .chain(&["processed_webhooks", "sync_changes"])
            .map(|table| format!("DELETE FROM clerk.{table};"))
            .collect();
        diesel_async::SimpleAsyncConnection::batch_execute(
            &mut self.conn,
            &format!("BEGIN;{statements}COMMIT;"),
        )
        .await
        .unwrap();
    }

    /// Applies `events` in one batch, one transaction, and returns their outcomes.
    pub async fn apply_batch(
        &mut self,
        events: &[(String, Event)],
        mode: DeleteMode,
    ) -> Vec<Outcome> {
        let batch: Vec<Pending<'_>> = events
            .iter()
            .map(|(svix_id, event)| Pending { svix_id, event })
            .collect();
        clerk_sync_db::apply_batch(
            &mut self.conn,
            &batch,
            ApplyOptions {
                user_delete_mode: mode,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    /// The change feed, every column but the wall-clock `committed_at`, in id order.
    pub async fn feed(&mut self) -> Vec<serde_json::Value> {
        self.rows(
            "SELECT id, object_type, object_id, op, event_type, svix_id, version \
             FROM sync_changes ORDER BY id",
        )
        .await
    }
}
