//! `POST /webhooks/clerk`: read within bounds, verify, enqueue, and answer only once Redis
//! holds the event.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use clerk_sync_queue::{EnqueueError, EnqueueOutcome, Enqueuer, Entry};
use clerk_sync_signature::{HeaderError, HeaderName, WebhookHeaders};
use futures_util::StreamExt as _;
use serde::Serialize;
use tracing::Instrument as _;

use crate::ApiError;
use crate::metrics::VERIFICATION_FAILURES_TOTAL;
use crate::startup::AppState;

#[derive(Serialize)]
struct Accepted<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a str>,
}

/// `POST /webhooks/clerk`: verify, enqueue, and answer only once Redis holds the event.
pub async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    enqueuer: web::Data<Enqueuer>,
) -> Result<HttpResponse, ApiError> {
    let outcome = handle(&request, payload, &state, &enqueuer).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => actix_web::ResponseError::status_code(error),
    };
    let metrics = crate::metrics::webhook();
    metrics.count_request(status);
    if status.is_success() {
        let now = crate::clock::system_ms();
        metrics.last_accepted.set((now / 1000) as f64);
    }
    if let Err(
        error @ (ApiError::MissingHeader(_)
        | ApiError::MalformedHeader(_)
        | ApiError::InvalidSignature
        | ApiError::TimestampOutOfTolerance),
    ) = &outcome
    {
        metrics::counter!(VERIFICATION_FAILURES_TOTAL, "reason" => error.code()).increment(1);
        tracing::warn!(reason = error.code(), "webhook refused");
    }
    outcome
}

async fn handle(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    enqueuer: &Enqueuer,
) -> Result<HttpResponse, ApiError> {
    refuse_repeated_headers(request)?;
    let headers = WebhookHeaders::from_lookup(|name| {
        request.headers().get(name).map(|value| value.as_bytes())
    })?;

    let now = state.clock.now_ms();
    // The window is checked before reading the body: a stale replay costs neither the
    // upload nor an HMAC.
    if headers
        .timestamp
        .is_none_or(|ts| ts.abs_diff(now / 1000) > state.tolerance_secs)
    {
        return Err(ApiError::TimestampOutOfTolerance);
    }

    let body = read_body(request, payload, state).await?;
    state.verifier.verify(&headers, &body, now / 1000)?;

    let entry = Entry {
        svix_id: headers.id.to_owned(),
        svix_timestamp: headers.timestamp_raw.to_owned(),
        event_type: Entry::type_of(&body),
        payload: body,
        received_at: now,
        attempt: 0,
    };
    let span =
        tracing::info_span!("enqueue", svix_id = %entry.svix_id, event_type = %entry.event_type);
    enqueue(enqueuer, entry).instrument(span).await
}

async fn enqueue(enqueuer: &Enqueuer, entry: Entry) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let outcome = enqueuer.enqueue(entry).await;
    crate::metrics::webhook()
        .enqueue_duration
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(EnqueueOutcome::Queued(id)) => {
            tracing::info!(entry = %id, "queued");
            Ok(HttpResponse::Accepted().json(Accepted {
                status: "queued",
                entry: Some(&id),
            }))
        }
        Ok(EnqueueOutcome::Duplicate) => {
            tracing::info!("duplicate delivery, already queued");
            Ok(HttpResponse::Ok().json(Accepted {
                status: "duplicate",
                entry: None,
            }))
        }
        Err(error @ EnqueueError::Full) => {
            tracing::warn!(%error, "refusing events until the workers catch up");
            Err(ApiError::QueueUnavailable)
        }
        Err(error) => {
            tracing::error!(error = %error, cause = ?std::error::Error::source(&error).map(ToString::to_string), "enqueue failed; the sender will retry");
            Err(ApiError::QueueUnavailable)
        }
    }
}

/// A signature header sent twice is refused rather than one of them picked: a proxy in front
/// might pick the other, and the two would disagree on what was verified.
fn refuse_repeated_headers(request: &HttpRequest) -> Result<(), ApiError> {
    for name in [HeaderName::Id, HeaderName::Timestamp, HeaderName::Signature] {
        let count = request.headers().get_all(name.svix()).count()
            + request.headers().get_all(name.standard()).count();
        if count > 1 {
            return Err(HeaderError::Malformed(name, "appears more than once").into());
        }
    }
    Ok(())
}

/// Reads the body chunk by chunk, refusing it as soon as it passes the limit: a 50 MB body
/// costs at most `MAX_BODY_BYTES` of memory.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    state: &AppState,
) -> Result<Vec<u8>, ApiError> {
    let limit = state.max_body_bytes;
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let read = async {
        let mut body = Vec::with_capacity(declared.map_or(8 * 1024, |len| len as usize));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ApiError::BodyRead)?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(state.body_read_timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout)?
}
