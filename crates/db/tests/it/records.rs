//! Every Clerk event type changes the database; one payload per table is checked field by
//! field against what Clerk published.

use clerk_sync_db::{DeleteMode, Outcome};
use serde_json::{Value, json};

use crate::helpers::{corpus, db};

#[tokio::test]
async fn every_corpus_payload_is_applied_and_none_is_ignored() {
    let mut db = db().await;
    for (i, (name, body)) in clerk_sync_test_support::clerk_payloads().iter().enumerate() {
        let event = clerk_sync_events::parse(body, 0).unwrap();
        let outcome = db
            .apply(&format!("msg_{i:02}"), &event, DeleteMode::Soft)
            .await;
        assert_ne!(outcome, Outcome::Ignored, "{name}");
        assert_ne!(outcome, Outcome::Duplicate, "{name}");
        // Each deletion is the first of its object's: a deletion whose statement the batch
        // never writes would be left stale, where an update may be stale by its version.
        if name.contains(".deleted__") {
            assert_eq!(outcome, Outcome::Applied, "{name}");
        }
    }
    for table in crate::helpers::TABLES {
        assert!(
            !db.rows(&format!("SELECT * FROM {table}")).await.is_empty(),
            "{table} is empty"
        );
    }
    // The bodies hold one-time codes, an invitation token, card details and a payer's
    // address; none of them is stored anywhere.
    let everything = Value::Array(db.snapshot().await.concat()).to_string();
    for secret in [
        "is your verification code",
        "verification code is",
        "otp_code",
        "token=abc123",
        "pm_1A2B3C4D5E6F7G8H9I0J1K2L",
        "4242",
        "test@example.com",
    ] {
        assert!(!everything.contains(secret), "{secret} is stored");
    }
}

/// The permutation, batch and redelivery tests compare the tables in `helpers::TABLES`; a
/// table the migrations make and that list forgets would escape all of them.
#[tokio::test]
async fn the_tests_compare_every_table_the_migrations_make() {
    let mut db = db().await;
    let rows = db
        .rows(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'clerk' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .await;
    // Bookkeeping, not objects: the ids seen, the change feed and how far it was pruned,
    // the pinned instance, the console's audit log, diesel's own record.
    let bookkeeping = [
        "__diesel_schema_migrations",
        "console_audit",
        "processed_webhooks",
        "sync_changes",
        "sync_changes_pruned",
        "sync_instance",
    ];
    let mut made: Vec<&str> = rows
        .iter()
        .filter_map(|row| row["name"].as_str())
        .filter(|name| !bookkeeping.contains(name))
        .collect();
    let mut compared = crate::helpers::TABLES.to_vec();
    made.sort_unstable();
    compared.sort_unstable();
    assert_eq!(made, compared);
}

fn only(mut rows: Vec<Value>) -> Value {
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

#[tokio::test]
async fn a_session_keeps_its_state_and_the_request_behind_it() {
    let mut db = db().await;
    let (_, event) = corpus("session.created");
    db.apply("msg_1", &event, DeleteMode::Soft).await;
    assert_eq!(
        only(db.rows("SELECT * FROM sessions").await),
        json!({
            "id": "sess_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_id": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "client_id": "client_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "status": "active",
            "last_active_organization_id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "last_active_at": "2024-05-28T08:00:00+00:00",
            "expire_at": "2024-05-29T08:00:00+00:00",
            "abandon_at": "2024-06-27T08:00:00+00:00",
            "client_ip": "192.168.1.100",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00",
            "last_svix_id": "msg_1"
        })
    );
}

#[tokio::test]
async fn a_membership_stores_its_role_and_its_organization_but_nothing_personal() {
    let mut db = db().await;
    let (_, event) = corpus("organizationMembership.created");
    assert_eq!(
        db.apply("msg_1", &event, DeleteMode::Soft).await,
        Outcome::Applied
    );
    assert_eq!(
        only(db.rows("SELECT * FROM organization_memberships").await),
        json!({
            "id": "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "organization_id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_id": "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
            "role": "org:member",
            "role_name": "Member",
            "permissions": ["org:posts:read", "org:posts:write"],
            "public_metadata": {},
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00",
            "deleted_at": null,
            "last_svix_id": "msg_1"
        })
    );
    // The organization the event carries is known too.
    assert_eq!(
        only(db.rows("SELECT * FROM organizations").await),
        json!({
            "id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "name": "Acme Corp",
            "slug": "acme-corp",
            "image_url": "https://img.clerk.com/xxxxxx",
            "created_by": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "members_count": 2,
            "pending_invitations_count": 0,
            "max_allowed_memberships": 5,
            "admin_delete_enabled": true,
            "public_metadata": {},
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00",
            "deleted_at": null,
            "last_svix_id": "msg_1"
        })
    );
    let stored = Value::Array(db.snapshot().await.concat()).to_string();
    assert!(
        !stored.contains("jane.doe@acme.com") && !stored.contains("Jane"),
        "{stored}"
    );
}

#[tokio::test]
async fn an_invitation_keeps_its_address_and_status_but_not_its_token() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &corpus("organizationInvitation.accepted").1,
        DeleteMode::Soft,
    )
    .await;
    assert_eq!(
        only(db.rows("SELECT * FROM organization_invitations").await),
        json!({
            "id": "orginv_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "organization_id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "email_address": "jane.doe@acme.com",
            "role": "org:member",
            "role_name": "Member",
            "status": "accepted",
            "user_id": "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
            "public_metadata": {},
            "expires_at": "2024-06-04T07:59:59+00:00",
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:05:00+00:00",
            "last_svix_id": "msg_1"
        })
    );
}

