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
//! An object Clerk has not sent before takes a module here (its parse target), a module in
//! the db crate's `apply::objects` (its rows, lock keys, personal columns and batch
//! statements) and a migration: two modules, because the receiver parses events and must
//! not link Diesel. Around them, a few lists name the object; each item below says what
//! fails when it is forgotten. Every match that decides what an event does names each
//! variant of [`EventData`], with no wildcard arm (the few `_` arms elsewhere only set
//! `Unhandled` apart), so once the variant exists the compiler points at the places that
//! must say what the new type does.
//!
//! 1. **Parse target** (this crate). A module with the object's struct (`Deserialize`,
//!    liberal: nullable fields as `Option`, times through `time::seconds_or_millis`), its
//!    `mod` and `pub use` here, a variant of [`EventData`] (and a `…Deleted` one if Clerk
//!    deletes it), its type names in [`CLERK_EVENT_TYPES`] (sorted), and its arms in
//!    `envelope::dispatch`, the deletion's `(_, "x.deleted")` above the object's
//!    `("x", _)`. Tests: `every_clerk_type_reaches_a_parser` fails for a listed type
//!    `dispatch` does not read; `every_deletion_is_read_as_a_deletion_and_nothing_else_is`
//!    fails for a deletion read as an update (a deletion's `{id, deleted}` fits most
//!    objects' structs), and its `is_deletion` match does not compile until the variant is
//!    classified there.
//! 2. **Table.** A migration in `migrations/`: `id`, the columns, `updated_at`,
//!    `last_svix_id text COLLATE "C"` (versions tie by bytes), and `deleted_at` if it can be
//!    deleted. `schema.rs` only if Diesel queries it (the apply path writes SQL from the
//!    module's `Table`). Tests: `carried::version_ids_compare_by_bytes_in_every_table` fails
//!    for a version column without the collation, and
//!    `records::the_tests_compare_every_table_the_migrations_make` until the table is in the
//!    db tests' `helpers::TABLES`.
//! 3. **Writes** (`crates/db/src/apply/objects/<object>.rs`). `OBJECT` (its name in the
//!    change feed and its lock namespace), the `Table` (`columns`, `personal` if it holds a
//!    user's data, `deletable` if a deletion or an end sets its rows' `deleted_at`),
//!    `UPSERT` (and `DELETE` from `Table::mark_deleted`, or a statement of its own as a
//!    membership's `END`), the row struct (its fields are the columns) with
//!    `newest_wins!`, `keys` (its own lock, and its user's if it holds personal data) and
//!    `stage` (and `stage_deletion`). Register it in `objects/mod.rs` (`mod` and
//!    `TABLES`, from which a user's deletion erases and the change feed keeps deleted
//!    objects deleted), give `apply::Plan` a `Staged` field per statement with its `write`
//!    and `settle` in `Plan::write`, and add the arms to `apply::stage` and
//!    `apply::lock_keys`. Tests: `every_object_module_has_its_table_in_the_registry`,
//!    `every_row_holds_exactly_the_columns_its_table_writes` (add the row there too),
//!    `mark_deleted` refuses, in debug builds, a table not marked `deletable`, and the
//!    corpus test of item 5 fails for a deletion whose statement `Plan::write` forgets.
//! 4. **What the compiler names:** `Event::object_id`, the change feed's `entry` (the
//!    object type consumers see), the lock-namespace test in `apply`, and the test's
//!    `is_deletion` above. If the object can be listed from Clerk's Backend API and
//!    should be backfilled and reconciled: a `clerk_api::list::Kind` (and its place in
//!    `Kind::ALL`, which nothing checks) and a `clerk_sync_db::Mirrored`; the
//!    compiler then names backfill, `verify`, reconcile and the drift metrics.
//! 5. **Payloads, examples, docs.** A real payload in the corpus
//!    (`crates/test-support/corpus/clerk/`, with its row in `SOURCES.md`, which
//!    `every_payload_has_its_source_recorded` checks):
//!    `records::every_corpus_payload_is_applied_and_none_is_ignored` fails until its rows
//!    are written, and the batch and permutation tests cover it in mixed batches. One
//!    `clerk-sync example` body per type in `crates/cli/src/examples.rs` (its test compares
//!    the list with [`CLERK_EVENT_TYPES`]). By hand, which no test sees: the object type in
//!    the feed test's list (`crates/db/tests/it/feed.rs`), and README's tables, "What each
//!    event does", the count of types, the feed's object types and, for personal data, the
//!    erasure paragraph.

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
pub use envelope::{EXAMPLE_INSTANCE_IDS, Event, EventData, HttpRequest, parse};
pub use error::ParseError;
pub use message::{Channel, Message, WaitlistEntry};
pub use organization::{Domain, Invitation, MemberUser, Membership, Organization};
pub use session::Session;
pub use time::to_millis;
pub use types::{CLERK_EVENT_TYPES, is_clerk_type};
pub use user::{Deleted, EmailAddress, PhoneNumber, User};
