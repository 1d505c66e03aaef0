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
//! `{"error": code, "message": …}`: 401 `unauthorized`, 400 `malformed_id`, 404
//! `not_found`, 503 `upstream_unavailable` with `Retry-After`, 500 `internal_error`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::API_REQUESTS_TOTAL;
use clerk_sync_mirror::ondemand::{ObjectKind, SyncError, Syncer};

/// Seconds a client is asked to wait when Clerk or PostgreSQL is unavailable and Clerk
/// named no time itself.
const RETRY_AFTER_SECS: u64 = 5;

/// `CLERK_SYNC_API_TOKEN`: one or more bearer tokens (several during a rotation), kept only
/// as SHA-256 digests so a comparison takes the same time whatever the token's length, and
/// printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokens(Vec<[u8; 32]>);

impl ApiTokens {
    /// Parses tokens separated by spaces or commas. The messages never quote a token.
    pub fn parse(value: &str) -> Result<Self, String> {
        let tokens: Vec<[u8; 32]> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(|t| {
                if t.len() < 16 {
                    Err("each token must be at least 16 characters".to_owned())
                } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
                    Err("tokens must be visible ASCII".to_owned())
                } else {
                    Ok(digest(t.as_bytes()))
                }
            })
            .collect::<Result<_, _>>()?;
        if tokens.is_empty() {
            return Err("must hold at least one token".into());
        }
        Ok(Self(tokens))
    }

    /// Whether `presented` is one of the tokens, in constant time.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        self.0
            .iter()
            .fold(0u8, |any, token| any | token.ct_eq(&presented).unwrap_u8())
            == 1
    }
}

impl fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokens(*** x{})", self.0.len())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub(crate) struct ApiState {
    pub(crate) tokens: ApiTokens,
    pub(crate) syncer: Arc<Syncer>,
}

/// Serves the API on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/v1/users/{id}", get(object_route(ObjectKind::User, false)))
        .route(
            "/v1/sync/users/{id}",
            post(object_route(ObjectKind::User, true)),
        )
        .route(
            "/v1/organizations/{id}",
            get(object_route(ObjectKind::Organization, false)),
        )
        .route(
            "/v1/sync/organizations/{id}",
            post(object_route(ObjectKind::Organization, true)),
        )
        .fallback(|| async { Failure::NotFound("no such route".into()) })
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// The handler of one route: the object kind it serves, and whether it refreshes first.
fn object_route(
    kind: ObjectKind,
    refresh: bool,
) -> impl Fn(Authorized, MatchedPath, State<Arc<ApiState>>, Path<String>) -> BoxFuture<'static, Response>
+ Clone
+ Send
+ Sync
+ 'static {
    move |_: Authorized,
          route: MatchedPath,
          State(state): State<Arc<ApiState>>,
          Path(id): Path<String>| {
        async move { answer(&route, serve_object(&state, kind, &id, refresh).await) }.boxed()
    }
}

async fn serve_object(
    state: &ApiState,
    kind: ObjectKind,
    id: &str,
    refresh: bool,
) -> Result<serde_json::Value, Failure> {
    if !kind.is_valid_id(id) {
        return Err(Failure::MalformedId(format!(
            "not a Clerk {} id: {} followed by letters and digits",
            kind.name(),
            kind.prefix()
        )));
    }
    let found = if refresh {
        state.syncer.refresh(kind, id).await
    } else {
        state.syncer.get(kind, id).await
    };
    match found {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(Failure::NotFound(format!(
            "no {} {id}: Clerk does not have it, or it was deleted",
            kind.name()
        ))),
        Err(error) => Err(Failure::from(error)),
    }
}

fn answer(route: &MatchedPath, result: Result<serde_json::Value, Failure>) -> Response {
    let response = match result {
        Ok(object) => (StatusCode::OK, axum::Json(object)).into_response(),
        Err(failure) => failure.into_response(),
    };
    count(route.as_str(), response.status());
    response
}

fn count(route: &str, status: StatusCode) {
    metrics::counter!(API_REQUESTS_TOTAL, "route" => route.to_owned(), "status" => status.as_str().to_owned())
        .increment(1);
}

/// A request that carried one of the tokens; refused with 401 before anything else is read.
struct Authorized;

impl FromRequestParts<Arc<ApiState>> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));
        match presented {
            Some(token) if state.tokens.accepts(token) => Ok(Self),
            _ => {
                let response = Failure::Unauthorized.into_response();
                if let Some(route) = parts.extensions.get::<MatchedPath>() {
                    count(route.as_str(), response.status());
                }
                Err(response)
            }
        }
    }
}

/// Every way a request fails, each with a status and a stable code.
#[derive(Debug)]
enum Failure {
    Unauthorized,
    MalformedId(String),
    NotFound(String),
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    Internal(String),
}

impl From<SyncError> for Failure {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Upstream { retry_after, .. } => Self::Unavailable {
                message: error.to_string(),
                retry_after,
            },
            SyncError::Database(_) => Self::Unavailable {
                message: error.to_string(),
                retry_after: None,
            },
            SyncError::Failed(message) => {
                tracing::error!(%message, "an object fetched from Clerk cannot be applied");
                Self::Internal(message)
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, code, message, retry_after) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer <CLERK_SYNC_API_TOKEN>".to_owned(),
                None,
            ),
            Self::MalformedId(m) => (StatusCode::BAD_REQUEST, "malformed_id", m, None),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m, None),
            Self::Unavailable {
                message,
                retry_after,
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                message,
                Some(retry_after.map_or(RETRY_AFTER_SECS, |d| d.as_secs().max(1))),
            ),
            Self::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", m, None),
        };
        let body = serde_json::json!({"error": code, "message": message});
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_split_on_spaces_and_commas_and_never_shown() {
        let tokens = ApiTokens::parse("first-token-0123456789, second-token-0123456789").unwrap();
        assert!(tokens.accepts(b"first-token-0123456789"));
        assert!(tokens.accepts(b"second-token-0123456789"));
        assert!(!tokens.accepts(b"first-token-012345678"));
        assert!(!tokens.accepts(b""));
        assert_eq!(format!("{tokens:?}"), "ApiTokens(*** x2)");
        assert!(ApiTokens::parse(" , ").is_err());
        let short = ApiTokens::parse("short").unwrap_err();
        assert!(!short.contains("short"), "{short}");
    }

    #[tokio::test]
    async fn each_failure_has_its_status_code_and_body() {
        let cases = [
            (Failure::Unauthorized, 401, "unauthorized"),
            (Failure::MalformedId("x".into()), 400, "malformed_id"),
            (Failure::NotFound("x".into()), 404, "not_found"),
            (
                Failure::Unavailable {
                    message: "x".into(),
                    retry_after: Some(Duration::from_secs(7)),
                },
                503,
                "upstream_unavailable",
            ),
            (Failure::Internal("x".into()), 500, "internal_error"),
        ];
        for (failure, status, code) in cases {
            let response = failure.into_response();
            assert_eq!(response.status().as_u16(), status);
            if status == 503 {
                assert_eq!(response.headers()[header::RETRY_AFTER], "7");
            }
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"], code);
            assert!(json["message"].is_string());
        }
    }
}
