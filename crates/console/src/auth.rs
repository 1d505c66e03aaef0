//! Who is asking: an operator or a viewer token, by `Authorization: Bearer` or by the
//! session cookie the login form sets. Tokens are compared in constant time; a session is
//! a label, an expiry and an HMAC keyed by the token itself, so no session store is needed,
//! replicas agree, and rotating a token ends its sessions.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::settings::ConsoleArgs;

/// The session cookie's name.
pub const COOKIE: &str = "clerk_sync_console";

/// How long a session lasts.
pub const SESSION: Duration = Duration::from_secs(12 * 3600);

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every page and every action.
    Operator,
    /// Every page, no action.
    Viewer,
}

/// Who a request comes from: the token's label (`operator`, `operator-2`, `viewer`…), never
/// the token, and its role.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The token's label, as the audit log records it.
    pub label: String,
    /// What it may do.
    pub role: Role,
}

impl Identity {
    /// Whether it may act.
    pub fn can_act(&self) -> bool {
        self.role == Role::Operator
    }
}

struct Known {
    label: String,
    role: Role,
    token: Vec<u8>,
}

/// The configured tokens, each with its label.
pub struct Tokens {
    known: Vec<Known>,
}

impl Tokens {
    /// From the settings.
    pub fn new(args: &ConsoleArgs) -> Self {
        let mut known = Vec::new();
        let mut add = |tokens: &[String], role: Role, name: &str| {
            for (i, token) in tokens.iter().enumerate() {
                let label = if i == 0 {
                    name.to_owned()
                } else {
                    format!("{name}-{}", i + 1)
                };
                known.push(Known {
                    label,
                    role,
                    token: token.as_bytes().to_vec(),
                });
            }
        };
        add(&args.operator_tokens.0, Role::Operator, "operator");
        if let Some(viewers) = &args.viewer_tokens {
            add(&viewers.0, Role::Viewer, "viewer");
        }
        Self { known }
    }

    /// The identity of `token`, comparing it with every configured token in constant time.
    pub fn check(&self, token: &str) -> Option<Identity> {
        let mut found = None;
        for known in &self.known {
            // Every token is compared, whichever matches, so timing says nothing.
            if bool::from(known.token.ct_eq(token.as_bytes())) {
                found = Some(Identity {
                    label: known.label.clone(),
                    role: known.role,
                });
            }
        }
        found
    }

    /// The identity of a request: its bearer token, else its session cookie.
    pub fn identify(&self, req: &HttpRequest) -> Option<Identity> {
        if let Some(value) = req.headers().get(header::AUTHORIZATION) {
            let token = value.to_str().ok()?.strip_prefix("Bearer ")?;
            return self.check(token.trim());
        }
        let cookie = req.cookie_value(COOKIE)?;
        self.session(&cookie, clerk_sync_runtime::unix_ms() / 1000)
    }

    /// A session cookie's value for `identity`, valid until `now + SESSION`.
    pub fn issue(&self, identity: &Identity, now_secs: u64) -> Option<String> {
        let known = self.known.iter().find(|k| k.label == identity.label)?;
        let expiry = now_secs + SESSION.as_secs();
        let mac = mac(&known.token, &known.label, expiry);
        Some(format!("{}.{expiry}.{mac}", known.label))
    }

    fn session(&self, value: &str, now_secs: u64) -> Option<Identity> {
        let mut parts = value.splitn(3, '.');
        let (label, expiry, given) = (parts.next()?, parts.next()?, parts.next()?);
        let expiry: u64 = expiry.parse().ok()?;
        if expiry <= now_secs {
            return None;
        }
        let known = self.known.iter().find(|k| k.label == label)?;
        let expected = mac(&known.token, label, expiry);
        bool::from(expected.as_bytes().ct_eq(given.as_bytes())).then(|| Identity {
            label: known.label.clone(),
            role: known.role,
        })
    }
}

fn mac(token: &[u8], label: &str, expiry: u64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token) else {
        return String::new();
    };
    mac.update(format!("clerk-sync console session\n{label}\n{expiry}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Reading one cookie by name, without actix-web's cookie feature.
trait CookieValue {
    fn cookie_value(&self, name: &str) -> Option<String>;
}

impl CookieValue for HttpRequest {
    fn cookie_value(&self, name: &str) -> Option<String> {
        self.headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }
}

/// Whether the request reached us over HTTPS, directly or behind a proxy that says so.
pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The `Set-Cookie` value of a session: `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS.
pub fn session_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        SESSION.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a session.
pub fn cleared_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a `POST` comes from the console's own pages: its `Origin` is the console's, or,
/// without one, `Sec-Fetch-Site` says `same-origin` (or `none`: typed by the user). A
/// request with neither (a script, `curl`) is no browser's cross-site request.
pub fn same_origin(req: &HttpRequest) -> bool {
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        return origin
            .to_str()
            .is_ok_and(|origin| origin.eq_ignore_ascii_case(&own));
    }
    match req.headers().get("sec-fetch-site") {
        Some(site) => matches!(site.to_str(), Ok("same-origin" | "none")),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ConsoleArgs, parse_tokens};

    fn tokens() -> Tokens {
        Tokens::new(&ConsoleArgs {
            bind: "127.0.0.1:0".parse().unwrap(),
            operator_tokens: parse_tokens("operator-token-0001 operator-token-0002").unwrap(),
            viewer_tokens: Some(parse_tokens("viewer-token-000001").unwrap()),
        })
    }

    #[test]
    fn each_token_has_a_label_and_a_role() {
        let t = tokens();
        assert_eq!(t.check("operator-token-0002").unwrap().label, "operator-2");
        assert_eq!(t.check("viewer-token-000001").unwrap().role, Role::Viewer);
        assert!(t.check("operator-token-000").is_none());
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_unaltered() {
        let t = tokens();
        let me = t.check("operator-token-0001").unwrap();
        let cookie = t.issue(&me, 1000).unwrap();
        assert_eq!(t.session(&cookie, 1001), Some(me));
        assert!(t.session(&cookie, 1000 + SESSION.as_secs()).is_none());
        let forged = cookie.replacen("operator", "viewer", 1);
        assert!(t.session(&forged, 1001).is_none());
        assert!(!cookie.contains("operator-token"));
    }
}
