//! The single writer: one thread applies pushed changes and commits them to redb, sharing one
//! durable commit among every push that arrived while the previous commit was in flight
//! (group commit). A push is answered only after its commit returned, so an acknowledged
//! change is on disk.
//!
//! The writer keeps recently written documents in a bounded LRU cache; any other document is
//! loaded from storage on demand. A failed commit evicts the documents it touched, so the
//! cache never holds a change that is not stored.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread::JoinHandle;

use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use lru::LruCache;
use outpost_protocol::{DeviceId, DocId, DocPush, PushOutcome, PushResult};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::storage::{Committed, Storage, StorageError, WriteTables};

/// Pushes at most one group commit carries.
const MAX_BATCH: usize = 256;

/// Why a push was not acknowledged; the device keeps its changes and retries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The group commit this push was part of failed; every push in it was refused.
    #[error("{0}")]
    Storage(Arc<StorageError>),
    #[error("the server is shutting down")]
    ShuttingDown,
}

struct Job {
    device: DeviceId,
    pushes: Vec<DocPush>,
    received_at_ms: i64,
    done: oneshot::Sender<Result<Vec<PushResult>, Arc<StorageError>>>,
}

/// The handle request handlers use to reach the writer thread.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread. It stops once every `Writer` handle is dropped and the queued
    /// pushes are committed.
    pub fn spawn(
        storage: Arc<Storage>,
        cache_docs: NonZeroUsize,
        events: broadcast::Sender<Committed>,
    ) -> (Writer, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        let mut thread = WriterThread {
            storage,
            cache: LruCache::new(cache_docs),
            events,
        };
        let handle = std::thread::Builder::new()
            .name("outpost-writer".into())
            .spawn(move || thread.run(queue))
            .expect("the OS can start the writer thread");
        (Writer { jobs }, handle)
    }

    /// Applies and durably commits `pushes` from `device`; one result per push, in order.
    pub async fn push(
        &self,
        device: DeviceId,
        pushes: Vec<DocPush>,
        received_at_ms: i64,
    ) -> Result<Vec<PushResult>, WriteError> {
        let (done, result) = oneshot::channel();
        let job = Job {
            device,
            pushes,
            received_at_ms,
            done,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        match result.await {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(e)) => Err(WriteError::Storage(e)),
            Err(_) => Err(WriteError::ShuttingDown),
        }
    }
}

struct WriterThread {
    storage: Arc<Storage>,
    cache: LruCache<DocId, Automerge>,
    events: broadcast::Sender<Committed>,
}

impl WriterThread {
    fn run(&mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Job>) {
        let mut touched = HashSet::new();
        let mut committed = Vec::new();
        match self.apply_batch(&batch, &mut touched, &mut committed) {
            Ok(results) => {
                for (job, results) in batch.into_iter().zip(results) {
                    // A device that hung up simply misses its acknowledgement; it will retry
                    // and find its changes already stored.
                    let _ = job.done.send(Ok(results));
                }
                for commit in committed {
                    // No subscribers is not an error.
                    let _ = self.events.send(commit);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, pushes = batch.len(), "group commit failed");
                for doc in &touched {
                    self.cache.pop(doc);
                }
                let e = Arc::new(e);
                for job in batch {
                    let _ = job.done.send(Err(Arc::clone(&e)));
                }
            }
        }
    }

    fn apply_batch(
        &mut self,
        batch: &[Job],
        touched: &mut HashSet<DocId>,
        committed: &mut Vec<Committed>,
    ) -> Result<Vec<Vec<PushResult>>, StorageError> {
        let txn = self.storage.begin_write()?;
        let mut all = Vec::with_capacity(batch.len());
        {
            let mut tables = WriteTables::open(&txn)?;
            let mut head = tables.feed_head()?;
            for job in batch {
                let mut results = Vec::with_capacity(job.pushes.len());
                for push in &job.pushes {
                    touched.insert(push.doc);
                    let next = Committed {
                        seq: head.next(),
                        doc: push.doc,
                        origin: job.device,
                    };
                    let outcome = self.apply_push(&mut tables, next, push, job.received_at_ms)?;
                    if outcome == Applied::Committed {
                        head = next.seq;
                        committed.push(next);
                    }
                    results.push(PushResult {
                        doc: push.doc,
                        outcome: outcome.into(),
                    });
                }
                all.push(results);
            }
        }
        txn.commit()?;
        Ok(all)
    }

    /// Applies one document's pushed changes inside the open transaction.
    fn apply_push(
        &mut self,
        tables: &mut WriteTables<'_>,
        next: Committed,
        push: &DocPush,
        received_at_ms: i64,
    ) -> Result<Applied, StorageError> {
        // Each change with the bytes it came in: stored and relayed as sent, so a change the
        // device compressed stays compressed.
        let mut changes: Vec<(Change, &[u8])> = Vec::with_capacity(push.changes.len());
        for (i, bytes) in push.changes.iter().enumerate() {
            match Change::from_bytes(bytes.clone()) {
                Ok(change) => changes.push((change, bytes)),
                Err(e) => {
                    return Ok(Applied::Invalid(format!(
                        "change {i} is not an automerge change: {e}"
                    )));
                }
            }
        }
        let doc = self
            .cache
            .try_get_or_insert_mut(push.doc, || tables.load(push.doc))?;
        let mut fresh_hashes = HashSet::new();
        changes.retain(|(c, _)| {
            doc.get_change_by_hash(&c.hash()).is_none() && fresh_hashes.insert(c.hash())
        });
        if changes.is_empty() {
            // Everything is already stored: a retry of a push whose reply was lost.
            return Ok(Applied::AlreadyStored);
        }
        let known =
            |h: &ChangeHash| fresh_hashes.contains(h) || doc.get_change_by_hash(h).is_some();
        if !changes.iter().all(|(c, _)| c.deps().iter().all(known)) {
            return Ok(Applied::MissingDependencies);
        }
        let (changes, encoded): (Vec<Change>, Vec<&[u8]>) = changes.into_iter().unzip();
        if let Err(e) = doc.apply_changes(changes) {
            // The cached copy may hold part of the push; drop it so the next load is clean.
            self.cache.pop(&push.doc);
            return Ok(Applied::Invalid(format!(
                "changes could not be applied: {e}"
            )));
        }
        tables.commit_changes(next, received_at_ms, &encoded, doc)?;
        Ok(Applied::Committed)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Applied {
    Committed,
    AlreadyStored,
    MissingDependencies,
    Invalid(String),
}

impl From<Applied> for PushOutcome {
    fn from(applied: Applied) -> PushOutcome {
        match applied {
            Applied::Committed | Applied::AlreadyStored => PushOutcome::Accepted,
            Applied::MissingDependencies => PushOutcome::MissingDependencies,
            Applied::Invalid(reason) => PushOutcome::Invalid { reason },
        }
    }
}
