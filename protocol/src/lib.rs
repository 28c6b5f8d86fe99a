//! Outpost wire protocol: the types a device and the server exchange, and their versioned
//! binary encoding.
//!
//! # Layout
//! - [`ids`]: one newtype per identifier ([`DocId`], [`DeviceId`], [`Seq`], [`Head`]).
//! - [`sync`]: the batched sync exchange ([`SyncRequest`] → [`SyncReply`]).
//! - [`envelope`]: magic + protocol version + postcard payload, with size limits.
//! - [`error`]: the typed error reply the server sends with a 4xx/5xx status.
//! - [`api`]: the JSON API beside sync: login, users, teams, devices, handover, history.
//!
//! This crate is data only: it knows nothing of HTTP, disk or automerge.

pub mod api;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod sync;

pub use envelope::{DecodeError, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, decode, encode};
pub use error::{ErrorCode, ErrorReply};
pub use ids::{DeviceId, DocId, Head, ParseIdError, Seq};
pub use sync::{
    DocPush, DocUpdate, MAX_PUSHES, PushOutcome, PushResult, SyncReply, SyncRequest, UpdateAction,
};

/// The media type of an enveloped protocol message.
pub const CONTENT_TYPE: &str = "application/x-outpost";
