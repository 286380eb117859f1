//! Typed identifiers.
//!
//! Invariant: a value of an id type is always well formed. Parsing is the only way in, so code
//! that holds a `ContainerId` never re-validates it, and a hostile string never reaches a path
//! or a query as an id.

use std::fmt;
use std::str::FromStr;

/// Number of lowercase hex characters in an object id (12 random bytes), as the vendor API uses.
pub const ID_LEN: usize = 24;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string does not have exactly [`ID_LEN`] characters.
    #[error("an id has exactly {ID_LEN} characters, got {0}")]
    Length(usize),
    /// The string has a character other than `0-9` and `a-f`.
    #[error("an id is lowercase hexadecimal (0-9, a-f); found {0:?}")]
    Character(char),
}

/// The id of a container: 24 lowercase hex characters, for example `890abcdef12345678901cdef`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId([u8; ID_LEN]);

impl ContainerId {
    /// Builds an id from 12 bytes (for example from a random source).
    pub fn from_bytes(bytes: [u8; ID_LEN / 2]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; ID_LEN];
        for (i, b) in bytes.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 0x0f) as usize];
        }
        ContainerId(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // The constructor admits only ASCII hex digits, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for ContainerId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars = s.chars().count();
        if chars != ID_LEN || s.len() != ID_LEN {
            return Err(IdError::Length(chars));
        }
        if let Some(bad) = s.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(IdError::Character(bad));
        }
        let mut out = [0u8; ID_LEN];
        out.copy_from_slice(s.as_bytes());
        Ok(ContainerId(out))
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContainerId({})", self.as_str())
    }
}

impl serde::Serialize for ContainerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ContainerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_vendor_example() {
        let id: ContainerId = "890abcdef12345678901cdef".parse().unwrap();
        assert_eq!(id.to_string(), "890abcdef12345678901cdef");
    }

    #[test]
    fn refuses_wrong_length_case_and_characters() {
        assert_eq!("abc".parse::<ContainerId>(), Err(IdError::Length(3)));
        assert_eq!(
            "890ABCDEF12345678901CDEF".parse::<ContainerId>(),
            Err(IdError::Character('A'))
        );
        assert_eq!(
            "../bcdef12345678901cdef0".parse::<ContainerId>(),
            Err(IdError::Character('.'))
        );
        // 24 bytes but fewer characters: multi-byte input must not slip through.
        assert!("é0abcdef12345678901cdef".parse::<ContainerId>().is_err());
    }

    #[test]
    fn from_bytes_round_trips_through_text() {
        let id = ContainerId::from_bytes([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 0xff]);
        assert_eq!(id.as_str(), "deadbeef00010203040506ff");
        assert_eq!(id.as_str().parse::<ContainerId>().unwrap(), id);
    }

    #[test]
    fn serde_refuses_malformed_ids() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de: StrDeserializer<'_, Error> = "890abcdef12345678901cdef".into_deserializer();
        assert_eq!(
            ContainerId::deserialize(de).unwrap().as_str(),
            "890abcdef12345678901cdef"
        );
        let bad: StrDeserializer<'_, Error> = "zz".into_deserializer();
        assert!(ContainerId::deserialize(bad).is_err());
    }
}
