//! Migrations: run by every replica at once, and recorded as they went.

use clerk_sync_db::{AsyncPgConnection, MIGRATIONS};
use clerk_sync_test_support::TestDatabase;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::SimpleAsyncConnection as _;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::MigrationHarness;

use crate::helpers::pool_config;

#[tokio::test]
async fn replicas_migrating_at_once_queue_on_the_lock_and_all_succeed() {
    // A fresh, empty database: not the migrated template.
    let empty = TestDatabase::new().await;
    let config = pool_config(&empty.url);
    let mut conn = clerk_sync_db::connect(&config).await.unwrap();
    conn.batch_execute("DROP SCHEMA clerk CASCADE")
        .await
        .unwrap();

    let mut runs = Vec::new();
    for _ in 0..4 {
        let config = config.clone();
        runs.push(tokio::spawn(async move {
            let conn = clerk_sync_db::connect(&config).await.unwrap();
            clerk_sync_db::run_migrations(conn, clerk_sync_db::Schema::default()).await
        }));
    }
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().unwrap());
    }
    let total: usize = applied.iter().map(Vec::len).sum();
    assert_eq!(
        total,
        migration_count(),
        "each migration ran exactly once: {applied:?}"
    );

    let conn = clerk_sync_db::connect(&config).await.unwrap();
    let (done, pending) = clerk_sync_db::migration_status(conn, clerk_sync_db::Schema::default())
        .await
        .unwrap();
    assert!(pending.is_empty());
    assert_eq!(done.len(), migration_count());
}

fn migration_count() -> usize {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .unwrap()
        .len()
}

#[tokio::test]
async fn every_migration_reverts_and_reapplies() {
    let db = TestDatabase::new().await;
    let mut conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    // The migration files name no schema: reverted, as applied, with the schema alone.
    conn.batch_execute("SET search_path TO clerk")
        .await
        .unwrap();
    let reverted = tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        conn.revert_all_migrations(MIGRATIONS).unwrap().len()
    })
    .await
    .unwrap();
    assert_eq!(reverted, migration_count());
    let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    let applied = clerk_sync_db::run_migrations(conn, clerk_sync_db::Schema::default())
        .await
        .unwrap();
    assert_eq!(applied.len(), migration_count());
}

#[tokio::test]
async fn sslmode_require_never_falls_back_to_plaintext() {
    let db = TestDatabase::new().await;
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let config = pool_config(&format!("{}{separator}sslmode=require", db.url));
    // The local server either speaks no TLS or shows a certificate no trusted CA signed:
    // either way the connection must fail rather than go on unencrypted or unverified.
    let error = match clerk_sync_db::connect(&config).await {
        Ok(_) => panic!("connected with sslmode=require to a server that cannot be verified"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("TLS")
            || error.contains("tls")
            || error.contains("certificate")
            || error.contains("ssl"),
        "{error}"
    );
    let plain = pool_config(&db.url);
    assert!(
        clerk_sync_db::connect(&plain).await.is_ok(),
        "without sslmode the same server is reached"
    );
}

#[tokio::test]
async fn every_pooled_connection_carries_its_session_bounds() {
    let db = clerk_sync_test_support::TestDatabase::new().await;
    let mut config = crate::helpers::pool_config(&db.url);
    config.statement_timeout = std::time::Duration::from_millis(2_500);
    config.lock_timeout = std::time::Duration::from_millis(1_200);
    config.idle_in_transaction_timeout = std::time::Duration::from_millis(1_800);
    let pool = clerk_sync_db::build_pool(&config).unwrap();
    let mut conn = pool.get().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    use diesel_async::RunQueryDsl as _;
    let mut read = async |name: &str| -> String {
        diesel::sql_query(format!("SELECT current_setting('{name}') AS setting"))
            .get_result::<Setting>(&mut conn)
            .await
            .unwrap()
            .setting
    };
    assert_eq!(read("statement_timeout").await, "2500ms");
    assert_eq!(read("lock_timeout").await, "1200ms");
    assert_eq!(read("idle_in_transaction_session_timeout").await, "1800ms");
    assert_eq!(read("plan_cache_mode").await, "force_custom_plan");
    assert_eq!(read("tcp_keepalives_idle").await, "10");
    assert_eq!(read("tcp_keepalives_interval").await, "5");
    assert_eq!(read("tcp_keepalives_count").await, "3");
}
