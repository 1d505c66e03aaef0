-- The change feed: one row per event that changed an object, written by the worker in the
-- same transaction as the change, so an application can act on every change exactly once by
-- following `id` (see README, "Change feed").
--
-- Ids only, never personal data: the object's row is where its state lives, and where a
-- user's deletion erases it; a feed row outlives neither rule.
--
-- `id` is assigned in commit order: the worker takes one advisory lock just before it
-- inserts its rows, as the last statement before COMMIT (crates/db/src/feed.rs). That only
-- holds while the sequence hands values out one at a time: its CACHE must stay 1 (the
-- default), or each session would draw from a block of its own, out of order.
CREATE TABLE sync_changes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    op           text NOT NULL CHECK (op IN ('upserted', 'deleted')),
    event_type   text NOT NULL,
    svix_id      text NOT NULL,
    -- The version newest-wins compared: the object's `updated_at`, or the event's timestamp
    -- for an object without one and for a deletion.
    version      timestamptz NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Reading after an id is the primary key; retention deletes by age.
CREATE INDEX sync_changes_committed_at_idx ON sync_changes (committed_at);
