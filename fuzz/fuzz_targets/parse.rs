//! The Clerk payload parser, on any body a verified sender could post.
//!
//! Input: the body. It is parsed twice, with two receipt times, so `received_at` is fuzzed
//! through what it may change and nothing else.
//!
//! Checked: `parse` returns for any body, and depends on `received_at` only where the body
//! has no `timestamp`; only a JSON object is an event; an event of one of Clerk's types is
//! applied, not ignored, and names its object; an error's message never quotes a string of
//! the body longer than 8 characters, value or metadata key (error.rs promises messages
//! without values, because dead letters and logs show them). The event's `type` is the
//! exception: it is logged and labelled by design.

#![no_main]

use clerk_sync_events::{EventData, ParseError, is_clerk_type, parse};
use clerk_sync_fuzz::string_literals;
use libfuzzer_sys::fuzz_target;

const RECEIVED_AT: i64 = 1_700_000_000_000;
const OTHER_RECEIVED_AT: i64 = i64::MIN;

/// Longer than this, a string could identify someone; shorter ones (`true`, `user`, `data`)
/// are bound to appear in messages by chance.
const QUOTABLE_CHARS: usize = 8;

fuzz_target!(|body: &[u8]| {
    let first = parse(body, RECEIVED_AT);
    let second = parse(body, OTHER_RECEIVED_AT);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            if a.timestamp != b.timestamp {
                assert_eq!((a.timestamp, b.timestamp), (RECEIVED_AT, OTHER_RECEIVED_AT));
            }
            let b_at_a = clerk_sync_events::Event {
                timestamp: a.timestamp,
                ..b.clone()
            };
            assert_eq!(a, &b_at_a, "received_at changed more than the timestamp");
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(
                first,
                Some(&b'{'),
                "an event read from a body that is no object"
            );
            if is_clerk_type(&a.event_type) {
                assert_ne!(a.data, EventData::Unhandled, "{} ignored", a.event_type);
            }
            if a.data != EventData::Unhandled {
                assert!(a.object_id().is_some(), "{} has no object id", a.event_type);
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "received_at changed the error");
            assert_quotes_nothing(body, a);
        }
        _ => panic!("received_at decided between success and failure"),
    }
});

/// Fails when the message quotes a long string of the body: a value that its reason would
/// not hold had the value been different, or a key that it holds verbatim whatever the key
/// says (an object's own keys, like a metadata key, unlike a field's name, which the parser
/// reads only when it is spelled right). A message may well contain `email_address` because
/// a field is named so, and that is no quote, even where the body has the same text. Values
/// are looked for in the reason only: a path is made of keys, and in a broken body a key
/// can look like a value.
fn assert_quotes_nothing(body: &[u8], error: &ParseError) {
    let (message, reason) = texts(error);
    let event_type = match error {
        ParseError::Invalid { event_type, .. } => event_type.as_str(),
        _ => "",
    };
    for (text, is_key) in string_literals(body) {
        let shown_in = if is_key { &message } else { &reason };
        if text.chars().count() <= QUOTABLE_CHARS || text == event_type || !shown_in.contains(&text)
        {
            continue;
        }
        let (blinded, stand_in) = blind(body, &text);
        let (blinded_message, blinded_reason) = match parse(&blinded, RECEIVED_AT) {
            Err(other) => texts(&other),
            Ok(_) => Default::default(),
        };
        let quoted = if is_key {
            blinded_message == message.replace(&text, &stand_in)
        } else {
            !blinded_reason.contains(&text)
        };
        assert!(!quoted, "the message quotes the body: {message}");
    }
}

/// The whole message and the part of it that says what is wrong, both less field names.
fn texts(error: &ParseError) -> (String, String) {
    let message = without_field_names(&error.to_string());
    let reason = match error {
        ParseError::Invalid { reason, .. } => without_field_names(reason),
        _ => message.clone(),
    };
    (message, reason)
}

/// The message less the names serde quotes in `missing field `id``, `duplicate field …`:
/// those come from the struct definitions, whatever the body says, and a broken body can
/// hold the same text where the check takes it for a value.
fn without_field_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("field `") {
        let (before, after) = rest.split_at(at + "field `".len());
        out.push_str(before);
        rest = after.find('`').map_or("", |end| &after[end..]);
    }
    out.push_str(rest);
    out
}

/// The body with every string literal of `value` replaced by one of as many characters that
/// shares none of them, and that stand-in.
fn blind(body: &[u8], value: &str) -> (Vec<u8>, String) {
    let letter = if value.contains('Q') { 'W' } else { 'Q' };
    let stand_in = letter.to_string().repeat(value.chars().count());
    let replacement = serde_json::to_vec(&stand_in).expect("a string serialises");
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'"' {
            let start = i;
            i += 1;
            while i < body.len() && body[i] != b'"' {
                i += if body[i] == b'\\' { 2 } else { 1 };
            }
            let end = (i + 1).min(body.len());
            let literal = &body[start..end];
            if serde_json::from_slice::<String>(literal).is_ok_and(|text| text == value) {
                out.extend_from_slice(&replacement);
            } else {
                out.extend_from_slice(literal);
            }
            i = end;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    (out, stand_in)
}
