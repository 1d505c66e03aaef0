//! Clerk's webhook events, as clerk-sync applies them.
//!
//! A body flows through [`parse`]: the envelope (`type`, `timestamp`, `event_attributes`) is
//! read first, then `data` according to `type`, into an [`Event`] whose [`EventData`] says
//! what the worker should do. Parsing is liberal, because Clerk's payloads vary across API
//! versions and senders: `timestamp` comes in seconds or milliseconds (or not at all), names
//! and metadata are nullable, arrays may be `null`, deletions carry only `{id, deleted}`.
//! Every time is normalised to Unix milliseconds.
//!
//! What cannot be applied whatever happens later is a [`ParseError`]: the worker dead-letters
//! the event with its message, which names the field and what is wrong with it but never
//! quotes a value, so no personal data reaches a log line through it.
//!
//! `private_metadata` is never deserialised: data minimisation starts here.

mod access;
pub mod billing;
mod envelope;
mod error;
mod message;
mod organization;
mod scan;
mod session;
mod time;
mod types;
mod user;

pub use access::{Permission, Role};
pub use billing::{PaymentAttempt, Subscription, SubscriptionItem};
pub use envelope::{Event, EventData, HttpRequest, parse};
pub use error::ParseError;
pub use message::{Channel, Message, WaitlistEntry};
pub use organization::{Domain, Invitation, MemberUser, Membership, Organization};
pub use session::Session;
pub use time::to_millis;
pub use types::{CLERK_EVENT_TYPES, is_clerk_type};
pub use user::{Deleted, EmailAddress, PhoneNumber, User};
