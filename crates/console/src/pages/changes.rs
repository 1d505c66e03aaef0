//! `GET /changes?before=N`: the change feed, newest first, a page at a time;
//! `GET /changes/events?after=N`: the rows after `N` as server-sent events, then each row as
//! it commits (woken by the process's one `LISTEN`, read by id, so none is missed).

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use tokio::sync::broadcast::error::RecvError;

use super::Keyset;
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;

const PAGE: i64 = 50;
/// Rows one read sends a live page, at most; the next read continues.
const BURST: i64 = 100;
/// A comment this often keeps proxies from closing a quiet stream, and finds closed clients.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, serde::Deserialize)]
pub struct Query {
    before: Option<i64>,
    after: Option<i64>,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Keyset,
    newest: i64,
}

impl ChangesPage<'_> {
    fn cell(&self, row: &serde_json::Value, name: &str) -> String {
        super::cell(row, name)
    }
}

pub async fn page(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    query: Result<web::Query<Query>, actix_web::Error>,
) -> HttpResponse {
    let result = async {
        let query = query.map_err(|_| Failure::BadInput("before must be a feed id".into()))?;
        let rows = console.changes_page(query.before, PAGE).await?;
        let v = Keyset::of(rows, PAGE);
        let newest = v.rows.first().and_then(|r| r["id"].as_i64()).unwrap_or(0);
        Ok(respond::page(&req, &v, || ChangesPage {
            me: Some(&me.0),
            v: &v,
            newest,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}

pub async fn events(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    query: Result<web::Query<Query>, actix_web::Error>,
) -> HttpResponse {
    let after = match query {
        Ok(q) => q.after.unwrap_or(0),
        Err(_) => {
            return respond::outcome(
                &req,
                &me.0,
                Err(Failure::BadInput("after must be a feed id".into())),
            );
        }
    };
    let console = console.into_inner();
    let woken = console.0.changes.subscribe();
    // The first read happens at once: rows committed before the page subscribed.
    let state = (console, woken, after, true);
    let stream =
        futures_util::stream::unfold(state, |(console, mut woken, after, first)| async move {
            if !first {
                match tokio::time::timeout(HEARTBEAT, woken.recv()).await {
                    Err(_) => {
                        return Some((
                            Ok::<_, actix_web::Error>(Bytes::from_static(b": alive\n\n")),
                            (console, woken, after, false),
                        ));
                    }
                    Ok(Err(RecvError::Closed)) => return None,
                    // Lagged: notices were dropped; the read by id below catches up all the same.
                    Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
                }
            }
            let rows = match console.changes_after(after, BURST).await {
                Ok(rows) => rows,
                Err(_) => {
                    return Some((
                        Ok(Bytes::from_static(b"event: unavailable\ndata: {}\n\n")),
                        (console, woken, after, false),
                    ));
                }
            };
            let mut next = after;
            let mut out = String::new();
            for row in &rows {
                next = row["id"].as_i64().unwrap_or(next).max(next);
                out.push_str(&format!("id: {next}\ndata: {row}\n\n"));
            }
            if out.is_empty() {
                out.push_str(": nothing new\n\n");
            }
            Some((
                Ok(Bytes::from(out)),
                (console, woken, next, rows.len() as i64 == BURST),
            ))
        });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}
