//! Outpost wire protocol: the types a device and the server exchange, and their versioned
//! binary encoding.
//!
//! # Layout
//! - [`ids`]: one newtype per identifier ([`DocId`], [`DeviceId`], [`Seq`], [`Head`]).
//! - [`sync`]: the batched sync exchange ([`SyncRequest`] → [`SyncReply`]).
//! - [`envelope`]: magic + protocol version + postcard payload, with size limits.
//! - [`error`]: the typed error reply the server sends with a 4xx/5xx status.
//!
//! This crate is data only: it knows nothing of HTTP, disk, automerge or time.

pub mod envelope;
pub mod error;
pub mod ids;
pub mod sync;

pub use envelope::{DecodeError, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, decode, encode};
pub use error::{ErrorCode, ErrorReply};
pub use ids::{DeviceId, DocId, Head, ParseIdError, Seq};
pub use sync::{DocPush, DocUpdate, PushOutcome, PushResult, SyncReply, SyncRequest};

/// The media type of an enveloped protocol message.
pub const CONTENT_TYPE: &str = "application/x-outpost";
