//! `GET /login`, `POST /login` (form field `token`), `POST /logout`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::{self, Identity};
use crate::respond::{self, html};
use crate::state::Console;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    me: Option<&'a Identity>,
    next: &'a str,
    failed: bool,
}

#[derive(serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: Option<String>,
    next: Option<String>,
}

/// Only a path of the console itself: never another site (`//host`, `/\host`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 512
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

pub async fn form(query: web::Query<Next>) -> HttpResponse {
    html(
        StatusCode::OK,
        &LoginPage {
            me: None,
            next: safe_next(query.next.as_deref()),
            failed: false,
        },
    )
}

pub async fn submit(
    req: HttpRequest,
    console: web::Data<Console>,
    form: Result<web::Form<LoginForm>, actix_web::Error>,
) -> HttpResponse {
    if !auth::same_origin(&req) {
        return respond::error(
            &req,
            None,
            StatusCode::FORBIDDEN,
            "cross_origin",
            "log in from the console's own page",
        );
    }
    let form = match form {
        Ok(form) => form.into_inner(),
        Err(_) => {
            return respond::error(
                &req,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the form is not of its form",
            );
        }
    };
    let next = safe_next(form.next.as_deref()).to_owned();
    let me = form
        .token
        .as_deref()
        .filter(|t| t.len() <= 1024)
        .and_then(|t| console.0.tokens.check(t.trim()));
    let Some(me) = me else {
        tracing::warn!("console login refused: unknown token");
        return html(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                me: None,
                next: &next,
                failed: true,
            },
        );
    };
    let Some(value) = console
        .0
        .tokens
        .issue(&me, clerk_sync_runtime::unix_ms() / 1000)
    else {
        return HttpResponse::InternalServerError().finish();
    };
    tracing::info!(token = %me.label, "console login");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .insert_header((
            header::SET_COOKIE,
            auth::session_cookie(&value, auth::is_https(&req)),
        ))
        .finish()
}

pub async fn logout(req: HttpRequest) -> HttpResponse {
    if !auth::same_origin(&req) {
        return respond::error(
            &req,
            None,
            StatusCode::FORBIDDEN,
            "cross_origin",
            "log out from the console's own page",
        );
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .insert_header((
            header::SET_COOKIE,
            auth::cleared_cookie(auth::is_https(&req)),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_the_console_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/dead-letters?type=a")),
            "/dead-letters?type=a"
        );
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "x"] {
            assert_eq!(safe_next(Some(bad)), "/");
        }
    }
}
