//! The sync engine, free of I/O: it turns the store's state into request bodies and server
//! replies into store updates, and decides when a sync is done. A driver (see [`crate::http`])
//! moves the bytes; tests can move them any other way.
//!
//! One sync is usually one round trip: the request carries every unsynced document and the
//! checkpoint, the reply carries everything changed in scope since then. A second round trip
//! happens only when a reply was cut at its size budget, pushes did not fit in one request,
//! or the server lacked a change's dependencies.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use outpost_protocol::{DocId, PushOutcome, SyncReply, SyncRequest, decode, encode};
use serde::Serialize;

use crate::error::SyncError;
use crate::store::Store;

/// Push bytes one request carries at most; the rest follow in the next round trip.
pub const PUSH_BUDGET: usize = 4 * 1024 * 1024;

/// Round trips in a row that moved nothing (no push accepted, nothing received or dropped)
/// after which a sync that still wants another one is abandoned as stuck. A sync that keeps
/// moving goes on for as many round trips as it needs (a device pushing 100,000 new accounts
/// needs about fifty).
pub const MAX_ROUND_TRIPS: u32 = 16;

/// What one completed sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub round_trips: u32,
    pub bytes_sent: usize,
    pub bytes_received: usize,
    /// Documents whose unsynced changes the server accepted.
    pub pushed: Vec<DocId>,
    /// Documents that arrived with changes this device did not have.
    pub received: Vec<DocId>,
    /// Documents the server could not take (malformed changes), with its reason; they stay
    /// unsynced.
    pub refused: Vec<(DocId, String)>,
    /// Documents whose edits the server did not accept (permission or record rules): each
    /// was reset to the server's version and the edit kept in [`Store::rejected`].
    pub rejected: Vec<(DocId, String)>,
    /// Documents removed from this device because they left its user's scope.
    pub dropped: Vec<DocId>,
}

/// One sync in progress.
#[derive(Debug, Default)]
pub struct SyncSession {
    report: SyncReport,
    wants_round: bool,
    refused: HashSet<DocId>,
    /// Round trips in a row that moved nothing.
    idle_rounds: u32,
}

impl SyncSession {
    pub fn new() -> SyncSession {
        SyncSession {
            wants_round: true,
            ..SyncSession::default()
        }
    }

    /// The next request body to send, or `None` when the sync is complete.
    pub fn next_request(&mut self, store: &Store) -> Result<Option<Vec<u8>>, SyncError> {
        if !self.wants_round {
            return Ok(None);
        }
        if self.idle_rounds >= MAX_ROUND_TRIPS {
            return Err(SyncError::NoProgress(self.idle_rounds));
        }
        let (pushes, complete) = store.pending_pushes(&self.refused, PUSH_BUDGET)?;
        let body = encode(&SyncRequest {
            device: store.device(),
            checkpoint: store.checkpoint()?,
            pushes,
        });
        // Another round is needed if this one cannot carry every pending push.
        self.wants_round = !complete;
        self.report.bytes_sent += body.len();
        Ok(Some(body))
    }

    /// Applies a reply body to the store; `now` is recorded as the time of the last sync.
    pub fn handle_reply(
        &mut self,
        store: &Store,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let reply: SyncReply = decode(body)?;
        self.report.round_trips += 1;
        self.report.bytes_received += body.len();
        let applied = store.apply_reply(&reply, now)?;
        let moved = !applied.changed.is_empty()
            || !applied.dropped.is_empty()
            || reply.pushed.iter().any(|r| {
                matches!(
                    r.outcome,
                    PushOutcome::Accepted | PushOutcome::Rejected { .. }
                )
            });
        self.idle_rounds = if moved { 0 } else { self.idle_rounds + 1 };
        self.report.received.extend(applied.changed);
        self.report.dropped.extend(applied.dropped);
        for result in &reply.pushed {
            match &result.outcome {
                PushOutcome::Accepted => self.report.pushed.push(result.doc),
                // The update for this document told us the server's heads: push again from them.
                PushOutcome::MissingDependencies => self.wants_round = true,
                PushOutcome::Invalid { reason } => {
                    self.refused.insert(result.doc);
                    self.report.refused.push((result.doc, reason.clone()));
                }
                PushOutcome::Rejected { reason } => {
                    self.report.rejected.push((result.doc, reason.clone()));
                }
            }
        }
        self.wants_round |= reply.more;
        Ok(())
    }

    /// The report of a sync that [`Self::next_request`] declared complete.
    pub fn finish(self) -> SyncReport {
        self.report
    }
}
