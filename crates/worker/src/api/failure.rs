//! Every way an application API request fails, each with its status, its stable code and a
//! fixed message: nothing Clerk said, and no personal data, ever reaches a response body.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use clerk_sync_mirror::ondemand::SyncError;
use clerk_sync_runtime::http::error_response;

/// Seconds a client is asked to wait when Clerk or PostgreSQL is unavailable and nothing
/// says how long.
const RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    Unauthorized,
    MalformedId {
        kind: &'static str,
        prefix: &'static str,
    },
    NotFound,
    Upstream {
        retry_after: Option<Duration>,
    },
    InstanceMismatch,
    Internal,
}

impl From<SyncError> for Failure {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Upstream { retry_after } => Self::Upstream { retry_after },
            SyncError::Database => Self::Upstream { retry_after: None },
            SyncError::InstanceMismatch => Self::InstanceMismatch,
            SyncError::Failed => Self::Internal,
        }
    }
}

impl Failure {
    pub(super) fn response(&self) -> HttpResponse {
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        match self {
            Self::Unauthorized => {
                let mut response = error_response(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send Authorization: Bearer <CLERK_SYNC_API_TOKEN>",
                    None,
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::MalformedId { kind, prefix } => error_response(
                StatusCode::BAD_REQUEST,
                "malformed_id",
                format!("not a Clerk {kind} id: {prefix} followed by letters and digits").as_str(),
                None,
            ),
            Self::NotFound => error_response(
                StatusCode::NOT_FOUND,
                "not_found",
                "Clerk does not have it, or it was deleted",
                None,
            ),
            Self::Upstream { retry_after } => error_response(
                unavailable,
                "upstream_unavailable",
                "Clerk's Backend API or PostgreSQL is unavailable; try again later",
                Some(retry_after.unwrap_or(RETRY_AFTER)),
            ),
            Self::InstanceMismatch => error_response(
                unavailable,
                "instance_mismatch",
                "CLERK_SECRET_KEY belongs to another Clerk instance than the one this database mirrors; see `clerk-sync instance`",
                Some(Duration::from_secs(60)),
            ),
            Self::Internal => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the object Clerk returned cannot be applied",
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn each_failure_has_its_status_code_and_a_fixed_body() {
        let cases = [
            (Failure::Unauthorized, 401, "unauthorized"),
            (
                Failure::MalformedId {
                    kind: "user",
                    prefix: "user_",
                },
                400,
                "malformed_id",
            ),
            (Failure::NotFound, 404, "not_found"),
            (
                Failure::Upstream {
                    retry_after: Some(Duration::from_secs(7)),
                },
                503,
                "upstream_unavailable",
            ),
            (Failure::InstanceMismatch, 503, "instance_mismatch"),
            (Failure::Internal, 500, "internal_error"),
        ];
        for (failure, status, code) in cases {
            let response = failure.response();
            assert_eq!(response.status().as_u16(), status);
            if matches!(failure, Failure::Upstream { .. }) {
                assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "7");
            }
            let body = to_bytes(response.into_body()).await.unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"], code);
            assert!(json["message"].is_string());
        }
    }
}
