//! Verification of webhooks signed by Svix (and any Standard Webhooks sender).
//!
//! A request carries three headers (`svix-id`, `svix-timestamp`, `svix-signature`, or the
//! same under `webhook-*`). The sender computes `HMAC-SHA256(key, "{id}.{timestamp}.{body}")`
//! with the endpoint's secret and sends it, base64-encoded, as one or more `v1,<sig>` entries.
//!
//! Data flows one way: [`SigningSecrets`] are parsed once at start, [`WebhookHeaders`] are
//! read from each request, and [`Verifier::verify`] checks them against the raw body with an
//! explicit clock (`now`), so every case can be tested without waiting for time to pass.
//! [`sign`] is the inverse, for the CLI's `send` and for tests.

mod headers;
mod secret;
mod verify;

pub use headers::{HeaderError, HeaderName, WebhookHeaders};
pub use secret::{SecretError, SigningSecret, SigningSecrets};
pub use verify::{DEFAULT_TOLERANCE_SECS, Verifier, VerifyError, sign};
