//! Every published Clerk payload parses; user payloads carry what the worker stores.

#![allow(clippy::unwrap_used)] // a test that cannot read its fixture should stop there

use clerk_sync_events::{EventData, parse};

#[test]
fn every_corpus_payload_parses() {
    for (name, body) in clerk_sync_test_support::clerk_payloads() {
        let event = parse(&body, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected_type = name.split("__").next().unwrap();
        assert_eq!(event.event_type, expected_type, "{name}");
        assert!(
            event.timestamp > 1_600_000_000_000,
            "{name}: timestamp in ms"
        );
    }
}

#[test]
fn the_corpus_user_payloads_become_users() {
    let payloads = clerk_sync_test_support::clerk_payloads();
    let body = |prefix: &str| {
        payloads
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .map(|(_, body)| body.clone())
            .unwrap()
    };

    let docs = parse(&body("user.created__clerk-docs"), 0).unwrap();
    let EventData::UserUpserted(user) = docs.data else {
        panic!("{docs:?}")
    };
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(user.primary_email(), Some("example@example.org"));
    assert_eq!(user.updated_at, Some(1_654_012_591_835));
    assert_eq!(docs.timestamp, 1_654_012_591_835, "ms timestamps stay ms");

    // The spec example's primary address id names no entry of its empty list.
    let spec = parse(&body("user.created__clerk-openapi"), 0).unwrap();
    let EventData::UserUpserted(user) = spec.data else {
        panic!("{spec:?}")
    };
    assert_eq!(user.primary_email(), None);
    assert_eq!(
        spec.timestamp, 1_716_883_200_000,
        "second timestamps become ms"
    );
    assert!(spec.http_request.is_some());

    let deleted = parse(&body("user.deleted"), 0).unwrap();
    let EventData::UserDeleted(d) = deleted.data else {
        panic!("{deleted:?}")
    };
    assert_eq!(d.external_id.as_deref(), Some("ex_123456789"));
}

mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = clerk_sync_events::parse(&body, 0);
        }

        #[test]
        fn arbitrary_json_under_a_user_type_never_panics(data in "\\PC{0,256}") {
            let body = format!(r#"{{"type":"user.updated","data":{data}}}"#);
            let _ = clerk_sync_events::parse(body.as_bytes(), 0);
        }
    }
}