#[tokio::test]
async fn a_domain_and_its_deletion() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &corpus("organizationDomain.created").1,
        DeleteMode::Soft,
    )
    .await;
    assert_eq!(
        only(db.rows("SELECT * FROM organization_domains").await),
        json!({
            "id": "orgdmn_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "organization_id": "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "name": "acme.com",
            "enrollment_mode": "automatic_invitation",
            "affiliation_email_address": "admin@acme.com",
            "verification_status": null,
            "verification_strategy": null,
            "total_pending_invitations": 0,
            "total_pending_suggestions": 2,
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00",
            "deleted_at": null,
            "last_svix_id": "msg_1"
        })
    );
}

#[tokio::test]
async fn a_role_keeps_its_permission_keys_and_the_permissions_themselves() {
    let mut db = db().await;
    db.apply("msg_1", &corpus("role.created").1, DeleteMode::Soft)
        .await;
    assert_eq!(
        only(db.rows("SELECT * FROM roles").await),
        json!({
            "id": "role_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "key": "org:content_manager",
            "name": "Content Manager",
            "description": "Can manage all content in the organization",
            "is_creator_eligible": false,
            "permissions": ["org:posts:create"],
            "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00",
            "deleted_at": null,
            "last_svix_id": "msg_1"
        })
    );
    let permission = only(db.rows("SELECT * FROM permissions").await);
    assert_eq!(permission["key"], "org:posts:create");
    assert_eq!(permission["type"], "custom");
    db.apply("msg_2", &corpus("role.deleted").1, DeleteMode::Soft)
        .await;
    let role = only(db.rows("SELECT * FROM roles").await);
    assert_eq!(role["deleted_at"], "2024-05-28T08:00:00+00:00");
    assert_eq!(
        role["name"], "Content Manager",
        "a deletion keeps what the role was"
    );
}

