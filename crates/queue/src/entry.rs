//! An event as it travels through the stream, the retry set and the dead letters, field by
//! field.

use std::borrow::Cow;
use std::collections::HashMap;

/// Field names of a stream entry, as `redis-cli` shows them.
pub mod field {
    /// The message id Svix assigned; the idempotency key all the way to Postgres.
    pub const SVIX_ID: &str = "svix_id";
    /// The `svix-timestamp` header as sent.
    pub const SVIX_TIMESTAMP: &str = "svix_timestamp";
    /// The event's `type`, empty where the body is not JSON.
    pub const TYPE: &str = "type";
    /// The raw request body, byte for byte.
    pub const PAYLOAD: &str = "payload";
    /// When the receiver accepted it, ms since the epoch.
    pub const RECEIVED_AT: &str = "received_at";
    /// Attempts made before this delivery: 0 for a fresh event.
    pub const ATTEMPT: &str = "attempt";
    /// Dead letters only: one human-readable line saying why.
    pub const ERROR: &str = "error";
    /// Dead letters only: when it was dead-lettered, ms since the epoch.
    pub const FAILED_AT: &str = "failed_at";
    /// Dead letters only: how many attempts were made.
    pub const ATTEMPTS: &str = "attempts";
}

/// An event as it travels through `{prefix}:events` and `{prefix}:retry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// See [`field::SVIX_ID`].
    pub svix_id: String,
    /// See [`field::SVIX_TIMESTAMP`].
    pub svix_timestamp: String,
    /// See [`field::TYPE`].
    pub event_type: String,
    /// See [`field::PAYLOAD`]. Bytes, because the receiver never rejects a verified body
    /// for its content; the worker dead-letters what is not JSON.
    pub payload: Vec<u8>,
    /// See [`field::RECEIVED_AT`].
    pub received_at: u64,
    /// See [`field::ATTEMPT`].
    pub attempt: u32,
}

/// A stream entry that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// A field every entry carries is absent.
    #[error("entry has no `{0}` field")]
    MissingField(&'static str),
    /// A numeric field does not hold a number.
    #[error("entry field `{0}` is not a number")]
    NotANumber(&'static str),
    /// A text field is not UTF-8.
    #[error("entry field `{0}` is not UTF-8")]
    NotUtf8(&'static str),
}

/// For callers that keep their entry: [`crate::Enqueuer::enqueue`] takes either, so the
/// receiver hands over its body without a copy.
impl From<&Entry> for Entry {
    fn from(entry: &Entry) -> Self {
        entry.clone()
    }
}

impl Entry {
    /// How many fields an entry of `{prefix}:events` has.
    pub const FIELDS: usize = 6;

    /// The entry's fields in stream order, ready for XADD: the text and the payload
    /// borrowed, so that writing an entry copies its body once, into the command.
    pub fn fields(&self) -> [(&'static str, Cow<'_, [u8]>); Self::FIELDS] {
        [
            (field::SVIX_ID, Cow::Borrowed(self.svix_id.as_bytes())),
            (
                field::SVIX_TIMESTAMP,
                Cow::Borrowed(self.svix_timestamp.as_bytes()),
            ),
            (field::TYPE, Cow::Borrowed(self.event_type.as_bytes())),
            (field::PAYLOAD, Cow::Borrowed(&self.payload)),
            (
                field::RECEIVED_AT,
                Cow::Owned(self.received_at.to_string().into_bytes()),
            ),
            (
                field::ATTEMPT,
                Cow::Owned(self.attempt.to_string().into_bytes()),
            ),
        ]
    }

    /// Reads an entry from the field map XREADGROUP/XRANGE return.
    pub fn from_fields(fields: &HashMap<String, Vec<u8>>) -> Result<Self, EntryError> {
        let bytes = |name: &'static str| fields.get(name).ok_or(EntryError::MissingField(name));
        let text = |name: &'static str| {
            bytes(name)
                .and_then(|b| String::from_utf8(b.clone()).map_err(|_| EntryError::NotUtf8(name)))
        };
        let number = |name: &'static str| {
            text(name).and_then(|t| t.parse::<u64>().map_err(|_| EntryError::NotANumber(name)))
        };
        Ok(Self {
            svix_id: text(field::SVIX_ID)?,
            svix_timestamp: text(field::SVIX_TIMESTAMP).unwrap_or_default(),
            event_type: text(field::TYPE).unwrap_or_default(),
            payload: bytes(field::PAYLOAD)?.clone(),
            received_at: number(field::RECEIVED_AT).unwrap_or(0),
            attempt: match fields.get(field::ATTEMPT) {
                None => 0,
                Some(_) => u32::try_from(number(field::ATTEMPT)?)
                    .map_err(|_| EntryError::NotANumber(field::ATTEMPT))?,
            },
        })
    }

    /// The event `type` of a body, or empty when the body is not a JSON object with one.
    /// Only the envelope is read: the receiver must not judge a verified body's content.
    pub fn type_of(body: &[u8]) -> String {
        #[derive(serde::Deserialize)]
        struct Envelope {
            #[serde(rename = "type")]
            event_type: Option<String>,
        }
        // A derived struct also reads a JSON array, by position: `["x"]` would have type `x`.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return String::new();
        }
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .and_then(|e| e.event_type)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            svix_id: "msg_1".into(),
            svix_timestamp: "1700000000".into(),
            event_type: "user.created".into(),
            payload: br#"{"type":"user.created"}"#.to_vec(),
            received_at: 1_700_000_000_123,
            attempt: 3,
        }
    }

    #[test]
    fn an_entry_survives_a_round_trip_through_its_fields() {
        let entry = sample();
        let map: HashMap<String, Vec<u8>> = entry
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        assert_eq!(Entry::from_fields(&map).unwrap(), entry);
    }

    #[test]
    fn an_entry_without_payload_is_refused() {
        let mut map: HashMap<String, Vec<u8>> = sample()
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        map.remove(field::PAYLOAD);
        assert_eq!(
            Entry::from_fields(&map).unwrap_err(),
            EntryError::MissingField("payload")
        );
    }

    #[test]
    fn the_type_is_read_from_json_and_empty_otherwise() {
        assert_eq!(
            Entry::type_of(br#"{"type":"user.updated","data":{}}"#),
            "user.updated"
        );
        assert_eq!(Entry::type_of(b"not json"), "");
        assert_eq!(Entry::type_of(br#"{"type":42}"#), "");
        assert_eq!(Entry::type_of(b"[1,2]"), "");
    }
}
