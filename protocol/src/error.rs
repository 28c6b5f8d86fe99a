//! The typed error reply. It is JSON, not an envelope, so a client of any protocol version can
//! read why it was turned away (including "upgrade the app").

use serde::{Deserialize, Serialize};

/// Why the server refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not a well-formed protocol message.
    Malformed,
    /// The body speaks a protocol version the server does not.
    UnsupportedVersion,
    /// The body is larger than the server accepts.
    TooLarge,
    /// The request lacks a valid device identity.
    Unauthenticated,
    /// The server could not complete the request; nothing was acknowledged.
    Unavailable,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: ErrorCode,
    /// A sentence safe to show to the user.
    pub message: String,
}
