//! The documents a device worked on last, kept loaded, each beside its typed record.
//!
//! Loading a document means decoding its snapshot and replaying its chunks, and reading the
//! typed account out of it walks every field and entry; for an account with hundreds of
//! follow-ups either costs more than the change being applied. A device keeps touching the
//! same few accounts (the one a rep is editing, the one a teammate is editing while both are
//! online), so [`DocCache`] keeps the last [`CACHED_DOCS`] of them, each with the record a
//! whole read of it gives ([`Loaded::record`]): an edit starts from that record and a reply
//! brings it up to date from automerge's patches, so neither reads the document whole.
//!
//! The cache only ever holds a document as it is *committed*:
//! - a write takes its document out of the cache (or loads it), changes it, commits, and only
//!   then puts it back ([`DocCache::put`]); an edit or transaction that fails leaves the
//!   document out, so the next use reads it from disk;
//! - writes hold [`DocCache::writing`] from before their transaction begins until they have
//!   put their documents back, so a later write can never be overtaken by an earlier one's
//!   put;
//! - reads use a cached document in place and never add one: a read transaction that began
//!   before a commit could otherwise put back a document older than the one just committed;
//! - a record is only ever put beside the document it was read from (or brought up to date
//!   with by that document's patches), so it is always what a whole read would give.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use automerge::Automerge;
use lru::LruCache;
use outpost_protocol::DocId;

use crate::model::AccountDoc;

/// Documents a device keeps loaded.
pub(crate) const CACHED_DOCS: usize = 64;

/// A document and, once read, the typed account it holds.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) doc: Automerge,
    /// The record [`crate::account::hydrate`] reads from `doc`; `None` until something needed
    /// it (a document loaded to push its changes is never read as an account).
    pub(crate) record: Option<AccountDoc>,
}

#[derive(Debug)]
pub(crate) struct DocCache {
    docs: Mutex<LruCache<DocId, Loaded>>,
    writing: Mutex<()>,
}

impl DocCache {
    pub(crate) fn new() -> DocCache {
        DocCache {
            docs: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHED_DOCS).expect("non-zero"),
            )),
            writing: Mutex::new(()),
        }
    }

    fn docs(&self) -> MutexGuard<'_, LruCache<DocId, Loaded>> {
        // A panic while the lock was held cannot leave a half-changed document in the
        // cache: documents are changed outside it.
        self.docs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held by a write from before its transaction begins until its documents are back.
    pub(crate) fn writing(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the committed document (and its record) out, for a write to change.
    pub(crate) fn take(&self, id: DocId) -> Option<Loaded> {
        self.docs().pop(&id)
    }

    /// Runs `read` on the cached document and its record (if read); if it is not cached,
    /// gives `read` back.
    pub(crate) fn read<R, F>(&self, id: DocId, read: F) -> Result<R, F>
    where
        F: FnOnce(&Automerge, Option<&AccountDoc>) -> R,
    {
        match self.docs().get(&id) {
            Some(loaded) => Ok(read(&loaded.doc, loaded.record.as_ref())),
            None => Err(read),
        }
    }

    /// Whether the document is cached (without making it the most recently used).
    pub(crate) fn contains(&self, id: DocId) -> bool {
        self.docs().contains(&id)
    }

    /// Puts back documents a write has committed, with their records.
    pub(crate) fn put(&self, docs: impl IntoIterator<Item = (DocId, Loaded)>) {
        let mut cache = self.docs();
        for (id, doc) in docs {
            cache.put(id, doc);
        }
    }
}
