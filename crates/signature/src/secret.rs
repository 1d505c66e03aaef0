//! The endpoint's signing secrets (`whsec_…`), one or several during a rotation.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "whsec_";

/// Why a configured secret could not be used. The messages never contain the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Nothing was configured, or only the `whsec_` prefix.
    #[error("is empty")]
    Empty,
    /// The part after `whsec_` is not standard base64.
    #[error("is not base64 after its `whsec_` prefix")]
    NotBase64,
}

/// One endpoint secret: the HMAC key decoded from `whsec_<base64>`.
///
/// `Debug` prints `***`, so the key cannot reach a log by accident.
#[derive(Clone)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl SigningSecret {
    /// The raw HMAC key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl FromStr for SigningSecret {
    type Err = SecretError;

    /// Svix's SDKs decode the whole string when the prefix is absent; so do we.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let encoded = s.trim();
        let encoded = encoded.strip_prefix(PREFIX).unwrap_or(encoded);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self { key })
    }
}

/// Every secret a request may be signed with: more than one only during a rotation.
#[derive(Clone, Debug)]
pub struct SigningSecrets(Vec<SigningSecret>);

impl SigningSecrets {
    /// The secrets, in the order they were configured.
    pub fn iter(&self) -> impl Iterator<Item = &SigningSecret> {
        self.0.iter()
    }

    /// The first configured secret: the one new signatures are made with.
    pub fn primary(&self) -> &SigningSecret {
        // `from_str` refuses an empty list, so there is always a first.
        &self.0[0]
    }
}

impl From<SigningSecret> for SigningSecrets {
    fn from(secret: SigningSecret) -> Self {
        Self(vec![secret])
    }
}

impl FromStr for SigningSecrets {
    type Err = SecretError;

    /// Secrets are separated by spaces or commas, so a rotation is one environment variable.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let secrets = s
            .split([' ', ',', '\n', '\t'])
            .filter(|part| !part.is_empty())
            .map(SigningSecret::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if secrets.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(secrets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_and_without_prefix_decodes_to_the_same_key() {
        let a: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let b: SigningSecret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn empty_and_bare_prefix_secrets_are_refused() {
        assert_eq!("".parse::<SigningSecret>().unwrap_err(), SecretError::Empty);
        assert_eq!(
            "whsec_".parse::<SigningSecret>().unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            " , ".parse::<SigningSecrets>().unwrap_err(),
            SecretError::Empty
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused() {
        assert_eq!(
            "whsec_not*base64".parse::<SigningSecret>().unwrap_err(),
            SecretError::NotBase64
        );
    }

    #[test]
    fn rotation_secrets_split_on_spaces_and_commas() {
        let s: SigningSecrets =
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
                .parse()
                .unwrap();
        assert_eq!(s.iter().count(), 2);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let s: SigningSecrets = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("MfKQ"), "{shown}");
        assert!(shown.contains("***"));
    }
}
