//! `clerk-sync-bench-bare-receiver`: the baseline the receiver is measured against, an
//! actix-web endpoint that XADDs each body to `{bench}:events` with one Redis call per
//! request and answers 202 with the entry id: no signature check, no duplicate guard.
//! What a receiver on the same stack can do at most if its enqueue cost Redis one XADD.
//!
//! Reads `REDIS_URL` and `BIND` (`127.0.0.1:8081` unless set).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use clerk_sync_queue::redis::{self, aio::MultiplexedConnection};

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    redis: web::Data<MultiplexedConnection>,
) -> HttpResponse {
    let id = request
        .headers()
        .get("svix-id")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let mut conn = redis.get_ref().clone();
    let added: Result<String, _> = redis::cmd("XADD")
        .arg("{bench}:events")
        .arg("*")
        .arg("svix_id")
        .arg(id)
        .arg("payload")
        .arg(body.as_ref())
        .query_async(&mut conn)
        .await;
    match added {
        Ok(entry) => {
            HttpResponse::Accepted().json(serde_json::json!({"status": "queued", "entry": entry}))
        }
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").context("REDIS_URL")?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let conn = web::Data::new(conn);
    HttpServer::new(move || {
        App::new()
            .app_data(conn.clone())
            .route("/webhooks/clerk", web::post().to(receive))
    })
    .bind(bind)?
    .run()
    .await?;
    Ok(())
}
