//! Why a body can never be applied, in messages that quote no value.

/// Why a body cannot be applied, now or ever: the worker dead-letters it at once.
///
/// Messages name fields by their JSON path and never quote a value from the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON at all (or not UTF-8).
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON but has no string `type`.
    #[error("body has no string `type`: not a Clerk event")]
    NoType,
    /// A field the event needs is missing or of the wrong type.
    #[error("{event_type}: {path}: {reason}")]
    Invalid {
        /// The event's `type`.
        event_type: String,
        /// Where in the body, e.g. `data.email_addresses[0].id`.
        path: String,
        /// What is wrong, without the offending value.
        reason: String,
    },
    /// A string holds `\u0000`, which PostgreSQL's `text` and `jsonb` cannot store.
    #[error("body holds a NUL character (\\u0000), which PostgreSQL cannot store")]
    NulCharacter,
}

impl ParseError {
    pub(crate) fn invalid(
        event_type: &str,
        error: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let path = error.path().to_string();
        let inner = error.into_inner();
        // `data` was already read as JSON, so its only syntax error is serde_json's nesting
        // limit, met inside free-form metadata, where the path would quote the metadata's
        // own keys. The envelope reports the same limit as `NotJson`; so does this.
        if inner.is_syntax() || inner.is_eof() {
            return Self::NotJson(redact(&inner.to_string()));
        }
        Self::Invalid {
            event_type: event_type.to_owned(),
            path: if path == "." {
                "data".to_owned()
            } else {
                format!("data.{path}")
            },
            reason: redact(&inner.to_string()),
        }
    }
}

/// serde quotes the offending string (`invalid type: string "jane@example.com", …`); the
/// quote may be personal data, so it is cut out, leaving the kind of value and what was
/// expected. serde's position suffix (`at line 1 column 40`) is dropped too: the path says
/// more.
pub(crate) fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            // Skip to the closing quote, honouring backslash escapes.
            let mut escaped = false;
            for inner in chars.by_ref() {
                match (escaped, inner) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => escaped = false,
                }
            }
            continue;
        }
        out.push(c);
    }
    let out = match out.find(" at line ") {
        Some(at) => &out[..at],
        None => &out,
    };
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_positions_are_cut_from_serde_messages() {
        assert_eq!(
            redact(r#"invalid type: string "jane@example.com", expected i64 at line 1 column 9"#),
            "invalid type: string, expected i64"
        );
        assert_eq!(
            redact(r#"invalid type: string "a \" b", expected a boolean"#),
            "invalid type: string, expected a boolean"
        );
        assert_eq!(redact("missing field `id`"), "missing field `id`");
    }
}
