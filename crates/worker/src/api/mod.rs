//! The application API on `API_BIND`: a user or an organization as the database holds it,
//! fetched from Clerk first when it is not there yet, for an application's first request
//! after a sign-up (which races the webhook).
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/users/{id}` | 200 the `user_profiles` row; fetched and applied first when missing |
//! | `POST /v1/sync/users/{id}` | fetched and applied always, then as above |
//! | `GET /v1/organizations/{id}`, `POST /v1/sync/organizations/{id}` | the same, the organization with its members |
//!
//! Every request needs `Authorization: Bearer <CLERK_SYNC_API_TOKEN>`; every error is
//! `{"error": code, "message": …}` with a fixed message: 401 `unauthorized`, 400
//! `malformed_id`, 404 `not_found`, 503 `upstream_unavailable` or `instance_mismatch` with
//! `Retry-After`, 500 `internal_error`. A request has [`DEADLINE`] to be answered: a fetch
//! that could not be made within it (the process's Backend API budget is spent, Clerk asked
//! for a pause) is answered 503 at once.

mod failure;
mod tokens;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use clerk_sync_events::Kind;
use clerk_sync_mirror::ondemand::Syncer;
use clerk_sync_runtime::http::Limits;
use tokio::time::Instant;

use crate::metrics::API_REQUESTS_TOTAL;
use failure::Failure;
pub use tokens::ApiTokens;

/// How long a request may take, fetch from Clerk included.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub(crate) struct ApiState {
    pub(crate) tokens: ApiTokens,
    pub(crate) syncer: Arc<Syncer>,
}

/// What each route serves: the object kind, whether it refreshes first, and the template
/// metrics count it by.
#[derive(Clone, Copy)]
struct Route {
    kind: Kind,
    refresh: bool,
    template: &'static str,
}

/// The routes, in the order `API_ROUTES` lists their templates.
const ROUTES: [Route; 4] = [
    Route {
        kind: Kind::User,
        refresh: false,
        template: "/v1/users/{id}",
    },
    Route {
        kind: Kind::User,
        refresh: true,
        template: "/v1/sync/users/{id}",
    },
    Route {
        kind: Kind::Organization,
        refresh: false,
        template: "/v1/organizations/{id}",
    },
    Route {
        kind: Kind::Organization,
        refresh: true,
        template: "/v1/sync/organizations/{id}",
    },
];

/// Serves the API on `listener` until the returned server is stopped.
pub(crate) fn serve(listener: TcpListener, state: Arc<ApiState>) -> std::io::Result<Server> {
    let state = web::Data::from(state);
    clerk_sync_runtime::http::serve(listener, Limits::INTERNAL, move |config| {
        config.app_data(state.clone());
        for route in ROUTES {
            let method = if route.refresh {
                web::post()
            } else {
                web::get()
            };
            config.route(
                route.template,
                method.to(
                    move |request: HttpRequest,
                          state: web::Data<ApiState>,
                          id: web::Path<String>| {
                        answer(route, request, state, id.into_inner())
                    },
                ),
            );
        }
    })
}

async fn answer(
    route: Route,
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: String,
) -> HttpResponse {
    let deadline = Instant::now() + DEADLINE;
    let response = match serve_object(route, &request, &state, &id, deadline).await {
        Ok(object) => HttpResponse::Ok().json(object),
        Err(failure) => failure.response(),
    };
    count(route.template, response.status());
    response
}

async fn serve_object(
    route: Route,
    request: &HttpRequest,
    state: &ApiState,
    id: &str,
    deadline: Instant,
) -> Result<serde_json::Value, Failure> {
    // Before anything else is read.
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));
    if !presented.is_some_and(|token| state.tokens.accepts(token)) {
        return Err(Failure::Unauthorized);
    }
    let kind = route.kind;
    if !kind.is_valid_id(id) {
        return Err(Failure::MalformedId {
            kind: kind.name(),
            prefix: kind.prefix(),
        });
    }
    let found = if route.refresh {
        state.syncer.refresh(kind, id, Some(deadline)).await
    } else {
        state.syncer.get(kind, id, Some(deadline)).await
    };
    match found {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(Failure::NotFound),
        Err(error) => Err(error.into()),
    }
}

fn count(route: &str, status: StatusCode) {
    metrics::counter!(API_REQUESTS_TOTAL, "route" => route.to_owned(), "status" => status.as_str().to_owned())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_counted_under_a_registered_template() {
        let templates: Vec<&str> = ROUTES.iter().map(|r| r.template).collect();
        assert_eq!(templates, crate::metrics::API_ROUTES);
    }
}
