//! The documents a device worked on last, kept loaded.
//!
//! Loading a document means decoding its snapshot and replaying its chunks; for an account
//! with hundreds of follow-ups that costs more than the change being applied. A device keeps
//! touching the same few accounts (the one a rep is editing, the one a teammate is editing
//! while both are online), so [`DocCache`] keeps the last [`CACHED_DOCS`] of them.
//!
//! The cache only ever holds a document as it is *committed*:
//! - a write takes its document out of the cache (or loads it), changes it, commits, and only
//!   then puts it back ([`DocCache::put`]); an edit or transaction that fails leaves the
//!   document out, so the next use reads it from disk;
//! - writes hold [`DocCache::writing`] from before their transaction begins until they have
//!   put their documents back, so a later write can never be overtaken by an earlier one's
//!   put;
//! - reads use a cached document in place and never add one: a read transaction that began
//!   before a commit could otherwise put back a document older than the one just committed.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use automerge::Automerge;
use lru::LruCache;
use outpost_protocol::DocId;

/// Documents a device keeps loaded.
pub(crate) const CACHED_DOCS: usize = 64;

#[derive(Debug)]
pub(crate) struct DocCache {
    docs: Mutex<LruCache<DocId, Automerge>>,
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

    fn docs(&self) -> MutexGuard<'_, LruCache<DocId, Automerge>> {
        // A panic while the lock was held cannot leave a half-changed document in the
        // cache: documents are changed outside it.
        self.docs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held by a write from before its transaction begins until its documents are back.
    pub(crate) fn writing(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the committed document out, for a write to change.
    pub(crate) fn take(&self, id: DocId) -> Option<Automerge> {
        self.docs().pop(&id)
    }

    /// Runs `read` on the cached document; if it is not cached, gives `read` back.
    pub(crate) fn read<R, F: FnOnce(&Automerge) -> R>(&self, id: DocId, read: F) -> Result<R, F> {
        match self.docs().get(&id) {
            Some(doc) => Ok(read(doc)),
            None => Err(read),
        }
    }

    /// Puts back documents a write has committed.
    pub(crate) fn put(&self, docs: impl IntoIterator<Item = (DocId, Automerge)>) {
        let mut cache = self.docs();
        for (id, doc) in docs {
            cache.put(id, doc);
        }
    }
}
