//! A connection URL that keeps its password out of every log line, error and `{:?}`.

use std::fmt;

/// `REDIS_URL` or `DATABASE_URL` as configured. It may hold a password, so it prints (with
/// `{}` and `{:?}` alike) as scheme, host and port only; [`ServiceUrl::expose`] is the one
/// way to the whole text, for the client that connects with it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    /// Wraps a URL that has already been checked by the parser of its client.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL as configured, password included: for connecting, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for ServiceUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl fmt::Display for ServiceUrl {
    /// Scheme, host and port: where it connects, which is what a log line or an error
    /// needs; user, password, database and query (which may carry a password too) are
    /// left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        // The query first (its values may hold an `@`), then everything up to the last `@`
        // (a password may hold `@` or `/`), then the path.
        let rest = rest.split('?').next().unwrap_or(rest);
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let host = host.split('/').next().unwrap_or(host);
        write!(f, "{scheme}://{host}")
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceUrl(\"{self}\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_survive_printing() {
        let url = ServiceUrl::new("rediss://default:hunter2@cache.example:6380/0");
        assert_eq!(url.to_string(), "rediss://cache.example:6380");
        assert_eq!(
            format!("{url:?}"),
            "ServiceUrl(\"rediss://cache.example:6380\")"
        );
        assert!(!format!("{:?}", Some(&url)).contains("hunter2"));
        assert_eq!(
            url.expose(),
            "rediss://default:hunter2@cache.example:6380/0"
        );
        let postgres = ServiceUrl::new("postgres://app:pw@db/clerk?sslmode=require");
        assert_eq!(postgres.to_string(), "postgres://db");
    }

    #[test]
    fn a_password_in_the_query_is_not_printed_either() {
        let url = ServiceUrl::new("postgres://db:5432/clerk?user=app&password=pw");
        assert_eq!(url.to_string(), "postgres://db:5432");
    }

    #[test]
    fn a_password_containing_at_or_slash_stays_hidden() {
        let url = ServiceUrl::new("postgres://app:p@ss/w0rd@db.internal:5432/clerk");
        assert_eq!(url.to_string(), "postgres://db.internal:5432");
        let query = ServiceUrl::new("postgres://db/clerk?password=se@cret");
        assert_eq!(query.to_string(), "postgres://db");
    }
}
