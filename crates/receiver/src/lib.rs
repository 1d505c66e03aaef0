//! The receiver: the HTTP endpoint Clerk (through Svix) posts webhooks to.
//!
//! A request flows through [`routes::webhook`]: the three signature headers are checked for
//! form, the timestamp for freshness, the body is read up to `MAX_BODY_BYTES`, the HMAC is
//! verified against every configured secret, and only then is the raw body handed to the
//! queue's enqueue script. The answer is sent after Redis has accepted the entry, so a 2xx
//! always means the event is durable in the stream. Nothing here touches Postgres.

mod clock;
mod error;
mod metrics;
mod routes;
mod settings;
mod startup;

pub use clock::Clock;
pub use error::ApiError;
pub use settings::{Config, Settings};
pub use startup::Application;
