//! The verifier, on whatever a sender can put in the headers and body, and `sign` against it.
//!
//! Input, NUL-separated: now, tolerance (decimal, or any bytes folded into a number),
//! secrets (`whsec_…`, several during a rotation; a fixed one when these do not parse), id,
//! timestamp, signature header, then the body (the rest, NULs included).
//!
//! Checked: `verify` returns for any input and says `Ok` only within the tolerance and with a
//! matching entry; what `sign` makes with any configured secret verifies, also among other
//! entries and at either edge of the window; a changed body, id or timestamp never does.

#![no_main]

use clerk_sync_fuzz::{number, parts};
use clerk_sync_signature::{SigningSecrets, Verifier, VerifyError, WebhookHeaders, sign};
use libfuzzer_sys::fuzz_target;

/// The Svix SDKs' test secret, for inputs whose secrets part does not parse.
const FALLBACK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fuzz_target!(|data: &[u8]| {
    let [now, tolerance, secrets, id, timestamp, signature, body] = parts(data, 7)[..] else {
        unreachable!("parts returns as many parts as asked")
    };
    let now = number(now);
    let tolerance = number(tolerance);
    let secrets: SigningSecrets = std::str::from_utf8(secrets.unwrap_or_default())
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| FALLBACK_SECRET.parse().expect("the fallback secret parses"));
    let body = body.unwrap_or_default();
    let verifier = Verifier::new(secrets.clone(), tolerance);

    // Arbitrary headers, as the receiver would pass them on.
    let sent = [
        ("svix-id", id),
        ("svix-timestamp", timestamp),
        ("svix-signature", signature),
    ];
    let lookup = |name: &str| sent.iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v);
    if let Ok(headers) = WebhookHeaders::from_lookup(lookup) {
        let verdict = verifier.verify(&headers, body, now);
        let signature_only = verifier.verify_signature(&headers, body);
        let in_window = headers
            .timestamp
            .is_some_and(|t| t.abs_diff(now) <= tolerance);
        match verdict {
            Ok(()) => {
                assert!(in_window, "accepted outside the tolerance");
                assert_eq!(signature_only, Ok(()), "accepted without a matching entry");
            }
            Err(VerifyError::TimestampOutOfTolerance) => assert!(!in_window),
            Err(VerifyError::InvalidSignature) => {
                assert!(in_window, "the window is checked before the signature");
                assert_eq!(signature_only, Err(VerifyError::InvalidSignature));
            }
        }
    }

    // What `sign` makes verifies: with each configured secret, after any other entries, at
    // both edges of the window.
    let id = String::from_utf8_lossy(id.unwrap_or_default());
    let timestamp = number(timestamp);
    let timestamp_raw = timestamp.to_string();
    let others = String::from_utf8_lossy(signature.unwrap_or_default());
    for secret in secrets.iter() {
        let signed = sign(secret, &id, timestamp, body);
        let among_others = format!("{others} {signed}");
        let headers = |signature| WebhookHeaders {
            id: &id,
            timestamp_raw: &timestamp_raw,
            timestamp: Some(timestamp),
            signature,
        };
        for at in [
            timestamp,
            timestamp.saturating_add(tolerance),
            timestamp.saturating_sub(tolerance),
        ] {
            assert_eq!(verifier.verify(&headers(&signed), body, at), Ok(()));
            assert_eq!(verifier.verify(&headers(&among_others), body, at), Ok(()));
        }
        if let Some(late) = timestamp
            .checked_add(tolerance)
            .and_then(|t| t.checked_add(1))
        {
            assert_eq!(
                verifier.verify(&headers(&signed), body, late),
                Err(VerifyError::TimestampOutOfTolerance)
            );
        }

        // Any change to what the signature covers breaks it.
        let mut longer = body.to_vec();
        longer.push(b' ');
        let mut flipped = body.to_vec();
        if let Some(first) = flipped.first_mut() {
            *first ^= 1;
        }
        for changed in [
            &longer[..],
            &flipped[..],
            &body[..body.len().saturating_sub(1)],
        ] {
            if changed != body {
                assert_eq!(
                    verifier.verify_signature(&headers(&signed), changed),
                    Err(VerifyError::InvalidSignature),
                    "a changed body verified"
                );
            }
        }
        let other_id = format!("{id}x");
        let padded_timestamp = format!("0{timestamp_raw}");
        for changed in [
            WebhookHeaders {
                id: &other_id,
                ..headers(&signed)
            },
            WebhookHeaders {
                timestamp_raw: &padded_timestamp,
                ..headers(&signed)
            },
        ] {
            assert_eq!(
                verifier.verify_signature(&changed, body),
                Err(VerifyError::InvalidSignature),
                "a changed id or timestamp verified"
            );
        }
    }
});
