//! The upgrade from the layout before schemas existed (every table in `public`): the next
//! migration moves clerk-sync's tables into its schema with every row and index, and
//! leaves everything of the application's in `public` as it was.

use clerk_sync_db::{ApplyOptions, DeleteMode, Pending, Schema};
use clerk_sync_test_support::TestDatabase;
use serde_json::Value;

use crate::helpers::{pool_config, user_event};

/// A version newer than the rows the old layout holds (written `now()`).
const LATER: i64 = 4_102_444_800_000;

async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

async fn json(client: &tokio_postgres::Client, query: &str) -> Value {
    client
        .query_one(
            &format!(
                "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY 1), '[]')::text FROM ({query}) t"
            ),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .get::<_, String>(0)
        .parse()
        .unwrap()
}

/// A database as the versions before schemas left it, holding rows of clerk-sync's and,
/// beside them, an application's own table.
async fn legacy(with_application_history: bool) -> TestDatabase {
    let db = TestDatabase::new().await;
    let client = sql(&db).await;
    client
        .batch_execute("DROP SCHEMA clerk CASCADE")
        .await
        .unwrap();
    let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    clerk_sync_db::build_legacy_layout(conn).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO public.processed_webhooks (svix_id, event_type, object_id) \
                 VALUES ('msg_1', 'user.created', 'user_1'), ('msg_2', 'user.created', 'user_2'); \
             INSERT INTO public.users (clerk_id, email, first_name, updated_at, last_svix_id) \
                 VALUES ('user_1', 'ada@example.com', 'Ada', now(), 'msg_1'), \
                        ('user_2', 'bo@example.com', 'Bo', now(), 'msg_2'); \
             INSERT INTO public.user_email_addresses (id, user_id, email_address, verified, is_primary) \
                 VALUES ('idn_1', 'user_1', 'ada@example.com', true, true); \
             INSERT INTO public.sync_changes (object_type, object_id, op, event_type, svix_id, version) \
                 VALUES ('user', 'user_1', 'upserted', 'user.created', 'msg_1', now()), \
                        ('user', 'user_2', 'upserted', 'user.created', 'msg_2', now()); \
             CREATE TABLE public.posts (id serial PRIMARY KEY, author text NOT NULL, body text); \
             CREATE INDEX posts_author_idx ON public.posts (author); \
             INSERT INTO public.posts (author, body) VALUES ('user_1', 'hello'), ('user_2', 'hi');",
        )
        .await
        .unwrap();
    if with_application_history {
        client
            .batch_execute(
                "INSERT INTO public.__diesel_schema_migrations (version) VALUES ('20200101000000')",
            )
            .await
            .unwrap();
    }
    db
}

async fn public_relations(client: &tokio_postgres::Client) -> Value {
    json(
        client,
        "SELECT c.relname::text AS name, c.relkind::text AS kind FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' ORDER BY 1",
    )
    .await
}

#[tokio::test]
async fn a_database_of_the_layout_before_schemas_moves_into_the_schema_with_every_row() {
    for with_application_history in [false, true] {
        let db = legacy(with_application_history).await;
        let client = sql(&db).await;
        let posts = json(&client, "SELECT * FROM public.posts").await;
        let users = json(&client, "SELECT * FROM public.users").await;
        let changes = json(&client, "SELECT * FROM public.sync_changes").await;

        let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
        let applied = clerk_sync_db::run_migrations(conn, Schema::default())
            .await
            .unwrap();
        assert_eq!(
            applied,
            ["20261207000001", "20261208000001"],
            "only what the old layout lacked"
        );

        // Every row and index of clerk-sync's in the schema, nothing of it left in public.
        assert_eq!(json(&client, "SELECT * FROM clerk.users").await, users);
        assert_eq!(
            json(&client, "SELECT * FROM clerk.sync_changes").await,
            changes
        );
        assert_eq!(
            json(
                &client,
                "SELECT count(*) AS n FROM clerk.processed_webhooks"
            )
            .await,
            serde_json::json!([{"n": 2}])
        );
        let indexes = json(
            &client,
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'clerk' \
             AND indexname IN ('users_email_idx', 'user_email_addresses_user_id_idx', 'sync_changes_pkey')",
        )
        .await;
        assert_eq!(indexes.as_array().unwrap().len(), 3, "{indexes}");
        let mut left = vec![
            serde_json::json!({"name": "posts", "kind": "r"}),
            serde_json::json!({"name": "posts_author_idx", "kind": "i"}),
            serde_json::json!({"name": "posts_id_seq", "kind": "S"}),
            serde_json::json!({"name": "posts_pkey", "kind": "i"}),
        ];
        if with_application_history {
            left.push(serde_json::json!({"name": "__diesel_schema_migrations", "kind": "r"}));
            left.push(serde_json::json!({"name": "__diesel_schema_migrations_pkey", "kind": "i"}));
        }
        left.sort_by_key(|v| v["name"].as_str().unwrap_or_default().to_owned());
        assert_eq!(
            public_relations(&client).await,
            Value::Array(left),
            "application history: {with_application_history}"
        );
        assert_eq!(json(&client, "SELECT * FROM public.posts").await, posts);
        if with_application_history {
            assert_eq!(
                json(
                    &client,
                    "SELECT version::text FROM public.__diesel_schema_migrations"
                )
                .await,
                serde_json::json!([{"version": "20200101000000"}]),
                "the application's own history keeps its rows, and only them"
            );
        }
        let history = json(
            &client,
            "SELECT count(*) AS n FROM clerk.__diesel_schema_migrations",
        )
        .await;
        assert_eq!(history, serde_json::json!([{"n": migrations()}]));

        // And the moved tables are the ones written from now on.
        let mut conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
        let event = user_event("user.updated", "user_1", LATER, "Ada Lovelace");
        clerk_sync_db::apply_one(
            &mut conn,
            Pending {
                svix_id: "msg_3",
                event: &event,
            },
            ApplyOptions {
                user_delete_mode: DeleteMode::Soft,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            json(
                &client,
                "SELECT first_name FROM clerk.users WHERE clerk_id = 'user_1'"
            )
            .await,
            serde_json::json!([{"first_name": "Ada Lovelace"}])
        );
    }
}

#[tokio::test]
async fn an_applications_own_diesel_history_alone_is_never_taken_for_clerk_syncs() {
    let db = TestDatabase::new().await;
    let client = sql(&db).await;
    client
        .batch_execute(
            "DROP SCHEMA clerk CASCADE; \
             CREATE TABLE public.__diesel_schema_migrations (version varchar(50) PRIMARY KEY, \
                 run_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP); \
             INSERT INTO public.__diesel_schema_migrations (version) VALUES ('20200101000000'); \
             CREATE TABLE public.users (id bigint PRIMARY KEY, name text); \
             INSERT INTO public.users VALUES (1, 'the application''s own');",
        )
        .await
        .unwrap();
    let before = public_relations(&client).await;
    let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    let applied = clerk_sync_db::run_migrations(conn, Schema::default())
        .await
        .unwrap();
    assert_eq!(
        applied.len(),
        migrations(),
        "a fresh schema, every migration"
    );
    assert_eq!(public_relations(&client).await, before);
    assert_eq!(
        json(&client, "SELECT * FROM public.users").await,
        serde_json::json!([{"id": 1, "name": "the application's own"}])
    );
}

/// How many migrations the repository holds.
fn migrations() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count()
}
