//! The single writer: one thread applies pushed changes and commits them to redb, sharing one
//! durable commit among every push that arrived while the previous commit was in flight
//! (group commit). A push is answered only after its commit returned, so an acknowledged
//! change is on disk.
//!
//! The writer keeps recently written documents in a bounded LRU cache; any other document is
//! loaded from storage on demand. A failed commit, or a refused push, evicts the documents it
//! touched, so the cache never holds a change that is not stored.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, Change, ChangeHash, PatchLog, ReadDoc};
use lru::LruCache;
use outpost_client::AccountDoc;
use outpost_client::account::{hydrate, refresh, refresh_delta};
use outpost_client::duplicates::match_keys;
use outpost_client::model::{Archived, Comment, Contact, Status, upgrade_change, write_changes};
use outpost_protocol::api::Role;
use outpost_protocol::{DocId, DocPush, PushOutcome, PushResult, Seq};
use redb::ReadableTable;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::Config;
use crate::access::{
    check_owner, check_rules, doc_scopes, may_reassign, may_write, owner_team, reader_scopes, sees,
    user_scope,
};
use crate::directory::Principal;
use crate::freshness::SyncTimes;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::projection::Projection;
use crate::storage::{
    CommitWrite, Committed, DocMeta, SERVER_DEVICE, Storage, StorageError, WriteTables,
};

/// Why a push to an account was refused when the pusher may not change it: the same words
/// whether the pusher may see it or not, naming nobody.
fn not_yours(doc: DocId) -> String {
    format!("you may not change account {doc} / 无权修改该客户")
}

