//! Identifiers: one newtype per kind of id, so a document id is never passed as a device id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A string that is not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind}: expected {expected}")]
pub struct ParseIdError {
    kind: &'static str,
    expected: &'static str,
    input: String,
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        /// Hex text in human-readable formats (JSON), a plain `u128` in binary ones.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() { s.collect_str(self) } else { s.serialize_u128(self.0) }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
                } else {
                    u128::deserialize(d).map(Self)
                }
            }
        }

        impl $name {
            /// Wraps a raw 128-bit value; prefer random values so offline devices never collide.
            pub const fn from_u128(value: u128) -> Self {
                Self(value)
            }

            /// The raw 128-bit value, as stored in redb keys.
            pub const fn as_u128(self) -> u128 {
                self.0
            }

            /// The 16 big-endian bytes of the id.
            pub const fn to_bytes(self) -> [u8; 16] {
                self.0.to_be_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:032x}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let well_formed = s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
                match u128::from_str_radix(s, 16) {
                    Ok(value) if well_formed => Ok(Self(value)),
                    _ => Err(ParseIdError {
                        kind: $kind,
                        expected: "32 hexadecimal digits",
                        input: s.to_owned(),
                    }),
                }
            }
        }
    };
}

hex_id!(
    /// Identifies one account document (the unit of ownership and sync).
    DocId,
    "document id"
);
hex_id!(
    /// Identifies one device's store; also the automerge actor the device writes as.
    DeviceId,
    "device id"
);

/// A position in the server's change feed. Every committed change to a document takes the next
/// sequence number; a device's checkpoint is the highest position it has fully received.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Seq(pub u64);

impl Seq {
    /// The position before any change: a new device starts here.
    pub const ZERO: Seq = Seq(0);

    /// The position after this one.
    pub const fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The hash of one automerge change that is a head of a document (a change nothing depends on).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Head(pub [u8; 32]);

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Head({})", hex::encode(&self.0[..6]))
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_32_hex_digits() {
        let id = DocId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let text = id.to_string();
        assert_eq!(text, "0123456789abcdef0011223344556677");
        assert_eq!(text.parse::<DocId>().unwrap(), id);
    }

    #[test]
    fn ids_are_hex_in_json_and_compact_in_postcard() {
        let id = DeviceId::from_u128(0xabc);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<DeviceId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<DeviceId>("\"abc\"").is_err());
        let binary = postcard::to_stdvec(&id).unwrap();
        assert_eq!(binary.len(), 2, "a small id is a short varint");
        assert_eq!(postcard::from_bytes::<DeviceId>(&binary).unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_rejected_with_the_input_named() {
        for bad in [
            "",
            "xyz",
            "0123",
            "+123456789abcdef0011223344556677",
            &"f".repeat(33),
        ] {
            let err = bad.parse::<DeviceId>().unwrap_err();
            assert!(err.to_string().contains("device id"), "{err}");
        }
    }
}
