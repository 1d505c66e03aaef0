//! The application whose database clerk-sync lives in: its own tables in `public`, named as
//! clerk-sync's are, made before the workers migrate and compared, definition and rows,
//! once the run is over. Nothing clerk-sync does under fire may touch them.

use anyhow::Context as _;

/// The application's tables and rows.
const TABLES: &str = "\
    CREATE TABLE public.users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text); \
    CREATE TABLE public.sessions (id uuid PRIMARY KEY, user_id bigint REFERENCES public.users (id)); \
    CREATE TABLE public.organizations (id bigserial PRIMARY KEY, name text NOT NULL); \
    CREATE TABLE public.processed_webhooks (id text PRIMARY KEY, seen_at timestamptz); \
    INSERT INTO public.users (email, name) VALUES ('owner@app.test', 'Owner'), ('second@app.test', NULL); \
    INSERT INTO public.sessions VALUES ('00000000-0000-0000-0000-000000000001', 1); \
    INSERT INTO public.organizations (name) VALUES ('The App'); \
    INSERT INTO public.processed_webhooks VALUES ('stripe_evt_1', '2026-01-01T00:00:00Z');";

/// `public` as one value: every column's definition, every index, every row.
const SNAPSHOT: &str = "\
    SELECT jsonb_build_object( \
        'columns', (SELECT jsonb_agg(to_jsonb(c) ORDER BY table_name, ordinal_position) \
            FROM (SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
                         column_default::text, ordinal_position \
                  FROM information_schema.columns WHERE table_schema = 'public') c), \
        'indexes', (SELECT jsonb_agg(indexdef ORDER BY indexname) FROM pg_indexes \
            WHERE schemaname = 'public'), \
        'users', (SELECT jsonb_agg(to_jsonb(t) ORDER BY id) FROM public.users t), \
        'sessions', (SELECT jsonb_agg(to_jsonb(t)) FROM public.sessions t), \
        'organizations', (SELECT jsonb_agg(to_jsonb(t)) FROM public.organizations t), \
        'processed_webhooks', (SELECT jsonb_agg(to_jsonb(t)) FROM public.processed_webhooks t) \
    )::text";

async fn connect(database_url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to the run's PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// Makes the application's tables, and returns how `public` looks.
pub async fn create(database_url: &str) -> anyhow::Result<String> {
    let client = connect(database_url).await?;
    client
        .batch_execute(TABLES)
        .await
        .context("cannot create the application's tables")?;
    snapshot(&client).await
}

/// A failure when `public` no longer looks as it did.
pub async fn changed(database_url: &str, before: &str) -> anyhow::Result<Option<String>> {
    let after = snapshot(&connect(database_url).await?).await?;
    Ok((after != before).then(|| {
        format!("the application's own tables in public changed: before {before}, after {after}")
    }))
}

async fn snapshot(client: &tokio_postgres::Client) -> anyhow::Result<String> {
    Ok(client.query_one(SNAPSHOT, &[]).await?.get(0))
}
