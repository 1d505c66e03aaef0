//! The metrics this crate records; the daemons that run it register and serve them.

/// Backend API calls made for the application API, by `status`: `ok` (including Clerk's
/// 404), `gave_up` (429 or 5xx until the retries ran out), `unreachable`, `unauthorized`,
/// `refused` (another 4xx or an unreadable body).
pub const BACKEND_CALLS_TOTAL: &str = "clerk_sync_api_backend_calls_total";
/// Every `status` of [`BACKEND_CALLS_TOTAL`].
pub const BACKEND_CALL_STATUSES: &[&str] =
    &["ok", "gave_up", "unreachable", "unauthorized", "refused"];
