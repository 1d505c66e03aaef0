-- Every action taken in the operator console: when, by which token (its label, never the
-- token), what, on which filter or entries, and how many entries it changed.
CREATE TABLE console_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    -- `operator` or `operator#2` for the second of several tokens; never the token itself.
    token     text NOT NULL,
    -- `replay`, `purge`, `sync`, `login`…
    action    text NOT NULL,
    -- What it was asked to act on: the filter or the entries, as given.
    target    jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- How many entries it changed.
    affected  bigint NOT NULL DEFAULT 0,
    -- `done`, or what stopped it.
    outcome   text NOT NULL DEFAULT 'done'
);
CREATE INDEX console_audit_at ON console_audit (at DESC, id DESC);

-- One object's story in the console (`/objects/{id}`) reads its feed rows and its processed
-- webhooks by object id: without these, each look would read the whole table.
CREATE INDEX processed_webhooks_object_id_idx ON processed_webhooks (object_id, processed_at);
CREATE INDEX sync_changes_object_id_idx ON sync_changes (object_id, id);
