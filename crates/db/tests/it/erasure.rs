//! `user.deleted` erases the user's personal data wherever it was stored, in both modes, and
//! what arrives for the user afterwards is stored without it.

use clerk_sync_db::DeleteMode;
use serde_json::json;

use crate::helpers::{corpus, db, deleted_event, edited, user_event};

const USER: &str = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
const T0: i64 = 1_716_883_200_000;

async fn check(mode: DeleteMode, deletion_first: bool) {
    let mut db = db().await;
    let user = user_event("user.created", USER, T0, "Jane");
    let session = corpus("session.created").1;
    let sms = corpus("sms.created").1;
    let invitation = edited(&corpus("organizationInvitation.accepted").0, |j| {
        j["data"]["user_id"] = json!(USER);
    });
    let membership = edited(&corpus("organizationMembership.created").0, |j| {
        j["data"]["public_user_data"]["user_id"] = json!(USER);
    });
    let deletion = deleted_event(USER, T0 + 60_000);
    let others = [
        ("msg_s", &session),
        ("msg_m", &sms),
        ("msg_i", &invitation),
        ("msg_o", &membership),
    ];

    if deletion_first {
        db.apply("msg_d", &deletion, mode).await;
        db.apply("msg_u", &user, mode).await;
    } else {
        db.apply("msg_u", &user, mode).await;
    }
    for (id, event) in others {
        db.apply(id, event, mode).await;
    }
    if !deletion_first {
        db.apply("msg_d", &deletion, mode).await;
    }

    let session = db
        .rows("SELECT user_id, status, client_ip, user_agent FROM sessions")
        .await;
    assert_eq!(
        session,
        vec![json!({"user_id": USER, "status": "active", "client_ip": null, "user_agent": null})]
    );
    let message = db
        .rows("SELECT user_id, recipient, slug FROM messages")
        .await;
    assert_eq!(
        message,
        vec![json!({"user_id": USER, "recipient": null, "slug": "verification_code"})]
    );
    let invitation = db
        .rows("SELECT user_id, email_address, status FROM organization_invitations")
        .await;
    assert_eq!(
        invitation,
        vec![json!({"user_id": USER, "email_address": null, "status": "accepted"})]
    );
    let membership = db
        .rows("SELECT user_id, role FROM organization_memberships")
        .await;
    assert_eq!(
        membership,
        vec![json!({"user_id": USER, "role": "org:member"})],
        "the link stays"
    );
    assert!(
        db.rows("SELECT * FROM user_email_addresses")
            .await
            .is_empty()
    );
    assert!(
        db.rows("SELECT * FROM user_profiles").await.is_empty(),
        "a deleted user has no profile"
    );

    let users = db.rows("SELECT * FROM users").await;
    match mode {
        DeleteMode::Hard => assert!(users.is_empty()),
        DeleteMode::Soft => {
            assert_eq!(users.len(), 1);
            assert!(users[0]["deleted_at"].is_string());
            assert_eq!(users[0]["email"], serde_json::Value::Null);
        }
    }
    let everything = serde_json::Value::Array(db.snapshot().await.concat()).to_string();
    for personal in [
        "192.168.1.100",
        "Mozilla/5.0",
        "+19876543210",
        "jane.doe@acme.com",
        "jane@example.com",
        "\"Jane\"",
    ] {
        assert!(
            !everything.contains(personal),
            "{personal} survived the deletion"
        );
    }
}

#[tokio::test]
async fn a_soft_deletion_erases_the_user_everywhere() {
    check(DeleteMode::Soft, false).await;
}

#[tokio::test]
async fn a_hard_deletion_erases_the_user_everywhere() {
    check(DeleteMode::Hard, false).await;
}

#[tokio::test]
async fn what_arrives_after_a_soft_deletion_is_stored_erased() {
    check(DeleteMode::Soft, true).await;
}

#[tokio::test]
async fn what_arrives_after_a_hard_deletion_is_stored_erased() {
    check(DeleteMode::Hard, true).await;
}

#[tokio::test]
async fn the_profile_is_the_whole_record_of_a_live_user() {
    let mut db = db().await;
    let user = "user_34D368EufHwugfYh4yyGNEheM0S";
    db.apply(
        "msg_u",
        &user_event("user.created", user, T0, "Pat"),
        DeleteMode::Soft,
    )
    .await;
    let membership = edited(&corpus("organizationMembership.created").0, |j| {
        j["data"]["public_user_data"]["user_id"] = json!(user);
        j["data"]["role"] = json!("org:admin");
    });
    db.apply("msg_m", &membership, DeleteMode::Soft).await;
    let session = edited(&corpus("session.created").0, |j| {
        j["data"]["user_id"] = json!(user);
        j["data"]["last_active_at"] = json!(T0 + 3_600_000);
    });
    db.apply("msg_s", &session, DeleteMode::Soft).await;
    db.apply("msg_b", &corpus("subscription.active").1, DeleteMode::Soft)
        .await;

    let profile = db.rows("SELECT * FROM user_profiles").await;
    assert_eq!(profile.len(), 1);
    let p = &profile[0];
    assert_eq!(p["clerk_id"], user);
    assert_eq!(p["email"], "jane@example.com");
    assert_eq!(p["email_verified"], true);
    assert_eq!(p["first_name"], "Pat");
    assert_eq!(p["organizations"][0]["role"], "org:admin");
    assert_eq!(p["organizations"][0]["name"], "Acme Corp");
    assert_eq!(
        p["last_active_at"], "2024-05-28T09:00:00+00:00",
        "from the session"
    );
    assert_eq!(p["active_sessions"], 1);
    assert_eq!(p["plan_slug"], "pro-plan");
    assert_eq!(p["plan_status"], "active");
}

#[tokio::test]
async fn a_deletion_in_the_same_batch_as_the_users_other_events_still_erases_them() {
    let events = |user_first: bool| {
        let mut all = vec![
            ("msg_s".to_owned(), corpus("session.created").1),
            ("msg_m".to_owned(), corpus("sms.created").1),
            ("msg_d".to_owned(), deleted_event(USER, T0 + 60_000)),
        ];
        let user = (
            "msg_u".to_owned(),
            user_event("user.created", USER, T0, "Jane"),
        );
        if user_first {
            all.insert(0, user)
        } else {
            all.push(user)
        }
        all
    };
    for mode in [DeleteMode::Soft, DeleteMode::Hard] {
        let mut one_by_one = db().await;
        for (id, event) in events(true) {
            one_by_one.apply(&id, &event, mode).await;
        }
        let expected = one_by_one.snapshot().await;
        for user_first in [true, false] {
            let mut batched = db().await;
            batched
                .apply_in_batches(&events(user_first), &[10], mode)
                .await;
            assert_eq!(
                batched.snapshot().await,
                expected,
                "{mode:?}, user first: {user_first}"
            );
        }
    }
}
