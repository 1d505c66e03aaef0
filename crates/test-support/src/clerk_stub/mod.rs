//! A stand-in for Clerk's Backend API, answering as Clerk documents it (clerk/openapi-specs,
//! `bapi/2025-11-10.yml`): `GET /v1/users` a bare array, `GET /v1/organizations`,
//! `GET /v1/organization_memberships` and `GET /v1/organizations/{id}/memberships`
//! `{"data", "total_count"}`, paged by `limit` (1 to 500, default 10) and `offset`, ordered
//! by `order_by`, and `GET /v1/users/{id}/organization_memberships` the same shape;
//! `GET /v1/users/{id}` and `GET /v1/organizations/{id}` the object alone, or
//! 404 `resource_not_found`; `GET /v1/instance` the instance the key belongs to; all behind
//! `Authorization: Bearer sk_…`, with errors as
//! `{"errors":[{"message","long_message","code"}]}`. Switches make it rate-limit (with any
//! `Retry-After`) or fail the next requests, answer slowly, lack the instance-wide
//! membership list, as older instances do, or answer some paths with a proxy's HTML 404
//! instead of Clerk. Objects can be replaced while it runs, as they change in Clerk, and so
//! can the instance, as another key would read another.
//!
//! Objects are stored as the exact text served, formatted the way a re-serialisation would
//! not reproduce (indentation, `\u00eb`, `1.50`), so a test can check bytes (`objects`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

mod objects;

pub use objects::*;

/// The key the stub accepts.
pub const KEY: &str = "sk_test_cli_stub_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
/// The instance the stub answers `GET /v1/instance` with, until told otherwise.
pub const INSTANCE: &str = "ins_2stubInstance0000000000A";

#[derive(Default)]
struct StubState {
    instance: Mutex<Option<(String, String)>>,
    proxy_404: Mutex<HashSet<String>>,
    retry_after_secs: AtomicU64,
    users: Mutex<Vec<StubObject>>,
    organizations: Mutex<Vec<StubObject>>,
    memberships: Mutex<Vec<StubObject>>,
    latency_ms: AtomicU64,
    no_instance_memberships: AtomicBool,
    rate_limit_next: AtomicU32,
    fail_next: AtomicU32,
    requests: Mutex<Vec<String>>,
}

/// The running stand-in; stops on drop.
pub struct Stub {
    /// `http://127.0.0.1:<port>`, for `CLERK_API_URL`.
    pub url: String,
    state: Arc<StubState>,
    server: ServerHandle,
}

