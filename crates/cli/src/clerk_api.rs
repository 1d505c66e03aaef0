//! Clerk's Backend API, for `backfill` and `verify`.
// TODO(#5): the client: paging, 429 Retry-After, 5xx with jittered backoff.
