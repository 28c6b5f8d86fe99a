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
    /// The request lacks valid credentials (no token, an unknown or revoked token, a
    /// disabled user, a wrong password).
    Unauthenticated,
    /// The caller is authenticated but may not do this.
    Forbidden,
    /// The named user, team, device or account does not exist (or is outside the caller's
    /// scope, which looks the same).
    NotFound,
    /// The request is well-formed but its content is not acceptable (a rule it breaks is named).
    Invalid,
    /// It conflicts with what exists (a login already taken, a device of another user).
    Conflict,
    /// Too many attempts; wait and try again.
    RateLimited,
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