/// A UTC day, for the per-user quota of new accounts.
const MS_PER_DAY: i64 = 86_400_000;

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
    /// Merge the duplicate `from` into `survivor`.
    Merge { survivor: DocId, from: DocId },
    /// Add a manager's review comment to `doc`.
    Comment { doc: DocId, comment: Comment },
    /// Archive the lost account `doc` (`Some`), or restore it (`None`).
    Archive {
        doc: DocId,
        archived: Option<Archived>,
    },
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
        config: &Config,
        events: broadcast::Sender<Committed>,
        told: Arc<SyncTimes>,
        metrics: Arc<Metrics>,
    ) -> (Writer, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        let mut thread = WriterThread {
            storage,
            cache: LruCache::new(config.cache_docs),
            limits: config.limits.clone(),
            events,
            told,
            metrics,
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

    /// Merges the account `from` into `survivor`, as `who` (who must be allowed to change
    /// both): the survivor gains every contact, follow-up, plan, opportunity, deal, service,
    /// custom field and comment of `from` it lacks (and its notes), `from`'s owner may edit
    /// the survivor, and `from` is kept, pointing at the survivor. Edits pushed to `from`
    /// later are carried over to the survivor as they arrive.
    pub async fn merge(
        &self,
        who: Principal,
        survivor: DocId,
        from: DocId,
        now_ms: i64,
    ) -> Result<PushResult, WriteError> {
        let mut results = self
            .run(who, Work::Merge { survivor, from }, now_ms)
            .await?;
        Ok(results.remove(0))
    }

    /// Adds `comment` to `doc`, as `who` (who must be allowed to change it).
    pub async fn comment(
        &self,
        who: Principal,
        doc: DocId,
        comment: Comment,
        now_ms: i64,
    ) -> Result<PushResult, WriteError> {
        let mut results = self
            .run(who, Work::Comment { doc, comment }, now_ms)
            .await?;
        Ok(results.remove(0))
    }

    /// Archives the lost account `doc` (`Some`, saying by whom and when) or restores it
    /// (`None`), as `who` (who must be allowed to change it).
    pub async fn archive(
        &self,
        who: Principal,
        doc: DocId,
        archived: Option<Archived>,
        now_ms: i64,
    ) -> Result<PushResult, WriteError> {
        let mut results = self
            .run(who, Work::Archive { doc, archived }, now_ms)
            .await?;
        Ok(results.remove(0))
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
    cache: LruCache<DocId, Cached>,
    limits: Limits,
    events: broadcast::Sender<Committed>,
    /// What each device has been told (see [`SyncTimes::told`]).
    told: Arc<SyncTimes>,
    metrics: Arc<Metrics>,
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
        let started = std::time::Instant::now();
        let mut touched = HashSet::new();
        let mut committed = Vec::new();
        let applied = self.apply_batch(&batch, &mut touched, &mut committed);
        self.metrics.committed(started.elapsed());
        match applied {
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
        let rows;
        {
            let mut tables = WriteTables::open(&txn)?;
            let mut head = tables.feed_head()?;
            for job in batch {
                let docs: Vec<DocId> = match &job.work {
                    Work::Push(pushes) => pushes.iter().map(|p| p.doc).collect(),
                    Work::Reassign { docs, .. } => docs.clone(),
                    Work::Merge { survivor, .. } => vec![*survivor],
                    Work::Share { doc, .. }
                    | Work::Comment { doc, .. }
                    | Work::Archive { doc, .. } => vec![*doc],
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
                        Work::Merge { from, .. } => self.merge(&mut tables, &at, *from)?,
                        Work::Comment { comment, .. } => self.comment(&mut tables, &at, comment)?,
                        Work::Archive { archived, .. } => {
                            self.archive(&mut tables, &at, archived.as_ref())?
                        }
                        Work::Share { login, write, .. } => {
                            self.share(&mut tables, &at, login, *write)?
                        }
                    };
                    let outcome = match outcome {
                        Applied::Committed(commits) => {
                            head = commits.last().map_or(head, |c| c.seq);
                            committed.extend(commits);
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
            rows = std::mem::take(&mut tables.written_rows);
        }
        txn.commit()?;
        self.storage.publish(rows);
        Ok(all)
    }

    /// The document from the cache, or loaded from the transaction.
    fn doc(&mut self, tables: &WriteTables<'_>, doc: DocId) -> Result<&mut Cached, StorageError> {
        self.cache.try_get_or_insert_mut(doc, || {
            tables.load(doc).map(|doc| Cached { doc, record: None })
        })
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
        let limits = &self.limits;
        let pushed: usize = push.changes.iter().map(Vec::len).sum();
        if pushed > limits.push_bytes {
            return Ok(Applied::Rejected(format!(
                "{pushed} bytes of changes to one account in one sync; this server takes at \
                 most {}",
                limits.push_bytes
            )));
        }
        let mut changes: Vec<(Change, &[u8])> = Vec::with_capacity(push.changes.len());
        for (i, bytes) in push.changes.iter().enumerate() {
            if let Err(reason) = limits.check_change(bytes) {
                return Ok(Applied::Rejected(format!("change {i}: {reason}")));
            }
            match Change::from_bytes(bytes.clone()) {
                Ok(change) => changes.push((change, bytes)),
                Err(e) => {
                    return Ok(Applied::Invalid(format!(
                        "change {i} is not an automerge change: {e}"
                    )));
                }
            }
        }
        let (doc_ops, new_per_day) = (limits.doc_ops, limits.new_accounts_per_day);
        let told_memory = self.told.told_of(at.who.device);
        let day = u64::try_from(at.received_at_ms.div_euclid(MS_PER_DAY)).unwrap_or(0);
        let login = at.who.login.as_str();
        // Admins set the limits and load whole books: quotas are for everyone else.
        let quota = at.who.role != Role::Admin;
        let used = tables.usage(login, day)?;
        if quota && used.bytes.saturating_add(pushed as u64) > limits.user_bytes {
            return Ok(Applied::Rejected(format!(
                "{login} has {} bytes of changes stored; this server keeps at most {} per user \
                 (an admin can raise --max-user-bytes) / 已达每位用户的存储上限",
                used.bytes, limits.user_bytes
            )));
        }
        let meta = tables.meta(at.doc)?;
        let shares = tables.shares_of(at.doc)?;
        let cached = self.doc(tables, at.doc)?;
        let doc = &mut cached.doc;
        // Whether the document holds a change, from its change graph (`get_change_by_hash`
        // would rebuild the change from the document's operations).
        let stored = |doc: &Automerge, h: &ChangeHash| doc.get_change_meta_by_hash(h).is_some();
        let mut fresh_hashes = HashSet::new();
        changes.retain(|(c, _)| !stored(doc, &c.hash()) && fresh_hashes.insert(c.hash()));
        // A device that may not see the account learns nothing of it from the reply — not
        // that it exists, its owner, its size or its heads: it is answered as for an id the
        // server does not hold.
        let visible = !doc.is_empty() && sees(reader_scopes(at.who).as_deref(), &meta.scopes);
        if changes.is_empty() {
            // A retry of changes already stored proves the device had them; an empty push
            // proves nothing.
            if (!visible && push.changes.is_empty()) || doc.is_empty() {
                // Nothing to store, for an account the server does not hold: not an
                // acknowledgement a device may count on.
                self.cache.pop(&at.doc);
                return Ok(Applied::Invalid(format!(
                    "the push carries no changes for account {}, and the server holds no account \
                     of that id for you",
                    at.doc
                )));
            }
            // Everything is already stored: a retry of a push whose reply was lost.
            return Ok(Applied::AlreadyStored);
        }
        let known = |h: &ChangeHash| fresh_hashes.contains(h) || stored(doc, h);
        if !changes.iter().all(|(c, _)| c.deps().iter().all(known)) {
            return Ok(Applied::MissingDependencies);
        }
        let created = u64::from(doc.is_empty());
        if quota && used.created_today + created > new_per_day {
            return Ok(Applied::Rejected(format!(
                "{login} created {} new accounts today (UTC), the most this server takes from \
                 one user per day; sync again tomorrow, or ask an admin to raise \
                 --max-new-accounts-per-day / 今日新建客户数已达上限，明天再同步或请管理员调高",
                used.created_today
            )));
        }
        // Where the pushed changes start: the state their author edited.
        let base: Vec<ChangeHash> = changes
            .iter()
            .flat_map(|(c, _)| c.deps().iter().copied())
            .filter(|h| !fresh_hashes.contains(h))
            .collect();
        // Edits an old owner made before hearing of a handover are taken (they are the rep's
        // work, and reach the new owner); once the server has told that device of the
        // handover, it no longer writes there.
        // Forking at the base and hydrating costs a document rebuild: only for a pusher who
        // may not write the account as it stands.
        let unheard_handover = !doc.is_empty()
            && (!visible || !may_write(at.who, &meta, &shares))
            && doc
                .fork_at(&base)
                .ok()
                .and_then(|d| hydrate(&d, at.doc).ok())
                .is_some_and(|r| r.owner == at.who.login)
            && {
                let told = match told_memory {
                    Some(seq) => seq,
                    None => tables.told(at.who.device)?,
                };
                tables.left_after(&user_scope(&at.who.login), at.doc, told)?
            };
        if !doc.is_empty() && !visible && !unheard_handover {
            return Ok(Applied::Rejected(not_yours(at.doc)));
        }
        let ops = doc.stats().num_ops + changes.iter().map(|(c, _)| c.len() as u64).sum::<u64>();
        if ops > doc_ops {
            return Ok(Applied::Rejected(format!(
                "account {} would hold {ops} operations; this server keeps at most {doc_ops} \
                 per account",
                at.doc
            )));
        }
        let device_actor = ActorId::from(at.who.device.to_bytes().as_slice());
        // The shared upgrade actor signs exactly one change, which every device builds alike;
        // anything else under its name is a forgery.
        let upgrade = upgrade_change();
        if let Some((c, _)) = changes.iter().find(|(c, _)| {
            *c.actor_id() != device_actor
                && (c.actor_id() != upgrade.actor_id() || c.hash() != upgrade.hash())
        }) {
            return Ok(Applied::Rejected(format!(
                "a change is signed by actor {}, not by this device",
                c.actor_id()
            )));
        }
        let before = if doc.is_empty() {
            None
        } else {
            // Taken out: until this push is committed the cached document runs ahead of it,
            // and a read meanwhile reads the document.
            match cached.record(at.doc) {
                Ok(_) => cached.record.take(),
                Err(reason) => return Ok(Applied::Rejected(reason)),
            }
        };
        let doc = &mut cached.doc;
        let (changes, encoded): (Vec<Change>, Vec<&[u8]>) = changes.into_iter().unzip();
        let hashes: Vec<[u8; 32]> = changes.iter().map(|c| c.hash().0).collect();
        // Automerge trusts its input in places: a change reusing a sequence number its actor
        // already used with other content panics inside it. Such a change comes only from a
        // broken or hostile device; it must not take the writer thread down with it. The
        // document may be half-changed after a panic, so it leaves the cache (storage holds
        // it as it was).
        let mut log = PatchLog::active();
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.apply_changes_log_patches(changes, &mut log)
        }));
        let refused = match applied {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("changes could not be applied: {e}")),
            Err(_) => Some(
                "changes could not be applied: they contradict the account's history (such as \
                 a sequence number this device already used for another change)"
                    .to_owned(),
            ),
        };
        if let Some(reason) = refused {
            self.cache.pop(&at.doc);
            return Ok(Applied::Invalid(reason));
        }
        // The record after the changes, read from what they touched: a push costs what it
        // changed, however long the account's history.
        // The record after the changes and what they changed, read from what they touched:
        // a push costs what it changed, however long the account's history. The checks see
        // the change (`delta`): the root fields and the entries touched.
        let (after, delta) = match before {
            Some(mut record) => {
                let patches = doc.make_patches(&mut log);
                match refresh_delta(doc, at.doc, &mut record, &patches) {
                    Ok(delta) => (record, Some(delta)),
                    Err(e) => return Ok(Applied::Rejected(e.to_string())),
                }
            }
            None => match hydrate(&*doc, at.doc) {
                Ok(record) => (record, None),
                Err(e) => return Ok(Applied::Rejected(e.to_string())),
            },
        };
        // Every test's push checks the record read from the patches against the whole read
        // (the property test in the model covers hostile documents and the delta).
        debug_assert_eq!(Ok(&after), hydrate(&*doc, at.doc).as_ref().map_err(|_| ()));
        let before = delta.as_ref().map(|d| &d.before);
        let changed = delta.as_ref().map_or(&after, |d| &d.after);
        let verdict = match before {
            None => check_owner(tables, at.who, &after.owner)?,
            // A share, even for writing, is never a grant of ownership.
            Some(before) if before.owner != after.owner => {
                if may_reassign(at.who, &meta) {
                    check_owner(tables, at.who, &after.owner)?
                } else {
                    Err(format!(
                        "only a manager of its team or an admin may change the owner of \
                         account {} (owner {})",
                        at.doc, meta.owner
                    ))
                }
            }
            Some(_) if may_write(at.who, &meta, &shares) || unheard_handover => Ok(()),
            Some(_) => Err(not_yours(at.doc)),
        };
        if let Err(reason) = verdict.and_then(|()| {
            let received = chrono::DateTime::from_timestamp_millis(at.received_at_ms)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
            check_rules(before, changed, received)?;
            check_loggers(before, changed, at.who.device)
        }) {
            return Ok(Applied::Rejected(reason));
        }
        let team = owner_team(tables, &after.owner)?;
        let scopes = doc_scopes(&after.owner, team.as_deref(), &shares);
        let row = Projection::of(&after, team, |d| tables.device_user(d));
        let mut write = at.write(meta, &encoded, &after.owner, scopes, Some(row));
        write.hashes = hashes;
        let commit = tables.commit(write, doc)?;
        tables.add_usage(login, day, created, pushed as u64)?;
        let mut commits = vec![commit];
        if let (Some(delta), Some(survivor)) = (&delta, &after.merged_into) {
            // An edit to an account merged away (made offline before the device heard of the
            // merge): carry what it added over to the survivor.
            if let Ok(survivor) = survivor.parse::<DocId>()
                && let Ok(into) = self.record(tables, survivor)?
            {
                let next = at.next(survivor, commits[0].seq);
                if let Applied::Committed(more) =
                    self.carry_over(tables, &next, into, &delta.after, Some(&delta.before))?
                {
                    commits.extend(more);
                }
            }
        }
        // The cached record follows the document (a failed group commit evicts both).
        if let Some(cached) = self.cache.peek_mut(&at.doc) {
            cached.record = Some(after);
        }
        Ok(Applied::Committed(commits))
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
        let before = match self.record(tables, at.doc)? {
            Ok(record) => record,
            Err(reason) => return Ok(Applied::Rejected(reason)),
        };
        if before.owner == to {
            return Ok(Applied::AlreadyStored);
        }
        let after = AccountDoc {
            owner: to.to_owned(),
            ..before.clone()
        };
        self.server_change(tables, at, meta, &before, &after)
    }

    /// The account as the writer holds it, or why it cannot be read as one.
    fn record(
        &mut self,
        tables: &WriteTables<'_>,
        doc: DocId,
    ) -> Result<Result<AccountDoc, String>, StorageError> {
        Ok(self.doc(tables, doc)?.record(doc).cloned())
    }

    /// Writes `after` over `before` into the document as one change of the server's own (on
    /// behalf of `at.who`) and commits it with its scopes and projection row.
    fn server_change(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        meta: DocMeta,
        before: &AccountDoc,
        after: &AccountDoc,
    ) -> Result<Applied, StorageError> {
        let shares = tables.shares_of(at.doc)?;
        let team = owner_team(tables, &after.owner)?;
        let scopes = doc_scopes(&after.owner, team.as_deref(), &shares);
        let cached = self.doc(tables, at.doc)?;
        let doc = &mut cached.doc;
        let heads = doc.get_heads();
        doc.set_actor(ActorId::from(&SERVER_ACTOR[..]));
        let mut tx = doc
            .transaction_log_patches(PatchLog::active())
            .expect("a new patch log belongs to any document");
        let written = write_changes(&mut tx, before, after);
        let time = at.received_at_ms / 1000;
        let (_, mut log) = tx.commit_with(CommitOptions::default().with_time(time));
        let mut record = before.clone();
        let read = written
            .map_err(|e| format!("cannot write the change: {e}"))
            .and_then(|()| {
                let patches = doc.make_patches(&mut log);
                refresh(doc, at.doc, &mut record, &patches).map_err(|e| e.to_string())
            });
        if let Err(reason) = read {
            self.cache.pop(&at.doc);
            return Ok(Applied::Invalid(reason));
        }
        debug_assert_eq!(Ok(&record), hydrate(&*doc, at.doc).as_ref().map_err(|_| ()));
        let new = doc.get_changes(&heads);
        let hashes = new.iter().map(|c| c.hash().0).collect();
        let change: Vec<Vec<u8>> = new.iter().map(|c| c.raw_bytes().to_vec()).collect();
        let encoded: Vec<&[u8]> = change.iter().map(Vec::as_slice).collect();
        let row = Projection::of(after, team, |d| tables.device_user(d));
        let mut write = at.write(meta, &encoded, &after.owner, scopes, Some(row));
        write.hashes = hashes;
        write.origin = SERVER_DEVICE;
        let commit = tables.commit(write, doc)?;
        cached.record = Some(record);
        Ok(Applied::Committed(vec![commit]))
    }

    /// Merges `from` into the survivor `at.doc`; see [`Writer::merge`].
    fn merge(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        from: DocId,
    ) -> Result<Applied, StorageError> {
        let (survivor_meta, from_meta) = (tables.meta(at.doc)?, tables.meta(from)?);
        if at.doc == from {
            return Ok(Applied::Rejected(
                "an account cannot be merged into itself".into(),
            ));
        }
        if survivor_meta.heads.is_empty()
            || from_meta.heads.is_empty()
            || !may_write(at.who, &survivor_meta, &[])
            || !may_write(at.who, &from_meta, &[])
        {
            return Ok(Applied::Rejected(format!(
                "you may not merge account {from} into {}",
                at.doc
            )));
        }
        let records = (self.record(tables, at.doc)?, self.record(tables, from)?);
        let (survivor, merged) = match records {
            (Ok(survivor), Ok(merged)) => (survivor, merged),
            (Err(reason), _) | (_, Err(reason)) => return Ok(Applied::Rejected(reason)),
        };
        if let Some(into) = survivor
            .merged_into
            .as_ref()
            .or(merged.merged_into.as_ref())
        {
            return Ok(Applied::Rejected(format!(
                "one of the accounts was already merged into {into}"
            )));
        }
        if merged.owner != survivor.owner {
            // The duplicate's owner goes on working with the customer, on the survivor.
            tables
                .shares
                .insert((at.doc.as_u128(), merged.owner.as_str()), true)?;
        }
        let mut commits = match self.carry_over(tables, at, survivor, &merged, None)? {
            Applied::Committed(commits) => commits,
            other => return Ok(other),
        };
        if commits.is_empty() && merged.owner != survivor_meta.owner {
            // Nothing was carried over, so no change of the survivor's put it in the scope of
            // the duplicate's owner: a commit of its scopes alone does.
            commits.push(self.rescope(tables, at)?);
        }
        let pointed = AccountDoc {
            merged_into: Some(at.doc.to_string()),
            ..merged.clone()
        };
        let last = commits.last().map_or(at.seq, |c| c.seq);
        let next = at.next(from, last);
        match self.server_change(tables, &next, from_meta, &merged, &pointed)? {
            Applied::Committed(more) => commits.extend(more),
            other => return Ok(other),
        }
        Ok(Applied::Committed(commits))
    }

    /// Adds to the survivor `at.doc` (as the writer holds it: `before`) what `from` has and
    /// `since` had not (every entry of every collection, custom fields, notes), unless the
    /// survivor has it already.
    fn carry_over(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        before: AccountDoc,
        from: &AccountDoc,
        since: Option<&AccountDoc>,
    ) -> Result<Applied, StorageError> {
        let meta = tables.meta(at.doc)?;
        let after = absorb(&before, from, since);
        if after == before {
            return Ok(Applied::Committed(Vec::new()));
        }
        self.server_change(tables, at, meta, &before, &after)
    }

    /// The metadata and record of an account `at.who` may change on its owner's behalf, or
    /// why not (`doing` names what was asked, for the reason).
    fn writable(
        &mut self,
        tables: &WriteTables<'_>,
        at: &Commit<'_>,
        doing: &str,
    ) -> Result<Result<(DocMeta, AccountDoc), String>, StorageError> {
        let meta = tables.meta(at.doc)?;
        if meta.heads.is_empty() || !may_write(at.who, &meta, &[]) {
            return Ok(Err(format!("you may not {doing} account {}", at.doc)));
        }
        Ok(self.record(tables, at.doc)?.map(|record| (meta, record)))
    }

    /// Adds a manager's comment to one account.
    fn comment(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        comment: &Comment,
    ) -> Result<Applied, StorageError> {
        let (meta, before) = match self.writable(tables, at, "comment on")? {
            Ok(found) => found,
            Err(reason) => return Ok(Applied::Rejected(reason)),
        };
        if let Some(id) = comment
            .follow_up
            .as_ref()
            .filter(|id| !before.follow_ups.contains_key(*id))
        {
            return Ok(Applied::Rejected(format!(
                "account {} has no follow-up {id}",
                at.doc
            )));
        }
        let mut after = before.clone();
        after
            .comments
            .insert(format!("{:016x}", rand::random::<u64>()), comment.clone());
        self.server_change(tables, at, meta, &before, &after)
    }

    /// Archives a lost account, or restores an archived one.
    fn archive(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
        archived: Option<&Archived>,
    ) -> Result<Applied, StorageError> {
        let (meta, before) = match self.writable(tables, at, "archive or restore")? {
            Ok(found) => found,
            Err(reason) => return Ok(Applied::Rejected(reason)),
        };
        let refusal = match (archived, &before.archived) {
            (Some(_), Some(_)) => Some(format!("{} is archived already", before.name)),
            (Some(_), None) if before.status != Status::Lost => Some(format!(
                "only lost accounts are archived; {} is {}",
                before.name,
                before.status.as_str()
            )),
            (None, None) => Some(format!("{} is not archived", before.name)),
            _ => None,
        };
        if let Some(reason) = refusal {
            return Ok(Applied::Rejected(reason));
        }
        let after = AccountDoc {
            archived: archived.cloned(),
            ..before.clone()
        };
        self.server_change(tables, at, meta, &before, &after)
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
        Ok(Applied::Committed(vec![self.rescope(tables, at)?]))
    }

    /// Commits a document's scopes as its owner, team and shares now give them, without a
    /// change to the document: it enters or leaves the readers' feeds.
    fn rescope(
        &mut self,
        tables: &mut WriteTables<'_>,
        at: &Commit<'_>,
    ) -> Result<Committed, StorageError> {
        let meta = tables.meta(at.doc)?;
        let shares = tables.shares_of(at.doc)?;
        let owner = meta.owner.clone();
        let team = owner_team(tables, &owner)?;
        let scopes = doc_scopes(&owner, team.as_deref(), &shares);
        let cached = self.doc(tables, at.doc)?;
        tables.commit(at.write(meta, &[], &owner, scopes, None), &cached.doc)
    }
}

/// A follow-up counts for the rep who logged it (the user of its `logged_by` device, see
/// [`Projection`]), so a device may add follow-ups only in its own name and never rename the
/// logger of one already stored.
fn check_loggers(
    before: Option<&AccountDoc>,
    after: &AccountDoc,
    device: outpost_protocol::DeviceId,
) -> Result<(), String> {
    for (id, follow_up) in &after.follow_ups {
        let ok = match before.and_then(|b| b.follow_ups.get(id)) {
            Some(stored) => stored.logged_by == follow_up.logged_by,
            None => follow_up.logged_by.parse() == Ok(device),
        };
        if !ok {
            return Err(format!(
                "follow-up {id} names device {} as its logger; a device logs follow-ups in \
                 its own name only ({device})",
                follow_up.logged_by
            ));
        }
    }
    Ok(())
}

/// A document the writer holds, and its typed account once read, kept in step with it.
struct Cached {
    doc: Automerge,
    record: Option<AccountDoc>,
}

impl Cached {
    /// The account the document holds (read whole the first time), or why it is not one.
    fn record(&mut self, id: DocId) -> Result<&AccountDoc, String> {
        let record = match self.record.take() {
            Some(record) => record,
            None => hydrate(&self.doc, id).map_err(|e| e.to_string())?,
        };
        Ok(self.record.insert(record))
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
    /// A further commit, to `doc`, in the same job, after the commit at `after`.
    fn next(&self, doc: DocId, after: Seq) -> Commit<'a> {
        Commit {
            seq: after.next(),
            doc,
            who: self.who,
            received_at_ms: self.received_at_ms,
        }
    }

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
    /// Committed: the commit, and any commit to another document it led to.
    Committed(Vec<Committed>),
    AlreadyStored,
    MissingDependencies,
    Invalid(String),
    Rejected(String),
}

/// `into` with what `from` has and `since` (if given) had not: entries of every keyed
/// collection and custom fields `into` lacks, and `from`'s notes if `into`'s do not contain
/// them.
fn absorb(into: &AccountDoc, from: &AccountDoc, since: Option<&AccountDoc>) -> AccountDoc {
    fn add<T: Clone + PartialEq>(
        into: &mut BTreeMap<String, T>,
        from: &BTreeMap<String, T>,
        since: Option<&BTreeMap<String, T>>,
    ) {
        for (id, entry) in from {
            if since.and_then(|s| s.get(id)) != Some(entry) {
                into.entry(id.clone()).or_insert_with(|| entry.clone());
            }
        }
    }
    let mut after = into.clone();
    add_contacts(
        &mut after.contacts,
        &from.contacts,
        since.map(|s| &s.contacts),
    );
    add(
        &mut after.follow_ups,
        &from.follow_ups,
        since.map(|s| &s.follow_ups),
    );
    add(&mut after.plans, &from.plans, since.map(|s| &s.plans));
    add(
        &mut after.opportunities,
        &from.opportunities,
        since.map(|s| &s.opportunities),
    );
    add(&mut after.deals, &from.deals, since.map(|s| &s.deals));
    add(
        &mut after.services,
        &from.services,
        since.map(|s| &s.services),
    );
    add(&mut after.custom, &from.custom, since.map(|s| &s.custom));
    add(
        &mut after.comments,
        &from.comments,
        since.map(|s| &s.comments),
    );
    let notes = from.notes.as_str().trim();
    if !notes.is_empty() && !after.notes.as_str().contains(notes) {
        let joined = format!("{}\n\n[from {}] {notes}", after.notes.as_str(), from.name);
        after.notes = joined.trim_start().into();
    }
    after
}

/// A person's name reduced for comparison: compatibility forms folded, lower case, no
/// spaces or punctuation (`Li  Na`, `li na`, `ＬＩ　ＮＡ` → `lina`).
fn person_key(name: &str) -> String {
    outpost_client::text::fold(name)
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Whether two contacts are the same person: the same name (as [`person_key`] reduces it)
/// and the same phone or email (as the duplicate warnings match them).
fn same_person(a: &Contact, b: &Contact) -> bool {
    let key = person_key(&a.name);
    if key.is_empty() || key != person_key(&b.name) {
        return false;
    }
    // The keys of a contact alone, without the account name's (which is empty here).
    let reach = |c: &Contact| -> Vec<String> {
        match_keys("", std::iter::once(c))
            .into_iter()
            .filter(|k| !k.starts_with("name:"))
            .collect()
    };
    let theirs = reach(b);
    reach(a).iter().any(|k| theirs.contains(k))
}

/// [`absorb`] for contacts: a contact `into` already has as the same person (see
/// [`same_person`]) is not added again; what only the duplicate's copy has (title, role,
/// phone, email) fills the survivor's blanks instead.
fn add_contacts(
    into: &mut BTreeMap<String, Contact>,
    from: &BTreeMap<String, Contact>,
    since: Option<&BTreeMap<String, Contact>>,
) {
    for (id, contact) in from {
        if since.and_then(|s| s.get(id)) == Some(contact) || into.contains_key(id) {
            continue;
        }
        match into.values_mut().find(|kept| same_person(kept, contact)) {
            Some(kept) => {
                let fill = |field: &mut Option<String>, other: &Option<String>| {
                    if field.is_none() {
                        field.clone_from(other);
                    }
                };
                fill(&mut kept.title, &contact.title);
                fill(&mut kept.phone, &contact.phone);
                fill(&mut kept.email, &contact.email);
                if kept.role.is_none() {
                    kept.role.clone_from(&contact.role);
                }
            }
            None => {
                into.insert(id.clone(), contact.clone());
            }
        }
    }
}
