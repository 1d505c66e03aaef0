//! `CLERK_SYNC_API_TOKEN`: the bearer tokens the application API accepts.

use std::fmt;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// One or more bearer tokens (several during a rotation), kept only as SHA-256 digests so a
/// comparison takes the same time whatever the token's length, and printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokens(Vec<[u8; 32]>);

impl ApiTokens {
    /// Parses tokens separated by spaces or commas. The messages never quote a token.
    pub fn parse(value: &str) -> Result<Self, String> {
        let tokens: Vec<[u8; 32]> = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(|t| {
                if t.len() < 16 {
                    Err("each token must be at least 16 characters".to_owned())
                } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
                    Err("tokens must be visible ASCII".to_owned())
                } else {
                    Ok(digest(t.as_bytes()))
                }
            })
            .collect::<Result<_, _>>()?;
        if tokens.is_empty() {
            return Err("must hold at least one token".into());
        }
        Ok(Self(tokens))
    }

    /// Whether `presented` is one of the tokens, in constant time.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        self.0
            .iter()
            .fold(0u8, |any, token| any | token.ct_eq(&presented).unwrap_u8())
            == 1
    }
}

impl fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokens(*** x{})", self.0.len())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_split_on_spaces_and_commas_and_never_shown() {
        let tokens = ApiTokens::parse("first-token-0123456789, second-token-0123456789").unwrap();
        assert!(tokens.accepts(b"first-token-0123456789"));
        assert!(tokens.accepts(b"second-token-0123456789"));
        assert!(!tokens.accepts(b"first-token-012345678"));
        assert!(!tokens.accepts(b""));
        assert_eq!(format!("{tokens:?}"), "ApiTokens(*** x2)");
        assert!(ApiTokens::parse(" , ").is_err());
        let short = ApiTokens::parse("short").unwrap_err();
        assert!(!short.contains("short"), "{short}");
    }
}
