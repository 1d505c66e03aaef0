//! Every way a webhook request is refused, with its status and stable JSON code.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use clerk_sync_runtime::http::error_response;
use clerk_sync_signature::{HeaderError, VerifyError};

/// How long a sender is asked to wait when the queue cannot take events. Svix retries on its
/// own schedule regardless; other senders honour it.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Every way a webhook request is refused, each with a status and a stable JSON code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A signature header is absent or empty: 400 `missing_header`.
    #[error("{0}")]
    MissingHeader(HeaderError),
    /// A signature header is not of its form: 400 `malformed_header`.
    #[error("{0}")]
    MalformedHeader(HeaderError),
    /// No `v1` entry matches: 401 `invalid_signature`.
    #[error("no signature matches")]
    InvalidSignature,
    /// The timestamp is outside the tolerance: 401 `timestamp_out_of_tolerance`.
    #[error("timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
    /// The body is larger than `MAX_BODY_BYTES`: 413 `payload_too_large`.
    #[error("body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive in time: 408 `request_timeout`.
    #[error("the body did not arrive in time")]
    BodyTimeout,
    /// The connection broke while reading the body: 400 `malformed_body`.
    #[error("the body could not be read")]
    BodyRead,
    /// Redis is down, slow, or the stream is at its high-water mark: 503 `queue_unavailable`.
    #[error("the queue is unavailable")]
    QueueUnavailable,
}

impl ApiError {
    /// The stable code clients and tests match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::BodyRead => "malformed_body",
            Self::QueueUnavailable => "queue_unavailable",
        }
    }
}

impl From<HeaderError> for ApiError {
    fn from(error: HeaderError) -> Self {
        match error {
            HeaderError::Missing(_) => Self::MissingHeader(error),
            HeaderError::Malformed(..) => Self::MalformedHeader(error),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::InvalidSignature => Self::InvalidSignature,
            VerifyError::TimestampOutOfTolerance => Self::TimestampOutOfTolerance,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingHeader(_) | Self::MalformedHeader(_) | Self::BodyRead => {
                StatusCode::BAD_REQUEST
            }
            Self::InvalidSignature | Self::TimestampOutOfTolerance => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::MissingHeader(_) | Self::MalformedHeader(_) | Self::PayloadTooLarge(_) => {
                Some(self.to_string())
            }
            _ => None,
        };
        let retry_after = matches!(self, Self::QueueUnavailable).then_some(RETRY_AFTER);
        let mut response = error_response(
            self.status_code(),
            self.code(),
            message.as_deref(),
            retry_after,
        );
        if let Self::PayloadTooLarge(_) | Self::BodyTimeout = self {
            // The rest of the body is never read, so the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody as _;
    use clerk_sync_signature::HeaderName;

    use super::*;

    fn body_of(error: ApiError) -> (u16, serde_json::Value, Option<String>) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap(), retry_after)
    }

    #[test]
    fn a_missing_header_is_400_missing_header_naming_it() {
        let (status, body, _) = body_of(HeaderError::Missing(HeaderName::Id).into());
        assert_eq!(status, 400);
        assert_eq!(body["error"], "missing_header");
        assert_eq!(body["message"], "svix-id header is missing");
    }

    #[test]
    fn a_malformed_header_is_400_malformed_header() {
        let (status, body, _) = body_of(
            HeaderError::Malformed(HeaderName::Timestamp, "must be a non-negative integer").into(),
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"], "malformed_header");
    }

    #[test]
    fn signature_failures_are_401_with_their_reason() {
        let (status, body, _) = body_of(ApiError::InvalidSignature);
        assert_eq!(
            (status, body),
            (401, serde_json::json!({"error": "invalid_signature"}))
        );
        let (status, body, _) = body_of(ApiError::TimestampOutOfTolerance);
        assert_eq!(
            (status, body),
            (
                401,
                serde_json::json!({"error": "timestamp_out_of_tolerance"})
            )
        );
    }

    #[test]
    fn an_oversized_body_is_413_payload_too_large() {
        let (status, body, _) = body_of(ApiError::PayloadTooLarge(10));
        assert_eq!(status, 413);
        assert_eq!(body["error"], "payload_too_large");
    }

    #[test]
    fn an_unavailable_queue_is_503_with_retry_after() {
        let (status, body, retry_after) = body_of(ApiError::QueueUnavailable);
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"error": "queue_unavailable"}));
        assert_eq!(retry_after.as_deref(), Some("5"));
    }

    #[test]
    fn slow_and_broken_bodies_have_their_own_codes() {
        assert_eq!(body_of(ApiError::BodyTimeout).0, 408);
        assert_eq!(body_of(ApiError::BodyRead).1["error"], "malformed_body");
    }
}
