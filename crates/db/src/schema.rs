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

diesel::joinable!(user_email_addresses -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    processed_webhooks,
    users,
    user_email_addresses,
    tombstones
);
