//! What each page answers, as JSON.

use actix_web::http::StatusCode;
use actix_web::test;

use crate::app;
use crate::helpers::{Harness, OPERATOR, get_json, json};

#[tokio::test]
async fn the_overview_counts_the_queue_and_charts_the_last_hour() {
    let h = Harness::new().await;
    h.dead_letter(0, 2, "user.created", "body is not JSON")
        .await;
    let app = app!(h);
    let (status, v) =
        json(test::call_service(&app, get_json("/", OPERATOR).to_request()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["dead_letters"], 2);
    assert_eq!(v["consumers"][0]["name"], "c1");
    let minutes = v["per_minute"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let dead: u64 = minutes
        .iter()
        .map(|m| m["dead_lettered"].as_u64().unwrap())
        .sum();
    assert_eq!(dead, 2);
    assert!(v["last_queued_at"].as_u64().is_some());
}

#[tokio::test]
async fn dead_letters_are_grouped_filtered_and_shown_whole() {
    let h = Harness::new().await;
    h.dead_letter(0, 3, "user.created", "gave up after 8 attempts: timeout")
        .await;
    h.dead_letter(3, 1, "user.deleted", "body is not JSON")
        .await;
    let app = app!(h);
    let (_, v) =
        json(test::call_service(&app, get_json("/dead-letters", OPERATOR).to_request()).await)
            .await;
    assert_eq!(v["groups"][0]["type"], "user.created");
    assert_eq!(v["groups"][0]["reason"], "gave up after N attempts");
    assert_eq!(v["groups"][0]["count"], 3);
    assert!(
        v["groups"][0]["first_seen"].as_u64().unwrap()
            <= v["groups"][0]["last_seen"].as_u64().unwrap()
    );
    for (query, expected) in [
        ("?q=msg_1", 1),
        ("?q=user_3", 1),
        ("?q=TIMEOUT", 3),
        ("?type=user.deleted", 1),
    ] {
        let (_, v) = json(
            test::call_service(
                &app,
                get_json(&format!("/dead-letters{query}"), OPERATOR).to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(v["entries"].as_array().unwrap().len(), expected, "{query}");
    }
    let entry = v["entries"][0]["entry"].as_str().unwrap().to_owned();
    let (status, one) = json(
        test::call_service(
            &app,
            get_json(&format!("/dead-letters/{entry}"), OPERATOR).to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["payload"]["data"]["id"], "user_3");
    assert_eq!(one["reason"], "body is not JSON");
}

#[tokio::test]
async fn an_object_s_story_gathers_its_rows_history_and_dead_letters() {
    let h = Harness::new().await;
    h.db.batch(
        "INSERT INTO users (clerk_id, email, first_name, updated_at, last_svix_id) \
             VALUES ('user_7', 'ada@example.com', 'Ada', now(), 'msg_applied'); \
         INSERT INTO processed_webhooks (svix_id, event_type, object_id) \
             VALUES ('msg_applied', 'user.created', 'user_7');",
    )
    .await;
    h.dead_letter(7, 1, "user.updated", "body is not JSON")
        .await;
    let app = app!(h);
    let (status, v) =
        json(test::call_service(&app, get_json("/objects/user_7", OPERATOR).to_request()).await)
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["rows"][0][0], "users");
    assert_eq!(v["rows"][0][1]["first_name"], "Ada");
    assert_eq!(v["processed"][0]["svix_id"], "msg_applied");
    assert_eq!(v["dead_letters"][0]["svix_id"], "msg_7");
    // The search box takes an email or an svix_id.
    for q in ["ada%40example.com", "msg_applied"] {
        let (_, found) = json(
            test::call_service(
                &app,
                get_json(&format!("/objects?q={q}"), OPERATOR).to_request(),
            )
            .await,
        )
        .await;
        assert_eq!(found["found"], serde_json::json!(["user_7"]), "{q}");
    }
    let page = test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/objects?q=ada%40example.com")
            .insert_header(("Authorization", format!("Bearer {OPERATOR}")))
            .to_request(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers().get("location").unwrap().to_str().unwrap(),
        "/objects/user_7"
    );
}

#[tokio::test]
async fn retries_changes_and_audit_answer_json() {
    let h = Harness::new().await;
    let app = app!(h);
    for path in ["/retries", "/changes", "/audit"] {
        let (status, v) =
            json(test::call_service(&app, get_json(path, OPERATOR).to_request()).await).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(v.is_object(), "{path}");
    }
}

#[tokio::test]
async fn the_audit_pages_newest_first_and_offers_the_next_page_only_when_full() {
    let h = Harness::new().await;
    let (client, connection) = tokio_postgres::connect(&h.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO console_audit (token, action) \
             SELECT 'operator', 'replay' FROM generate_series(1, 60)",
            &[],
        )
        .await
        .unwrap();
    let app = app!(h);
    let (status, first) =
        json(test::call_service(&app, get_json("/audit", OPERATOR).to_request()).await).await;
    assert_eq!(status, StatusCode::OK);
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let page = ids(&first);
    assert_eq!(page.len(), 50);
    assert!(
        page.windows(2).all(|w| w[0] > w[1]),
        "newest first: {page:?}"
    );
    assert_eq!(first["next"].as_i64(), page.last().copied());

    let (_, rest) = json(
        test::call_service(
            &app,
            get_json(&format!("/audit?before={}", first["next"]), OPERATOR).to_request(),
        )
        .await,
    )
    .await;
    let rest_ids = ids(&rest);
    assert_eq!(rest_ids.len(), 10);
    assert!(rest_ids.iter().all(|id| id < page.last().unwrap()));
    assert!(rest["next"].is_null(), "a page short of full is the last");
}
