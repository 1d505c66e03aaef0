//! The stream entry decoder reads whatever Redis hands it: entries we wrote, entries an
//! older version wrote, and entries someone added by hand with `redis-cli`. Whatever it
//! is given, it answers an entry or an error, never a panic, and what we write reads back.

use std::collections::HashMap;

use clerk_sync_queue::{Entry, EntryError, field};
use proptest::prelude::*;

fn entry() -> impl Strategy<Value = Entry> {
    (
        ".*",
        "[0-9]{0,12}",
        "[a-z._]{0,30}",
        proptest::collection::vec(any::<u8>(), 0..512),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(svix_id, svix_timestamp, event_type, payload, received_at, attempt)| Entry {
                svix_id,
                svix_timestamp,
                event_type,
                payload,
                received_at,
                attempt,
            },
        )
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(field::SVIX_ID.to_owned()),
        Just(field::SVIX_TIMESTAMP.to_owned()),
        Just(field::TYPE.to_owned()),
        Just(field::PAYLOAD.to_owned()),
        Just(field::RECEIVED_AT.to_owned()),
        Just(field::ATTEMPT.to_owned()),
        "[a-z_]{1,12}",
    ]
}

proptest! {
    #[test]
    fn every_entry_reads_back_as_written(entry in entry()) {
        let fields: HashMap<String, Vec<u8>> = entry
            .fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.into_owned()))
            .collect();
        prop_assert_eq!(Entry::from_fields(&fields), Ok(entry));
    }

    #[test]
    fn any_field_map_decodes_or_says_which_field_is_wrong(
        fields in proptest::collection::hash_map(
            field_name(),
            proptest::collection::vec(any::<u8>(), 0..64),
            0..8,
        )
    ) {
        match Entry::from_fields(&fields) {
            Ok(entry) => {
                prop_assert_eq!(Some(entry.svix_id.as_bytes()), fields.get(field::SVIX_ID).map(Vec::as_slice));
                prop_assert_eq!(Some(&entry.payload), fields.get(field::PAYLOAD));
            }
            Err(EntryError::MissingField(name)) => prop_assert!(!fields.contains_key(name)),
            Err(EntryError::NotUtf8(name) | EntryError::NotANumber(name)) => {
                prop_assert!(fields.contains_key(name));
            }
        }
    }

    #[test]
    fn a_type_is_found_only_in_a_json_object(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let found = Entry::type_of(&body);
        if !found.is_empty() {
            let value: serde_json::Value = serde_json::from_slice(&body).expect("a type came from JSON");
            prop_assert_eq!(value.get("type").and_then(|t| t.as_str()), Some(found.as_str()));
        }
    }

    #[test]
    fn the_type_of_any_object_with_a_string_type_is_that_string(event_type in ".*", pad in "[ \t\r\n]{0,4}") {
        let body = format!("{pad}{}", serde_json::json!({ "type": event_type, "data": {} }));
        prop_assert_eq!(Entry::type_of(body.as_bytes()), event_type);
    }
}
