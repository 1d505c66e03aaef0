//! The signature itself: HMAC-SHA256 over `id.timestamp.body`, compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{SigningSecret, SigningSecrets, WebhookHeaders};

type HmacSha256 = Hmac<Sha256>;

/// The tolerance every Svix SDK uses: five minutes either way.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Length of a base64-encoded HMAC-SHA256 tag (32 bytes, padded).
const ENCODED_TAG_LEN: usize = 44;

/// Why a well-formed request was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp is further from now than the tolerance. Checked before the signature,
    /// as the reference does, so a replay costs no HMAC.
    #[error("timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
    /// No `v1` entry matches under any configured secret.
    #[error("no signature matches")]
    InvalidSignature,
}

/// Checks requests against the configured secrets and tolerance.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: SigningSecrets,
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier accepting timestamps within `tolerance_secs` of the clock, either way.
    pub fn new(secrets: SigningSecrets, tolerance_secs: u64) -> Self {
        Self {
            secrets,
            tolerance_secs,
        }
    }

    /// Verifies one request. `now` is Unix seconds, passed in so tests can pin the clock.
    ///
    /// The window is closed: `now - tolerance <= timestamp <= now + tolerance`.
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: u64,
    ) -> Result<(), VerifyError> {
        let timestamp = headers
            .timestamp
            .ok_or(VerifyError::TimestampOutOfTolerance)?;
        if timestamp.abs_diff(now) > self.tolerance_secs {
            return Err(VerifyError::TimestampOutOfTolerance);
        }
        self.verify_signature(headers, body)
    }

    /// Verifies the signature only, for replaying stored requests whose time has passed.
    pub fn verify_signature(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let expected: Vec<[u8; 32]> = self
            .secrets
            .iter()
            .map(|secret| tag(secret, headers.id, headers.timestamp_raw, body))
            .collect();

        let mut candidate = [0u8; 33];
        for entry in headers.signature.split(' ') {
            let Some(("v1", encoded)) = entry.split_once(',') else {
                continue;
            };
            // A tag of the wrong length cannot match; skipping it before decoding keeps an
            // absurdly long header linear and cheap.
            if encoded.len() != ENCODED_TAG_LEN {
                continue;
            }
            let Ok(32) = STANDARD.decode_slice(encoded, &mut candidate) else {
                continue;
            };
            let mut matched = subtle::Choice::from(0);
            for tag in &expected {
                matched |= tag.ct_eq(&candidate[..32]);
            }
            if bool::from(matched) {
                return Ok(());
            }
        }
        Err(VerifyError::InvalidSignature)
    }
}

/// Signs a message the way Svix does, returning the `svix-signature` header value.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: u64, body: &[u8]) -> String {
    let tag = tag(secret, id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(tag))
}

fn tag(secret: &SigningSecret, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.key()).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}
