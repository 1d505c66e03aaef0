-- Users as Clerk last described them, their email addresses, the deletions that older
-- events must not undo, and the events already applied.
--
-- Every column of an object table is a function of the events applied to it (never of the
-- wall clock or of arrival order), so any permutation of an object's events leaves the same
-- row. `updated_at` is Clerk's, and with `last_svix_id` it is the version newest-wins
-- compares; the id breaks ties between two events of the same millisecond.

CREATE TABLE processed_webhooks (
    svix_id      text PRIMARY KEY,
    event_type   text NOT NULL,
    object_id    text,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_webhooks_processed_at_idx ON processed_webhooks (processed_at);

CREATE TABLE users (
    clerk_id           text PRIMARY KEY,
    external_id        text,
    username           text,
    email              text,
    first_name         text,
    last_name          text,
    image_url          text,
    phone              text,
    public_metadata    jsonb,
    banned             boolean,
    locked             boolean,
    two_factor_enabled boolean,
    password_enabled   boolean,
    last_sign_in_at    timestamptz,
    last_active_at     timestamptz,
    created_at         timestamptz,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    last_svix_id       text NOT NULL
);
-- Not unique: out-of-order delivery can make two rows briefly share an address, and a
-- constraint would dead-letter valid events.
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_external_id_idx ON users (external_id);

CREATE TABLE user_email_addresses (
    id                  text PRIMARY KEY,
    user_id             text NOT NULL REFERENCES users (clerk_id) ON DELETE CASCADE,
    email_address       text NOT NULL,
    verified            boolean NOT NULL,
    verification_status text,
    is_primary          boolean NOT NULL
);
CREATE INDEX user_email_addresses_user_id_idx ON user_email_addresses (user_id);
CREATE INDEX user_email_addresses_email_address_idx ON user_email_addresses (email_address);

-- One row per deleted object, holding no personal data: what keeps an older event from
-- bringing the object back, in USER_DELETE_MODE=hard where the object's own row is gone.
CREATE TABLE tombstones (
    object_type text NOT NULL,
    object_id   text NOT NULL,
    deleted_at  timestamptz NOT NULL,
    svix_id     text NOT NULL,
    PRIMARY KEY (object_type, object_id)
);
