//! A dead letter's reason: the group it is counted in, computed exactly as the scripts'
//! `dlq_reason` does, so a filter typed from a page finds what the index filed.

/// The longest reason kept, in bytes (as the script cuts it).
const REASON_BYTES: usize = 80;

/// A dead letter's reason, as the dead-letter step files it: its error up to the first `:`,
/// each run of digits as `N`, control characters as spaces, at most 80 bytes, `-` when empty.
/// So `gave up after 8 attempts: …` and `gave up after 3 attempts: …` are one group.
pub fn reason(error: &str) -> String {
    let head = error.split(':').next().unwrap_or_default();
    let mut out: Vec<u8> = Vec::with_capacity(head.len());
    let mut in_digits = false;
    for &b in head.as_bytes() {
        if b.is_ascii_digit() {
            if !in_digits {
                out.push(b'N');
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        out.push(if b < 32 || b == 127 { b' ' } else { b });
    }
    if out.len() > REASON_BYTES {
        out.truncate(REASON_BYTES);
        // The cut may split the last character: drop it whole, as the script does.
        let tail = out
            .iter()
            .rev()
            .take_while(|b| (0x80..0xc0).contains(*b))
            .count();
        let lead = out.len() - tail;
        if lead > 0 && out[lead - 1] >= 0xc0 {
            out.truncate(lead - 1);
        }
    }
    if out.is_empty() {
        return "-".to_owned();
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_keeps_the_error_s_kind_without_its_numbers() {
        assert_eq!(
            reason("gave up after 8 attempts: connection reset"),
            "gave up after N attempts"
        );
        assert_eq!(reason("instance_mismatch: from ins_1"), "instance_mismatch");
        assert_eq!(reason(""), "-");
        assert_eq!(reason("a\tb"), "a b");
        let long = "é".repeat(60);
        let cut = reason(&long);
        assert!(cut.len() <= 80 && cut.chars().all(|c| c == 'é'));
    }
}
