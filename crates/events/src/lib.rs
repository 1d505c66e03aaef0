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
//!
//! # Adding a Clerk event type
//!
//! Each Clerk object has one module here (its parse target) and one in the db crate's
//! `apply::objects` (its rows, lock keys, personal columns and batch statements). Every
//! match over [`EventData`] names each variant, with no wildcard arm, so once the variant
//! exists the compiler points at every place that must say what the new type does.
//!
//! 1. **Parse target.** A module here with the object's struct (`Deserialize`, liberal:
//!    nullable fields as `Option`, times through `time::seconds_or_millis`), a variant of
//!    [`EventData`], its arm in `envelope::dispatch`, and its type names in
//!    [`CLERK_EVENT_TYPES`]. The test `every_clerk_type_reaches_a_parser` fails for a type
//!    in the list that `dispatch` does not read.
//! 2. **Table.** A migration in `migrations/` (`id`, the columns, `updated_at`,
//!    `last_svix_id`, and `deleted_at` if it can be deleted), and its `schema.rs` entry.
//! 3. **Writes.** One module in `crates/db/src/apply/objects/`: the row struct (its fields
//!    are the columns), the `Table` (columns, and `personal` if it holds a user's data,
//!    which a user's deletion then erases), `keys` (the advisory locks its events take:
//!    its own, and its user's if it holds personal data) and `stage`. Then a `Staged` field
//!    in `apply::Plan` with its statement in `Plan::write`, and an arm in `apply::stage`
//!    and `apply::lock_keys`.
//! 4. **The rest the compiler names:** `Event::object_id`, the change feed's `entry` (the
//!    object type consumers see), and the workers' `verify`/`reconcile` inventories if the
//!    object can be listed from Clerk's Backend API.
//! 5. **Tests.** A real payload beside the others in the corpus, and the table in the db
//!    tests' `TABLES`: `records::every_corpus_payload_is_applied_and_none_is_ignored` then
//!    fails until the rows are written, and the batch tests cover it in mixed batches.

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
