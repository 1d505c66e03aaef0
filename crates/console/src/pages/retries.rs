//! `GET /retries?from=N`: events waiting for their next attempt, soonest first, a page at a
//! time (the retry set is read by rank, never whole).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use clerk_sync_queue::redis;

use super::time;
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;

const PAGE: u64 = 50;

#[derive(Debug, serde::Deserialize)]
pub struct Query {
    from: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Retry {
    pub due_at: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub svix_id: String,
    pub attempt: String,
    pub error: String,
}

impl Retry {
    /// A member of the retry set (the entry as JSON) and its score.
    pub fn parse(member: &str, score: f64) -> Self {
        let value: serde_json::Value = serde_json::from_str(member).unwrap_or_default();
        let text = |name: &str| match &value[name] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        Self {
            due_at: score as u64,
            event_type: text("type"),
            svix_id: text("svix_id"),
            attempt: text("attempt"),
            error: text("error"),
        }
    }

    pub fn due(&self) -> String {
        time(self.due_at)
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Retries {
    total: u64,
    entries: Vec<Retry>,
    next: Option<u64>,
}

#[derive(Template)]
#[template(path = "retries.html")]
struct RetriesPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Retries,
}

pub async fn page(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    query: Result<web::Query<Query>, actix_web::Error>,
) -> HttpResponse {
    let result = async {
        let from = query
            .map_err(|_| Failure::BadInput("from must be a number".into()))?
            .from
            .unwrap_or(0);
        let state = &console.0;
        let mut conn = state
            .redis
            .get()
            .await
            .map_err(clerk_sync_queue::QueueError::from)?;
        let (total, members): (u64, Vec<(String, f64)>) = redis::pipe()
            .zcard(state.keys.retry())
            .zrange_withscores(
                state.keys.retry(),
                from as isize,
                (from + PAGE - 1) as isize,
            )
            .query_async(&mut *conn)
            .await
            .map_err(clerk_sync_queue::QueueError::from)?;
        let v = Retries {
            next: (from + PAGE < total).then_some(from + PAGE),
            total,
            entries: members
                .iter()
                .map(|(member, score)| Retry::parse(member, *score))
                .collect(),
        };
        Ok(respond::page(&req, &v, || RetriesPage {
            me: Some(&me.0),
            v: &v,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}
