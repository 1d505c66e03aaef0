//! Who may look and who may act: tokens, sessions, viewers, origins.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};

use crate::app;
use crate::helpers::{HOST, Harness, OPERATOR, VIEWER, get_json, json, post_form};

#[tokio::test]
async fn without_a_token_a_page_sends_to_login_and_json_gets_401() {
    let h = Harness::new().await;
    let app = app!(h);
    let page = test::call_service(
        &app,
        TestRequest::get().uri("/dead-letters?type=x").to_request(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers().get("location").unwrap().to_str().unwrap(),
        "/login?next=%2Fdead-letters%3Ftype%3Dx"
    );
    let api = test::call_service(
        &app,
        TestRequest::get()
            .uri("/")
            .insert_header(("Accept", "application/json"))
            .to_request(),
    )
    .await;
    let (status, body) = json(api).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let wrong = test::call_service(&app, get_json("/", "operator-token-0002").to_request()).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_that_opens_every_page() {
    let h = Harness::new().await;
    let app = app!(h);
    let login = test::call_service(
        &app,
        TestRequest::post()
            .uri("/login")
            .insert_header(("Host", HOST))
            .insert_header(("Origin", format!("http://{HOST}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!("token={VIEWER}&next=%2Fretries"))
            .to_request(),
    )
    .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        login.headers().get("location").unwrap().to_str().unwrap(),
        "/retries"
    );
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(VIEWER), "the cookie never holds the token");
    let session = cookie.split(';').next().unwrap().to_owned();
    for path in [
        "/",
        "/dead-letters",
        "/retries",
        "/changes",
        "/audit",
        "/objects/user_1",
    ] {
        let page = test::call_service(
            &app,
            TestRequest::get()
                .uri(path)
                .insert_header(("Cookie", session.clone()))
                .to_request(),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let csp = page
            .headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let body = String::from_utf8(test::read_body(page).await.to_vec()).unwrap();
        assert!(body.contains("<main"), "{path} is a page");
        assert!(
            !body.contains("style=\"") && !body.contains("<script>"),
            "nothing inline"
        );
    }

    // Behind a proxy that terminated HTTPS, the cookie is Secure.
    let secure = test::call_service(
        &app,
        TestRequest::post()
            .uri("/login")
            .insert_header(("Host", HOST))
            .insert_header(("X-Forwarded-Proto", "https"))
            .insert_header(("Origin", format!("https://{HOST}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!("token={OPERATOR}"))
            .to_request(),
    )
    .await;
    assert!(
        secure
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    // A wrong token is refused, with the form again.
    let refused = test::call_service(
        &app,
        TestRequest::post()
            .uri("/login")
            .insert_header(("Host", HOST))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("token=not-a-token-of-ours")
            .to_request(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_viewer_sees_but_every_action_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    h.dead_letter(0, 3, "user.created", "body is not JSON")
        .await;
    let app = app!(h);
    let (status, body) =
        json(test::call_service(&app, get_json("/dead-letters", VIEWER).to_request()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 3);
    for path in ["/dead-letters/replay", "/dead-letters/purge"] {
        let refused = test::call_service(
            &app,
            post_form(path, VIEWER, "type=user.created&confirm=yes").to_request(),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(h.dlq_len().await, 3);
    assert_eq!(h.events_len().await, 0);
    assert!(h.audit().await.is_empty());
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    h.dead_letter(0, 2, "user.created", "body is not JSON")
        .await;
    let app = app!(h);
    let foreign = post_form("/dead-letters/purge", OPERATOR, "confirm=yes")
        .insert_header(("Origin", "https://evil.example"))
        .to_request();
    assert_eq!(
        test::call_service(&app, foreign).await.status(),
        StatusCode::FORBIDDEN
    );
    // Without Origin, a browser's Sec-Fetch-Site says where the request came from.
    let cross_site = TestRequest::post()
        .uri("/dead-letters/purge")
        .insert_header(("Host", HOST))
        .insert_header(("Authorization", format!("Bearer {OPERATOR}")))
        .insert_header(("Sec-Fetch-Site", "cross-site"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload("confirm=yes")
        .to_request();
    assert_eq!(
        test::call_service(&app, cross_site).await.status(),
        StatusCode::FORBIDDEN
    );
    // A login from elsewhere is refused too (no login CSRF).
    let login = TestRequest::post()
        .uri("/login")
        .insert_header(("Host", HOST))
        .insert_header(("Origin", "https://evil.example"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(format!("token={OPERATOR}"))
        .to_request();
    assert_eq!(
        test::call_service(&app, login).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.dlq_len().await, 2);
    assert!(h.audit().await.is_empty());
}
