//! Answering a page as HTML or JSON from one view, and the console's errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Serialize;

use crate::auth::Identity;

/// Whether the client asked for JSON.
pub fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// The page: `view` as JSON when asked, else the template made from it.
pub fn page<V: Serialize, T: Template>(
    req: &HttpRequest,
    view: &V,
    template: impl FnOnce() -> T,
) -> HttpResponse {
    if wants_json(req) {
        return HttpResponse::Ok().json(view);
    }
    html(StatusCode::OK, &template())
}

/// A rendered template.
pub fn html<T: Template>(status: StatusCode, template: &T) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(error) => {
            tracing::error!(%error, "a console template failed to render");
            HttpResponse::InternalServerError().body("the page could not be rendered")
        }
    }
}

/// Why a page could not answer.
#[derive(Debug)]
pub enum Failure {
    /// Input that is not of its form.
    BadInput(String),
    /// Nothing by that id.
    NotFound(String),
    /// Redis or PostgreSQL did not answer.
    Unavailable(String),
}

impl From<clerk_sync_queue::QueueError> for Failure {
    fn from(error: clerk_sync_queue::QueueError) -> Self {
        tracing::warn!(%error, "the console cannot read Redis");
        Self::Unavailable("Redis did not answer".into())
    }
}

impl From<clerk_sync_db::DbError> for Failure {
    fn from(error: clerk_sync_db::DbError) -> Self {
        tracing::warn!(%error, "the console cannot read PostgreSQL");
        Self::Unavailable("PostgreSQL did not answer".into())
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        clerk_sync_db::DbError::from(error).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    me: Option<&'a Identity>,
    title: &'a str,
    message: &'a str,
}

/// An error, as JSON (`{"error", "message"}`) or as a page.
pub fn error(
    req: &HttpRequest,
    me: Option<&Identity>,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    if wants_json(req) {
        return clerk_sync_runtime::http::error_response(status, code, message, None);
    }
    html(
        status,
        &ErrorPage {
            me,
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        },
    )
}

/// The answer to a handler's outcome.
pub fn outcome(
    req: &HttpRequest,
    me: &Identity,
    result: Result<HttpResponse, Failure>,
) -> HttpResponse {
    match result {
        Ok(response) => response,
        Err(Failure::BadInput(message)) => error(
            req,
            Some(me),
            StatusCode::BAD_REQUEST,
            "bad_request",
            &message,
        ),
        Err(Failure::NotFound(message)) => {
            error(req, Some(me), StatusCode::NOT_FOUND, "not_found", &message)
        }
        Err(Failure::Unavailable(message)) => {
            let mut response = error(
                req,
                Some(me),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &message,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

/// 303 to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
