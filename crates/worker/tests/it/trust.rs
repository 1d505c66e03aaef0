//! Nothing destroyed on doubt, and Clerk's rate limit spent within bounds, by the worker:
//! the pinned instance held against webhooks and against its key, Clerk's own 404 alone
//! taken for "gone", the process's one budget of Backend API requests, and bounded
//! listeners. Against the real Redis and PostgreSQL and the Backend API stand-in.

use std::time::{Duration, Instant};

use clerk_sync_test_support::clerk_stub::{self, BASE_MS, INSTANCE, KEY, Stub, StubObject};
use clerk_sync_test_support::eventually;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::api::{Api, TOKEN};
use crate::helpers::{Harness, user_body, worker_command};

const WAIT: Duration = Duration::from_secs(60);
const ANOTHER_INSTANCE: &str = "ins_2anotherInstance00000000Z";

fn user(n: usize) -> StubObject {
    clerk_stub::user(n, BASE_MS, BASE_MS + 10)
}

/// Backend API requests other than the key's instance check.
fn object_calls(stub: &Stub) -> Vec<String> {
    stub.requests()
        .into_iter()
        .filter(|r| !r.starts_with("/v1/instance?"))
        .collect()
}

/// A user event of `instance`, as another instance's endpoint would hear it.
fn user_of(instance: &str, id: &str, updated_at: i64, first_name: &str) -> Vec<u8> {
    let mut body: serde_json::Value =
        serde_json::from_slice(&user_body("user.updated", id, updated_at, first_name)).unwrap();
    body["instance_id"] = instance.into();
    body.to_string().into_bytes()
}

