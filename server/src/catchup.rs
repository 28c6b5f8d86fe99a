//! Catch-up: the part of a sync reply that brings a device from its checkpoint to the head of
//! the change feed, built from one consistent read of the store.
//!
//! It walks the feed after the checkpoint (one entry per commit), so its cost follows what
//! changed, never how many documents exist. Chunks a device pushed itself are not sent back.
//! A reply stops at [`REPLY_BUDGET`] bytes; the device asks again from the new checkpoint.

use std::collections::HashMap;
use std::iter::Peekable;

use outpost_protocol::{DeviceId, DocId, DocUpdate, Seq, UpdateAction};

use crate::access::sees;
use crate::storage::{DocMeta, ReadTables, ScopeEntry, StorageError};

/// Change bytes one reply carries before it is cut (at least one commit is always sent).
pub const REPLY_BUDGET: usize = 4 * 1024 * 1024;

/// The catch-up part of a reply.
#[derive(Debug, PartialEq, Eq)]
pub struct CatchUp {
    pub checkpoint: Seq,
    pub more: bool,
    pub updates: Vec<DocUpdate>,
}

/// Who a reply is for: the device (its own pushes are not echoed) and the scopes it reads
/// (`None`: every document).
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    pub device: DeviceId,
    pub scopes: Option<Vec<String>>,
}

impl Reader {
    fn sees(&self, meta: &DocMeta) -> bool {
        !meta.heads.is_empty() && sees(self.scopes.as_deref(), &meta.scopes)
    }
}

struct Pending {
    update: DocUpdate,
    meta: DocMeta,
    /// The whole document is in the update already: later commits add nothing.
    whole: bool,
}

/// The updates of one reply, in the order their documents first appear.
struct Updates<'t> {
    tables: &'t ReadTables,
    order: Vec<DocId>,
    pending: HashMap<DocId, Pending>,
    used: usize,
}

impl Updates<'_> {
    fn entry(&mut self, doc: DocId) -> Result<&mut Pending, StorageError> {
        if !self.pending.contains_key(&doc) {
            let meta = self.tables.meta(doc)?;
            let update = DocUpdate {
                doc,
                action: UpdateAction::Merge,
                snapshot: None,
                changes: Vec::new(),
                heads: meta.heads.clone(),
            };
            self.pending.insert(
                doc,
                Pending {
                    update,
                    meta,
                    whole: false,
                },
            );
            self.order.push(doc);
        }
        Ok(self.pending.get_mut(&doc).expect("inserted above"))
    }

    /// Puts the whole document in its update (replacing anything gathered for it).
    fn whole(&mut self, doc: DocId, action: UpdateAction) -> Result<(), StorageError> {
        let snapshot = self.tables.document(doc)?.map(|d| d.save());
        self.used += snapshot.as_ref().map_or(0, Vec::len);
        let pending = self.entry(doc)?;
        pending.update.action = action;
        pending.update.snapshot = snapshot;
        pending.update.changes.clear();
        pending.whole = true;
        Ok(())
    }

    /// Updates that carry something, plus every pushed document (for its heads).
    fn finish(mut self, pushed: &[(DocId, bool)]) -> Vec<DocUpdate> {
        let pending = &mut self.pending;
        self.order
            .into_iter()
            .filter_map(|doc| pending.remove(&doc))
            .map(|p| p.update)
            .filter(|u| {
                u.action != UpdateAction::Merge
                    || u.snapshot.is_some()
                    || !u.changes.is_empty()
                    || pushed.iter().any(|(d, _)| *d == u.doc)
            })
            .collect()
    }
}

type Entries<'t> = Box<dyn Iterator<Item = Result<(Seq, DocId, ScopeEntry), StorageError>> + 't>;

