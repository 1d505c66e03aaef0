//! The stream entry decoder, on whatever a Redis stream can hold, and the receiver's read of
//! an event's `type`.
//!
//! The whole input is a body for `Entry::type_of`; cut at NULs into name, value, name,
//! value, … it is also a field map for `Entry::from_fields` (a name seen twice keeps its last
//! value, as a map built from XRANGE would).
//!
//! Checked: neither panics; `type_of` names a type only for a JSON object holding that
//! `type`, as its documentation says; an entry read from fields carries exactly their values
//! and survives a round trip through `Entry::fields`.

#![no_main]

use std::collections::HashMap;

use clerk_sync_queue::{Entry, field};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let event_type = Entry::type_of(data);
    if !event_type.is_empty() {
        // serde_json's `Value` stops at 128 levels while `type_of` skips what it does not
        // read, so a deeper body has no tree to compare against: it must still be an object.
        let first = data.iter().find(|b| !b.is_ascii_whitespace());
        assert_eq!(
            first,
            Some(&b'{'),
            "a type read from a body that is no object"
        );
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            assert_eq!(
                value["type"],
                event_type.as_str(),
                "the wrong type was read"
            );
        }
    }

    let mut pieces = data.split(|&b| b == 0);
    let mut fields: HashMap<String, Vec<u8>> = HashMap::new();
    while let (Some(name), Some(value)) = (pieces.next(), pieces.next()) {
        fields.insert(String::from_utf8_lossy(name).into_owned(), value.to_vec());
    }
    let Ok(entry) = Entry::from_fields(&fields) else {
        return;
    };
    assert_eq!(entry.svix_id.as_bytes(), fields[field::SVIX_ID]);
    assert_eq!(entry.payload, fields[field::PAYLOAD]);
    for (name, value) in [
        (field::SVIX_TIMESTAMP, &entry.svix_timestamp),
        (field::TYPE, &entry.event_type),
    ] {
        if let Some(sent) = fields.get(name).filter(|v| std::str::from_utf8(v).is_ok()) {
            assert_eq!(value.as_bytes(), sent, "{name} not read as sent");
        }
    }
    if entry.attempt > 0 {
        assert!(fields.contains_key(field::ATTEMPT));
    }

    let written: HashMap<String, Vec<u8>> = entry
        .fields()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    assert_eq!(
        Entry::from_fields(&written).as_ref(),
        Ok(&entry),
        "an entry does not survive its own fields"
    );
});
