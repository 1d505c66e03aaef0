//! Clerk's times, in seconds or milliseconds, as Unix milliseconds.

use serde::{Deserialize, Deserializer};

/// Below this a Unix time is taken to be in seconds: 10^11 ms is March 1973, 10^11 s is the
/// year 5138, so no real time of either unit falls on the wrong side.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// A Unix time in seconds or milliseconds, as milliseconds. Clerk's envelope `timestamp` is
/// milliseconds in deliveries but seconds in some published examples.
pub fn to_millis(value: i64) -> i64 {
    // `unsigned_abs`, because `abs` overflows on `i64::MIN`, where a float far below any
    // time saturates.
    if value.unsigned_abs() < SECONDS_BELOW.unsigned_abs() {
        value.saturating_mul(1000)
    } else {
        value
    }
}

/// A number Clerk may send as an integer, a float or a numeric string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Loose {
    fn into_i64(self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(v),
            // `as` saturates, and a time past i64 is nonsense either way.
            Self::Float(v) if v.is_finite() => Some(v as i64),
            Self::Float(_) => None,
            Self::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// `Option<i64>` milliseconds: `null`, absent, an integer, a float or a numeric string.
pub(crate) fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Loose>::deserialize(d)? {
        None => Ok(None),
        Some(loose) => loose
            .into_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a time in milliseconds")),
    }
}

/// An envelope `timestamp` in seconds or milliseconds, normalised to milliseconds.
pub(crate) fn seconds_or_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(millis(d)?.map(to_millis))
}

/// `null` where a collection is expected reads as empty.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_milliseconds_and_milliseconds_stay() {
        assert_eq!(to_millis(1_716_883_200), 1_716_883_200_000);
        assert_eq!(to_millis(1_716_883_200_000), 1_716_883_200_000);
        assert_eq!(to_millis(0), 0);
    }

    #[test]
    fn loose_numbers_are_read() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "millis")]
            at: Option<i64>,
        }
        let read = |json: &str| serde_json::from_str::<T>(json).map(|t| t.at);
        assert_eq!(read(r#"{"at":5}"#).unwrap(), Some(5));
        assert_eq!(read(r#"{"at":5.9}"#).unwrap(), Some(5));
        assert_eq!(read(r#"{"at":"7"}"#).unwrap(), Some(7));
        assert_eq!(read(r#"{"at":null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        assert!(read(r#"{"at":"soon"}"#).is_err());
        assert!(read(r#"{"at":true}"#).is_err());
    }
}
