//! What the fuzz targets share: how one fuzz input is cut into the several values a parser
//! takes.
//!
//! Inputs are plain bytes with NUL as the separator, rather than `arbitrary`'s encoding, so
//! that `seed.py` can write the published corpus (Svix vectors, Clerk payloads) as seeds a
//! person can read, and so that a crash input can be pasted into a regression test as is.
//! No HTTP header value can hold a NUL, so the separator costs no case a receiver can see.

/// The input's first `n - 1` NUL-separated parts, then the rest, NULs and all. Parts the
/// input is too short for are `None`, which is not the same as empty.
pub fn parts(data: &[u8], n: usize) -> Vec<Option<&[u8]>> {
    let mut parts: Vec<Option<&[u8]>> = data.splitn(n, |&b| b == 0).map(Some).collect();
    parts.resize(n, None);
    parts
}

/// A number from a part: its decimal value when it is one, else its bytes folded into 64
/// bits, so that random bytes still reach every magnitude, 0 and `u64::MAX` included.
pub fn number(part: Option<&[u8]>) -> u64 {
    let part = part.unwrap_or_default();
    std::str::from_utf8(part)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            part.iter()
                .fold(0u64, |n, &b| n.rotate_left(8) ^ u64::from(b))
        })
}

/// Every JSON string literal in `json`, decoded, with whether it is an object key. Read from
/// the raw text, not from a parsed tree, so that it sees strings in a body too deep or too
/// broken for `serde_json::Value`, and so that the check never depends on the parser under
/// test.
pub fn string_literals(json: &[u8]) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < json.len() && json[i] != b'"' {
            i += if json[i] == b'\\' { 2 } else { 1 };
        }
        let Some(literal) = json.get(start..=i) else {
            break;
        };
        i += 1;
        if let Ok(text) = serde_json::from_slice::<String>(literal) {
            let is_key = json[i.min(json.len())..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                == Some(&b':');
            found.push((text, is_key));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parts_are_none_and_the_last_keeps_its_nuls() {
        assert_eq!(
            parts(b"a\0b\0c\0d", 3),
            [Some(&b"a"[..]), Some(b"b"), Some(b"c\0d")]
        );
        assert_eq!(parts(b"a", 2), [Some(&b"a"[..]), None]);
        assert_eq!(parts(b"a\0", 2), [Some(&b"a"[..]), Some(b"")]);
    }

    #[test]
    fn numbers_are_decimal_or_folded() {
        assert_eq!(number(Some(b"1614265330")), 1_614_265_330);
        assert_eq!(number(None), 0);
        assert_ne!(number(Some(b"\xff\xff")), 0);
    }

    #[test]
    fn keys_and_values_are_told_apart() {
        let found = string_literals(br#"{"type" : "user.created", "a\"b":["x\u00e9"]}"#);
        assert_eq!(
            found,
            [
                ("type".to_owned(), true),
                ("user.created".to_owned(), false),
                ("a\"b".to_owned(), true),
                ("x\u{e9}".to_owned(), false),
            ]
        );
    }
}
