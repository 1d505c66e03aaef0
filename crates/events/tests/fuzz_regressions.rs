//! Inputs the `parse` fuzz target's properties caught, kept so they stay fixed
//! (`fuzz/regressions/parse/` holds the same bodies, for the fuzzer to start from).

#![allow(clippy::unwrap_used)] // a regression that no longer fails as expected should stop there

use clerk_sync_events::{ParseError, parse};

#[test]
fn an_array_body_is_no_event_even_with_every_envelope_field_in_place() {
    // array-envelope: serde's derived envelope read the array by position, so this was
    // applied as a user.created.
    assert_eq!(
        parse(br#"["user.created",0,null,null,{"id":"user_1"}]"#, 0),
        Err(ParseError::NoType)
    );
}

#[test]
fn metadata_nested_past_the_limit_does_not_quote_its_keys() {
    // deep-metadata-key: serde_json stops at 128 levels, and the error's path named every
    // key on the way down, metadata keys included.
    let deep = format!("{}{}", "[".repeat(140), "]".repeat(140));
    let body = format!(
        r#"{{"type":"user.created","data":{{"id":"user_1","public_metadata":{{"jane.doe@example.com":{deep}}}}}}}"#
    );
    let error = parse(body.as_bytes(), 0).unwrap_err();
    let message = error.to_string();
    assert!(!message.contains("jane"), "{message}");
    assert_eq!(
        error,
        ParseError::NotJson("recursion limit exceeded".to_owned())
    );
}

#[test]
fn a_timestamp_far_below_any_time_is_read_without_overflow() {
    // crash-6560500078269e8b11a36ad32aa97c3dac0430c6: the float saturated to i64::MIN, and
    // telling seconds from milliseconds took its absolute value, which overflowed.
    assert_eq!(clerk_sync_events::to_millis(i64::MIN), i64::MIN);
    assert_eq!(clerk_sync_events::to_millis(i64::MAX), i64::MAX);
    assert_eq!(
        clerk_sync_events::to_millis(-1_716_883_200),
        -1_716_883_200_000
    );
    let event = parse(
        br#"{"type":"user.deleted","timestamp":-2.0e23,"data":{"id":"user_1","deleted":true}}"#,
        0,
    )
    .unwrap();
    assert_eq!(event.timestamp, i64::MIN);
    assert!(matches!(
        parse(br#"[".cottaed",-200002743110316963455770]"#, 0),
        Err(ParseError::NoType)
    ));
}
