//! `clerk-sync backfill` against the stand-in for Clerk's Backend API and the real Redis:
//! what lands in `{prefix}:events`, and what the workers make of it.

use std::collections::HashMap;
use std::process::Output;
use std::time::{Duration, Instant};

use clerk_sync_events::EventData;
use clerk_sync_test_support::TestDatabase;

use crate::clerk_stub::{
    self, BASE_MS, Setup, Stub, StubObject, json, membership, organization, stderr, user,
};

/// `users` users, two organizations, and a membership per organization for the first users.
fn instance(users: usize) -> (Vec<StubObject>, Vec<StubObject>, Vec<StubObject>) {
    let all_users: Vec<StubObject> = (0..users)
        .map(|n| user(n, BASE_MS + n as i64, BASE_MS + 1_000_000 + n as i64))
        .collect();
    let organizations = vec![
        organization(1, BASE_MS, BASE_MS + 10),
        organization(2, BASE_MS + 5, BASE_MS + 20),
    ];
    let memberships = vec![
        membership(1, &organizations[0], 0, BASE_MS + 30),
        membership(2, &organizations[0], 1, BASE_MS + 40),
        membership(3, &organizations[1], 0, BASE_MS + 50),
    ];
    (all_users, organizations, memberships)
}

fn by_svix_id(events: &[HashMap<String, String>]) -> HashMap<String, HashMap<String, String>> {
    events
        .iter()
        .map(|e| (e["svix_id"].clone(), e.clone()))
        .collect()
}

#[tokio::test]
async fn every_object_is_queued_byte_for_byte_once_and_a_rerun_queues_nothing() {
    let (users, organizations, memberships) = instance(1_200);
    let stub = Stub::start(users.clone(), organizations.clone(), memberships.clone()).await;
    let setup = Setup::new();
    let before_ms = clerk_stub::now_ms();

    let first = json(&backfill(&setup, &stub.url, &["--json"], &[]).await);
    assert_eq!(first["queued"], 1_205);
    assert_eq!(first["kinds"]["users"]["queued"], 1_200);
    assert_eq!(first["kinds"]["organizations"]["queued"], 2);
    assert_eq!(first["kinds"]["memberships"]["queued"], 3);
    assert_eq!(first["retries"]["total"], 0);

    let events = setup.events().await;
    assert_eq!(events.len(), 1_205);
    let events = by_svix_id(&events);
    let expected = [
        ("user", "user.updated", &users),
        ("organization", "organization.updated", &organizations),
        (
            "organization_membership",
            "organizationMembership.updated",
            &memberships,
        ),
    ];
    for (object_type, event_type, objects) in expected {
        for object in objects {
            let svix_id = format!("backfill:{object_type}:{}:{}", object.id, object.updated_at);
            let entry = events
                .get(&svix_id)
                .unwrap_or_else(|| panic!("{svix_id} not queued"));
            assert_eq!(entry["type"], event_type);
            assert_eq!(entry["attempt"], "0");
            let received_at: u64 = entry["received_at"].parse().unwrap();
            assert!(received_at >= before_ms);
            let svix_timestamp: u64 = entry["svix_timestamp"].parse().unwrap();
            assert_eq!(svix_timestamp, received_at / 1000);
            let payload = &entry["payload"];
            assert_eq!(
                payload,
                &format!(
                    r#"{{"object":"event","type":"{event_type}","timestamp":{},"data":{}}}"#,
                    object.updated_at, object.raw
                ),
                "the object must travel byte for byte"
            );
            let event = clerk_sync_events::parse(payload.as_bytes(), 0).unwrap();
            assert_eq!(event.object_id(), Some(object.id.as_str()));
            match (&event.data, object_type) {
                (EventData::UserUpserted(u), "user") => {
                    assert_eq!(u.updated_at, Some(object.updated_at))
                }
                (EventData::OrganizationUpserted(o), "organization") => {
                    assert_eq!(o.updated_at, Some(object.updated_at))
                }
                (EventData::MembershipUpserted(m), "organization_membership") => {
                    assert_eq!(
                        Some(m.organization.id.as_str()),
                        object.organization_id.as_deref()
                    );
                }
                (data, _) => panic!("{svix_id} parsed as {data:?}"),
            }
        }
    }
    // Pages of 500, users oldest-created first.
    let user_requests: Vec<String> = stub
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/v1/users?"))
        .collect();
    assert_eq!(user_requests.len(), 3, "{user_requests:?}");
    assert!(
        user_requests
            .iter()
            .all(|r| r.contains("limit=500") && r.contains("order_by=%2Bcreated_at"))
    );
    assert!(user_requests[2].contains("offset=1000"));

    let second = json(&backfill(&setup, &stub.url, &["--json"], &[]).await);
    assert_eq!(second["queued"], 0);
    assert_eq!(second["already_queued"], 1_205);
    assert_eq!(setup.events().await.len(), 1_205);
}

