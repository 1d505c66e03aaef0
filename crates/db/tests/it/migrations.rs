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
    conn.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .await
        .unwrap();

    let mut runs = Vec::new();
    for _ in 0..4 {
        let config = config.clone();
        runs.push(tokio::spawn(async move {
            let conn = clerk_sync_db::connect(&config).await.unwrap();
            clerk_sync_db::run_migrations(conn).await
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
    let (done, pending) = clerk_sync_db::migration_status(conn).await.unwrap();
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
    let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    let reverted = tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        conn.revert_all_migrations(MIGRATIONS).unwrap().len()
    })
    .await
    .unwrap();
    assert_eq!(reverted, migration_count());
    let conn = clerk_sync_db::connect(&pool_config(&db.url)).await.unwrap();
    let applied = clerk_sync_db::run_migrations(conn).await.unwrap();
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
