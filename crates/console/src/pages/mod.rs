//! The routes, one module per page, and what the pages share: the navigation's identity,
//! times shown as ages, and an entry's summary line.

mod actions;
mod audit;
mod changes;
mod dead_letters;
mod login;
mod objects;
mod overview;
mod retries;
mod sync;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web::{self, ServiceConfig};
use clerk_sync_queue::{DeadLetter, field};

use crate::state::Console;

/// A page of rows, newest first, read below a `before` id: the audit and the change feed.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Keyset {
    pub(crate) rows: Vec<serde_json::Value>,
    /// The `before` of the next page, when this one is full.
    pub(crate) next: Option<i64>,
}

impl Keyset {
    /// `rows` as read with a limit of `page`.
    pub(crate) fn of(rows: Vec<serde_json::Value>, page: i64) -> Self {
        let next = rows
            .last()
            .and_then(|r| r["id"].as_i64())
            .filter(|_| rows.len() as i64 == page);
        Self { rows, next }
    }
}

/// Longest accepted filter or search text, in bytes.
pub(crate) const MAX_TEXT: usize = 256;

/// Every route of the console.
pub fn routes(console: Console) -> impl Fn(&mut ServiceConfig) + Send + Clone + 'static {
    move |config: &mut ServiceConfig| {
        config
            .app_data(web::Data::new(console.clone()))
            // Forms are small: a bulk action names a filter or at most a page of entries.
            .app_data(web::PayloadConfig::new(64 * 1024))
            .service(
                web::scope("")
                    .wrap(security_headers())
                    .route("/healthz", web::get().to(clerk_sync_runtime::http::healthz))
                    .route("/readyz", web::get().to(readyz))
                    .route("/assets/{name}", web::get().to(crate::assets::asset))
                    .route("/login", web::get().to(login::form))
                    .route("/login", web::post().to(login::submit))
                    .route("/logout", web::post().to(login::logout))
                    .route("/", web::get().to(overview::page))
                    .route("/dead-letters", web::get().to(dead_letters::list))
                    .route("/dead-letters/replay", web::post().to(actions::replay))
                    .route("/dead-letters/purge", web::post().to(actions::purge))
                    .route("/dead-letters/{entry}", web::get().to(dead_letters::show))
                    .route("/retries", web::get().to(retries::page))
                    .route("/objects", web::get().to(objects::search))
                    .route("/objects/{id}", web::get().to(objects::story))
                    .route("/objects/{id}/sync", web::post().to(sync::sync))
                    .route("/changes", web::get().to(changes::page))
                    .route("/changes/events", web::get().to(changes::events))
                    .route("/audit", web::get().to(audit::page))
                    .route("/audit/{id}", web::get().to(audit::one)),
            );
    }
}

/// `GET /readyz`: 200 when Redis and PostgreSQL both answer, 503 otherwise.
async fn readyz(console: web::Data<Console>) -> actix_web::HttpResponse {
    let redis = clerk_sync_queue::queue_stats(&console.0.redis, &console.0.keys)
        .await
        .is_ok();
    let postgres = clerk_sync_db::ping(&console.0.pg).await.is_ok();
    if redis && postgres {
        return actix_web::HttpResponse::Ok().json(serde_json::json!({"status": "ready"}));
    }
    clerk_sync_runtime::http::error_response(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        if redis {
            "PostgreSQL does not answer"
        } else {
            "Redis does not answer"
        },
        Some(std::time::Duration::from_secs(5)),
    )
}

/// Nothing inline may run or style, nothing is loaded from elsewhere, no page may be framed,
/// and no page is kept in a shared cache.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// One dead letter in a list.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Summary {
    pub entry: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub svix_id: String,
    pub attempts: Option<u64>,
    pub error: String,
    pub reason: String,
    pub failed_at: Option<u64>,
}

impl Summary {
    pub fn of(letter: &DeadLetter) -> Self {
        let error = letter.text(field::ERROR);
        Self {
            entry: letter.id.clone(),
            event_type: letter.event_type(),
            svix_id: letter.text(field::SVIX_ID),
            attempts: letter.number(field::ATTEMPTS),
            reason: clerk_sync_queue::reason(&error),
            error,
            failed_at: letter
                .number(field::FAILED_AT)
                .or_else(|| entry_ms(&letter.id)),
        }
    }

    /// When it was dead-lettered, as an age.
    pub fn age(&self) -> String {
        self.failed_at.map(age).unwrap_or_default()
    }
}

/// The ms part of a stream id.
pub(crate) fn entry_ms(id: &str) -> Option<u64> {
    id.split('-').next()?.parse().ok()
}

/// How long ago `ms` (since the epoch) was: `4s`, `3m`, `2h`, `5d`.
pub(crate) fn age(ms: u64) -> String {
    let secs = clerk_sync_runtime::unix_ms().saturating_sub(ms) / 1000;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `ms` since the epoch as an RFC 3339 time, UTC.
pub(crate) fn time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// Whether `id` is of a stream id's form (`<ms>-<seq>` or `<ms>`).
pub(crate) fn is_entry_id(id: &str) -> bool {
    let mut parts = id.splitn(2, '-');
    let ms = parts.next().unwrap_or_default();
    let seq = parts.next();
    id.len() <= 41
        && !ms.is_empty()
        && ms.bytes().all(|b| b.is_ascii_digit())
        && seq.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A filter or search field: trimmed, `None` when empty, refused when too long or holding
/// control characters.
pub(crate) fn text_field(name: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_TEXT {
        return Err(format!("{name} is longer than {MAX_TEXT} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{name} holds control characters"));
    }
    Ok(Some(value.to_owned()))
}

/// A column of a row read as JSON, as a table cell shows it: text as it is, null as nothing,
/// anything else as its JSON.
fn cell(row: &serde_json::Value, name: &str) -> String {
    match &row[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