#[tokio::test]
async fn a_message_keeps_who_and_how_never_what() {
    let mut db = db().await;
    db.apply("msg_1", &corpus("email.created").1, DeleteMode::Soft)
        .await;
    db.apply("msg_2", &corpus("sms.created").1, DeleteMode::Soft)
        .await;
    assert_eq!(
        db.rows("SELECT * FROM messages ORDER BY channel").await,
        vec![
            json!({
                "id": "ema_abcd", "channel": "email", "user_id": "user_abcd",
                "recipient_id": "idn_abcd", "recipient": "johndoe@acme.com",
                "slug": "verification_code", "status": "queued", "delivered_by_clerk": true,
                "created_at": "2024-05-28T08:00:00+00:00", "updated_at": "2024-05-28T08:00:00+00:00",
                "last_svix_id": "msg_1"
            }),
            json!({
                "id": "sms_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "channel": "sms",
                "user_id": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
                "recipient_id": "idn_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "recipient": "+19876543210",
                "slug": "verification_code", "status": "queued", "delivered_by_clerk": true,
                "created_at": "2024-05-28T08:00:00+00:00", "updated_at": "2024-05-28T08:00:00+00:00",
                "last_svix_id": "msg_2"
            }),
        ]
    );
}

#[tokio::test]
async fn a_waitlist_entry() {
    let mut db = db().await;
    db.apply(
        "msg_1",
        &corpus("waitlistEntry.created").1,
        DeleteMode::Soft,
    )
    .await;
    assert_eq!(
        only(db.rows("SELECT * FROM waitlist_entries").await),
        json!({
            "id": "wle_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "email_address": "john.doe@example.com",
            "status": "pending", "is_locked": false, "invitation_id": null,
            "created_at": "2024-05-28T08:00:00+00:00", "updated_at": "2024-05-28T08:00:00+00:00",
            "last_svix_id": "msg_1"
        })
    );
}

#[tokio::test]
async fn billing_records_who_pays_for_which_plan() {
    let mut db = db().await;
    db.apply("msg_1", &corpus("subscription.active").1, DeleteMode::Soft)
        .await;
    assert_eq!(
        only(db.rows("SELECT * FROM subscriptions").await),
        json!({
            "id": "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "payer_id": "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_id": "user_34D368EufHwugfYh4yyGNEheM0S", "organization_id": null,
            "status": "active", "latest_payment_id": "cpa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "active_at": "2024-05-28T08:00:00+00:00", "canceled_at": null, "ended_at": null,
            "past_due_at": null, "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00", "last_svix_id": "msg_1"
        })
    );
    assert_eq!(
        only(db.rows("SELECT * FROM subscription_items").await),
        json!({
            "id": "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "subscription_id": "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "payer_id": "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_id": "user_34D368EufHwugfYh4yyGNEheM0S", "organization_id": null,
            "status": "active", "plan_id": "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "plan_slug": "pro-plan", "plan_name": "Pro Plan", "plan_amount": 2000,
            "plan_currency": "USD", "interval": "month", "is_free_trial": false, "seats": null,
            "period_start": "2024-05-28T08:00:00+00:00", "period_end": "2024-06-28T08:00:00+00:00",
            "created_at": "2024-05-28T08:00:00+00:00", "updated_at": "2024-05-28T08:00:00+00:00",
            "last_svix_id": "msg_1"
        })
    );
    db.apply(
        "msg_2",
        &corpus("paymentAttempt.created").1,
        DeleteMode::Soft,
    )
    .await;
    assert_eq!(
        only(db.rows("SELECT * FROM payment_attempts").await),
        json!({
            "id": "pa_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "payment_id": "cpa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "payer_id": "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_id": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "organization_id": null,
            "status": "pending", "charge_type": "recurring", "amount": 2200, "currency": "USD",
            "failed_reason": null, "paid_at": null, "failed_at": null,
            "billing_date": "2024-05-28T08:00:00+00:00", "created_at": "2024-05-28T08:00:00+00:00",
            "updated_at": "2024-05-28T08:00:00+00:00", "last_svix_id": "msg_2"
        })
    );
}
