//! Many deliveries at once: each answered for itself, a repeated id queued once, and a
//! failing Redis failing every request that was waiting with it.

use std::collections::HashMap;

use crate::helpers::{Delivery, spawn_app};

/// Posts every delivery at once; answers in the same order, as (status, body).
async fn post_all(
    app: &crate::helpers::TestApp,
    deliveries: &[Delivery],
) -> Vec<(u16, serde_json::Value)> {
    let requests = deliveries.iter().map(|d| async move {
        let response = app.post(d).await;
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    });
    futures_util::future::join_all(requests).await
}

#[tokio::test]
async fn concurrent_deliveries_each_get_their_own_answer() {
    let app = spawn_app().await;
    // Every id delivered twice at the same moment, as Svix does after a lost response.
    let deliveries: Vec<Delivery> = (0..96)
        .map(|n| {
            let id = format!("msg_group_{}", n % 48);
            Delivery::signed(&id, format!(r#"{{"n":{}}}"#, n % 48).as_bytes())
        })
        .collect();
    let answers = post_all(&app, &deliveries).await;

    let events = app.events().await;
    assert_eq!(events.len(), 48, "each id queued once");
    let svix_id_of: HashMap<&str, String> = events
        .iter()
        .map(|(entry, f)| {
            (
                entry.as_str(),
                String::from_utf8_lossy(&f["svix_id"]).into(),
            )
        })
        .collect();
    let mut queued: HashMap<&str, usize> = HashMap::new();
    let mut duplicates: HashMap<&str, usize> = HashMap::new();
    for (delivery, (status, body)) in deliveries.iter().zip(&answers) {
        match (status, body["status"].as_str()) {
            (202, Some("queued")) => {
                let entry = body["entry"].as_str().unwrap();
                assert_eq!(svix_id_of.get(entry), Some(&delivery.id), "{body}");
                *queued.entry(&delivery.id).or_default() += 1;
            }
            (200, Some("duplicate")) => *duplicates.entry(&delivery.id).or_default() += 1,
            other => panic!("{}: {other:?}", delivery.id),
        }
    }
    assert_eq!(queued.len(), 48);
    assert!(queued.values().all(|&n| n == 1), "{queued:?}");
    assert_eq!(duplicates.len(), 48);
}

#[tokio::test]
async fn a_failing_redis_fails_every_waiting_request_and_writes_nothing() {
    let app = spawn_app().await;
    let mut conn = app.redis().await;
    // A key of the wrong type makes the group's XADD fail inside the script.
    let _: () = clerk_sync_queue::redis::cmd("SET")
        .arg(app.keys.events())
        .arg("not a stream")
        .query_async(&mut conn)
        .await
        .unwrap();
    let deliveries: Vec<Delivery> = (0..32)
        .map(|n| Delivery::signed(&format!("msg_fail_{n}"), b"{}"))
        .collect();
    for (status, body) in post_all(&app, &deliveries).await {
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("queue_unavailable"))
        );
    }
    let guards: Vec<String> = clerk_sync_queue::redis::cmd("KEYS")
        .arg(app.keys.guard_pattern())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(guards.is_empty(), "no guard written: {guards:?}");

    let _: () = clerk_sync_queue::redis::cmd("DEL")
        .arg(app.keys.events())
        .query_async(&mut conn)
        .await
        .unwrap();
    // Svix delivers them again: every one is queued, none is taken for a duplicate.
    for (status, _) in post_all(&app, &deliveries).await {
        assert_eq!(status, 202);
    }
    assert_eq!(app.events().await.len(), 32);
}
