//! The envelope: `OPST` magic, a little-endian `u16` protocol version, then a postcard payload.
//!
//! The version sits outside the payload so a peer can tell "another version" from "garbage"
//! before it tries to decode anything.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 2;

/// The largest message either side accepts, envelope included.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

const MAGIC: [u8; 4] = *b"OPST";
const HEADER_LEN: usize = MAGIC.len() + 2;

/// Why bytes could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("message is {len} bytes; the limit is {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("message is not an Outpost protocol message (bad header)")]
    NotOutpost,
    #[error(
        "message uses protocol version {found}; this side speaks version {supported}: {}",
        if *found > *supported { "upgrade the server" } else { "upgrade the app" }
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("message body is malformed: {0}")]
    Malformed(String),
}

/// Encodes a message in the current protocol version.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    // Serializing plain data into a Vec cannot fail: postcard errors only on unsupported types
    // (none here) or on a full fixed-size buffer (a Vec grows).
    postcard::to_io(message, &mut out).expect("protocol types always serialize");
    out
}

/// Decodes a message, checking size, header, version and that no bytes trail the payload.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    if bytes.len() < HEADER_LEN || bytes[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::NotOutpost);
    }
    let found = u16::from_le_bytes([bytes[4], bytes[5]]);
    if found != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found,
            supported: PROTOCOL_VERSION,
        });
    }
    let (message, rest) = postcard::take_from_bytes(&bytes[HEADER_LEN..])
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(message)
}
