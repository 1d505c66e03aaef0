//! The metrics this crate records; the daemons that run it register and serve them.

/// Backend API calls made for the application API, by `status`: `ok` (including Clerk's
/// 404), `gave_up` (429 or 5xx until the retries ran out), `busy` (no turn of the budget
/// before the request's deadline), `unreachable`, `unauthorized`, `not_clerk` (an answer
/// that is not Clerk's: a proxy's page), `refused` (another 4xx or an unreadable body).
pub const BACKEND_CALLS_TOTAL: &str = "clerk_sync_api_backend_calls_total";
/// Every `status` of [`BACKEND_CALLS_TOTAL`].
pub const BACKEND_CALL_STATUSES: &[&str] =
    &["ok", "gave_up", "unreachable", "unauthorized", "refused"];

/// Reconciliations (or parts of one) refused rather than risk destroying data, by `reason`:
/// `instance_mismatch` (the key is another instance's), `no_common_ids` (a kind's live rows
/// share no id with Clerk's list), `too_many_deletions` (more objects look deleted than a
/// run deletes).
pub const REFUSALS_TOTAL: &str = "clerk_sync_reconcile_refusals_total";
/// Every `reason` of [`REFUSALS_TOTAL`].
pub const REFUSAL_REASONS: &[&str] = &["instance_mismatch", "no_common_ids", "too_many_deletions"];

/// Counts one refusal.
pub(crate) fn refusal(reason: &'static str) {
    metrics::counter!(REFUSALS_TOTAL, "reason" => reason).increment(1);
}
