//! Bulk replay and purge: the plan changes nothing; confirming moves exactly the entries
//! that match, each as `clerk-sync dlq replay` would, and leaves an audit row.

use actix_web::http::StatusCode;
use actix_web::test;

use crate::app;
use crate::helpers::{Harness, OPERATOR, get_json, json, post_form};

const STALE: &str = "gave up after 8 attempts: deadlock detected";

#[tokio::test]
async fn a_plan_changes_nothing_and_confirm_moves_exactly_the_matching_entries() {
    let h = Harness::new().await;
    h.dead_letter(0, 4, "user.updated", STALE).await;
    h.dead_letter(4, 3, "user.created", STALE).await;
    h.dead_letter(7, 2, "user.updated", "body is not JSON")
        .await;
    let app = app!(h);

    let filter = "type=user.updated&reason=gave+up+after+N+attempts";
    let plan = test::call_service(
        &app,
        post_form("/dead-letters/replay", OPERATOR, filter)
            .insert_header(("Accept", "application/json"))
            .to_request(),
    )
    .await;
    let (status, plan) = json(plan).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plan["count"], 4);
    assert_eq!(plan["first"][0]["svix_id"], "msg_3", "newest first");
    assert_eq!(h.dlq_len().await, 9, "a plan moves nothing");
    assert_eq!(h.events_len().await, 0);
    assert!(h.audit().await.is_empty());

    // Another of the group arrives after the plan: the confirmation leaves it.
    h.dead_letter(9, 1, "user.updated", STALE).await;
    let through = plan["through"].as_str().unwrap();
    let done = test::call_service(
        &app,
        post_form(
            "/dead-letters/replay",
            OPERATOR,
            &format!("{filter}&through={through}&confirm=yes"),
        )
        .to_request(),
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let result = done
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(result.starts_with("/audit/"), "{result}");
    assert_eq!(h.dlq_len().await, 6);
    assert_eq!(h.events_len().await, 4);
    assert_eq!(
        h.audit().await,
        [("operator".to_owned(), "replay".to_owned(), 4)]
    );
    let (_, row) =
        json(test::call_service(&app, get_json(&result, OPERATOR).to_request()).await).await;
    assert_eq!(row["affected"], 4);
    assert_eq!(row["token"], "operator");

    // The replayed entries are fresh events again, as `dlq replay` leaves them.
    let (_, left) = json(
        test::call_service(
            &app,
            get_json("/dead-letters?type=user.updated", OPERATOR).to_request(),
        )
        .await,
    )
    .await;
    let left: Vec<&str> = left["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["svix_id"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["msg_9", "msg_8", "msg_7"]);
}

#[tokio::test]
async fn purging_named_entries_deletes_only_those() {
    let h = Harness::new().await;
    h.dead_letter(0, 3, "user.created", "body is not JSON")
        .await;
    let app = app!(h);
    let (_, page) =
        json(test::call_service(&app, get_json("/dead-letters", OPERATOR).to_request()).await)
            .await;
    let entries: Vec<String> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"].as_str().unwrap().to_owned())
        .collect();
    let body = format!("entry={}&entry={}&confirm=yes", entries[0], entries[2]);
    let done = test::call_service(
        &app,
        post_form("/dead-letters/purge", OPERATOR, &body).to_request(),
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(h.dlq_len().await, 1);
    assert_eq!(h.events_len().await, 0);
    assert_eq!(
        h.audit().await,
        [("operator".to_owned(), "purge".to_owned(), 2)]
    );
    let (_, page) =
        json(test::call_service(&app, get_json("/dead-letters", OPERATOR).to_request()).await)
            .await;
    assert_eq!(page["entries"][0]["entry"], entries[1].as_str());
    assert_eq!(page["groups"][0]["count"], 1);
}

#[tokio::test]
async fn hostile_or_malformed_forms_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    h.dead_letter(0, 2, "user.created", "body is not JSON")
        .await;
    let app = app!(h);
    let huge = format!("q={}", "a".repeat(70 * 1024));
    let cases: Vec<(String, StatusCode)> = vec![
        (
            "entry=../../etc&confirm=yes".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "entry=1-0%0d%0aX&confirm=yes".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("type=a&type=b&confirm=yes".into(), StatusCode::BAD_REQUEST),
        (
            "q=%3Cscript%3E%00&confirm=yes".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("q={}&confirm=yes", "x".repeat(300)),
            StatusCode::BAD_REQUEST,
        ),
        ("%zz=%zz".into(), StatusCode::BAD_REQUEST),
        ("token=anything&confirm=yes".into(), StatusCode::BAD_REQUEST),
        (huge, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (body, expected) in cases {
        let response = test::call_service(
            &app,
            post_form("/dead-letters/purge", OPERATOR, &body).to_request(),
        )
        .await;
        assert_eq!(
            response.status(),
            expected,
            "{}",
            &body[..body.len().min(60)]
        );
    }
    // Markup in a filter is shown as text, never as markup.
    let page = test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/dead-letters?q=%3Cimg%20src%3Dx%3E")
            .insert_header(("Authorization", format!("Bearer {OPERATOR}")))
            .to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(page).await.to_vec()).unwrap();
    assert!(
        !body.contains("<img src=x>") && body.contains("&#60;img"),
        "escaped"
    );
    let bad_entry = test::call_service(
        &app,
        get_json("/dead-letters/not-an-id", OPERATOR).to_request(),
    )
    .await;
    assert_eq!(bad_entry.status(), StatusCode::BAD_REQUEST);
    let missing =
        test::call_service(&app, get_json("/dead-letters/1-0", OPERATOR).to_request()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.dlq_len().await, 2);
    assert!(h.audit().await.is_empty());
}