#[tokio::test]
async fn a_rate_limit_and_a_server_error_are_ridden_through_and_counted() {
    let (users, organizations, memberships) = instance(3);
    let stub = Stub::start(users, organizations, memberships).await;
    stub.rate_limit_next(1);
    stub.fail_next(1);
    let setup = Setup::new();
    let started = Instant::now();
    let output = backfill(&setup, &stub.url, &["--only", "users", "--json"], &[]).await;
    let summary = json(&output);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out"
    );
    assert_eq!(summary["queued"], 3);
    assert_eq!(summary["retries"]["rate_limited"], 1);
    assert_eq!(summary["retries"]["server_errors"], 1);
    assert_eq!(summary["retries"]["total"], 2);
    // The first request asks which instance the key reads: it meets the 429 and the 500.
    assert_eq!(
        stub.requests(),
        [
            "/v1/instance?",
            "/v1/instance?",
            "/v1/instance?",
            "/v1/users?limit=500&offset=0&order_by=%2Bcreated_at"
        ],
        "429, 500, then the instance and the page"
    );

    let human = backfill(&setup, &stub.url, &["--only", "users"], &[]).await;
    assert!(human.status.success());
    assert!(
        clerk_stub::stdout(&human).contains("queued 0, already queued 3"),
        "{}",
        clerk_stub::stdout(&human)
    );
}

#[tokio::test]
async fn only_reads_the_kinds_asked_for_and_memberships_fall_back_to_each_organization() {
    let (users, organizations, memberships) = instance(5);
    let stub = Stub::start(users, organizations, memberships).await;
    stub.without_instance_memberships();
    let setup = Setup::new();
    let summary = json(
        &backfill(
            &setup,
            &stub.url,
            &["--only", "organizations,memberships", "--json"],
            &[],
        )
        .await,
    );
    assert_eq!(summary["queued"], 5);
    assert!(summary["kinds"].get("users").is_none());
    let events = setup.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "organization.updated")
            .count(),
        2
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "organizationMembership.updated")
            .count(),
        3
    );
    let requests = stub.requests();
    assert!(
        !requests.iter().any(|r| r.starts_with("/v1/users")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(
            |r| r.starts_with("/v1/organizations/org_000000000000000000000000001/memberships?")
        )
    );
    assert!(
        requests.iter().any(
            |r| r.starts_with("/v1/organizations/org_000000000000000000000000002/memberships?")
        )
    );

    // The environment says the same as the flag.
    let only_users = json(
        &backfill(
            &setup,
            &stub.url,
            &["--json"],
            &[("BACKFILL_ONLY", "users"), ("BACKFILL_DRY_RUN", "true")],
        )
        .await,
    );
    assert_eq!(only_users["dry_run"], true);
    assert_eq!(only_users["queued"], 5);
    assert_eq!(only_users["would_queue"].as_array().unwrap().len(), 5);
    assert_eq!(only_users["would_queue"][0]["type"], "user.updated");
    assert_eq!(setup.events().await.len(), 5, "a dry run queues nothing");
}

