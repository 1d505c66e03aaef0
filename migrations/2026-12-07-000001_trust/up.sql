-- The one Clerk instance this database mirrors, and how far the change feed was pruned.
--
-- `sync_instance` holds at most one row: the first Backend API use with a key (the
-- instance `GET /v1/instance` names) or the first applied webhook that carries
-- `instance_id` writes it; from then on a key or a webhook of another instance is refused.
-- Only `clerk-sync instance pin <ins_…> --confirm` changes it.
CREATE TABLE sync_instance (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    instance_id      text NOT NULL,
    -- `development` or `production`, when a key pinned it; NULL when a webhook did.
    environment_type text,
    pinned_at        timestamptz NOT NULL DEFAULT now()
);

-- The largest `sync_changes` id retention has deleted: a consumer whose cursor is below it
-- may have missed changes (`clerk-sync changes --after N` exits 3).
CREATE TABLE sync_changes_pruned (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    through_id bigint NOT NULL DEFAULT 0
);
-- A database whose feed was pruned before this table existed starts from what its rows
-- show: every id below the smallest left (or, with none left, every id handed out) is gone.
INSERT INTO sync_changes_pruned (through_id)
SELECT COALESCE(
    (SELECT min(id) - 1 FROM sync_changes),
    pg_sequence_last_value(pg_get_serial_sequence('sync_changes', 'id')::regclass),
    0);