/// The feed entries a reader sees after `after`, in feed order: the global feed for a reader
/// of everything, else the merge of its scopes' feeds (an entry in two scopes comes once).
fn entries<'t>(
    tables: &'t ReadTables,
    reader: &Reader,
    after: Seq,
) -> Result<Entries<'t>, StorageError> {
    let Some(scopes) = &reader.scopes else {
        let feed = tables.feed_after(after)?;
        return Ok(Box::new(
            feed.map(|e| e.map(|(seq, doc)| (seq, doc, ScopeEntry::Changed))),
        ));
    };
    let mut feeds: Vec<Peekable<Entries<'t>>> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let feed: Entries<'t> = Box::new(tables.scope_after(scope, after)?);
        feeds.push(feed.peekable());
    }
    let mut last = after;
    Ok(Box::new(std::iter::from_fn(move || {
        loop {
            // The feed whose next entry is oldest (errors first, so they surface).
            let next = feeds
                .iter_mut()
                .enumerate()
                .filter_map(|(i, f)| match f.peek()? {
                    Ok((seq, _, _)) => Some((i, *seq)),
                    Err(_) => Some((i, Seq::ZERO)),
                })
                .min_by_key(|(_, seq)| *seq)?;
            let entry = feeds[next.0].next()?;
            match entry {
                Ok((seq, _, _)) if seq == last => continue,
                Ok((seq, doc, kind)) => {
                    last = seq;
                    return Some(Ok((seq, doc, kind)));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    })))
}

/// Collects every change in the reader's scopes after `checkpoint` that its device did not
/// push itself, the whole of each document that entered its scopes, a `Drop` for each that
/// left, and an update for each document in `pushed` (with whether its push was rejected):
/// the server's heads, or the server's version to reset to, or `Drop` if the reader may not
/// see the document.
pub(crate) fn catch_up(
    tables: &ReadTables,
    reader: &Reader,
    checkpoint: Seq,
    pushed: &[(DocId, bool)],
    budget: usize,
) -> Result<CatchUp, StorageError> {
    let head = tables.feed_head()?;
    let mut updates = Updates {
        tables,
        order: Vec::new(),
        pending: HashMap::new(),
        used: 0,
    };
    if !tables.knows(checkpoint)? {
        // The checkpoint comes from a feed this store does not continue (the server was
        // restored from a backup, or replaced): commits this device saw, even its own, may
        // be missing here. A checkpoint of zero, lower than the device's, tells it so: it
        // pushes every document again (the server keeps what it lacks) and catches up from
        // the start.
        return catch_up_pushed(updates, reader, pushed, Seq::ZERO, true);
    }
    let mut reached = head;
    let mut more = false;
    let mut last = checkpoint;
    for entry in entries(tables, reader, checkpoint)? {
        if updates.used >= budget {
            more = true;
            reached = last;
            break;
        }
        let (seq, doc, kind) = entry?;
        last = seq;
        let pending = updates.entry(doc)?;
        // Visibility as of now decides: a document that left and came back is sent whole by
        // its `Entered` entry; one that is gone for good is dropped whatever came before.
        let visible = reader.sees(&pending.meta);
        match kind {
            ScopeEntry::Left if !visible => {
                pending.update.action = UpdateAction::Drop;
                pending.update.snapshot = None;
                pending.update.changes.clear();
            }
            ScopeEntry::Entered if visible && !pending.whole => {
                updates.whole(doc, UpdateAction::Merge)?;
            }
            ScopeEntry::Changed if visible && !pending.whole => {
                if seq <= pending.meta.snapshot_seq {
                    // This commit was folded into the snapshot: send the snapshot, once.
                    if pending.update.snapshot.is_none() {
                        let snapshot = tables.snapshot(doc)?;
                        updates.used += snapshot.as_ref().map_or(0, Vec::len);
                        updates.entry(doc)?.update.snapshot = snapshot;
                    }
                    continue;
                }
                if let Some(chunk) = tables.chunk(doc, seq)?
                    && chunk.origin != reader.device
                {
                    let size = chunk.changes.iter().map(Vec::len).sum::<usize>();
                    pending.update.changes.extend(chunk.changes);
                    updates.used += size;
                }
            }
            _ => {}
        }
    }
    catch_up_pushed(updates, reader, pushed, reached, more)
}

/// Adds an update for each pushed document (its heads, the server's version after a
/// rejection, or `Drop` if the reader may not see it) and finishes the reply.
fn catch_up_pushed(
    mut updates: Updates<'_>,
    reader: &Reader,
    pushed: &[(DocId, bool)],
    checkpoint: Seq,
    more: bool,
) -> Result<CatchUp, StorageError> {
    for &(doc, rejected) in pushed {
        let pending = updates.entry(doc)?;
        if !reader.sees(&pending.meta) {
            // As for an id the server does not hold: no heads, nothing of the account.
            pending.update.action = UpdateAction::Drop;
            pending.update.snapshot = None;
            pending.update.changes.clear();
            pending.update.heads.clear();
        } else if rejected {
            updates.whole(doc, UpdateAction::Replace)?;
        }
    }
    Ok(CatchUp {
        checkpoint,
        more,
        updates: updates.finish(pushed),
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::sync::Arc;

    use chrono::Utc;
    use outpost_client::{NewAccount, Store, SyncSession};
    use outpost_protocol::api::{NewUser, Role};
    use outpost_protocol::{PushOutcome, SyncRequest};
    use tokio::sync::broadcast;

    use super::*;
    use crate::Config;
    use crate::directory::Principal;
    use crate::storage::Storage;
    use crate::writer::Writer;

    /// A new account owned by `root`, created on `store`, as the device would push it.
    fn new_account(store: &Store, name: &str) -> (DocId, Vec<outpost_protocol::DocPush>) {
        let new = NewAccount {
            name: name.into(),
            owner: "root".into(),
            ..NewAccount::default()
        };
        let id = store.create_account(&new, Utc::now()).unwrap();
        let body = SyncSession::new().next_request(store).unwrap().unwrap();
        let request: SyncRequest = outpost_protocol::decode(&body).unwrap();
        let pushes = request.pushes.into_iter().filter(|p| p.doc == id).collect();
        (id, pushes)
    }

    /// Pages cut at a tiny budget still deliver every document exactly up to the head, never
    /// echo a device's own pushes, and resume from each page's checkpoint.
    #[tokio::test]
    async fn paged_catch_up_covers_the_feed_exactly_once() {
        let storage = Arc::new(Storage::in_memory().unwrap());
        let (events, _) = broadcast::channel(16);
        let (writer, _thread) = Writer::spawn(
            storage.clone(),
            &Config {
                cache_docs: NonZeroUsize::new(2).unwrap(),
                ..Config::default()
            },
            events,
            Arc::default(),
            Arc::default(),
        );
        storage
            .add_user(&NewUser {
                login: "root".into(),
                password: "long enough password".into(),
                role: Role::Admin,
                team: None,
            })
            .unwrap();
        let stores = [Store::in_memory().unwrap(), Store::in_memory().unwrap()];
        let alice = stores[0].device();
        let admin = |device| Principal {
            login: "root".into(),
            role: Role::Admin,
            team: None,
            leads: Vec::new(),
            device,
        };
        let everything = |device| Reader {
            device,
            scopes: None,
        };
        let mut bobs = Vec::new();
        for i in 0..10 {
            let store = &stores[i % 2];
            let (id, pushes) = new_account(store, &format!("Account {i}"));
            let results = writer.push(admin(store.device()), pushes, 0).await.unwrap();
            assert_eq!(results[0].outcome, PushOutcome::Accepted);
            if i % 2 == 1 {
                bobs.push(id);
            }
        }

        let mut checkpoint = Seq::ZERO;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = catch_up(
                &storage.read().unwrap(),
                &everything(alice),
                checkpoint,
                &[],
                1,
            )
            .unwrap();
            pages += 1;
            seen.extend(page.updates.iter().map(|u| u.doc));
            assert!(page.checkpoint > checkpoint, "every page makes progress");
            checkpoint = page.checkpoint;
            if !page.more {
                break;
            }
        }
        assert_eq!(seen, bobs, "only bob's documents, each once, in feed order");
        assert_eq!(checkpoint, storage.feed_head().unwrap());
        assert!(pages >= bobs.len());

        // Up to date: nothing to send; a checkpoint from another server's feed starts over.
        let idle = catch_up(
            &storage.read().unwrap(),
            &everything(alice),
            checkpoint,
            &[],
            REPLY_BUDGET,
        )
        .unwrap();
        assert_eq!(
            idle,
            CatchUp {
                checkpoint,
                more: false,
                updates: vec![]
            }
        );
        let reset = catch_up(
            &storage.read().unwrap(),
            &everything(alice),
            Seq(999),
            &[],
            REPLY_BUDGET,
        )
        .unwrap();
        assert_eq!(
            reset,
            CatchUp {
                checkpoint: Seq::ZERO,
                more: true,
                updates: vec![]
            },
            "a checkpoint this feed never handed out is answered with zero, to start over"
        );
    }
}
