//! `GET /audit?before=N`: every action taken in the console, newest first; `GET /audit/{id}`:
//! one action, where a replay or purge lands when it is done.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::Keyset;
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;

const PAGE: i64 = 50;

#[derive(Debug, serde::Deserialize)]
pub struct Query {
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Keyset,
    one: bool,
}

impl AuditPage<'_> {
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
        let query = query.map_err(|_| Failure::BadInput("before must be an audit id".into()))?;
        let rows = console.audit_page(query.before, PAGE).await?;
        let v = Keyset::of(rows, PAGE);
        Ok(respond::page(&req, &v, || AuditPage {
            me: Some(&me.0),
            v: &v,
            one: false,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}

pub async fn one(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    path: web::Path<String>,
) -> HttpResponse {
    let result = async {
        let id: i64 = path
            .parse()
            .map_err(|_| Failure::BadInput("an audit id is a number".into()))?;
        let rows = console.audit_page(id.checked_add(1), 1).await?;
        let row = rows
            .into_iter()
            .find(|r| r["id"].as_i64() == Some(id))
            .ok_or_else(|| Failure::NotFound(format!("no audit row {id}")))?;
        if respond::wants_json(&req) {
            return Ok(HttpResponse::Ok().json(&row));
        }
        let v = Keyset {
            rows: vec![row],
            next: None,
        };
        Ok(respond::html(
            actix_web::http::StatusCode::OK,
            &AuditPage {
                me: Some(&me.0),
                v: &v,
                one: true,
            },
        ))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}
