//! The single writer: one thread applies pushed changes and commits them to redb, sharing one
//! durable commit among every push that arrived while the previous commit was in flight
//! (group commit). A push is answered only after its commit returned, so an acknowledged
//! change is on disk.
//!
//! The writer keeps recently written documents in a bounded LRU cache; any other document is
//! loaded from storage on demand. A failed commit, or a refused push, evicts the documents it
//! touched, so the cache never holds a change that is not stored.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread::JoinHandle;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use lru::LruCache;
use outpost_client::AccountDoc;
use outpost_client::account::hydrate;
use outpost_client::model::{UPGRADE_ACTOR, write_changes};
use outpost_protocol::{DocId, DocPush, PushOutcome, PushResult, Seq};
use redb::ReadableTable;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::access::{check_owner, check_rules, doc_scopes, may_write, owner_team};
use crate::directory::Principal;
use crate::projection::Projection;
use crate::storage::{
    CommitWrite, Committed, DocMeta, SERVER_DEVICE, Storage, StorageError, WriteTables,
};

/// Pushes at most one group commit carries.
const MAX_BATCH: usize = 256;

/// The automerge actor of the server's own changes (handovers).
pub const SERVER_ACTOR: &[u8; 16] = b"outpost-server\0\0";

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

/// What the writer is asked to do.
#[derive(Debug)]
enum Work {
    /// A device's pushed changes.
    Push(Vec<DocPush>),
    /// Make `to` the owner of `docs` (a handover).
    Reassign { docs: Vec<DocId>, to: String },
    /// Share `doc` with `login` (`Some(write)`) or stop sharing it (`None`).
    Share {
        doc: DocId,
        login: String,
        write: Option<bool>,
    },
}

struct Job {
    who: Principal,
    work: Work,
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

    async fn run(
        &self,
        who: Principal,
        work: Work,
        received_at_ms: i64,
    ) -> Result<Vec<PushResult>, WriteError> {
        let (done, result) = oneshot::channel();
        let job = Job {
            who,
            work,
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

    /// Checks, applies and durably commits `pushes` from `who`'s device; one result per push,
    /// in order.
    pub async fn push(
        &self,
        who: Principal,
        pushes: Vec<DocPush>,
        received_at_ms: i64,
    ) -> Result<Vec<PushResult>, WriteError> {
        self.run(who, Work::Push(pushes), received_at_ms).await
    }

    /// Makes `to` the owner of `docs`, as `who` (who must be allowed to), one change per
    /// document written by the server. One result per document.
    pub async fn reassign(
        &self,
        who: Principal,
        docs: Vec<DocId>,
        to: String,
        now_ms: i64,
    ) -> Result<Vec<PushResult>, WriteError> {
        self.run(who, Work::Reassign { docs, to }, now_ms).await
    }

    /// Shares `doc` with `login` (`write`: may edit), or stops sharing it (`None`).
    pub async fn share(
        &self,
        who: Principal,
        doc: DocId,
        login: String,
        write: Option<bool>,
        now_ms: i64,
    ) -> Result<PushResult, WriteError> {
        let mut results = self
            .run(who, Work::Share { doc, login, write }, now_ms)
            .await?;
        Ok(results.remove(0))
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
                let docs: Vec<DocId> = match &job.work {
                    Work::Push(pushes) => pushes.iter().map(|p| p.doc).collect(),
                    Work::Reassign { docs, .. } => docs.clone(),
                    Work::Share { doc, .. } => vec![*doc],
                };
                let mut results = Vec::with_capacity(docs.len());
                for (i, doc) in docs.into_iter().enumerate() {
                    touched.insert(doc);
                    let at = Commit {
                        seq: head.next(),
                        doc,
                        who: &job.who,
                        received_at_ms: job.received_at_ms,
                    };
                    let outcome = match &job.work {
                        Work::Push(pushes) => self.apply_push(&mut tables, &at, &pushes[i])?,
                        Work::Reassign { to, .. } => self.reassign(&mut tables, &at, to)?,
                        Work::Share { login, write, .. } => {
                            self.share(&mut tables, &at, login, *write)?
                        }
                    };
                    let outcome = match outcome {
                        Applied::Committed(commit) => {
                            head = commit.seq;
                            committed.push(commit);
                            PushOutcome::Accepted
                        }
                        Applied::AlreadyStored => PushOutcome::Accepted,
                        Applied::MissingDependencies => PushOutcome::MissingDependencies,
                        Applied::Invalid(reason) => PushOutcome::Invalid { reason },
                        Applied::Rejected(reason) => {
                            // The cached copy may hold the refused changes: reload it next time.
                            self.cache.pop(&doc);
                            PushOutcome::Rejected { reason }
                        }
                    };
                    results.push(PushResult { doc, outcome });
                }
                all.push(results);
            }
        }
        txn.commit()?;
        Ok(all)
    }

