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

/// The id of a stored object (a chunk of file data or a tree): the BLAKE3 hash of its
/// uncompressed bytes.
///
/// Invariant: reading an object back always re-hashes it and compares with its id, so an
/// `ObjectId` is also the checksum of what it names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

impl ObjectId {
    /// The id of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        ObjectId(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps 32 raw bytes (for example read from a pack or the database).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Result<Self, IdError> {
        if s.len() != 64 {
            return Err(IdError::Length(s.chars().count()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0])?;
            let lo = hex_val(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Ok(ObjectId(out))
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 0x0f) as usize] as char);
        }
        s
    }
}

fn hex_val(c: u8) -> Result<u8, IdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        other => Err(IdError::Character(other as char)),
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Twelve characters identify an object in logs, as short git hashes do.
        write!(f, "ObjectId({})", &self.to_hex()[..12])
    }
}

#[cfg(test)]
mod object_id_tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_hash() {
        let id = ObjectId::of(b"snapline");
        assert_eq!(id, ObjectId::from_hex(&id.to_hex()).unwrap());
        assert_eq!(id.as_bytes(), blake3::hash(b"snapline").as_bytes());
        assert_ne!(id, ObjectId::of(b"snapline!"));
    }

    #[test]
    fn malformed_hex_is_refused() {
        assert!(ObjectId::from_hex("ab").is_err());
        assert!(ObjectId::from_hex(&"G".repeat(64)).is_err());
        assert!(ObjectId::from_hex(&"A".repeat(64)).is_err());
    }
}
