-- The rest of the user record: sessions, organizations and everything around them,
-- messages, the waitlist, billing, and the `user_profiles` view an application reads.
--
-- The same rules as for users hold for every table: a row holds the state of its newest
-- event by (updated_at, last_svix_id); `deleted_at` is set by a deletion and never cleared
-- (the earliest deletion wins), while later-versioned fields still arrive, so every order of
-- an object's events ends in the same row. There are no foreign keys between objects:
-- Svix may deliver a membership before its organization or its user, and it must be kept.
-- A row a deletion creates carries the oldest possible version, so any upsert fills it in.

CREATE TABLE sessions (
    id                          text PRIMARY KEY,
    user_id                     text NOT NULL,
    client_id                   text,
    status                      text,
    last_active_organization_id text,
    last_active_at              timestamptz,
    expire_at                   timestamptz,
    abandon_at                  timestamptz,
    -- From the request behind the event; erased when the user is deleted.
    client_ip                   text,
    user_agent                  text,
    created_at                  timestamptz,
    updated_at                  timestamptz NOT NULL,
    last_svix_id                text NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE organizations (
    id                        text PRIMARY KEY,
    name                      text,
    slug                      text,
    image_url                 text,
    created_by                text,
    members_count             integer,
    pending_invitations_count integer,
    max_allowed_memberships   integer,
    admin_delete_enabled      boolean,
    public_metadata           jsonb,
    created_at                timestamptz,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz,
    last_svix_id              text NOT NULL
);
CREATE INDEX organizations_slug_idx ON organizations (slug);

CREATE TABLE organization_memberships (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    user_id         text NOT NULL,
    role            text,
    role_name       text,
    permissions     text[] NOT NULL DEFAULT '{}',
    public_metadata jsonb,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,
    last_svix_id    text NOT NULL
);
CREATE INDEX organization_memberships_organization_id_idx ON organization_memberships (organization_id);
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

-- The invitation's URL is not stored: it carries the acceptance token.
CREATE TABLE organization_invitations (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    email_address   text,
    role            text,
    role_name       text,
    status          text,
    user_id         text,
    public_metadata jsonb,
    expires_at      timestamptz,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    last_svix_id    text NOT NULL
);
CREATE INDEX organization_invitations_organization_id_idx ON organization_invitations (organization_id);
CREATE INDEX organization_invitations_email_address_idx ON organization_invitations (email_address);

CREATE TABLE organization_domains (
    id                        text PRIMARY KEY,
    organization_id           text,
    name                      text,
    enrollment_mode           text,
    affiliation_email_address text,
    verification_status       text,
    verification_strategy     text,
    total_pending_invitations integer,
    total_pending_suggestions integer,
    created_at                timestamptz,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz,
    last_svix_id              text NOT NULL
);
CREATE INDEX organization_domains_organization_id_idx ON organization_domains (organization_id);

CREATE TABLE roles (
    id                  text PRIMARY KEY,
    key                 text,
    name                text,
    description         text,
    is_creator_eligible boolean,
    permissions         text[] NOT NULL DEFAULT '{}',
    created_at          timestamptz,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    last_svix_id        text NOT NULL
);

CREATE TABLE permissions (
    id           text PRIMARY KEY,
    key          text,
    name         text,
    description  text,
    type         text,
    created_at   timestamptz,
    updated_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    last_svix_id text NOT NULL
);

-- Emails and SMS Clerk sent: who, which template, how it went. Never the subject, the body
-- or the template data, which hold one-time codes. The recipient is erased with the user.
CREATE TABLE messages (
    id                 text PRIMARY KEY,
    channel            text NOT NULL CHECK (channel IN ('email', 'sms')),
    user_id            text,
    recipient_id       text,
    recipient          text,
    slug               text,
    status             text,
    delivered_by_clerk boolean,
    created_at         timestamptz,
    updated_at         timestamptz NOT NULL,
    last_svix_id       text NOT NULL
);
CREATE INDEX messages_user_id_idx ON messages (user_id);

CREATE TABLE waitlist_entries (
    id            text PRIMARY KEY,
    email_address text,
    status        text,
    is_locked     boolean,
    invitation_id text,
    created_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    last_svix_id  text NOT NULL
);
CREATE INDEX waitlist_entries_email_address_idx ON waitlist_entries (email_address);

-- Billing: who pays (a user or an organization) for which plan, and how that stands.
CREATE TABLE subscriptions (
    id                text PRIMARY KEY,
    payer_id          text,
    user_id           text,
    organization_id   text,
    status            text,
    latest_payment_id text,
    active_at         timestamptz,
    canceled_at       timestamptz,
    ended_at          timestamptz,
    past_due_at       timestamptz,
    created_at        timestamptz,
    updated_at        timestamptz NOT NULL,
    last_svix_id      text NOT NULL
);
CREATE INDEX subscriptions_user_id_idx ON subscriptions (user_id);
CREATE INDEX subscriptions_organization_id_idx ON subscriptions (organization_id);

CREATE TABLE subscription_items (
    id              text PRIMARY KEY,
    subscription_id text,
    payer_id        text,
    user_id         text,
    organization_id text,
    status          text,
    plan_id         text,
    plan_slug       text,
    plan_name       text,
    plan_amount     bigint,
    plan_currency   text,
    interval        text,
    is_free_trial   boolean,
    seats           integer,
    period_start    timestamptz,
    period_end      timestamptz,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    last_svix_id    text NOT NULL
);
CREATE INDEX subscription_items_user_id_idx ON subscription_items (user_id);
CREATE INDEX subscription_items_organization_id_idx ON subscription_items (organization_id);
CREATE INDEX subscription_items_subscription_id_idx ON subscription_items (subscription_id);

CREATE TABLE payment_attempts (
    id              text PRIMARY KEY,
    payment_id      text,
    payer_id        text,
    user_id         text,
    organization_id text,
    status          text,
    charge_type     text,
    amount          bigint,
    currency        text,
    failed_reason   text,
    paid_at         timestamptz,
    failed_at       timestamptz,
    billing_date    timestamptz,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    last_svix_id    text NOT NULL
);
CREATE INDEX payment_attempts_user_id_idx ON payment_attempts (user_id);
CREATE INDEX payment_attempts_organization_id_idx ON payment_attempts (organization_id);

-- One row per live user: who they are, how they sign in, which organizations they belong to
-- with which role, where they are in their lifecycle, and what they pay for. The record an
-- application reads instead of calling Clerk.
CREATE VIEW user_profiles AS
SELECT
    u.clerk_id,
    u.external_id,
    u.username,
    u.email,
    primary_address.verified AS email_verified,
    u.first_name,
    u.last_name,
    u.image_url,
    u.phone,
    u.public_metadata,
    u.banned,
    u.locked,
    u.two_factor_enabled,
    u.password_enabled,
    COALESCE(orgs.organizations, '[]'::jsonb) AS organizations,
    GREATEST(u.last_sign_in_at, activity.last_session_at) AS last_sign_in_at,
    GREATEST(u.last_active_at, activity.last_active_at) AS last_active_at,
    activity.active_sessions,
    plan.plan_slug,
    plan.plan_name,
    plan.status AS plan_status,
    plan.period_end AS plan_period_end,
    u.created_at,
    u.updated_at
FROM users u
LEFT JOIN user_email_addresses primary_address
    ON primary_address.user_id = u.clerk_id AND primary_address.is_primary
LEFT JOIN LATERAL (
    SELECT jsonb_agg(
               jsonb_build_object(
                   'id', m.organization_id,
                   'name', o.name,
                   'slug', o.slug,
                   'role', m.role,
                   'role_name', m.role_name,
                   'permissions', to_jsonb(m.permissions)
               )
               ORDER BY m.organization_id
           ) AS organizations
    FROM organization_memberships m
    LEFT JOIN organizations o ON o.id = m.organization_id
    WHERE m.user_id = u.clerk_id AND m.deleted_at IS NULL AND o.deleted_at IS NULL
) orgs ON true
LEFT JOIN LATERAL (
    SELECT max(s.created_at) AS last_session_at,
           max(s.last_active_at) AS last_active_at,
           count(*) FILTER (WHERE s.status = 'active') AS active_sessions
    FROM sessions s
    WHERE s.user_id = u.clerk_id
) activity ON true
LEFT JOIN LATERAL (
    SELECT i.plan_slug, i.plan_name, i.status, i.period_end
    FROM subscription_items i
    WHERE i.user_id = u.clerk_id AND i.status IN ('active', 'past_due')
    ORDER BY i.period_start DESC NULLS LAST, i.updated_at DESC
    LIMIT 1
) plan ON true
WHERE u.deleted_at IS NULL;