impl Stub {
    /// Serves these objects on 127.0.0.1 at a free port.
    pub async fn start(
        users: Vec<StubObject>,
        organizations: Vec<StubObject>,
        memberships: Vec<StubObject>,
    ) -> Self {
        let state = Arc::new(StubState {
            users: Mutex::new(users),
            organizations: Mutex::new(organizations),
            memberships: Mutex::new(memberships),
            ..StubState::default()
        });
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port for the stub");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the stub's address")
        );
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the stub listens")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            state,
            server: handle,
        }
    }

    /// Answers the next `n` requests with 429 and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.rate_limit_next_for(n, 1);
    }

    /// Answers the next `n` requests with 429 and `Retry-After: <seconds>`.
    pub fn rate_limit_next_for(&self, n: u32, seconds: u64) {
        self.state.retry_after_secs.store(seconds, Ordering::SeqCst);
        self.state.rate_limit_next.store(n, Ordering::SeqCst);
    }

    /// The instance `GET /v1/instance` names from now on, as another key's would.
    pub fn set_instance(&self, id: &str, environment_type: &str) {
        *lock(&self.state.instance) = Some((id.to_owned(), environment_type.to_owned()));
    }

    /// Answers `path` (`/v1/users/user_…`) as an egress proxy that does not know it
    /// would: 404 with an HTML page, nothing of Clerk's.
    pub fn proxy_404(&self, path: &str) {
        lock(&self.state.proxy_404).insert(path.to_owned());
    }

    /// Requests for `path` exactly, whatever their query.
    pub fn calls_to(&self, path: &str) -> usize {
        let prefix = format!("{path}?");
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.starts_with(&prefix))
            .count()
    }

    /// Answers the next `n` requests (after any rate limiting) with 500.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Answers `GET /v1/organization_memberships` with 404, as an instance without it does.
    pub fn without_instance_memberships(&self) {
        self.state
            .no_instance_memberships
            .store(true, Ordering::SeqCst);
    }

    /// Every request so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }

    /// Answers every request after `latency`, as a distant or busy API does.
    pub fn set_latency(&self, latency: Duration) {
        self.state
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// Adds the user, or replaces the one with its id: the user as Clerk now has it.
    pub fn put_user(&self, user: StubObject) {
        put(&self.state.users, user);
    }

    /// Removes the user, as a deletion in Clerk does.
    pub fn remove_user(&self, id: &str) {
        lock(&self.state.users).retain(|u| u.id != id);
    }

    /// Adds the organization, or replaces the one with its id.
    pub fn put_organization(&self, organization: StubObject) {
        put(&self.state.organizations, organization);
    }

    /// Adds the membership, or replaces the one with its id.
    pub fn put_membership(&self, membership: StubObject) {
        put(&self.state.memberships, membership);
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        // The stop command is sent by the call itself; nothing needs to wait for the
        // worker thread to finish.
        drop(self.server.stop(false));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn put(list: &Mutex<Vec<StubObject>>, object: StubObject) {
    let mut list = lock(list);
    list.retain(|o| o.id != object.id);
    list.push(object);
}

async fn handle(state: web::Data<StubState>, request: HttpRequest) -> HttpResponse {
    let path = request.uri().path().to_owned();
    let query = web::Query::<HashMap<String, String>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    lock(&state.requests).push(format!("{path}?{}", request.uri().query().unwrap_or("")));
    let latency = state.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        // Echoes what it was given, as a careless proxy might: the CLI must not repeat it.
        let given = auth.trim_start_matches("Bearer ");
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "Invalid authentication",
            &format!("The secret key {given} is not valid for this instance"),
        );
    }
    if take(&state.rate_limit_next) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests",
            "Too many requests, retry later",
        );
        let seconds = state.retry_after_secs.load(Ordering::SeqCst).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    if lock(&state.proxy_404).contains(&path) {
        return HttpResponse::NotFound().content_type("text/html").body(
            "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
        );
    }
    if take(&state.fail_next) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_clerk_error",
            "Oops, an unexpected error occurred",
            "There was an internal error on our servers.",
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.as_slice() == ["v1", "instance"] {
        let (id, environment) = lock(&state.instance)
            .clone()
            .unwrap_or_else(|| (INSTANCE.to_owned(), "development".to_owned()));
        let body = serde_json::json!({
            "object": "instance", "id": id, "environment_type": environment,
            "allowed_origins": null, "development_origin": "",
        });
        return json_response(StatusCode::OK, body.to_string());
    }
    let single = match segments.as_slice() {
        ["v1", "users", id] => Some(find(&state.users, id)),
        ["v1", "organizations", id] => Some(find(&state.organizations, id)),
        _ => None,
    };
    if let Some(found) = single {
        return match found {
            Some(object) => json_response(StatusCode::OK, object.raw),
            None => not_found(),
        };
    }
    let limit: usize = query
        .get("limit")
        .map_or(Ok(10), |l| l.parse())
        .unwrap_or(0);
    let offset: usize = query
        .get("offset")
        .map_or(Ok(0), |o| o.parse())
        .unwrap_or(usize::MAX);
    if !(1..=500).contains(&limit) || offset == usize::MAX {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_value_invalid",
            "is invalid",
            "limit must be between 1 and 500",
        );
    }
    let order_by = query.get("order_by").map_or("-created_at", String::as_str);
    let (list, wrapped): (Vec<StubObject>, bool) = match segments.as_slice() {
        ["v1", "users"] => (lock(&state.users).clone(), false),
        ["v1", "organizations"] => (lock(&state.organizations).clone(), true),
        ["v1", "organization_memberships"]
            if !state.no_instance_memberships.load(Ordering::SeqCst) =>
        {
            (lock(&state.memberships).clone(), true)
        }
        ["v1", "users", user, "organization_memberships"] if find(&state.users, user).is_some() => {
            (
                lock(&state.memberships)
                    .iter()
                    .filter(|m| m.user_id.as_deref() == Some(*user))
                    .cloned()
                    .collect(),
                true,
            )
        }
        ["v1", "organizations", org, "memberships"]
            if find(&state.organizations, org).is_some() =>
        {
            (
                lock(&state.memberships)
                    .iter()
                    .filter(|m| m.organization_id.as_deref() == Some(*org))
                    .cloned()
                    .collect(),
                true,
            )
        }
        _ => return not_found(),
    };
    let mut list: Vec<&StubObject> = list.iter().collect();
    sort(&mut list, order_by);
    let page: Vec<&str> = list
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| o.raw.as_str())
        .collect();
    let items = format!("[\n{}\n]", page.join(",\n"));
    let body = if wrapped {
        format!("{{\"data\": {items}, \"total_count\": {}}}", list.len())
    } else {
        items
    };
    json_response(StatusCode::OK, body)
}

fn find(list: &Mutex<Vec<StubObject>>, id: &str) -> Option<StubObject> {
    lock(list).iter().find(|o| o.id == id).cloned()
}

fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "resource_not_found",
        "not found",
        "Resource not found",
    )
}

fn sort(list: &mut [&StubObject], order_by: &str) {
    let descending = order_by.starts_with('-');
    let field = order_by.trim_start_matches(['+', '-', ' ']);
    list.sort_by(|a, b| {
        let key = |o: &StubObject| {
            (
                if field == "updated_at" {
                    o.updated_at
                } else {
                    o.created_at
                },
                o.id.clone(),
            )
        };
        if descending {
            key(b).cmp(&key(a))
        } else {
            key(a).cmp(&key(b))
        }
    });
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn error(status: StatusCode, code: &str, message: &str, long_message: &str) -> HttpResponse {
    let body = serde_json::json!({"errors": [{"message": message, "long_message": long_message, "code": code}], "clerk_trace_id": "stub"});
    json_response(status, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}
