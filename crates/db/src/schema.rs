//! The tables of `migrations/`, as Diesel sees them.

diesel::table! {
    /// Events already applied: written in the same transaction as their effect.
    processed_webhooks (svix_id) {
        svix_id -> Text,
        event_type -> Text,
        object_id -> Nullable<Text>,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    /// Users as Clerk last described them.
    users (clerk_id) {
        clerk_id -> Text,
        external_id -> Nullable<Text>,
        username -> Nullable<Text>,
        email -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        image_url -> Nullable<Text>,
        phone -> Nullable<Text>,
        public_metadata -> Nullable<Jsonb>,
        banned -> Nullable<Bool>,
        locked -> Nullable<Bool>,
        two_factor_enabled -> Nullable<Bool>,
        password_enabled -> Nullable<Bool>,
        last_sign_in_at -> Nullable<Timestamptz>,
        last_active_at -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Every email address of every live user.
    user_email_addresses (id) {
        id -> Text,
        user_id -> Text,
        email_address -> Text,
        verified -> Bool,
        verification_status -> Nullable<Text>,
        is_primary -> Bool,
    }
}

diesel::table! {
    /// Deleted objects, without personal data: what older events cannot undo.
    tombstones (object_type, object_id) {
        object_type -> Text,
        object_id -> Text,
        deleted_at -> Timestamptz,
        svix_id -> Text,
    }
}

diesel::table! {
    /// Sessions: who is signed in where, and how that stands.
    sessions (id) {
        id -> Text,
        user_id -> Text,
        client_id -> Nullable<Text>,
        status -> Nullable<Text>,
        last_active_organization_id -> Nullable<Text>,
        last_active_at -> Nullable<Timestamptz>,
        expire_at -> Nullable<Timestamptz>,
        abandon_at -> Nullable<Timestamptz>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Organizations.
    organizations (id) {
        id -> Text,
        name -> Nullable<Text>,
        slug -> Nullable<Text>,
        image_url -> Nullable<Text>,
        created_by -> Nullable<Text>,
        members_count -> Nullable<Int4>,
        pending_invitations_count -> Nullable<Int4>,
        max_allowed_memberships -> Nullable<Int4>,
        admin_delete_enabled -> Nullable<Bool>,
        public_metadata -> Nullable<Jsonb>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Memberships: which user belongs to which organization, with which role.
    organization_memberships (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        role -> Nullable<Text>,
        role_name -> Nullable<Text>,
        permissions -> Array<Text>,
        public_metadata -> Nullable<Jsonb>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Invitations to organizations.
    organization_invitations (id) {
        id -> Text,
        organization_id -> Text,
        email_address -> Nullable<Text>,
        role -> Nullable<Text>,
        role_name -> Nullable<Text>,
        status -> Nullable<Text>,
        user_id -> Nullable<Text>,
        public_metadata -> Nullable<Jsonb>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Organizations' domains.
    organization_domains (id) {
        id -> Text,
        organization_id -> Nullable<Text>,
        name -> Nullable<Text>,
        enrollment_mode -> Nullable<Text>,
        affiliation_email_address -> Nullable<Text>,
        verification_status -> Nullable<Text>,
        verification_strategy -> Nullable<Text>,
        total_pending_invitations -> Nullable<Int4>,
        total_pending_suggestions -> Nullable<Int4>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Organization roles.
    roles (id) {
        id -> Text,
        key -> Nullable<Text>,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        is_creator_eligible -> Nullable<Bool>,
        permissions -> Array<Text>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Permissions roles grant.
    permissions (id) {
        id -> Text,
        key -> Nullable<Text>,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        #[sql_name = "type"]
        kind -> Nullable<Text>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Emails and SMS Clerk sent, without their content.
    messages (id) {
        id -> Text,
        channel -> Text,
        user_id -> Nullable<Text>,
        recipient_id -> Nullable<Text>,
        recipient -> Nullable<Text>,
        slug -> Nullable<Text>,
        status -> Nullable<Text>,
        delivered_by_clerk -> Nullable<Bool>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// The waitlist.
    waitlist_entries (id) {
        id -> Text,
        email_address -> Nullable<Text>,
        status -> Nullable<Text>,
        is_locked -> Nullable<Bool>,
        invitation_id -> Nullable<Text>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Billing subscriptions.
    subscriptions (id) {
        id -> Text,
        payer_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        organization_id -> Nullable<Text>,
        status -> Nullable<Text>,
        latest_payment_id -> Nullable<Text>,
        active_at -> Nullable<Timestamptz>,
        canceled_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        past_due_at -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Billing subscription items: one plan each.
    subscription_items (id) {
        id -> Text,
        subscription_id -> Nullable<Text>,
        payer_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        organization_id -> Nullable<Text>,
        status -> Nullable<Text>,
        plan_id -> Nullable<Text>,
        plan_slug -> Nullable<Text>,
        plan_name -> Nullable<Text>,
        plan_amount -> Nullable<Int8>,
        plan_currency -> Nullable<Text>,
        interval -> Nullable<Text>,
        is_free_trial -> Nullable<Bool>,
        seats -> Nullable<Int4>,
        period_start -> Nullable<Timestamptz>,
        period_end -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// Billing payment attempts.
    payment_attempts (id) {
        id -> Text,
        payment_id -> Nullable<Text>,
        payer_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        organization_id -> Nullable<Text>,
        status -> Nullable<Text>,
        charge_type -> Nullable<Text>,
        amount -> Nullable<Int8>,
        currency -> Nullable<Text>,
        failed_reason -> Nullable<Text>,
        paid_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
        billing_date -> Nullable<Timestamptz>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        last_svix_id -> Text,
    }
}

diesel::table! {
    /// The change feed: one row per event that changed an object, ids only.
    sync_changes (id) {
        id -> Int8,
        object_type -> Text,
        object_id -> Text,
        op -> Text,
        event_type -> Text,
        svix_id -> Text,
        version -> Timestamptz,
        committed_at -> Timestamptz,
    }
}

diesel::joinable!(user_email_addresses -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    processed_webhooks,
    users,
    user_email_addresses,
    tombstones,
    sessions,
    organizations,
    organization_memberships,
    organization_invitations,
    organization_domains,
    roles,
    permissions,
    messages,
    waitlist_entries,
    subscriptions,
    subscription_items,
    payment_attempts,
    sync_changes,
);
