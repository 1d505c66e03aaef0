//! A scan for what PostgreSQL can never store, before the database refuses it.

/// Whether a JSON text holds the escape `\u0000` inside a string. PostgreSQL's `text` and
/// `jsonb` refuse NUL, so such a body can never be stored; finding it before the database
/// does turns a failed transaction into a clear, permanent error.
///
/// Escapes are followed pairwise, so an escaped backslash followed by `u0000` (the six
/// characters `\\u0000` in the JSON text) is not mistaken for one.
pub(crate) fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_real_nul_escape_is_found() {
        assert!(has_nul_escape(br#"{"a":"x\u0000y"}"#));
        assert!(!has_nul_escape(br#"{"a":"x\\u0000y"}"#));
        assert!(has_nul_escape(br#"{"a":"x\\\u0000y"}"#));
        assert!(!has_nul_escape(br#"{"a":"\u0001"}"#));
        assert!(!has_nul_escape(br#"{"a":"\"}"#));
    }
}
