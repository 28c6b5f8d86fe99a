//! Catch-up: the part of a sync reply that brings a device from its checkpoint to the head of
//! the change feed, built from one consistent read of the store.
//!
//! It walks the feed after the checkpoint (one entry per commit), so its cost follows what
//! changed, never how many documents exist. Chunks a device pushed itself are not sent back.
//! A reply stops at [`REPLY_BUDGET`] bytes; the device asks again from the new checkpoint.

use std::collections::{HashMap, HashSet};

use outpost_protocol::{DeviceId, DocId, DocUpdate, Seq};

use crate::storage::{DocMeta, ReadTables, StorageError};

/// Change bytes one reply carries before it is cut (at least one commit is always sent).
pub const REPLY_BUDGET: usize = 4 * 1024 * 1024;

/// The catch-up part of a reply.
#[derive(Debug, PartialEq, Eq)]
pub struct CatchUp {
    pub checkpoint: Seq,
    pub more: bool,
    pub updates: Vec<DocUpdate>,
}

struct Pending {
    update: DocUpdate,
    meta: DocMeta,
    snapshot_sent: bool,
}

/// The updates of one reply, in the order their documents first appear.
struct Updates<'t> {
    tables: &'t ReadTables,
    order: Vec<DocId>,
    pending: HashMap<DocId, Pending>,
}

impl Updates<'_> {
    fn entry(&mut self, doc: DocId) -> Result<&mut Pending, StorageError> {
        if !self.pending.contains_key(&doc) {
            let meta = self.tables.meta(doc)?;
            let update = DocUpdate {
                doc,
                snapshot: None,
                changes: Vec::new(),
                heads: meta.heads.clone(),
            };
            self.pending.insert(
                doc,
                Pending {
                    update,
                    meta,
                    snapshot_sent: false,
                },
            );
            self.order.push(doc);
        }
        Ok(self.pending.get_mut(&doc).expect("inserted above"))
    }

    /// Updates that carry something, plus every pushed document (for its heads).
    fn finish(mut self, pushed: &HashSet<DocId>) -> Vec<DocUpdate> {
        let pending = &mut self.pending;
        self.order
            .into_iter()
            .filter_map(|doc| pending.remove(&doc))
            .map(|p| p.update)
            .filter(|u| u.snapshot.is_some() || !u.changes.is_empty() || pushed.contains(&u.doc))
            .collect()
    }
}

/// Collects every change after `checkpoint` that `device` did not push itself, plus an update
/// (with the server's heads) for each document in `pushed`.
pub(crate) fn catch_up(
    tables: &ReadTables,
    device: DeviceId,
    checkpoint: Seq,
    pushed: &[DocId],
    budget: usize,
) -> Result<CatchUp, StorageError> {
    let head = tables.feed_head()?;
    // A checkpoint ahead of the feed comes from another server's feed (a restored or replaced
    // server): start over rather than skip changes.
    let start = if checkpoint > head {
        Seq::ZERO
    } else {
        checkpoint
    };
    let mut reached = start;
    let mut more = false;
    let mut used = 0;
    let mut updates = Updates {
        tables,
        order: Vec::new(),
        pending: HashMap::new(),
    };
    for entry in tables.feed_after(start)? {
        if used >= budget {
            more = true;
            break;
        }
        let (seq, doc) = entry?;
        reached = seq;
        let pending = updates.entry(doc)?;
        if seq <= pending.meta.snapshot_seq {
            // This commit was folded into the snapshot: send the snapshot, once.
            if !pending.snapshot_sent {
                let snapshot = tables.snapshot(doc)?;
                used += snapshot.as_ref().map_or(0, Vec::len);
                pending.update.snapshot = snapshot;
                pending.snapshot_sent = true;
            }
            continue;
        }
        if let Some(chunk) = tables.chunk(doc, seq)?
            && chunk.origin != device
        {
            used += chunk.changes.iter().map(Vec::len).sum::<usize>();
            pending.update.changes.extend(chunk.changes);
        }
    }
    for doc in pushed {
        updates.entry(*doc)?;
    }
    let pushed = pushed.iter().copied().collect();
    Ok(CatchUp {
        checkpoint: reached,
        more,
        updates: updates.finish(&pushed),
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::sync::Arc;

    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ROOT};
    use outpost_protocol::{DocPush, PushOutcome};
    use tokio::sync::broadcast;

    use super::*;
    use crate::storage::Storage;
    use crate::writer::Writer;

    fn changes(doc: &mut Automerge, value: &str) -> Vec<Vec<u8>> {
        let before = doc.get_heads();
        let mut tx = doc.transaction();
        tx.put(ROOT, "name", value).unwrap();
        tx.commit();
        doc.get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    /// Pages cut at a tiny budget still deliver every document exactly up to the head, never
    /// echo a device's own pushes, and resume from each page's checkpoint.
    #[tokio::test]
    async fn paged_catch_up_covers_the_feed_exactly_once() {
        let storage = Arc::new(Storage::in_memory().unwrap());
        let (events, _) = broadcast::channel(16);
        let (writer, _thread) =
            Writer::spawn(storage.clone(), NonZeroUsize::new(2).unwrap(), events);
        let (alice, bob) = (DeviceId::from_u128(1), DeviceId::from_u128(2));
        let mut docs = Vec::new();
        for i in 0..10u128 {
            let mut doc = Automerge::new().with_actor(ActorId::from(&[i as u8 + 1][..]));
            let pushes = vec![DocPush {
                doc: DocId::from_u128(i + 100),
                changes: changes(&mut doc, "v1"),
            }];
            let origin = if i % 2 == 0 { alice } else { bob };
            let results = writer.push(origin, pushes, 0).await.unwrap();
            assert_eq!(results[0].outcome, PushOutcome::Accepted);
            docs.push(doc);
        }

        let mut checkpoint = Seq::ZERO;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = catch_up(&storage.read().unwrap(), alice, checkpoint, &[], 1).unwrap();
            pages += 1;
            seen.extend(page.updates.iter().map(|u| u.doc));
            assert!(page.checkpoint > checkpoint, "every page makes progress");
            checkpoint = page.checkpoint;
            if !page.more {
                break;
            }
        }
        let bobs: Vec<DocId> = (0..10u128)
            .filter(|i| i % 2 == 1)
            .map(|i| DocId::from_u128(i + 100))
            .collect();
        assert_eq!(seen, bobs, "only bob's documents, each once, in feed order");
        assert_eq!(checkpoint, storage.feed_head().unwrap());
        assert!(pages >= bobs.len());

        // Up to date: nothing to send; a checkpoint from another server's feed starts over.
        let idle = catch_up(
            &storage.read().unwrap(),
            alice,
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
        let reset = catch_up(&storage.read().unwrap(), alice, Seq(999), &[], REPLY_BUDGET).unwrap();
        assert_eq!(reset.updates.len(), bobs.len());
    }
}
