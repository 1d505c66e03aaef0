//! The three `svix-*` headers, read and bounded before anything is verified.

use std::fmt;

/// Longest `svix-id` accepted. Svix ids are ~30 characters; the cap keeps hostile ids out of
/// Redis key names.
const MAX_ID_LEN: usize = 256;

/// One of the three headers a signed webhook carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderName {
    /// `svix-id` / `webhook-id`: the message id, stable across redeliveries.
    Id,
    /// `svix-timestamp` / `webhook-timestamp`: integer Unix seconds.
    Timestamp,
    /// `svix-signature` / `webhook-signature`: space-separated `v1,<base64>` entries.
    Signature,
}

impl HeaderName {
    /// The Svix spelling, used in error messages.
    pub fn svix(self) -> &'static str {
        match self {
            Self::Id => "svix-id",
            Self::Timestamp => "svix-timestamp",
            Self::Signature => "svix-signature",
        }
    }

    /// The Standard Webhooks spelling, accepted where the Svix one is absent.
    pub fn standard(self) -> &'static str {
        match self {
            Self::Id => "webhook-id",
            Self::Timestamp => "webhook-timestamp",
            Self::Signature => "webhook-signature",
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.svix())
    }
}

/// A header is absent or not of its form: the request is refused before any HMAC is computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Absent under both spellings, or present but empty.
    #[error("{0} header is missing")]
    Missing(HeaderName),
    /// Present but not of its form; the reason names what is wrong, never the value.
    #[error("{0} header {1}")]
    Malformed(HeaderName, &'static str),
}

/// The three signature headers of one request, checked for form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// The message id, visible ASCII.
    pub id: &'a str,
    /// The timestamp exactly as sent: the signature covers these bytes, not their value.
    pub timestamp_raw: &'a str,
    /// The timestamp's value; `None` when its digits do not fit in 64 bits (far outside any
    /// tolerance, so not a form error).
    pub timestamp: Option<u64>,
    /// The signature header as sent.
    pub signature: &'a str,
}

impl<'a> WebhookHeaders<'a> {
    /// Reads the headers through `get`, which returns a header's raw bytes by lowercase name.
    /// The Svix name wins where both spellings are present.
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a [u8]>) -> Result<Self, HeaderError> {
        let read = |name: HeaderName| -> Result<&'a str, HeaderError> {
            let raw = get(name.svix())
                .or_else(|| get(name.standard()))
                .ok_or(HeaderError::Missing(name))?;
            let text = std::str::from_utf8(raw)
                .map_err(|_| HeaderError::Malformed(name, "is not UTF-8"))?
                .trim();
            if text.is_empty() {
                return Err(HeaderError::Missing(name));
            }
            Ok(text)
        };

        let id = read(HeaderName::Id)?;
        if id.len() > MAX_ID_LEN {
            return Err(HeaderError::Malformed(
                HeaderName::Id,
                "is longer than 256 bytes",
            ));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HeaderError::Malformed(
                HeaderName::Id,
                "must be visible ASCII without spaces",
            ));
        }

        let timestamp_raw = read(HeaderName::Timestamp)?;
        if !timestamp_raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeaderError::Malformed(
                HeaderName::Timestamp,
                "must be a non-negative integer number of seconds",
            ));
        }
        let timestamp = timestamp_raw.parse::<u64>().ok();

        let signature = read(HeaderName::Signature)?;

        Ok(Self {
            id,
            timestamp_raw,
            timestamp,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a [u8])]) -> impl Fn(&str) -> Option<&'a [u8]> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn svix_names_win_over_standard_names() {
        let pairs: &[(&str, &[u8])] = &[
            ("svix-id", b"msg_a"),
            ("webhook-id", b"msg_b"),
            ("svix-timestamp", b"1"),
            ("svix-signature", b"v1,x"),
        ];
        let h = WebhookHeaders::from_lookup(lookup(pairs)).unwrap();
        assert_eq!(h.id, "msg_a");
    }

    #[test]
    fn an_empty_header_counts_as_missing() {
        let pairs: &[(&str, &[u8])] = &[
            ("svix-id", b"  "),
            ("svix-timestamp", b"1"),
            ("svix-signature", b"v1,x"),
        ];
        assert_eq!(
            WebhookHeaders::from_lookup(lookup(pairs)).unwrap_err(),
            HeaderError::Missing(HeaderName::Id)
        );
    }

    #[test]
    fn a_negative_or_fractional_timestamp_is_malformed() {
        for ts in [&b"-1"[..], b"1.5", b"1e9", b"0x10", "１２".as_bytes()] {
            let pairs: &[(&str, &[u8])] = &[
                ("svix-id", b"msg"),
                ("svix-timestamp", ts),
                ("svix-signature", b"v1,x"),
            ];
            assert!(matches!(
                WebhookHeaders::from_lookup(lookup(pairs)).unwrap_err(),
                HeaderError::Malformed(HeaderName::Timestamp, _)
            ));
        }
    }

    #[test]
    fn a_timestamp_beyond_64_bits_is_well_formed_but_has_no_value() {
        let pairs: &[(&str, &[u8])] = &[
            ("svix-id", b"msg"),
            ("svix-timestamp", b"99999999999999999999999999"),
            ("svix-signature", b"v1,x"),
        ];
        let h = WebhookHeaders::from_lookup(lookup(pairs)).unwrap();
        assert_eq!(h.timestamp, None);
    }

    #[test]
    fn non_utf8_and_spaced_ids_are_malformed() {
        for id in [&b"\xff\xfe"[..], b"msg with space", &[b'a'; 300]] {
            let pairs: &[(&str, &[u8])] = &[
                ("svix-id", id),
                ("svix-timestamp", b"1"),
                ("svix-signature", b"v1,x"),
            ];
            assert!(matches!(
                WebhookHeaders::from_lookup(lookup(pairs)).unwrap_err(),
                HeaderError::Malformed(HeaderName::Id, _)
            ));
        }
    }
}
