//! The batched sync exchange: one request carries every document a device edited and its
//! checkpoint; one reply carries every document changed in the device's scope since then.
//!
//! Changes travel as automerge change chunks keyed by heads: a device pushes the changes the
//! server does not have yet (everything after the server heads it last saw), and the server
//! answers with the changes the device has not received (everything committed after the
//! device's checkpoint, except what the device itself pushed).

use serde::{Deserialize, Serialize};

/// Documents a device pushes in one request at most (the rest follow in the next round
/// trip); a server takes at least this many unless its operator lowered its limit.
pub const MAX_PUSHES: usize = 1_000;

use crate::ids::{DeviceId, DocId, Head, Seq};

/// A device's half of one sync round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The device sending the request; it must be the device the request's token was issued to.
    pub device: DeviceId,
    /// The feed position up to which the device holds every change in its scope.
    pub checkpoint: Seq,
    /// Local edits the server has not acknowledged, one entry per document.
    pub pushes: Vec<DocPush>,
}

/// The changes of one document that a device believes the server lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPush {
    pub doc: DocId,
    /// Raw automerge changes, one encoded change per entry, in causal order.
    pub changes: Vec<Vec<u8>>,
}

/// The server's half of one sync round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReply {
    /// The new checkpoint: the device now holds every change up to here.
    pub checkpoint: Seq,
    /// True when the reply was cut at the size budget: ask again from `checkpoint`.
    pub more: bool,
    /// What became of each pushed document, in request order.
    pub pushed: Vec<PushResult>,
    /// Documents with changes the device has not received, plus every pushed document.
    pub updates: Vec<DocUpdate>,
}

/// The outcome of one pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub doc: DocId,
    pub outcome: PushOutcome,
}

/// Whether the server committed a pushed document's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushOutcome {
    /// Committed durably (or already present: a retried push is not applied twice).
    Accepted,
    /// Some changes depend on changes the server has never seen; nothing of this document was
    /// stored. The device should push again from the heads in the matching update.
    MissingDependencies,
    /// The changes could not be decoded or applied; nothing of this document was stored.
    Invalid { reason: String },
    /// The changes decode and apply, but this device's user may not make them (or they break
    /// a record rule); nothing of this document was stored. The matching update carries the
    /// server's version for the device to reset to; the device keeps the refused edit where
    /// its user can see and redo it.
    Rejected { reason: String },
}

/// What a device does with a [`DocUpdate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateAction {
    /// Merge the snapshot (if any) and the changes into the local document.
    Merge,
    /// Replace the local document with the snapshot: the server refused this device's
    /// changes and its version is the one to keep.
    Replace,
    /// The document left the device's scope (handed over, unshared): remove it once no
    /// unsynced edit of it is waiting to be pushed.
    Drop,
}

/// Changes of one document the device has not received, and the server's heads afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocUpdate {
    pub doc: DocId,
    pub action: UpdateAction,
    /// A compacted automerge save of the whole document, sent when the changes the device
    /// lacks were already folded into a snapshot on the server, when the document entered the
    /// device's scope, and with [`UpdateAction::Replace`].
    pub snapshot: Option<Vec<u8>>,
    /// Raw automerge changes committed after the device's checkpoint, one per entry, in
    /// commit order.
    pub changes: Vec<Vec<u8>>,
    /// The server's heads for this document as of the reply's checkpoint.
    pub heads: Vec<Head>,
}
