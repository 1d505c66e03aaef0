//! Settings every process shares: where Redis and PostgreSQL are, and how long to wait for them.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::time::Duration;

use clap::{Args, Parser};

use crate::{LogFormat, ServiceUrl};

/// Where Redis is when nothing says otherwise: the local default port.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Where PostgreSQL is when nothing says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/clerk_sync";
/// The key namespace when nothing says otherwise: keys are `{clerk}:…`.
pub const DEFAULT_STREAM_PREFIX: &str = "clerk";

/// Settings every binary reads: where the queue is and how to log. Global, so a flag may
/// come before or after a subcommand (`clerk-sync dlq list --redis-url …`).
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Redis server (`rediss://` for TLS). May hold a password, so it is never printed.
    #[arg(
        long,
        global = true,
        env = "REDIS_URL",
        value_name = "REDIS_URL",
        default_value = DEFAULT_REDIS_URL,
        hide_env_values = true,
        hide_default_value = false,
        value_parser = parse_redis_url
    )]
    pub redis_url: ServiceUrl,

    /// Key namespace: every key is `{PREFIX}:…`, one hash tag for Redis Cluster.
    #[arg(
        long,
        global = true,
        env = "STREAM_PREFIX",
        value_name = "STREAM_PREFIX",
        default_value = DEFAULT_STREAM_PREFIX,
        value_parser = parse_prefix
    )]
    pub stream_prefix: String,

    /// Log format; `json` when stdout is not a terminal, otherwise `pretty`.
    #[arg(
        long,
        global = true,
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        value_enum
    )]
    pub log_format: Option<LogFormat>,
}

/// The check the Redis client makes before connecting, made while parsing, so that a
/// malformed URL stops the process at start like any other bad setting. The reason never
/// quotes the value: it may hold a password.
fn parse_redis_url(value: &str) -> Result<ServiceUrl, String> {
    use redis::IntoConnectionInfo as _;
    match value.into_connection_info() {
        Ok(_) => Ok(ServiceUrl::new(value)),
        Err(_) => Err("is not a valid Redis URL (redis://, rediss:// or unix://)".into()),
    }
}

/// A prefix ends up inside `{…}`, so braces would break the hash tag.
fn parse_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value
        .bytes()
        .any(|b| b == b'{' || b == b'}' || !b.is_ascii_graphic())
    {
        return Err("must be visible ASCII without braces or spaces".into());
    }
    Ok(value.to_owned())
}

/// Parses settings from flags and the environment. On an error, prints one line naming the
/// variable and what is wrong (never the value, which may be a secret) and exits with 2.
pub fn parse_or_exit<T: Parser>() -> T {
    match T::try_parse() {
        Ok(settings) => settings,
        Err(error) => match error.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => error.exit(),
            _ => config_error(&one_line(&error)),
        },
    }
}

/// Reports a configuration problem found after parsing and exits with status 2.
pub fn config_error(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

fn one_line(error: &clap::Error) -> String {
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        Some(ContextValue::Strings(args)) => args.join(", "),
        _ => String::new(),
    };
    // Our value_name is the environment variable, so `--flag <VAR>` names both spellings.
    let var = arg
        .split_once('<')
        .and_then(|(_, rest)| rest.strip_suffix('>'))
        .unwrap_or(&arg)
        .to_owned();
    match error.kind() {
        ErrorKind::MissingRequiredArgument => format!("{var} is required"),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let reason = std::error::Error::source(error)
                .map(ToString::to_string)
                .unwrap_or_else(|| "is not a valid value".to_owned());
            if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
                format!("{var} must be one of: {}", valid.join(", "))
            } else {
                format!("{var} {reason}")
            }
        }
        _ => error
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_owned(),
    }
}

/// A duration as people write it (`6h`, `90s`, `1h 30m`), or `0` for none.
pub fn parse_interval(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(value).map_err(|_| "must be a duration such as 6h, 30m or 0".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_durations_as_people_write_them_or_zero() {
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval(" 6h "), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_interval("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("").is_err());
    }

    #[test]
    fn prefixes_with_braces_or_spaces_are_refused() {
        assert!(parse_prefix("clerk").is_ok());
        assert!(parse_prefix("").is_err());
        assert!(parse_prefix("a}b").is_err());
        assert!(parse_prefix("a b").is_err());
    }
}
