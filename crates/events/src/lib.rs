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
//! # Adding a Clerk object
//!
//! An object Clerk has not sent before is parsed here and written by the db crate: two
//! crates, because the receiver parses events (to refuse what can never be applied) and
//! must not link Diesel, while the worker and the CLI need both. Adding it takes exactly
//! these, and each step says what fails when it is forgotten:
//!
//! 1. **Its parse target**, in this crate: a module with its struct (`Deserialize`, liberal:
//!    nullable fields as `Option`, times through `time::seconds_or_millis`), its `mod` and
//!    `pub use` here, a variant of [`EventData`] (and a `…Deleted` one if Clerk deletes it),
//!    its type names in [`CLERK_EVENT_TYPES`] (sorted), its arms in `envelope::dispatch`
//!    (the deletion's `(_, "x.deleted")` above the object's `("x", _)`), and its arm in
//!    [`EventData::subject`], which the compiler asks for. Tests:
//!    `every_clerk_type_reaches_a_parser`, `every_deletion_is_read_as_a_deletion_and_nothing_else_is`.
//! 2. **Its table**: a migration in `migrations/` (`id`, the columns, `updated_at`,
//!    `last_svix_id text COLLATE "C"`, and `deleted_at` if it can be deleted). Tests:
//!    `carried::version_ids_compare_by_bytes_in_every_table`,
//!    `records::the_tests_compare_every_table_the_migrations_make`, and
//!    `readme::readme_documents_every_table_and_column_the_migrations_make` until README's
//!    table of tables has its row.
//! 3. **Its type**, in `crates/db/src/apply/objects/<object>.rs`: the `Table` (columns,
//!    `.personal(…)` if it holds a user's data, `.deletable(…)` if a deletion marks its
//!    rows), the row struct (its fields are the columns) with `newest_wins!`, and the
//!    impls of `Stored`, `Object` (its name in the change feed, its lock namespace, its id,
//!    version and row; its lock keys and `stage_carried` if it carries other objects or
//!    holds a user's data) and `Deletable` if Clerk deletes it. Everything else derives
//!    from these: the batch's writes and settles, the erasure of a deleted user's data, the
//!    change feed's entry and its check of deleted rows.
//! 4. **One line in the db registry** (`crates/db/src/apply/objects/mod.rs`): its table in
//!    `tables!` (an object whose table is not registered does not compile), and its arms in
//!    `visit`, which the compiler asks for. Tests: the lock-namespace test in `apply` fails
//!    until its namespace is recorded as released, and
//!    `the_registry_and_the_events_crate_agree_on_each_events_object`.
//! 5. **A real payload** in the corpus (`crates/test-support/corpus/clerk/`, with its row
//!    in `SOURCES.md`): `records::every_corpus_payload_is_applied_and_none_is_ignored` and
//!    the batch, permutation and lock tests cover it from there. One `clerk-sync example`
//!    body per type (`crates/cli/src/examples.rs`, whose test compares the list with
//!    [`CLERK_EVENT_TYPES`]). README: `readme_says_what_every_type_does` and
//!    `readme_lists_every_object_type_the_change_feed_names` fail until "What each event
//!    does" and the change feed's object types name it; its erasure paragraph, for
//!    personal data, is by hand.
//! 6. **If Clerk's Backend API lists it** and it should be backfilled and reconciled: its
//!    variant in [`Kind`] and in `Kind::ALL`, and `const LISTED` on its type in the db
//!    crate (`the_registry_holds_one_object_of_every_mirrored_kind` fails until it is
//!    there); the compiler then names the Backend API's list (`clerk-api`'s `Listing`), the
//!    database's inventory (`crates/db/src/inventory.rs`), and in `crates/mirror` the
//!    deletion event reconciliation queues, how it confirms one gone, and the on-demand
//!    fetches; the CLI's `--only` (`crates/cli/src/kinds.rs`) fails
//!    `every_kind_has_its_only_value_spelt_as_its_plural` until it names it, and the test
//!    stand-in for Clerk (`crates/test-support`) must serve its list.

mod access;
pub mod billing;
mod envelope;
mod error;
mod head;
mod kind;
mod message;
mod organization;
mod scan;
mod session;
mod time;
mod types;
mod user;

pub use access::{Permission, Role};
pub use billing::{PaymentAttempt, Subscription, SubscriptionItem};
pub use envelope::{EXAMPLE_INSTANCE_IDS, Event, EventData, HttpRequest, Subject, parse};
pub use error::ParseError;
pub use head::ClerkObject;
pub use kind::Kind;
pub use message::{Channel, Message, WaitlistEntry};
pub use organization::{Domain, Invitation, MemberUser, Membership, Organization};
pub use session::Session;
pub use time::to_millis;
pub use types::{CLERK_EVENT_TYPES, is_clerk_type};
pub use user::{Deleted, EmailAddress, PhoneNumber, User};
