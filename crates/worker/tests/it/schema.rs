//! clerk-sync in the application's own database: everything in its schema, the
//! application's tables of the same names untouched, and two deployments in two schemas of
//! one database independent of each other.

use std::time::Duration;

use clerk_sync_db::{ChangeListener, Schema};
use clerk_sync_queue::{Enqueuer, EnqueuerConfig, Entry, Keys};
use clerk_sync_worker::Worker;
use serde_json::Value;

use crate::helpers::{Harness, now_ms, redis_url, user_body};

const WAIT: Duration = Duration::from_secs(60);

/// The application's own tables, named as clerk-sync's are, holding its own rows.
const APPLICATION: &str = "\
    CREATE TABLE public.users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text); \
    CREATE TABLE public.sessions (id uuid PRIMARY KEY, user_id bigint REFERENCES public.users (id)); \
    CREATE TABLE public.organizations (id bigserial PRIMARY KEY, name text NOT NULL); \
    CREATE TABLE public.processed_webhooks (id text PRIMARY KEY, seen_at timestamptz); \
    INSERT INTO public.users (email, name) VALUES ('owner@app.test', 'Owner'); \
    INSERT INTO public.sessions VALUES ('00000000-0000-0000-0000-000000000001', 1); \
    INSERT INTO public.organizations (name) VALUES ('The App'); \
    INSERT INTO public.processed_webhooks VALUES ('stripe_evt_1', now());";

/// Every table of `public`: its columns, indexes and rows, as JSON.
async fn public(h: &Harness) -> Value {
    let client = h.sql().await;
    let row = client
        .query_one(
            "SELECT jsonb_build_object( \
                 'columns', (SELECT jsonb_agg(to_jsonb(c) ORDER BY table_name, ordinal_position) \
                     FROM (SELECT table_name::text, column_name::text, data_type::text, \
                                  is_nullable::text, column_default::text, ordinal_position \
                           FROM information_schema.columns WHERE table_schema = 'public') c), \
                 'indexes', (SELECT jsonb_agg(indexdef ORDER BY indexname) \
                     FROM pg_indexes WHERE schemaname = 'public'), \
                 'users', (SELECT jsonb_agg(to_jsonb(t) ORDER BY id) FROM public.users t), \
                 'sessions', (SELECT jsonb_agg(to_jsonb(t)) FROM public.sessions t), \
                 'organizations', (SELECT jsonb_agg(to_jsonb(t)) FROM public.organizations t), \
                 'processed_webhooks', (SELECT jsonb_agg(to_jsonb(t)) FROM public.processed_webhooks t) \
             )::text",
            &[],
        )
        .await
        .unwrap();
    row.get::<_, String>(0).parse().unwrap()
}

#[tokio::test]
async fn the_applications_tables_of_the_same_names_are_never_touched() {
    let h = Harness::new().await;
    // A database that holds the application's tables and none of clerk-sync's yet.
    h.db.batch(&format!("DROP SCHEMA clerk CASCADE; {APPLICATION}"))
        .await;
    let before = public(&h).await;

    let mut config = h.config("beside-the-application");
    config.migrate_on_start = true;
    let worker = Worker::build(config).await.unwrap();
    let corpus = clerk_sync_test_support::clerk_payloads();
    for (i, (_, body)) in corpus.iter().enumerate() {
        h.enqueue(&format!("msg_corpus_{i}"), body).await;
    }
    worker.drain(WAIT).await.unwrap();
    assert!(h.dlq().await.is_empty(), "{:?}", h.dlq().await);

    let client = h.sql().await;
    let processed: i64 = client
        .query_one("SELECT count(*) FROM clerk.processed_webhooks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        processed as usize,
        corpus.len(),
        "every event applied, in the schema"
    );
    let users: i64 = client
        .query_one("SELECT count(*) FROM clerk.users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(users >= 1);
    assert_eq!(
        public(&h).await,
        before,
        "public is as the application left it"
    );
}

#[tokio::test]
async fn two_deployments_in_two_schemas_of_one_database_are_independent() {
    let staging = Schema::parse("staging").unwrap();
    let production = Harness::new().await;
    // The staging deployment: the same database, a schema and a stream prefix of its own.
    let staging_prefix = clerk_sync_test_support::unique_prefix();
    let staging_keys = Keys::new(&staging_prefix);
    let mut staging_config = production.config("staging");
    staging_config.stream_prefix = staging_prefix.clone();
    staging_config.database_schema = staging;
    staging_config.migrate_on_start = true;
    let staging_worker = Worker::build(staging_config).await.unwrap();
    let production_worker = production.worker().await;

    let listen = |schema: Schema| {
        let url = production.db.url.clone();
        async move {
            let conn = clerk_sync_db::connect(&crate::helpers::pool(&url))
                .await
                .unwrap();
            ChangeListener::start(conn, schema).await.unwrap()
        }
    };
    let mut production_listener = listen(Schema::default()).await;
    let mut staging_listener = listen(staging).await;

    production
        .enqueue(
            "msg_production",
            &user_body("user.created", "user_2production000000000000", 1, "Prod"),
        )
        .await;
    production_worker.drain(WAIT).await.unwrap();
    let staging_queue = Enqueuer::new(
        clerk_sync_queue::connect(&redis_url(), 1, WAIT, WAIT).unwrap(),
        staging_keys.clone(),
        EnqueuerConfig::default(),
    );
    let body = user_body("user.created", "user_2staging0000000000000000", 1, "Stage");
    staging_queue
        .enqueue(&Entry {
            svix_id: "msg_staging".into(),
            svix_timestamp: "1716883200".into(),
            event_type: Entry::type_of(&body),
            payload: body,
            received_at: now_ms(),
            attempt: 0,
        })
        .await
        .unwrap();
    staging_worker.drain(WAIT).await.unwrap();

    assert_eq!(
        production.column("SELECT clerk_id FROM clerk.users").await,
        vec![Some("user_2production000000000000".to_owned())]
    );
    assert_eq!(
        production
            .column("SELECT clerk_id FROM staging.users")
            .await,
        vec![Some("user_2staging0000000000000000".to_owned())]
    );
    // Each consumer is woken by its own deployment's changes, the first it hears of.
    let heard = |notice: Option<clerk_sync_db::ChangeNotice>| notice.map(|n| n.object_id);
    let first = tokio::time::timeout(WAIT, production_listener.notified())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        heard(first).as_deref(),
        Some("user_2production000000000000")
    );
    let first = tokio::time::timeout(WAIT, staging_listener.notified())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        heard(first).as_deref(),
        Some("user_2staging0000000000000000")
    );
    // Each its own migration history: every migration of the repository, once.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    for schema in ["clerk", "staging"] {
        let applied = production
            .column(&format!(
                "SELECT count(*)::text FROM {schema}.__diesel_schema_migrations"
            ))
            .await;
        assert_eq!(applied, vec![Some(migrations.to_string())], "{schema}");
    }
    clerk_sync_test_support::delete_keys(&redis_url(), &staging_keys.pattern());
}
