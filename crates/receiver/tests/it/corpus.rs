//! Every published Clerk payload through a real receiver into Redis, byte for byte, once.

use std::collections::HashSet;

use clerk_sync_queue::Entry;

use crate::helpers::{Delivery, spawn_app};

#[tokio::test]
async fn every_clerk_payload_is_queued_byte_for_byte() {
    let app = spawn_app().await;
    let payloads = clerk_sync_test_support::clerk_payloads();
    for (i, (name, body)) in payloads.iter().enumerate() {
        let delivery = Delivery::signed(&format!("msg_corpus_{i}"), body);
        let response = app.post(&delivery).await;
        assert_eq!(response.status(), 202, "{name}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["status"], "queued", "{name}");
        assert!(json["entry"].as_str().unwrap().contains('-'), "{name}");
    }

    let events = app.events().await;
    assert_eq!(events.len(), payloads.len());
    for (i, ((_, fields), (name, body))) in events.iter().zip(&payloads).enumerate() {
        let entry = Entry::from_fields(fields).unwrap();
        assert_eq!(
            entry.payload, *body,
            "{name}: payload must be byte for byte"
        );
        assert_eq!(entry.svix_id, format!("msg_corpus_{i}"));
        assert_eq!(entry.attempt, 0);
        let expected_type = name.split("__").next().unwrap();
        assert_eq!(entry.event_type, expected_type, "{name}");
        assert!(entry.svix_timestamp.parse::<u64>().is_ok());
        assert!(
            entry.received_at > 1_600_000_000_000,
            "received_at is in ms"
        );
    }
}

#[tokio::test]
async fn a_repeated_delivery_is_answered_200_duplicate_and_queued_once() {
    let app = spawn_app().await;
    let delivery = Delivery::signed("msg_dup", br#"{"type":"user.created","data":{}}"#);
    assert_eq!(app.post(&delivery).await.status(), 202);
    let second = app.post(&delivery).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "duplicate"})
    );
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_id_make_one_entry() {
    let app = spawn_app().await;
    let delivery = Delivery::signed("msg_race", br#"{"type":"user.updated"}"#);
    let statuses = futures_util::future::join_all((0..50).map(|_| app.post(&delivery)))
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect::<Vec<_>>();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_still_queued_with_an_empty_type() {
    let app = spawn_app().await;
    let delivery = Delivery::signed("msg_text", b"\x00not json\xff");
    assert_eq!(app.post(&delivery).await.status(), 202);
    let events = app.events().await;
    let entry = Entry::from_fields(&events[0].1).unwrap();
    assert_eq!(entry.event_type, "");
    assert_eq!(entry.payload, b"\x00not json\xff");
}

#[tokio::test]
async fn standard_webhooks_header_names_are_accepted() {
    let app = spawn_app().await;
    let delivery = Delivery::signed("msg_std", br#"{"type":"user.created"}"#);
    let response = app
        .client
        .post(format!("{}/webhooks/clerk", app.address))
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", &delivery.timestamp)
        .header("webhook-signature", &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn distinct_ids_are_all_queued() {
    let app = spawn_app().await;
    for i in 0..20 {
        let d = Delivery::signed(&format!("msg_{i}"), br#"{"type":"session.created"}"#);
        assert_eq!(app.post(&d).await.status(), 202);
    }
    let ids: HashSet<String> = app
        .events()
        .await
        .iter()
        .map(|(_, f)| Entry::from_fields(f).unwrap().svix_id)
        .collect();
    assert_eq!(ids.len(), 20);
}