async fn pin(h: &Harness, instance: &str) {
    h.sql()
        .await
        .execute(
            "INSERT INTO sync_instance (instance_id) VALUES ($1)",
            &[&instance],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_first_webhook_pins_its_instance_and_another_instances_is_dead_lettered() {
    let h = Harness::new().await;
    let id = "user_2trust0000000000000000001";
    h.enqueue("msg_ours", &user_body("user.created", id, BASE_MS, "Ours"))
        .await;
    h.enqueue(
        "msg_theirs",
        &user_of(ANOTHER_INSTANCE, id, BASE_MS + 10, "Theirs"),
    )
    .await;
    // An example Clerk publishes names an instance that is no one's: applied, not refused.
    h.enqueue(
        "msg_example",
        &user_of(
            "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
            "user_2example0000000000000000",
            BASE_MS,
            "Ex",
        ),
    )
    .await;
    h.worker().await.drain(WAIT).await.unwrap();

    assert_eq!(
        h.column("SELECT instance_id FROM sync_instance").await,
        vec![Some(INSTANCE.to_owned())]
    );
    assert_eq!(
        h.column(&format!(
            "SELECT first_name FROM users WHERE clerk_id = '{id}'"
        ))
        .await,
        vec![Some("Ours".to_owned())],
        "nothing of the other instance applied"
    );
    assert_eq!(h.count("users").await, 2, "the example applied");
    let dlq = h.dlq().await;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let error = &dlq[0].1["error"];
    assert!(error.starts_with("instance_mismatch:"), "{error}");
    assert!(
        error.contains(ANOTHER_INSTANCE) && error.contains(INSTANCE),
        "{error}"
    );
    assert_eq!(
        h.column("SELECT svix_id FROM processed_webhooks ORDER BY 1")
            .await,
        vec![Some("msg_example".to_owned()), Some("msg_ours".to_owned())],
        "a refused event is not recorded: replayed after a re-pin, it applies"
    );
}

#[tokio::test]
async fn a_key_of_another_instance_fetches_nothing_and_says_so() {
    let h = Harness::new().await;
    let wanted = user(1);
    let stub = Stub::start(vec![wanted.clone()], vec![], vec![]).await;
    pin(&h, ANOTHER_INSTANCE).await;
    let api = Api::start(&h, &stub).await;
    let response = api
        .send("GET", &format!("/v1/users/{}", wanted.id), Some(TOKEN))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "instance_mismatch", "{body}");
    assert!(object_calls(&stub).is_empty(), "{:?}", stub.requests());
    assert_eq!(h.count("users").await, 0);
    assert_eq!(
        h.column("SELECT instance_id FROM sync_instance").await,
        vec![Some(ANOTHER_INSTANCE.to_owned())],
        "the pin is left alone"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_worker_with_another_instances_key_raises_the_gauge_and_reconciles_nothing() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![user(1), user(2)], vec![], vec![]).await;
    pin(&h, ANOTHER_INSTANCE).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = worker_command(
        &h,
        "mismatched",
        &[
            ("WORKER_METRICS_BIND", &bind),
            ("CLERK_SECRET_KEY", KEY),
            ("CLERK_API_URL", &stub.url),
            ("RECONCILE_INTERVAL", "1h"),
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let metric = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    let client = reqwest::Client::new();
    let scrape = || async {
        client
            .get(format!("http://{bind}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    };
    eventually(
        WAIT,
        "the mismatch raised, and a scheduled run refused",
        || async {
            let Some(text) = scrape().await else {
                return false;
            };
            metric(&text, "clerk_sync_clerk_instance_mismatch ") == Some(1.0)
                && metric(
                    &text,
                    r#"clerk_sync_reconcile_refusals_total{reason="instance_mismatch"} "#,
                )
                .is_some_and(|n| n >= 1.0)
        },
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(object_calls(&stub).is_empty(), "{:?}", stub.requests());
}

#[tokio::test]
async fn a_burst_of_forced_refreshes_spends_no_more_than_the_rate_allows() {
    let h = Harness::new().await;
    let users: Vec<_> = (100..130).map(user).collect();
    let stub = Stub::start(users.clone(), vec![], vec![]).await;
    let api = Api::start_at_rate(&h, &stub, h.db.url.clone(), 2).await;
    let started = Instant::now();
    let paths: Vec<String> = users
        .iter()
        .map(|u| format!("/v1/sync/users/{}", u.id))
        .collect();
    let answers =
        futures_util::future::join_all(paths.iter().map(|p| api.send("POST", p, Some(TOKEN))))
            .await;
    let elapsed = started.elapsed();
    let mut served = 0;
    for response in answers {
        match response.status().as_u16() {
            200 => served += 1,
            503 => {
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"], "upstream_unavailable");
            }
            other => panic!("answered {other}"),
        }
    }
    // Counted where it matters, at Clerk: two a second since the first, the instance check
    // included, however many asked.
    let calls = stub.requests().len();
    assert!(
        calls as f64 <= 2.0 * elapsed.as_secs_f64() + 1.0,
        "{calls} calls in {elapsed:?}"
    );
    // One or two checks of the key's instance (at start, and by the first request).
    let checks = stub.calls_to("/v1/instance");
    assert!((1..=2).contains(&checks), "{checks}");
    assert_eq!(served, calls - checks, "every other call served a request");
    assert!(served >= 1 && served < users.len(), "{served} served");
    api.stop().await;
}

#[tokio::test]
async fn a_429_pauses_every_backend_call_for_as_long_as_clerk_asks() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![user(1), user(2)], vec![], vec![]).await;
    stub.rate_limit_next_for(1, 600);
    let api = Api::start(&h, &stub).await;
    let mut asked_before = None;
    for n in [1, 2, 1] {
        let response = api
            .send("GET", &format!("/v1/users/{}", user(n).id), Some(TOKEN))
            .await;
        assert_eq!(response.status(), 503);
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((500..=600).contains(&wait), "Retry-After: {wait}");
        // Nothing reaches Clerk once it has said 429.
        let asked = stub.requests().len();
        assert_eq!(
            *asked_before.get_or_insert(asked),
            asked,
            "{:?}",
            stub.requests()
        );
    }
    assert!(object_calls(&stub).is_empty(), "{:?}", stub.requests());
    api.stop().await;
}

#[tokio::test]
async fn an_id_clerk_just_said_it_lacks_is_answered_404_without_asking_again() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let path = "/v1/users/user_2nobody00000000000000000000";
    for _ in 0..3 {
        let (status, body) = api.call("GET", path).await;
        assert_eq!(status, 404, "{body}");
    }
    assert_eq!(stub.calls_to(path), 1);
    api.stop().await;
}

#[tokio::test]
async fn only_clerks_own_404_is_gone_and_a_proxys_page_is_an_outage() {
    let h = Harness::new().await;
    let kept = user(1);
    let stub = Stub::start(vec![kept.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let path = format!("/v1/users/{}", kept.id);
    assert_eq!(api.call("GET", &path).await.0, 200);
    stub.proxy_404(&path);
    for (method, route) in [
        ("POST", format!("/v1/sync/users/{}", kept.id)),
        ("GET", "/v1/users/user_2behindTheProxy0000000000".to_owned()),
    ] {
        if method == "GET" {
            stub.proxy_404("/v1/users/user_2behindTheProxy0000000000");
        }
        let (status, body) = api.call(method, &route).await;
        assert_eq!(status, 503, "{method} {route}: {body}");
        assert_eq!(body["error"], "upstream_unavailable");
    }
    assert_eq!(
        h.column("SELECT clerk_id FROM users WHERE deleted_at IS NULL")
            .await,
        vec![Some(kept.id.clone())],
        "the user is still there"
    );
    assert_eq!(h.count("tombstones").await, 0);
    api.stop().await;
}

#[tokio::test]
async fn an_object_that_is_not_the_one_asked_for_is_never_applied() {
    let h = Harness::new().await;
    let asked = "user_2asked00000000000000000";
    // The stand-in answers for `asked` with another user, as a confused proxy or cache might.
    let mut other = user(7);
    other.id = asked.to_owned();
    let stub = Stub::start(vec![other], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let (status, body) = api.call("GET", &format!("/v1/users/{asked}")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "internal_error");
    assert_eq!(h.count("users").await, 0);
    assert_eq!(h.count("processed_webhooks").await, 0);
    api.stop().await;
}

#[tokio::test]
async fn a_fetch_its_client_gave_up_on_is_never_made() {
    let h = Harness::new().await;
    let (first, abandoned, last) = (user(1), user(2), user(3));
    let stub = Stub::start(
        vec![first.clone(), abandoned.clone(), last.clone()],
        vec![],
        vec![],
    )
    .await;
    // One call a second: the abandoned request's turn is a second or more away.
    let api = Api::start_at_rate(&h, &stub, h.db.url.clone(), 1).await;
    assert_eq!(
        api.call("GET", &format!("/v1/users/{}", first.id)).await.0,
        200
    );
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let gave_up = impatient
        .get(format!("{}/v1/users/{}", api.base, abandoned.id))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(gave_up.is_err(), "the client gave up first");
    // Asked after it: its turn comes after the abandoned one's would have.
    assert_eq!(
        api.call("GET", &format!("/v1/users/{}", last.id)).await.0,
        200
    );
    assert_eq!(
        stub.calls_to(&format!("/v1/users/{}", abandoned.id)),
        0,
        "{:?}",
        stub.requests()
    );
    api.stop().await;
}

#[tokio::test]
async fn a_wrong_key_is_a_503_whose_body_repeats_nothing_clerk_said() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![user(1)], vec![], vec![]).await;
    let mut config = h.config("wrong-key");
    config.api = Some(clerk_sync_worker::ApiConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        tokens: clerk_sync_worker::ApiTokens::parse(TOKEN).unwrap(),
    });
    let wrong = "sk_test_wrong0123456789abcdefghij";
    config.clerk = Some(clerk_sync_worker::Clerk::new(
        stub.url.parse().unwrap(),
        clerk_sync_clerk_api::SecretKey::parse(wrong).unwrap(),
        std::num::NonZeroU32::new(100).unwrap(),
    ));
    let worker = clerk_sync_worker::Worker::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", worker.api_port().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/users/{}", user(1).id))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    // The stand-in echoes the key in its error text, as a careless proxy might.
    assert!(
        !body.contains(wrong) && !body.contains("is not valid"),
        "{body}"
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_listener_closes_a_connection_that_never_finishes_its_request_head() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let address = api.base.trim_start_matches("http://").to_owned();
    let mut half_sent = tokio::net::TcpStream::connect(&address).await.unwrap();
    half_sent
        .write_all(b"GET /v1/users/user_2abc HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // Closed by the server (its 10 s bound on a request head), well within this one.
    let _ = tokio::time::timeout(Duration::from_secs(40), half_sent.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "nothing served to a request that never arrived: {answer}"
    );
    api.stop().await;
}
