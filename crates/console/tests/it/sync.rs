//! "Sync now": an object's page offers it where a Backend API key is set; an operator's
//! press fetches the object from Clerk (here its stand-in), applies it, and audits it; a
//! viewer, another origin or a console without a key changes nothing.

use actix_web::http::StatusCode;
use actix_web::test;
use clerk_sync_test_support::clerk_stub::{self, Stub};

use crate::app;
use crate::helpers::{HOST, Harness, OPERATOR, VIEWER, get_json};

/// 2024-05-28, in ms: the stand-in's users were made then.
const CREATED_MS: i64 = 1_716_883_200_000;

fn sync_now(id: &str, token: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri(&format!("/objects/{id}/sync"))
        .insert_header(("Host", HOST))
        .insert_header(("Origin", format!("http://{HOST}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
}

async fn user_rows(h: &Harness, id: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(&h.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM clerk.user_profiles WHERE clerk_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

#[actix_web::test]
async fn an_operator_syncs_a_user_from_clerk_and_the_story_shows_the_row() {
    let user = clerk_stub::user(7, CREATED_MS, CREATED_MS + 10);
    let stub = Stub::start(vec![user.clone()], vec![], vec![]).await;
    let h = Harness::with_clerk(&stub).await;
    let app = app!(h);

    let page = test::call_service(
        &app,
        get_json(&format!("/objects/{}", user.id), OPERATOR).to_request(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let story: serde_json::Value = test::read_body_json(page).await;
    assert_eq!(story["can_sync"], true, "{story}");
    assert_eq!(user_rows(&h, &user.id).await, 0);

    let pressed = test::call_service(&app, sync_now(&user.id, OPERATOR).to_request()).await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        user_rows(&h, &user.id).await,
        1,
        "the row Clerk has, applied"
    );
    assert_eq!(stub.calls_to(&format!("/v1/users/{}", user.id)), 1);
    let page = test::call_service(
        &app,
        get_json(&format!("/objects/{}", user.id), OPERATOR).to_request(),
    )
    .await;
    let story: serde_json::Value = test::read_body_json(page).await;
    let tables: Vec<&str> = story["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row[0].as_str())
        .collect();
    assert!(tables.contains(&"users"), "{story}");
    assert_eq!(
        story["processed"][0]["svix_id"]
            .as_str()
            .map(|s| s.starts_with("fetch:user:")),
        Some(true),
        "{story}"
    );
    assert_eq!(
        h.audit().await,
        vec![("operator".to_owned(), "sync".to_owned(), 1)]
    );
}

#[actix_web::test]
async fn a_viewer_another_origin_or_a_malformed_id_syncs_nothing() {
    let user = clerk_stub::user(8, CREATED_MS, CREATED_MS + 10);
    let stub = Stub::start(vec![user.clone()], vec![], vec![]).await;
    let h = Harness::with_clerk(&stub).await;
    let app = app!(h);

    let viewer = test::call_service(&app, sync_now(&user.id, VIEWER).to_request()).await;
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN);
    let foreign = sync_now(&user.id, OPERATOR)
        .insert_header(("Origin", "https://evil.example"))
        .to_request();
    assert_eq!(
        test::call_service(&app, foreign).await.status(),
        StatusCode::FORBIDDEN
    );
    for id in ["sess_123", "user_%3Cscript%3E", "user_7%00", "org_"] {
        let response = test::call_service(&app, sync_now(id, OPERATOR).to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{id}");
    }
    assert_eq!(user_rows(&h, &user.id).await, 0);
    assert!(stub.requests().iter().all(|r| !r.starts_with("/v1/users/")));
    assert!(h.audit().await.is_empty());
}

#[actix_web::test]
async fn without_a_key_the_console_offers_no_sync_and_refuses_one() {
    let h = Harness::new().await;
    let app = app!(h);
    let page = test::call_service(
        &app,
        get_json("/objects/user_000000000000000000000000009", OPERATOR).to_request(),
    )
    .await;
    let story: serde_json::Value = test::read_body_json(page).await;
    assert_eq!(story["can_sync"], false, "{story}");
    let response = test::call_service(
        &app,
        sync_now("user_000000000000000000000000009", OPERATOR).to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(h.audit().await.is_empty());
}
