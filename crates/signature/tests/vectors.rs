//! Every case of the Svix SDKs' published vectors, through the pure verifier with the clock
//! pinned to the case's `now`.

#![allow(clippy::unwrap_used)] // a test that cannot parse its fixture should stop there

use clerk_sync_signature::{
    DEFAULT_TOLERANCE_SECS, HeaderError, SigningSecret, SigningSecrets, Verifier, WebhookHeaders,
    sign,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret: String,
    msg_id: String,
    timestamp: u64,
    timestamp_header: Option<String>,
    payload: String,
    signature_header: String,
    expected: String,
    now: u64,
    header_style: String,
    omit_headers: Vec<String>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/corpus/svix_vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("corpus is readable");
    serde_json::from_str(&text).expect("corpus parses")
}

fn run(v: &Vector) -> Result<(), String> {
    let secrets: SigningSecrets = v.secret.parse().map_err(|e| format!("secret: {e}"))?;
    let timestamp = v
        .timestamp_header
        .clone()
        .unwrap_or_else(|| v.timestamp.to_string());
    let prefix = if v.header_style == "webhook" {
        "webhook"
    } else {
        "svix"
    };
    let headers: Vec<(String, Vec<u8>)> = [
        ("id", v.msg_id.clone()),
        ("timestamp", timestamp),
        ("signature", v.signature_header.clone()),
    ]
    .into_iter()
    .map(|(suffix, value)| (format!("{prefix}-{suffix}"), value.into_bytes()))
    .filter(|(name, _)| !v.omit_headers.contains(name))
    .collect();
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_slice())
    };
    let parsed = WebhookHeaders::from_lookup(lookup).map_err(|e: HeaderError| e.to_string())?;
    Verifier::new(secrets, DEFAULT_TOLERANCE_SECS)
        .verify(&parsed, v.payload.as_bytes(), v.now)
        .map_err(|e| e.to_string())
}

#[test]
fn every_svix_vector_verifies_as_the_reference_does() {
    let vectors = vectors();
    assert!(vectors.len() >= 17, "the corpus lost cases");
    for v in &vectors {
        let outcome = run(v);
        match v.expected.as_str() {
            "ok" => assert!(outcome.is_ok(), "{}: {:?}", v.name, outcome),
            "error" => assert!(outcome.is_err(), "{} verified but must not", v.name),
            other => panic!("{}: unknown expectation {other}", v.name),
        }
    }
}

#[test]
fn sign_reproduces_every_reference_signature() {
    for v in vectors()
        .iter()
        .filter(|v| v.name.starts_with("sign_reference"))
    {
        let secret: SigningSecret = v.secret.parse().unwrap();
        let signature = sign(&secret, &v.msg_id, v.timestamp, v.payload.as_bytes());
        assert_eq!(signature, v.signature_header, "{}", v.name);
    }
}

#[test]
fn a_request_signed_by_either_rotation_secret_verifies() {
    let old: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
    let new: SigningSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse().unwrap();
    let both: SigningSecrets =
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse()
            .unwrap();
    let verifier = Verifier::new(both, 300);
    for secret in [&old, &new] {
        let sig = sign(secret, "msg_1", 1000, b"{}");
        let headers = WebhookHeaders {
            id: "msg_1",
            timestamp_raw: "1000",
            timestamp: Some(1000),
            signature: &sig,
        };
        assert_eq!(verifier.verify(&headers, b"{}", 1000), Ok(()));
    }
    let only_new = Verifier::new(new.into(), 300);
    let sig = sign(&old, "msg_1", 1000, b"{}");
    let headers = WebhookHeaders {
        id: "msg_1",
        timestamp_raw: "1000",
        timestamp: Some(1000),
        signature: &sig,
    };
    assert!(only_new.verify(&headers, b"{}", 1000).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> SigningSecret {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap()
    }

    proptest! {
        #[test]
        fn what_sign_produces_verify_accepts(id in "[!-~]{1,64}", ts in 0u64..4_000_000_000, body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let sig = sign(&secret(), &id, ts, &body);
            let ts_text = ts.to_string();
            let headers = WebhookHeaders { id: &id, timestamp_raw: &ts_text, timestamp: Some(ts), signature: &sig };
            prop_assert_eq!(Verifier::new(secret().into(), 300).verify(&headers, &body, ts), Ok(()));
        }

        #[test]
        fn flipping_any_body_bit_breaks_the_signature(body in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<prop::sample::Index>()) {
            let sig = sign(&secret(), "msg", 5, &body);
            let mut tampered = body.clone();
            let i = bit.index(body.len() * 8);
            tampered[i / 8] ^= 1 << (i % 8);
            let headers = WebhookHeaders { id: "msg", timestamp_raw: "5", timestamp: Some(5), signature: &sig };
            prop_assert!(Verifier::new(secret().into(), 300).verify(&headers, &tampered, 5).is_err());
        }

        #[test]
        fn arbitrary_signature_headers_never_panic(header in ".{0,2048}") {
            let headers = WebhookHeaders { id: "msg", timestamp_raw: "5", timestamp: Some(5), signature: &header };
            let _ = Verifier::new(secret().into(), 300).verify(&headers, b"{}", 5);
        }
    }
}
