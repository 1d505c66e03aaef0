//! The application API against the real Redis and PostgreSQL, with a local stand-in for
//! Clerk's Backend API.

use std::time::Duration;

use clerk_sync_test_support::clerk_stub::{self, BASE_MS, KEY, Stub, StubObject};
use clerk_sync_test_support::{Proxy, eventually, with_database};
use clerk_sync_worker::{ApiConfig, ApiTokens, Clerk, Worker};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Harness, deleted_body, user_body};

pub const TOKEN: &str = "app-token-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(60);

/// A running worker with the API on, and a client for it.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Api {
    pub async fn start(h: &Harness, stub: &Stub) -> Self {
        Self::start_with(h, stub, h.db.url.clone()).await
    }

    async fn start_with(h: &Harness, stub: &Stub, database_url: String) -> Self {
        Self::start_at_rate(h, stub, database_url, 100).await
    }

    /// With `CLERK_API_RATE` at `rate`.
    pub async fn start_at_rate(h: &Harness, stub: &Stub, database_url: String, rate: u32) -> Self {
        let mut config = h.config("api-worker");
        config.database_url = database_url.into();
        config.api = Some(ApiConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            tokens: ApiTokens::parse(&format!("old-token-0123456789abcdef {TOKEN}")).unwrap(),
        });
        config.clerk = Some(Clerk::new(
            stub.url.parse().unwrap(),
            clerk_sync_clerk_api::SecretKey::parse(KEY).unwrap(),
            std::num::NonZeroU32::new(rate).unwrap(),
        ));
        let worker = Worker::build(config).await.unwrap();
        let base = format!("http://127.0.0.1:{}", worker.api_port().unwrap());
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        Self {
            base,
            http: reqwest::Client::new(),
            stop,
            running: Some(running),
        }
    }

    pub async fn call(&self, method: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self.send(method, path, Some(TOKEN)).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn send(&self, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = match method {
            "POST" => self.http.post(format!("{}{path}", self.base)),
            _ => self.http.get(format!("{}{path}", self.base)),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
    }
}

fn calls_to(stub: &Stub, path: &str) -> usize {
    stub.requests()
        .iter()
        .filter(|r| r.starts_with(&format!("{path}?")))
        .count()
}

fn user(n: usize, updated_at: i64) -> StubObject {
    clerk_stub::user(n, BASE_MS, updated_at)
}

#[tokio::test]
async fn a_first_request_for_an_unknown_user_fetches_applies_and_answers_the_row() {
    let h = Harness::new().await;
    let fetched = user(1, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;

    let (status, row) = api.call("GET", &format!("/v1/users/{}", fetched.id)).await;
    assert_eq!(status, 200, "{row}");
    assert_eq!(row["clerk_id"], fetched.id.as_str());
    assert_eq!(row["email"], "user1@example.com");
    assert_eq!(row["first_name"], "User 1");
    assert_eq!(row["public_metadata"]["plan"], "pro");
    assert!(row.get("private_metadata").is_none(), "{row}");
    assert_eq!(
        h.column("SELECT svix_id FROM processed_webhooks").await,
        vec![Some(format!("fetch:user:{}:{}", fetched.id, BASE_MS + 10))],
        "recorded as the webhook path records an event"
    );

    // Served from the database from now on.
    let (again, _) = api.call("GET", &format!("/v1/users/{}", fetched.id)).await;
    assert_eq!(again, 200);
    assert_eq!(calls_to(&stub, &format!("/v1/users/{}", fetched.id)), 1);
    // Counted by route template, never by id (other tests of this process count too).
    let metrics = clerk_sync_worker::metrics::handle().render();
    let served = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"clerk_sync_api_requests_total{route="/v1/users/{id}",status="200"} "#)
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(served >= 2.0, "{metrics}");
    assert!(!metrics.contains(&fetched.id), "no id in a label");
    api.stop().await;
}

#[tokio::test]
async fn a_webhook_older_than_the_fetched_state_changes_nothing_and_a_newer_one_wins() {
    let h = Harness::new().await;
    let fetched = user(2, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let path = format!("/v1/users/{}", fetched.id);
    assert_eq!(api.call("GET", &path).await.0, 200);

    h.enqueue(
        "msg_older",
        &user_body("user.updated", &fetched.id, BASE_MS + 5, "Older"),
    )
    .await;
    eventually(WAIT, "the older webhook settled", || async {
        h.count("processed_webhooks").await == 2
    })
    .await;
    assert_eq!(api.call("GET", &path).await.1["first_name"], "User 2");

    h.enqueue(
        "msg_newer",
        &user_body("user.updated", &fetched.id, BASE_MS + 20, "Newer"),
    )
    .await;
    eventually(WAIT, "the newer webhook applied", || async {
        api.call("GET", &path).await.1["first_name"] == "Newer"
    })
    .await;
    assert_eq!(calls_to(&stub, &path), 1);
    api.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_unknown_user_make_one_backend_call() {
    let h = Harness::new().await;
    let fetched = user(3, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    // Slow enough that every request arrives while the first call is in the air.
    stub.set_latency(Duration::from_millis(500));
    let api = Api::start(&h, &stub).await;
    let path = format!("/v1/users/{}", fetched.id);
    let answers = futures_util::future::join_all((0..50).map(|_| api.call("GET", &path))).await;
    assert!(
        answers
            .iter()
            .all(|(status, row)| *status == 200 && row["clerk_id"] == fetched.id.as_str())
    );
    assert_eq!(calls_to(&stub, &path), 1);
    api.stop().await;
}

#[tokio::test]
async fn a_deleted_user_answers_404_without_calling_clerk_and_is_never_brought_back() {
    let h = Harness::new().await;
    let fetched = user(4, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    h.enqueue("msg_deleted", &deleted_body(&fetched.id, BASE_MS + 50))
        .await;
    eventually(WAIT, "the deletion applied", || async {
        h.count("processed_webhooks").await == 1
    })
    .await;

    for (method, path) in [
        ("GET", format!("/v1/users/{}", fetched.id)),
        ("POST", format!("/v1/sync/users/{}", fetched.id)),
    ] {
        let (status, body) = api.call(method, &path).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    let asked: Vec<String> = stub
        .requests()
        .into_iter()
        .filter(|r| !r.starts_with("/v1/instance?"))
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(h.count("processed_webhooks").await, 1);
    api.stop().await;
}

#[tokio::test]
async fn a_forced_refresh_fetches_the_newer_state_and_an_older_one_changes_nothing() {
    let h = Harness::new().await;
    let first = user(5, BASE_MS + 10);
    let stub = Stub::start(vec![first.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let sync = format!("/v1/sync/users/{}", first.id);
    assert_eq!(api.call("POST", &sync).await.0, 200);

    let mut newer = user(5, BASE_MS + 30);
    newer.raw = newer.raw.replace("\"User 5\"", "\"Renamed\"");
    stub.put_user(newer);
    let (status, row) = api.call("POST", &sync).await;
    assert_eq!((status, row["first_name"].clone()), (200, "Renamed".into()));

    let mut older = user(5, BASE_MS + 20);
    older.raw = older.raw.replace("\"User 5\"", "\"Stale\"");
    stub.put_user(older);
    let (status, row) = api.call("POST", &sync).await;
    assert_eq!((status, row["first_name"].clone()), (200, "Renamed".into()));
    assert_eq!(calls_to(&stub, &format!("/v1/users/{}", first.id)), 3);

    // Gone from Clerk (its deletion not delivered yet): a refresh says so.
    stub.remove_user(&first.id);
    let (status, body) = api.call("POST", &sync).await;
    assert_eq!((status, body["error"].clone()), (404, "not_found".into()));
    api.stop().await;
}

#[tokio::test]
async fn refusals_name_their_cause_and_write_nothing() {
    let h = Harness::new().await;
    let stub = Stub::start(vec![], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;
    let path = "/v1/users/user_2NNEqL2nrIRdJ194ndJqAHwEfxC";

    for token in [None, Some("wrong-token-0123456789abc"), Some("")] {
        let response = api.send("GET", path, token).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        assert!(body["message"].is_string());
    }
    // Any of the configured tokens works, as during a rotation.
    let old = api
        .send("GET", path, Some("old-token-0123456789abcdef"))
        .await;
    assert_eq!(old.status(), 404);

    for bad in [
        "org_2abc",
        "user_../x",
        "user_",
        "user_%27%20OR%201=1",
        &"a".repeat(5000),
    ] {
        let (status, body) = api.call("GET", &format!("/v1/users/{bad}")).await;
        assert!(matches!(status, 400 | 404), "{bad}: {status}");
        if status == 400 {
            assert_eq!(body["error"], "malformed_id");
        }
    }
    let (status, body) = api.call("GET", "/v1/organizations/user_2abc").await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, "malformed_id".into())
    );

    // Clerk has no such user: 404, and nothing is written.
    let (status, body) = api.call("GET", path).await;
    assert_eq!((status, body["error"].clone()), (404, "not_found".into()));
    assert_eq!(h.count("users").await, 0);
    assert_eq!(h.count("processed_webhooks").await, 0);
    assert!(
        stub.requests().iter().all(|r| !r.contains("..")),
        "nothing malformed reached Clerk"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_a_clerk_that_keeps_failing_is_a_503() {
    let h = Harness::new().await;
    let limited = user(6, BASE_MS + 10);
    let failing = user(7, BASE_MS + 10);
    let stub = Stub::start(vec![limited.clone(), failing.clone()], vec![], vec![]).await;
    let api = Api::start(&h, &stub).await;

    stub.rate_limit_next(1);
    let (status, row) = api.call("GET", &format!("/v1/users/{}", limited.id)).await;
    assert_eq!(
        (status, row["clerk_id"].clone()),
        (200, limited.id.as_str().into())
    );

    stub.fail_next(100);
    let response = api
        .send("GET", &format!("/v1/users/{}", failing.id), Some(TOKEN))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
    assert_eq!(h.count("users").await, 1);
    api.stop().await;
}

#[tokio::test]
async fn an_unreachable_clerk_or_postgres_is_a_503() {
    let h = Harness::new().await;
    let fetched = user(8, BASE_MS + 10);
    let stub = Stub::start(vec![fetched.clone()], vec![], vec![]).await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let server = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port());
    let api = Api::start_with(&h, &stub, with_database(&server, h.db.name())).await;
    proxy.down();
    let response = api
        .send("GET", &format!("/v1/users/{}", fetched.id), Some(TOKEN))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    proxy.up();
    api.stop().await;

    // A stand-in that has stopped: nothing listens on its port.
    let nowhere = Stub::start(vec![], vec![], vec![]).await;
    let mut unreachable = Api::start(&h, &nowhere).await;
    drop(nowhere);
    let (status, body) = unreachable
        .call("GET", &format!("/v1/users/{}", fetched.id))
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (503, "upstream_unavailable".into())
    );
    unreachable.stop.cancel();
    if let Some(running) = unreachable.running.take() {
        running.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn an_organization_is_fetched_with_its_members() {
    let h = Harness::new().await;
    let organization = clerk_stub::organization(1, BASE_MS, BASE_MS + 10);
    let members = vec![
        clerk_stub::membership(1, &organization, 1, BASE_MS + 10),
        clerk_stub::membership(2, &organization, 2, BASE_MS + 11),
    ];
    let stub = Stub::start(vec![], vec![organization.clone()], members).await;
    let api = Api::start(&h, &stub).await;
    let (status, body) = api
        .call("GET", &format!("/v1/organizations/{}", organization.id))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], organization.id.as_str());
    assert_eq!(body["slug"], "acme-1");
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{body}");
    assert!(body.get("last_svix_id").is_none());

    let (status, _) = api
        .call("GET", "/v1/organizations/org_2zzzzzzzzzzzzzzzzzzzzzzz")
        .await;
    assert_eq!(status, 404);
    api.stop().await;
}