    /// The document from the cache, or loaded from the transaction.
    fn doc(
        &mut self,
        tables: &WriteTables<'_>,
        doc: DocId,
    ) -> Result<&mut Automerge, StorageError> {
        self.cache.try_get_or_insert_mut(doc, || tables.load(doc))
    }

    /// Checks one document's pushed changes and, if they pass, applies and stores them.
    fn apply_push(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        push: &DocPush,
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
        let meta = tables.meta(at.doc)?;
        let shares = tables.shares_of(at.doc)?;
        let doc = self.doc(tables, at.doc)?;
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
        let device_actor = ActorId::from(at.who.device.to_bytes().as_slice());
        let upgrade_actor = ActorId::from(&UPGRADE_ACTOR[..]);
        if let Some((c, _)) = changes
            .iter()
            .find(|(c, _)| *c.actor_id() != device_actor && *c.actor_id() != upgrade_actor)
        {
            return Ok(Applied::Rejected(format!(
                "a change is signed by actor {}, not by this device",
                c.actor_id()
            )));
        }
        // Where the pushed changes start: the state their author edited.
        let base: Vec<ChangeHash> = changes
            .iter()
            .flat_map(|(c, _)| c.deps().iter().copied())
            .filter(|h| !fresh_hashes.contains(h))
            .collect();
        let before = if doc.is_empty() {
            None
        } else {
            match hydrate(&*doc, at.doc) {
                Ok(record) => Some(record),
                Err(e) => return Ok(Applied::Rejected(e.to_string())),
            }
        };
        let (changes, encoded): (Vec<Change>, Vec<&[u8]>) = changes.into_iter().unzip();
        let hashes: Vec<[u8; 32]> = changes.iter().map(|c| c.hash().0).collect();
        if let Err(e) = doc.apply_changes(changes) {
            self.cache.pop(&at.doc);
            return Ok(Applied::Invalid(format!(
                "changes could not be applied: {e}"
            )));
        }
        let after = match hydrate(&*doc, at.doc) {
            Ok(record) => record,
            Err(e) => return Ok(Applied::Rejected(e.to_string())),
        };
        let owned_at_base = || {
            doc.fork_at(&base)
                .ok()
                .and_then(|d| hydrate(&d, at.doc).ok())
                .is_some_and(|r| r.owner == at.who.login)
        };
        let verdict = match &before {
            None => check_owner(tables, at.who, &after.owner)?,
            Some(before) if before.owner != after.owner => {
                if may_write(at.who, &meta, &shares) {
                    check_owner(tables, at.who, &after.owner)?
                } else {
                    Err(format!(
                        "you may not change account {} (owner {})",
                        at.doc, meta.owner
                    ))
                }
            }
            Some(_) if may_write(at.who, &meta, &shares) || owned_at_base() => Ok(()),
            Some(_) => Err(format!(
                "you may not change account {} (owner {})",
                at.doc, meta.owner
            )),
        };
        if let Err(reason) = verdict.and_then(|()| check_rules(before.as_ref(), &after)) {
            return Ok(Applied::Rejected(reason));
        }
        let team = owner_team(tables, &after.owner)?;
        let scopes = doc_scopes(&after.owner, team.as_deref(), &shares);
        let row = Projection::of(&after, team);
        let mut write = at.write(meta, &encoded, &after.owner, scopes, Some(row));
        write.hashes = hashes;
        let commit = tables.commit(write, doc)?;
        Ok(Applied::Committed(commit))
    }

