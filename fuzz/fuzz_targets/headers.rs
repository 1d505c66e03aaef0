//! The signature headers, as the receiver reads them from a request.
//!
//! Input: one byte whose low six bits say which headers are present, then their values
//! separated by NUL, in the order of `NAMES`. Whatever the bytes, `from_lookup` returns, and
//! what it accepts is of the form the verifier and the Redis key names rely on, taken from
//! the `svix-*` header where both spellings are sent.

#![no_main]

use clerk_sync_fuzz::parts;
use clerk_sync_signature::{HeaderError, HeaderName, WebhookHeaders};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fuzz_target!(|data: &[u8]| {
    let Some((&present, rest)) = data.split_first() else {
        return;
    };
    let values = parts(rest, NAMES.len());
    let sent: Vec<Option<&[u8]>> = values
        .iter()
        .enumerate()
        .map(|(i, value)| value.filter(|_| present & (1 << i) != 0))
        .collect();
    let lookup = |name: &str| NAMES.iter().position(|n| *n == name).and_then(|i| sent[i]);

    // What the parser must have read for one header: the Svix spelling when sent, else the
    // Standard Webhooks one.
    let source = |header: HeaderName| {
        let at = |name: &str| NAMES.iter().position(|n| *n == name).and_then(|i| sent[i]);
        at(header.svix()).or_else(|| at(header.standard()))
    };

    match WebhookHeaders::from_lookup(lookup) {
        Ok(headers) => {
            for (header, value) in [
                (HeaderName::Id, headers.id),
                (HeaderName::Timestamp, headers.timestamp_raw),
                (HeaderName::Signature, headers.signature),
            ] {
                let raw = source(header).expect("an accepted header was sent");
                let text = std::str::from_utf8(raw).expect("an accepted header is UTF-8");
                assert_eq!(value, text.trim(), "{header} read from the wrong header");
                assert!(!value.is_empty(), "{header} accepted empty");
            }
            assert!(
                headers.id.len() <= 256,
                "an over-long id reaches Redis keys"
            );
            assert!(
                headers.id.bytes().all(|b| b.is_ascii_graphic()),
                "an id with spaces or controls reaches Redis keys"
            );
            assert!(
                headers.timestamp_raw.bytes().all(|b| b.is_ascii_digit()),
                "a timestamp that is not digits is accepted"
            );
            assert_eq!(headers.timestamp, headers.timestamp_raw.parse().ok());
        }
        Err(error) => {
            let header = match error {
                HeaderError::Missing(header) => {
                    let absent_or_blank = source(header).is_none_or(|raw| {
                        std::str::from_utf8(raw).is_ok_and(|text| text.trim().is_empty())
                    });
                    assert!(absent_or_blank, "{header} called missing but was sent");
                    header
                }
                HeaderError::Malformed(header, _) => {
                    assert!(source(header).is_some(), "{header} malformed but not sent");
                    header
                }
            };
            let message = error.to_string();
            assert!(message.starts_with(header.svix()), "{message}");
        }
    }
});
