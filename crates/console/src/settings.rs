//! The console's settings: where it listens and the tokens it takes, read from flags or the
//! environment like every other verb's.

use std::net::SocketAddr;

/// `clerk-sync console`'s own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// Where the console listens.
    #[arg(
        long = "console-bind",
        env = "CONSOLE_BIND",
        value_name = "CONSOLE_BIND",
        default_value = "127.0.0.1:8082"
    )]
    pub bind: SocketAddr,

    /// Operator token(s), at least 16 characters each, separated by spaces or commas: may act.
    #[arg(
        long = "console-token",
        env = "CLERK_SYNC_CONSOLE_TOKEN",
        value_name = "CLERK_SYNC_CONSOLE_TOKEN",
        hide_env_values = true,
        value_parser = parse_tokens
    )]
    pub operator_tokens: Tokens,

    /// Viewer token(s): may look at every page, never act.
    #[arg(
        long = "console-viewer-token",
        env = "CLERK_SYNC_CONSOLE_VIEWER_TOKEN",
        value_name = "CLERK_SYNC_CONSOLE_VIEWER_TOKEN",
        hide_env_values = true,
        value_parser = parse_tokens
    )]
    pub viewer_tokens: Option<Tokens>,
}

/// Tokens as configured. Its `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens(pub Vec<String>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

/// Splits on spaces and commas; each token must be at least 16 characters. The message never
/// repeats a token.
pub fn parse_tokens(value: &str) -> Result<Tokens, String> {
    let tokens: Vec<String> = value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err("must hold at least one token".into());
    }
    if tokens.iter().any(|t| t.chars().count() < 16) {
        return Err("must hold tokens of at least 16 characters".into());
    }
    Ok(Tokens(tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_split_and_short_ones_refused_without_being_repeated() {
        let tokens = parse_tokens("aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb").unwrap();
        assert_eq!(tokens.0.len(), 2);
        assert!(!format!("{tokens:?}").contains("aaaa"));
        let error = parse_tokens("short-secret").unwrap_err();
        assert!(!error.contains("short-secret"));
        assert!(parse_tokens(" , ").is_err());
    }
}