    /// Makes `to` the owner of one document with a change of the server's own.
    fn reassign(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        to: &str,
    ) -> Result<Applied, StorageError> {
        let meta = tables.meta(at.doc)?;
        if meta.heads.is_empty() || !may_write(at.who, &meta, &[]) {
            return Ok(Applied::Rejected(format!(
                "you may not hand over account {}",
                at.doc
            )));
        }
        if let Err(reason) = check_owner(tables, at.who, to)? {
            return Ok(Applied::Rejected(reason));
        }
        let shares = tables.shares_of(at.doc)?;
        let team = owner_team(tables, to)?;
        let scopes = doc_scopes(to, team.as_deref(), &shares);
        let doc = self.doc(tables, at.doc)?;
        let before: AccountDoc = match hydrate(&*doc, at.doc) {
            Ok(record) => record,
            Err(e) => return Ok(Applied::Rejected(e.to_string())),
        };
        if before.owner == to {
            return Ok(Applied::AlreadyStored);
        }
        let after = AccountDoc {
            owner: to.to_owned(),
            ..before.clone()
        };
        let heads = doc.get_heads();
        doc.set_actor(ActorId::from(&SERVER_ACTOR[..]));
        let mut tx = doc.transaction();
        let written = write_changes(&mut tx, &before, &after);
        let time = at.received_at_ms / 1000;
        tx.commit_with(CommitOptions::default().with_time(time));
        if let Err(e) = written {
            self.cache.pop(&at.doc);
            return Ok(Applied::Invalid(format!("cannot write the new owner: {e}")));
        }
        let new = doc.get_changes(&heads);
        let hashes = new.iter().map(|c| c.hash().0).collect();
        let change: Vec<Vec<u8>> = new.iter().map(|c| c.raw_bytes().to_vec()).collect();
        let encoded: Vec<&[u8]> = change.iter().map(Vec::as_slice).collect();
        let row = Projection::of(&after, team);
        let mut write = at.write(meta, &encoded, to, scopes, Some(row));
        write.hashes = hashes;
        write.origin = SERVER_DEVICE;
        let commit = tables.commit(write, doc)?;
        Ok(Applied::Committed(commit))
    }

    /// Shares one document with a user, or stops sharing it: a commit that only moves the
    /// document between scopes.
    fn share(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        login: &str,
        write: Option<bool>,
    ) -> Result<Applied, StorageError> {
        let meta = tables.meta(at.doc)?;
        if meta.heads.is_empty() || !may_write(at.who, &meta, &[]) {
            return Ok(Applied::Rejected(format!(
                "you may not share account {}",
                at.doc
            )));
        }
        if tables.users.get(login)?.is_none() {
            return Ok(Applied::Rejected(format!("no user {login}")));
        }
        match write {
            Some(write) => tables.shares.insert((at.doc.as_u128(), login), write)?,
            None => tables.shares.remove((at.doc.as_u128(), login))?,
        };
        let shares = tables.shares_of(at.doc)?;
        let owner = meta.owner.clone();
        let team = owner_team(tables, &owner)?;
        let scopes = doc_scopes(&owner, team.as_deref(), &shares);
        let doc = self.doc(tables, at.doc)?;
        let commit = tables.commit(at.write(meta, &[], &owner, scopes, None), doc)?;
        Ok(Applied::Committed(commit))
    }
}

/// Where and for whom one document's commit happens.
struct Commit<'a> {
    seq: Seq,
    doc: DocId,
    who: &'a Principal,
    received_at_ms: i64,
}

impl<'a> Commit<'a> {
    fn write(
        &'a self,
        meta: DocMeta,
        changes: &'a [&'a [u8]],
        owner: &'a str,
        scopes: Vec<String>,
        projection: Option<Projection>,
    ) -> CommitWrite<'a> {
        CommitWrite {
            meta,
            seq: self.seq,
            doc: self.doc,
            origin: self.who.device,
            user: &self.who.login,
            received_at_ms: self.received_at_ms,
            changes,
            hashes: Vec::new(),
            owner,
            scopes,
            projection,
        }
    }
}

#[derive(Debug)]
enum Applied {
    Committed(Committed),
    AlreadyStored,
    MissingDependencies,
    Invalid(String),
    Rejected(String),
}