#[tokio::test]
async fn since_skips_older_objects_and_stops_paging_users_early() {
    let now_ms = clerk_stub::now_ms() as i64;
    let hour = 3_600_000;
    // 1,100 users changed two days ago, 3 changed half an hour ago.
    let mut users: Vec<StubObject> = (0..1_100)
        .map(|n| user(n, BASE_MS + n as i64, now_ms - 48 * hour))
        .collect();
    users.extend((1_100..1_103).map(|n| user(n, BASE_MS + n as i64, now_ms - hour / 2)));
    let organizations = vec![
        organization(1, BASE_MS, now_ms - 48 * hour),
        organization(2, BASE_MS, now_ms - hour / 2),
    ];
    let stub = Stub::start(users, organizations, Vec::new()).await;
    let setup = Setup::new();

    let summary = json(&backfill(&setup, &stub.url, &["--since", "1d", "--json"], &[]).await);
    assert_eq!(summary["kinds"]["users"]["queued"], 3);
    assert_eq!(
        summary["kinds"]["users"]["older_than_since"], 1,
        "the first older user ends the paging"
    );
    assert_eq!(summary["kinds"]["organizations"]["queued"], 1);
    assert_eq!(summary["kinds"]["organizations"]["older_than_since"], 1);
    let user_requests: Vec<String> = stub
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/v1/users?"))
        .collect();
    assert_eq!(user_requests.len(), 1, "{user_requests:?}");
    assert!(user_requests[0].contains("order_by=-updated_at"));
    let queued: Vec<String> = setup
        .events()
        .await
        .into_iter()
        .map(|e| e["svix_id"].clone())
        .collect();
    assert!(
        queued
            .iter()
            .all(|id| !id.contains("user_000000000000000000000000000:"))
    );

    let rfc3339 = chrono::DateTime::from_timestamp_millis(now_ms - hour)
        .unwrap()
        .to_rfc3339();
    let same = json(&backfill(&setup, &stub.url, &["--since", &rfc3339, "--json"], &[]).await);
    assert_eq!(same["already_queued"], 4);
    assert_eq!(same["queued"], 0);

    let bad = backfill(&setup, &stub.url, &["--since", "last tuesday"], &[]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("BACKFILL_SINCE must be an RFC 3339 time"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn a_missing_or_malformed_key_stops_at_start_naming_it() {
    let setup = Setup::new();
    let missing = {
        let mut command = setup.cli("http://127.0.0.1:1");
        command.arg("backfill").env_remove("CLERK_SECRET_KEY");
        setup.run(command).await
    };
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing).trim(),
        "error: CLERK_SECRET_KEY is required"
    );

    let publishable = backfill(
        &setup,
        "http://127.0.0.1:1",
        &[],
        &[("CLERK_SECRET_KEY", "pk_test_Y2xlcmsuZXhhbXBsZSQ")],
    )
    .await;
    assert_eq!(publishable.status.code(), Some(2));
    let message = stderr(&publishable);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("CLERK_SECRET_KEY must be a Backend API secret key"),
        "{message}"
    );
    assert!(
        !message.contains("pk_test_Y2xlcmsuZXhhbXBsZSQ"),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_in_one_line_that_does_not_show_it() {
    let (users, organizations, memberships) = instance(2);
    let stub = Stub::start(users, organizations, memberships).await;
    let setup = Setup::new();
    let wrong = "sk_test_wrong_0123456789abcdefghij";
    let output = backfill(&setup, &stub.url, &[], &[("CLERK_SECRET_KEY", wrong)]).await;
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("refused CLERK_SECRET_KEY (401 Unauthorized"),
        "{message}"
    );
    assert!(!message.contains(wrong), "the key leaked: {message}");
    assert!(!clerk_stub::stdout(&output).contains(wrong));
    assert!(setup.events().await.is_empty());
}

#[tokio::test]
async fn workers_apply_a_backfill_and_a_newer_webhook_keeps_its_state() {
    let (users, organizations, memberships) = instance(2_500);
    let stub = Stub::start(users.clone(), organizations, memberships).await;
    let setup = Setup::new();
    let db = TestDatabase::new().await;
    // A webhook newer than what the API lists, delivered before the backfill for one user
    // and after it for another.
    let live = |n: usize| {
        let id = &users[n].id;
        let updated_at = users[n].updated_at + 60_000;
        let body = serde_json::json!({
            "object": "event", "type": "user.updated", "timestamp": updated_at,
            "data": {"object": "user", "id": id, "first_name": "From a webhook", "updated_at": updated_at,
                     "email_addresses": [], "primary_email_address_id": null}
        });
        (format!("msg_live_{n}"), body.to_string())
    };
    setup.enqueue(live(7)).await;
    let summary =
        json(&backfill(&setup, &stub.url, &["--json"], &[("DATABASE_URL", &db.url)]).await);
    assert_eq!(summary["queued"], 2_505);
    setup.enqueue(live(8)).await;

    let worker = clerk_sync_worker::Worker::build(clerk_stub::worker_config(&setup, &db.url))
        .await
        .unwrap();
    worker.drain(Duration::from_secs(120)).await.unwrap();

    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM users WHERE deleted_at IS NULL").await,
        2_500
    );
    assert_eq!(count("SELECT count(*) FROM organizations").await, 2);
    assert_eq!(
        count("SELECT count(*) FROM organization_memberships").await,
        3
    );
    assert_eq!(
        count("SELECT count(*) FROM processed_webhooks WHERE svix_id LIKE 'backfill:%'").await,
        2_505
    );
    for n in [7, 8] {
        let name: String = client
            .query_one(
                "SELECT first_name FROM users WHERE clerk_id = $1",
                &[&users[n].id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(name, "From a webhook", "user {n} lost the newer state");
    }
    let other: String = client
        .query_one(
            "SELECT first_name FROM users WHERE clerk_id = $1",
            &[&users[9].id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(other, "User 9");

    // The database is now level with Clerk (two users are ahead of it, which is no drift).
    let verify = {
        let mut command = setup.cli(&stub.url);
        command.arg("verify").env("DATABASE_URL", &db.url);
        setup.run(command).await
    };
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}{}",
        clerk_stub::stdout(&verify),
        stderr(&verify)
    );
}

/// `clerk-sync backfill ARGS` against the stub, with extra environment.
async fn backfill(setup: &Setup, stub_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = setup.cli(stub_url);
    command
        .arg("backfill")
        .args(args)
        .env("DATABASE_URL", setup.database_url().await)
        .envs(env.iter().copied());
    setup.run(command).await
}
