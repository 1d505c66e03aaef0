//! Extractors that settle who may do what before a handler runs: [`Viewer`] for every page
//! (anyone with a token), [`Actor`] for every action (an operator, from the console's own
//! origin).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{self, Identity};
use crate::respond::{self, wants_json};
use crate::state::Console;

/// Someone with a valid token. Without one: 303 to `/login` for a page, 401 for JSON.
pub struct Viewer(pub Identity);

/// An operator acting from the console's own pages (or a script). A cross-origin request
/// or a viewer's is refused with 403 before anything is read.
pub struct Actor(pub Identity);

fn console(req: &HttpRequest) -> Option<web::Data<Console>> {
    req.app_data::<web::Data<Console>>().cloned()
}

fn unauthenticated(req: &HttpRequest) -> actix_web::Error {
    let response = if wants_json(req) {
        clerk_sync_runtime::http::error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a console token is required (Authorization: Bearer, or log in)",
            None,
        )
    } else {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let next = serde_urlencoded::to_string([("next", path)]).unwrap_or_default();
        respond::see_other(&format!("/login?{next}"))
    };
    InternalError::from_response("unauthorized", response).into()
}

fn identify(req: &HttpRequest) -> Result<Identity, actix_web::Error> {
    let console = console(req).ok_or_else(|| unauthenticated(req))?;
    console
        .0
        .tokens
        .identify(req)
        .ok_or_else(|| unauthenticated(req))
}

impl FromRequest for Viewer {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(identify(req).map(Viewer))
    }
}

impl FromRequest for Actor {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(actor(req))
    }
}

fn actor(req: &HttpRequest) -> Result<Actor, actix_web::Error> {
    if !auth::same_origin(req) {
        tracing::warn!(path = req.path(), "console refused a cross-origin POST");
        let response = respond::error(
            req,
            None,
            StatusCode::FORBIDDEN,
            "cross_origin",
            "this action must come from the console's own pages",
        );
        return Err(InternalError::from_response("cross_origin", response).into());
    }
    let me = identify(req)?;
    if !me.can_act() {
        tracing::warn!(token = %me.label, path = req.path(), "console refused a viewer's action");
        let response = respond::error(
            req,
            Some(&me),
            StatusCode::FORBIDDEN,
            "forbidden",
            "a viewer token may look, never act",
        );
        return Err(InternalError::from_response("forbidden", response).into());
    }
    Ok(Actor(me))
}
