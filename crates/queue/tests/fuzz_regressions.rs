//! Inputs the `entry` fuzz target found, kept so they stay fixed (`fuzz/regressions/entry/`
//! holds the same bytes, for the fuzzer to start from).

use clerk_sync_queue::Entry;

#[test]
fn a_json_array_has_no_type_even_when_it_starts_with_a_string() {
    // crash-d724446f132265fd140eae335cc7dc030194ab79: serde's derived struct read the array
    // by position and took its first string for the type.
    assert_eq!(Entry::type_of(br#"["'*"]"#), "");
    assert_eq!(Entry::type_of(br#" ["user.created", {}]"#), "");
}

#[test]
fn an_object_keeps_its_type_whatever_whitespace_precedes_it() {
    assert_eq!(
        Entry::type_of(b" \r\n\t{\"type\":\"user.created\"}"),
        "user.created"
    );
}
