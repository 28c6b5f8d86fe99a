//! The device store: one automerge document per account in a redb database, with what the
//! sync engine needs to resume after a restart (checkpoint, synced heads, unsynced set).
//!
//! Each edit appends an incremental chunk (the new changes only) in the same transaction that
//! marks the document unsynced; after [`COMPACT_AFTER`] chunks the document is rewritten as
//! one snapshot and its chunks dropped, again in one transaction, so a crash leaves either the
//! old chunks or the new snapshot, never neither.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{
    ActorId, Automerge, Change, ChangeHash, LoadOptions, OnPartialLoad, PatchLog, ReadDoc,
};
use chrono::{DateTime, Utc};
use outpost_protocol::{
    DeviceId, DocId, DocPush, DocUpdate, Head, MAX_PUSHES, PushOutcome, Seq, SyncReply,
    UpdateAction,
};
use rand::distr::{Distribution, StandardUniform};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use redb::{Database, MultimapTableDefinition, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::account::{self, Account, AccountEdit, AccountSummary, EditContext, NewAccount};
use crate::cache::{DocCache, Loaded};
use crate::error::{EditError, LookupError, StoreError, SyncError};
use crate::model::{self, AccountDoc};
use crate::rules::{self, invalid};
use crate::{conflicts, duplicates};

/// Chunks a document may collect before it is compacted into one snapshot.
pub const COMPACT_AFTER: u32 = 32;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SNAPSHOTS: TableDefinition<u128, &[u8]> = TableDefinition::new("snapshots");
const CHUNKS: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("chunks");
const DOC_STATE: TableDefinition<u128, &[u8]> = TableDefinition::new("doc_state");
const UNSYNCED: TableDefinition<u128, ()> = TableDefinition::new("unsynced");
const SUMMARIES: TableDefinition<u128, &[u8]> = TableDefinition::new("summaries");
/// Edits the server refused, kept for the rep to see and redo: `id → RejectedEdit`.
const REJECTED: TableDefinition<u64, &[u8]> = TableDefinition::new("rejected");
/// Normalised name / phone / email → the accounts that have it, for duplicate checks.
const MATCH_KEYS: MultimapTableDefinition<&str, u128> = MultimapTableDefinition::new("match_keys");

const DEVICE_KEY: &str = "device";
const CHECKPOINT_KEY: &str = "checkpoint";
const LAST_SYNC_KEY: &str = "last_sync";
/// The login this device's user logged in as, and the device token the server issued.
const LOGIN_KEY: &str = "login";
const TOKEN_KEY: &str = "token";
/// When the weekly reviews were last fetched, and what the server answered.
pub type FetchedReviews = (DateTime<Utc>, Vec<outpost_protocol::api::WeekReview>);

/// The weekly reviews of this device's user as last fetched from the server (JSON), and
/// when, so `outpost review` answers offline.
const REVIEWS_KEY: &str = "reviews";
/// The last sequence number this device used in a readable code.
const CODE_SEQ_KEY: &str = "code_seq";
/// The layout of derived rows (summaries, match keys); when it changes they are rebuilt from
/// the documents on open.
const FORMAT_KEY: &str = "format";
const FORMAT: u32 = 4;

/// Per-document bookkeeping kept beside the document.
#[derive(Debug, Default, Serialize, Deserialize)]
struct DocState {
    /// Heads the server is known to hold; everything after them is unsynced.
    synced_heads: Vec<Head>,
    next_chunk: u64,
    chunks: u32,
}

impl DocState {
    /// The synced heads this replica holds: heads the server named but this replica never
    /// received cannot anchor a diff.
    fn known_synced_heads(&self, doc: &Automerge) -> Vec<ChangeHash> {
        self.synced_heads
            .iter()
            .map(|h| ChangeHash(h.0))
            .filter(|h| doc.get_change_by_hash(h).is_some())
            .collect()
    }
}

/// Where this device stands with the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub device: DeviceId,
    /// Accounts with edits the server has not acknowledged.
    pub unsynced: Vec<DocId>,
    pub checkpoint: Seq,
    pub last_sync: Option<DateTime<Utc>>,
}

/// What applying one server reply changed locally.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Documents that received changes they did not have.
    pub changed: Vec<DocId>,
    /// Documents removed because they left this device's scope.
    pub dropped: Vec<DocId>,
}

/// An edit the server refused. The account was reset to the server's version (or removed, if
/// the server has none this user may see); the edit stays here so its author can redo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEdit {
    pub id: u64,
    pub account: DocId,
    /// The account's name as this device had it.
    pub name: String,
    /// Why the server refused it.
    pub reason: String,
    pub rejected_at: DateTime<Utc>,
    /// The fields the refused changes set or removed.
    pub fields: Vec<String>,
    /// The refused automerge changes themselves, as they were pushed.
    pub changes: Vec<Vec<u8>>,
}

/// A device's local store of account documents.
#[derive(Debug)]
pub struct Store {
    db: Database,
    device: DeviceId,
    cache: DocCache,
    /// Where new ids come from: the thread's random generator, or a seeded one
    /// ([`Store::open_seeded`]) so that a simulated run replays exactly.
    seeded: Option<Mutex<StdRng>>,
}

fn corrupt(doc: DocId, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        doc,
        reason: reason.to_string(),
    }
}

fn to_heads(hashes: &[ChangeHash]) -> Vec<Head> {
    hashes.iter().map(|h| Head(h.0)).collect()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("store records always serialize")
}

fn decode<T: for<'a> Deserialize<'a>>(doc: DocId, bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| corrupt(doc, e))
}

/// Tables a write transaction touches for one document.
struct DocTables<'txn> {
    snapshots: redb::Table<'txn, u128, &'static [u8]>,
    chunks: redb::Table<'txn, (u128, u64), &'static [u8]>,
    state: redb::Table<'txn, u128, &'static [u8]>,
    unsynced: redb::Table<'txn, u128, ()>,
    summaries: redb::Table<'txn, u128, &'static [u8]>,
    match_keys: redb::MultimapTable<'txn, &'static str, u128>,
}

impl<'txn> DocTables<'txn> {
    fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(DocTables {
            snapshots: txn.open_table(SNAPSHOTS)?,
            chunks: txn.open_table(CHUNKS)?,
            state: txn.open_table(DOC_STATE)?,
            unsynced: txn.open_table(UNSYNCED)?,
            summaries: txn.open_table(SUMMARIES)?,
            match_keys: txn.open_multimap_table(MATCH_KEYS)?,
        })
    }

    fn state(&self, doc: DocId) -> Result<DocState, StoreError> {
        match self.state.get(doc.as_u128())? {
            Some(bytes) => decode(doc, bytes.value()),
            None => Ok(DocState::default()),
        }
    }

    /// Records the changes `doc` gained since `before`, compacting when chunks pile up.
    fn append(
        &mut self,
        id: DocId,
        doc: &Automerge,
        before: &[ChangeHash],
        state: &mut DocState,
    ) -> Result<(), StoreError> {
        let key = id.as_u128();
        self.chunks
            .insert((key, state.next_chunk), doc.save_after(before).as_slice())?;
        state.next_chunk += 1;
        state.chunks += 1;
        if state.chunks > COMPACT_AFTER {
            // One transaction: the snapshot and the removal of the chunks it replaces commit
            // together, so no crash can lose the changes.
            self.snapshots.insert(key, doc.save().as_slice())?;
            self.chunks
                .retain_in((key, 0)..(key, state.next_chunk), |_, _| false)?;
            state.chunks = 0;
        }
        Ok(())
    }

    /// Forgets what the server was known to hold: every document becomes unsynced from its
    /// first change.
    fn forget_synced(&mut self) -> Result<(), StoreError> {
        let mut states = Vec::new();
        for entry in self.state.iter()? {
            let (key, bytes) = entry?;
            let key = key.value();
            let state: DocState = decode(DocId::from_u128(key), bytes.value())?;
            states.push((key, state));
        }
        for (key, mut state) in states {
            state.synced_heads.clear();
            self.state.insert(key, encode(&state).as_slice())?;
            self.unsynced.insert(key, ())?;
        }
        Ok(())
    }

    /// Whether the store holds anything of the document.
    fn holds(&self, doc: DocId) -> Result<bool, StoreError> {
        let key = doc.as_u128();
        Ok(self.snapshots.get(key)?.is_some()
            || self
                .chunks
                .range((key, 0)..=(key, u64::MAX))?
                .next()
                .is_some())
    }

    fn is_unsynced(&self, doc: DocId) -> Result<bool, StoreError> {
        Ok(self.unsynced.get(doc.as_u128())?.is_some())
    }

    /// Removes a document and everything derived from it.
    fn remove(&mut self, id: DocId) -> Result<(), StoreError> {
        let key = id.as_u128();
        self.snapshots.remove(key)?;
        self.chunks
            .retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
        self.state.remove(key)?;
        self.unsynced.remove(key)?;
        let old: Option<AccountSummary> = match self.summaries.remove(key)? {
            Some(bytes) => decode(id, bytes.value()).ok(),
            None => None,
        };
        for match_key in old.iter().flat_map(|s| &s.match_keys) {
            self.match_keys.remove(match_key.as_str(), key)?;
        }
        Ok(())
    }

    /// Records the document's sync state and its summary, from `record`, the typed account
    /// the document now holds.
    fn finish(
        &mut self,
        id: DocId,
        doc: &Automerge,
        record: &AccountDoc,
        state: &DocState,
    ) -> Result<(), StoreError> {
        // The record kept beside the document is never read from it whole; debug builds (every
        // test) check it is what that whole read gives.
        #[cfg(debug_assertions)]
        assert_eq!(
            account::hydrate(doc, id).as_ref(),
            Ok(record),
            "the record kept for {id} is not what its document holds"
        );
        let key = id.as_u128();
        self.state.insert(key, encode(state).as_slice())?;
        if to_heads(&doc.get_heads()) == state.synced_heads {
            self.unsynced.remove(key)?;
        } else {
            self.unsynced.insert(key, ())?;
        }
        self.summarise(id, record)
    }

    /// Rewrites the document's summary row and its duplicate-check keys.
    fn summarise(&mut self, id: DocId, record: &AccountDoc) -> Result<(), StoreError> {
        let key = id.as_u128();
        let old: Option<AccountSummary> = match self.summaries.get(key)? {
            // A row in an older layout is simply replaced.
            Some(bytes) => decode(id, bytes.value()).ok(),
            None => None,
        };
        for match_key in old.iter().flat_map(|s| &s.match_keys) {
            self.match_keys.remove(match_key.as_str(), key)?;
        }
        let summary = AccountSummary::of(id, record);
        for match_key in &summary.match_keys {
            self.match_keys.insert(match_key.as_str(), key)?;
        }
        self.summaries.insert(key, encode(&summary).as_slice())?;
        Ok(())
    }

    /// Writes every summary row and match key from the documents (into emptied tables).
    fn rebuild_summaries(&mut self, actor: &ActorId) -> Result<(), StoreError> {
        let ids: Vec<DocId> = self
            .state
            .iter()?
            .map(|e| e.map(|(k, _)| DocId::from_u128(k.value())))
            .collect::<Result<_, _>>()?;
        for id in ids {
            if let Some(doc) = load(&self.snapshots, &self.chunks, id, actor)? {
                self.summarise(id, &account::hydrate(&doc, id)?)?;
            }
        }
        Ok(())
    }
}

fn create_doc(
    tx: &mut Transaction<'_>,
    id: DocId,
    new: &NewAccount,
    ctx: &mut EditContext<'_>,
) -> Result<(), EditError> {
    let doc = account::init(new, ctx);
    rules::check(None, &doc)?;
    rules::check_times(None, &doc, ctx.now)?;
    autosurgeon::reconcile(tx, &doc).map_err(|e| corrupt(id, e))?;
    Ok(())
}

fn next_code_seq(txn: &redb::WriteTransaction) -> Result<u32, StoreError> {
    let mut meta = txn.open_table(META)?;
    let last = meta
        .get(CODE_SEQ_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.value()).ok())
        .map_or(0, u32::from_le_bytes);
    let next = last
        .checked_add(1)
        .ok_or_else(|| corrupt(DocId::from_u128(0), "code sequence exhausted"))?;
    meta.insert(CODE_SEQ_KEY, next.to_le_bytes().as_slice())?;
    Ok(next)
}

fn load<S, C>(
    snapshots: &S,
    chunks: &C,
    id: DocId,
    actor: &ActorId,
) -> Result<Option<Automerge>, StoreError>
where
    S: ReadableTable<u128, &'static [u8]>,
    C: ReadableTable<(u128, u64), &'static [u8]>,
{
    let key = id.as_u128();
    let mut doc = match snapshots.get(key)? {
        Some(bytes) => Automerge::load(bytes.value()).map_err(|e| corrupt(id, e))?,
        None => Automerge::new(),
    };
    let mut found = !doc.is_empty();
    for entry in chunks.range((key, 0)..=(key, u64::MAX))? {
        let (_, bytes) = entry?;
        doc.load_incremental(bytes.value())
            .map_err(|e| corrupt(id, e))?;
        found = true;
    }
    Ok(found.then(|| doc.with_actor(actor.clone())))
}

/// An 8-byte number kept in `meta`.
fn meta_number(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<[u8; 8]>, StoreError> {
    Ok(meta
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok()))
}

fn checkpoint_in(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Seq, StoreError> {
    Ok(Seq(
        meta_number(meta, CHECKPOINT_KEY)?.map_or(0, u64::from_le_bytes)
    ))
}

/// A random number from `seeded`, or from the thread's generator.
fn random<T>(seeded: Option<&Mutex<StdRng>>) -> T
where
    StandardUniform: Distribution<T>,
{
    match seeded {
        Some(rng) => rng.lock().expect("id generator").random(),
        None => rand::random(),
    }
}

impl Store {
    /// Opens the store at `path`, creating it (and this device's identity) if it is new. The
    /// file is readable by its owner only.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::init(
            crate::private::database(&Database::builder(), path.as_ref())?,
            None,
        )
    }

    /// Opens the store at `path` like [`Self::open`], but draws every id it makes (the device
    /// id of a new store, account and entry ids) from a generator seeded with `seed`, so a
    /// run that makes the same edits makes the same changes. For simulations and tests: ids
    /// of different seeds may collide.
    pub fn open_seeded(path: impl AsRef<Path>, seed: u64) -> Result<Store, StoreError> {
        let seeded = Mutex::new(StdRng::seed_from_u64(seed));
        let db = crate::private::database(&Database::builder(), path.as_ref())?;
        Store::init(db, Some(seeded))
    }

    /// A store that lives in memory only, for tests and tools.
    pub fn in_memory() -> Result<Store, StoreError> {
        let backend = redb::backends::InMemoryBackend::new();
        Store::init(Database::builder().create_with_backend(backend)?, None)
    }

    /// A new random number, from the seeded generator if there is one.
    fn random<T>(&self) -> T
    where
        StandardUniform: Distribution<T>,
    {
        random(self.seeded.as_ref())
    }

    fn init(db: Database, seeded: Option<Mutex<StdRng>>) -> Result<Store, StoreError> {
        let txn = db.begin_write()?;
        let device = {
            let mut meta = txn.open_table(META)?;
            let existing = meta.get(DEVICE_KEY)?.map(|v| v.value().to_vec());
            match existing {
                Some(bytes) => {
                    let raw = <[u8; 16]>::try_from(bytes.as_slice())
                        .map_err(|_| corrupt(DocId::from_u128(0), "device id is not 16 bytes"))?;
                    DeviceId::from_u128(u128::from_be_bytes(raw))
                }
                None => {
                    let device = DeviceId::from_u128(random::<u128>(seeded.as_ref()) | 1);
                    meta.insert(DEVICE_KEY, device.to_bytes().as_slice())?;
                    device
                }
            }
        };
        let format = {
            let meta = txn.open_table(META)?;
            let stored = meta
                .get(FORMAT_KEY)?
                .and_then(|v| <[u8; 4]>::try_from(v.value()).ok());
            stored.map(u32::from_le_bytes)
        };
        if format != Some(FORMAT) {
            // Derived rows in another layout: drop them and rebuild from the documents.
            txn.delete_table(SUMMARIES)?;
            txn.delete_multimap_table(MATCH_KEYS)?;
            DocTables::open(&txn)?
                .rebuild_summaries(&ActorId::from(device.to_bytes().as_slice()))?;
            txn.open_table(META)?
                .insert(FORMAT_KEY, FORMAT.to_le_bytes().as_slice())?;
        }
        // Create every table up front so read transactions never meet a missing one.
        DocTables::open(&txn)?;
        txn.open_table(REJECTED)?;
        txn.commit()?;
        Ok(Store {
            db,
            device,
            cache: DocCache::new(),
            seeded,
        })
    }

    /// This device's identity, which is also the automerge actor its edits are written as.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    fn actor(&self) -> ActorId {
        ActorId::from(self.device.to_bytes().as_slice())
    }

    /// Creates an account; it is durable when this returns, and unsynced until the next sync.
    /// An account that looks like one already in the store (same normalised name, phone or
    /// email) is not created: the error lists the existing ones. See
    /// [`Self::create_account_anyway`].
    pub fn create_account(&self, new: &NewAccount, now: DateTime<Utc>) -> Result<DocId, EditError> {
        let existing = self.duplicates(new)?;
        if !existing.is_empty() {
            return Err(EditError::Duplicate { existing });
        }
        self.create_account_anyway(new, now)
    }

    /// Creates an account even if it looks like an existing one.
    pub fn create_account_anyway(
        &self,
        new: &NewAccount,
        now: DateTime<Utc>,
    ) -> Result<DocId, EditError> {
        let id = DocId::from_u128(self.random());
        self.write(id, true, now, |tx, _, ctx| create_doc(tx, id, new, ctx))?;
        Ok(id)
    }

    /// Accounts in this store that look like `new`: the same normalised name, phone or email.
    pub fn duplicates(&self, new: &NewAccount) -> Result<Vec<AccountSummary>, StoreError> {
        let txn = self.db.begin_read()?;
        let (index, summaries) = (
            txn.open_multimap_table(MATCH_KEYS)?,
            txn.open_table(SUMMARIES)?,
        );
        let mut ids = std::collections::BTreeSet::new();
        for key in duplicates::match_keys(&new.name, new.contact.iter()) {
            for id in index.get(key.as_str())? {
                ids.insert(id?.value());
            }
        }
        let mut found = Vec::with_capacity(ids.len());
        for key in ids {
            if let Some(bytes) = summaries.get(key)? {
                found.push(decode(DocId::from_u128(key), bytes.value())?);
            }
        }
        Ok(found)
    }

    /// Applies one edit to an account; durable when this returns. Returns the id of the entry
    /// the edit added (a contact, follow-up, plan, opportunity, deal or service), if any.
    pub fn edit_account(
        &self,
        id: DocId,
        edit: &AccountEdit,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, EditError> {
        Ok(self
            .edit_account_all(id, std::slice::from_ref(edit), now)?
            .pop()
            .flatten())
    }

    /// Applies several edits as one: either all are valid and durable, or nothing is written.
    /// Returns, per edit, the id of the entry it added.
    pub fn edit_account_all(
        &self,
        id: DocId,
        edits: &[AccountEdit],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<String>>, EditError> {
        self.write(id, false, now, |tx, before, ctx| {
            let before = before.ok_or(EditError::NotFound(id))?;
            let mut after = before.clone();
            let added = edits
                .iter()
                .map(|edit| account::apply(&mut after, edit, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            rules::check(Some(before), &after)?;
            rules::check_times(Some(before), &after, now)?;
            model::write_changes(tx, before, &after).map_err(|e| corrupt(id, e))?;
            Ok(added)
        })
    }

    /// Settles a conflict: the `choice`th value listed for `path` (0 is the one shown) becomes
    /// the only value, on every device once synced.
    pub fn settle(
        &self,
        id: DocId,
        path: &str,
        choice: usize,
        now: DateTime<Utc>,
    ) -> Result<(), EditError> {
        let not_conflicted = || invalid(path, "is not a conflicted field of this account");
        let (obj, key, value) = self
            .read(id, |doc, _| {
                let (obj, key) = conflicts::locate(doc, path).ok_or_else(not_conflicted)?;
                let value = conflicts::nth_value(doc, &obj, &key, choice).ok_or_else(|| {
                    invalid(
                        path,
                        format!("has no value number {choice} (0 is the one shown)"),
                    )
                })?;
                if !conflicts::find(doc).iter().any(|c| c.path == path) {
                    return Err(not_conflicted());
                }
                Ok((obj, key, value))
            })?
            .ok_or(EditError::NotFound(id))??;
        self.write(id, false, now, |tx, _, _| {
            tx.put(&obj, key.as_str(), value)
                .map_err(|e| corrupt(id, e))?;
            Ok(())
        })
    }

    fn write<T>(
        &self,
        id: DocId,
        create: bool,
        now: DateTime<Utc>,
        edit: impl FnOnce(
            &mut Transaction<'_>,
            Option<&AccountDoc>,
            &mut EditContext<'_>,
        ) -> Result<T, EditError>,
    ) -> Result<T, EditError> {
        let _writing = self.cache.writing();
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let (result, doc) = self.write_in(&txn, id, create, now, edit)?;
        txn.commit().map_err(StoreError::from)?;
        self.cache.put([(id, doc)]);
        Ok(result)
    }

    /// One document's edit inside an open write transaction. `edit` gets the typed account as
    /// committed (`None` when creating one) and returns its result; the record kept beside the
    /// document is then brought up to date from the change's patches (reading only what it
    /// touched), and the summary row made from it. On error the automerge transaction is
    /// dropped (rolled back) and the caller drops the redb one: nothing is written. Returns
    /// the edited document and its record too, for the caller to put in the cache once the
    /// transaction committed.
    fn write_in<T>(
        &self,
        txn: &redb::WriteTransaction,
        id: DocId,
        create: bool,
        now: DateTime<Utc>,
        edit: impl FnOnce(
            &mut Transaction<'_>,
            Option<&AccountDoc>,
            &mut EditContext<'_>,
        ) -> Result<T, EditError>,
    ) -> Result<(T, Loaded), EditError> {
        let mut tables = DocTables::open(txn)?;
        let loaded = self.take(&tables, id)?;
        let (mut doc, record) = match (loaded, create) {
            (Some(Loaded { doc, record }), false) => (doc, record),
            (None, true) => (Automerge::new().with_actor(self.actor()), None),
            (Some(_), true) => return Err(corrupt(id, "id already in use").into()),
            (None, false) => return Err(EditError::NotFound(id)),
        };
        let before = doc.get_heads();
        // The record as committed: the cached one, else read once from the loaded document. A
        // schema-1 document is read again after its upgrade (once in its life).
        let record = if create {
            None
        } else {
            let upgraded = model::upgrade(&mut doc).map_err(|e| corrupt(id, e))?;
            Some(match record {
                Some(record) if !upgraded => record,
                _ => account::hydrate(&doc, id)?,
            })
        };
        let mut new_id = || format!("{:016x}", self.random::<u64>());
        // A new account takes the next number of this device's readable codes, in the same
        // transaction, so no number is ever handed out twice.
        let code_seq = if create {
            Some(next_code_seq(txn)?)
        } else {
            None
        };
        let mut ctx = EditContext {
            device: self.device,
            now,
            new_id: &mut new_id,
            code_seq,
        };
        // The change's patches say which fields and entries it touched: the record is brought
        // up to date from them rather than taken from the edit's typed result, which may hold
        // what the document does not (times finer than the stored milliseconds).
        let mut tx = doc
            .transaction_log_patches(PatchLog::new(record.is_some()))
            .map_err(|e| corrupt(id, e))?;
        let result = edit(&mut tx, record.as_ref(), &mut ctx)?;
        // Automerge change times are whole seconds of the device clock.
        let (_, mut log) = tx.commit_with(CommitOptions::default().with_time(now.timestamp()));
        let record = match record {
            Some(mut record) => {
                let patches = doc.make_patches(&mut log);
                account::refresh(&doc, id, &mut record, &patches)?;
                record
            }
            None => account::hydrate(&doc, id)?,
        };
        if doc.get_heads() != before {
            let mut state = tables.state(id)?;
            tables.append(id, &doc, &before, &mut state)?;
            tables.finish(id, &doc, &record, &state)?;
        }
        Ok((
            result,
            Loaded {
                doc,
                record: Some(record),
            },
        ))
    }

    /// Creates many accounts, `batch` per durable transaction, reporting progress after each
    /// batch. No duplicate check: the caller decides (see [`crate::csv_io`]).
    pub fn create_accounts(
        &self,
        accounts: &[NewAccount],
        now: DateTime<Utc>,
        batch: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<DocId>, EditError> {
        let mut ids = Vec::with_capacity(accounts.len());
        for chunk in accounts.chunks(batch.max(1)) {
            let _writing = self.cache.writing();
            let txn = self.db.begin_write().map_err(StoreError::from)?;
            let mut written = Vec::with_capacity(chunk.len());
            for new in chunk {
                let id = DocId::from_u128(self.random());
                let ((), loaded) = self.write_in(&txn, id, true, now, |tx, _, ctx| {
                    create_doc(tx, id, new, ctx)
                })?;
                written.push((id, loaded));
                ids.push(id);
            }
            txn.commit().map_err(StoreError::from)?;
            self.cache.put(written);
            progress(ids.len());
        }
        Ok(ids)
    }

    /// A write's document: the committed one from the cache (with its record), else from
    /// `tables` (its record not read yet). It stays out of the cache until the write commits
    /// and puts it back.
    fn take(&self, tables: &DocTables<'_>, id: DocId) -> Result<Option<Loaded>, StoreError> {
        match self.cache.take(id) {
            Some(loaded) => Ok(Some(loaded)),
            None => Ok(load(&tables.snapshots, &tables.chunks, id, &self.actor())?
                .map(|doc| Loaded { doc, record: None })),
        }
    }

    /// Runs `read` on the committed document: the cached one, else one loaded in `txn`.
    /// `read` gets the record too when the cache holds one.
    fn read_in<R>(
        &self,
        txn: &redb::ReadTransaction,
        id: DocId,
        read: impl FnOnce(&Automerge, Option<&AccountDoc>) -> R,
    ) -> Result<Option<R>, StoreError> {
        let read = match self.cache.read(id, read) {
            Ok(result) => return Ok(Some(result)),
            Err(read) => read,
        };
        let loaded = load(
            &txn.open_table(SNAPSHOTS)?,
            &txn.open_table(CHUNKS)?,
            id,
            &self.actor(),
        )?;
        Ok(loaded.map(|doc| read(&doc, None)))
    }

    /// Runs `read` on the committed document, if the store has it.
    fn read<R>(
        &self,
        id: DocId,
        read: impl FnOnce(&Automerge, Option<&AccountDoc>) -> R,
    ) -> Result<Option<R>, StoreError> {
        self.read_in(&self.db.begin_read()?, id, read)
    }

    /// The merged account, with any concurrently set fields listed as conflicts.
    pub fn account(&self, id: DocId) -> Result<Account, LookupError> {
        self.read(id, |doc, record| match record {
            // The cached record is what a whole read gives; the conflicts are still looked up.
            Some(record) => Ok(Account {
                id,
                record: record.clone(),
                conflicts: conflicts::find(doc),
            }),
            None => account::read(doc, id),
        })?
        .ok_or_else(|| LookupError::NotFound(id.to_string()))?
        .map_err(|e| StoreError::from(e).into())
    }

    /// The document's current heads, for comparing replicas.
    pub fn heads(&self, id: DocId) -> Result<Vec<Head>, LookupError> {
        self.read(id, |doc, _| to_heads(&doc.get_heads()))?
            .ok_or_else(|| LookupError::NotFound(id.to_string()))
    }

    /// Every account, from the summary rows (no document is loaded).
    pub fn accounts(&self) -> Result<Vec<AccountSummary>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SUMMARIES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, bytes) = entry?;
            out.push(decode(DocId::from_u128(key.value()), bytes.value())?);
        }
        Ok(out)
    }

    /// Finds the account whose id starts with `prefix` (at least 4 hex digits), as git does.
    pub fn resolve(&self, prefix: &str) -> Result<DocId, LookupError> {
        let not_found = || LookupError::NotFound(prefix.to_owned());
        if let Ok(id) = prefix.parse::<DocId>() {
            return Ok(id);
        }
        let valid =
            (4..32).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(not_found());
        }
        let shift = 4 * (32 - prefix.len() as u32);
        let low = u128::from_str_radix(prefix, 16).map_err(|_| not_found())? << shift;
        let high = low | ((1u128 << shift) - 1);
        let txn = self.db.begin_read().map_err(StoreError::from)?;
        let table = txn.open_table(SUMMARIES).map_err(StoreError::from)?;
        let matches: Vec<u128> = table
            .range(low..=high)
            .map_err(StoreError::from)?
            .take(2)
            .map(|e| e.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        match matches.as_slice() {
            [one] => Ok(DocId::from_u128(*one)),
            [] => Err(not_found()),
            _ => Err(LookupError::Ambiguous {
                prefix: prefix.to_owned(),
                count: matches.len(),
            }),
        }
    }

    /// Records the login this device's user logged in as and the token the server issued.
    pub fn set_credentials(&self, login: &str, token: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(LOGIN_KEY, login.as_bytes())?;
            meta.insert(TOKEN_KEY, token.as_bytes())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The login and device token, once the user logged in from this device.
    pub fn credentials(&self) -> Result<Option<(String, String)>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let text = |key| -> Result<Option<String>, StoreError> {
            Ok(meta
                .get(key)?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
        };
        Ok(text(LOGIN_KEY)?.zip(text(TOKEN_KEY)?))
    }

    /// Keeps the weekly reviews the server answered, fetched at `at`, in place of the last.
    pub fn set_reviews(
        &self,
        reviews: &[outpost_protocol::api::WeekReview],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&(at, reviews)).expect("reviews always encode");
        let txn = self.db.begin_write()?;
        txn.open_table(META)?
            .insert(REVIEWS_KEY, bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The weekly reviews as last fetched, and when; `None` if they never were. Reviews
    /// kept by a version that wrote them otherwise read as never fetched.
    pub fn reviews(&self) -> Result<Option<FetchedReviews>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta
            .get(REVIEWS_KEY)?
            .and_then(|v| serde_json::from_slice(v.value()).ok()))
    }

    /// Edits the server refused, oldest first.
    pub fn rejected(&self) -> Result<Vec<RejectedEdit>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(REJECTED)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, bytes) = entry?;
            out.push(decode(DocId::from_u128(0), bytes.value())?);
        }
        Ok(out)
    }

    /// Forgets a refused edit (once redone, or given up). Returns whether it existed.
    pub fn dismiss_rejected(&self, id: u64) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let existed = txn.open_table(REJECTED)?.remove(id)?.is_some();
        txn.commit()?;
        Ok(existed)
    }

    /// Unsynced edits, checkpoint and last successful sync.
    pub fn status(&self) -> Result<SyncStatus, StoreError> {
        let txn = self.db.begin_read()?;
        let unsynced = txn.open_table(UNSYNCED)?;
        let unsynced = unsynced
            .iter()?
            .map(|e| e.map(|(k, _)| DocId::from_u128(k.value())))
            .collect::<Result<_, _>>()?;
        let meta = txn.open_table(META)?;
        Ok(SyncStatus {
            device: self.device,
            unsynced,
            checkpoint: checkpoint_in(&meta)?,
            last_sync: meta_number(&meta, LAST_SYNC_KEY)?
                .and_then(|b| DateTime::from_timestamp_millis(i64::from_le_bytes(b))),
        })
    }

    /// The position in the server's feed this device has caught up to (without listing the
    /// unsynced documents, as [`Self::status`] does).
    pub(crate) fn checkpoint(&self) -> Result<Seq, StoreError> {
        checkpoint_in(&self.db.begin_read()?.open_table(META)?)
    }

    /// The unsynced changes of each unsynced document, skipping `skip`, until `budget` bytes
    /// or [`MAX_PUSHES`] documents.
    /// Returns the pushes and whether every unsynced document fit.
    pub(crate) fn pending_pushes(
        &self,
        skip: &HashSet<DocId>,
        budget: usize,
    ) -> Result<(Vec<DocPush>, bool), StoreError> {
        let txn = self.db.begin_read()?;
        let states = txn.open_table(DOC_STATE)?;
        let mut pushes = Vec::new();
        let mut used = 0;
        for entry in txn.open_table(UNSYNCED)?.iter()? {
            let id = DocId::from_u128(entry?.0.value());
            if skip.contains(&id) {
                continue;
            }
            let state: DocState = match states.get(id.as_u128())? {
                Some(bytes) => decode(id, bytes.value())?,
                None => DocState::default(),
            };
            // Compressed where automerge finds it worthwhile: fewer bytes on the wire.
            let unsynced = |doc: &Automerge, _: Option<&AccountDoc>| -> Vec<Vec<u8>> {
                doc.get_changes(&state.known_synced_heads(doc))
                    .into_iter()
                    .map(|mut c| c.bytes().into_owned())
                    .collect()
            };
            let Some(changes) = self.read_in(&txn, id, unsynced)? else {
                continue;
            };
            let size: usize = changes.iter().map(Vec::len).sum();
            let full = used + size > budget || pushes.len() == MAX_PUSHES;
            if full && !pushes.is_empty() {
                return Ok((pushes, false));
            }
            used += size;
            pushes.push(DocPush { doc: id, changes });
        }
        Ok((pushes, true))
    }

    /// Applies a server reply in one transaction: documents, synced heads and the checkpoint
    /// move together, so a crash never advances the checkpoint past changes it did not keep.
    ///
    /// A reply with an update the device cannot apply in full is refused as a whole.
    pub(crate) fn apply_reply(
        &self,
        reply: &SyncReply,
        now: DateTime<Utc>,
    ) -> Result<Applied, SyncError> {
        let mut applied = Applied::default();
        let _writing = self.cache.writing();
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let checkpoint = checkpoint_in(&txn.open_table(META).map_err(StoreError::from)?)?;
        let mut written = Vec::new();
        {
            let mut tables = DocTables::open(&txn)?;
            if reply.checkpoint < checkpoint {
                // The server's feed does not hold our checkpoint: it was restored from a
                // backup (or replaced), and may lack what it acknowledged to us since. Every
                // document is pushed again whole (the server keeps the changes it lacks) and
                // the reply's updates then set what it holds.
                tables.forget_synced()?;
            }
            // Documents new to this device (a first sync brings thousands) are made and read
            // on every core before the writes, which go one by one.
            let mut fresh = Vec::new();
            for update in &reply.updates {
                let new = match update.action {
                    UpdateAction::Drop => false,
                    UpdateAction::Replace => true,
                    UpdateAction::Merge => {
                        !self.cache.contains(update.doc) && !tables.holds(update.doc)?
                    }
                };
                if new {
                    fresh.push(update);
                }
            }
            let mut prepared = Fresh::of_all(&fresh, &self.actor());
            let mut rejected_table = txn.open_table(REJECTED).map_err(StoreError::from)?;
            let mut next_rejected = rejected_table
                .last()
                .map_err(StoreError::from)?
                .map_or(1, |(k, _)| k.value() + 1);
            let rejected: HashMap<DocId, &str> = reply
                .pushed
                .iter()
                .filter_map(|r| match &r.outcome {
                    PushOutcome::Rejected { reason } => Some((r.doc, reason.as_str())),
                    _ => None,
                })
                .collect();
            // Pushes the server settled either way: their edits are stored or kept as refused.
            let settled: HashSet<DocId> = reply
                .pushed
                .iter()
                .filter(|r| {
                    matches!(
                        r.outcome,
                        PushOutcome::Accepted | PushOutcome::Rejected { .. }
                    )
                })
                .map(|r| r.doc)
                .collect();
            for update in &reply.updates {
                let id = update.doc;
                if let Some(reason) = rejected.get(&id) {
                    // Taken out of the cache: the refused changes are replaced below.
                    let local = self.take(&tables, id)?;
                    if let Some(local) = local {
                        let state = tables.state(id)?;
                        let edit = refused_edit(&local, id, &state, reason, now, next_rejected);
                        rejected_table
                            .insert(next_rejected, encode(&edit).as_slice())
                            .map_err(StoreError::from)?;
                        next_rejected += 1;
                    }
                }
                match update.action {
                    UpdateAction::Drop => {
                        // An edit not yet pushed is pushed first; the server decides then.
                        if tables.is_unsynced(id)? && !settled.contains(&id) {
                            continue;
                        }
                        self.cache.take(id);
                        tables.remove(id)?;
                        applied.dropped.push(id);
                        continue;
                    }
                    UpdateAction::Replace => {
                        self.cache.take(id);
                        tables.remove(id)?;
                    }
                    UpdateAction::Merge => {}
                }
                let bad = |reason| SyncError::BadReply(format!("update of {id}: {reason}"));
                let mut state = tables.state(id)?;
                let (doc, record) = match self.take(&tables, id)? {
                    Some(Loaded { mut doc, record }) => {
                        // A cached record is brought up to date from the patches of what the
                        // update added; a document just loaded is read once, whole.
                        let mut log = PatchLog::new(record.is_some());
                        let before = doc.get_heads();
                        merge_update(&mut doc, update, &mut log).map_err(bad)?;
                        let changed = doc.get_heads() != before;
                        if changed {
                            tables.append(id, &doc, &before, &mut state)?;
                            applied.changed.push(id);
                        }
                        let record = match record {
                            Some(mut record) => {
                                if changed {
                                    let patches = doc.make_patches(&mut log);
                                    account::refresh(&doc, id, &mut record, &patches)
                                        .map_err(StoreError::from)?;
                                }
                                record
                            }
                            None => account::hydrate(&doc, id).map_err(StoreError::from)?,
                        };
                        (doc, record)
                    }
                    None => {
                        let fresh = match prepared.remove(&id) {
                            Some(fresh) => fresh?,
                            None => Fresh::of(update, self.actor())?,
                        };
                        let Some(Fresh {
                            doc,
                            snapshot,
                            record,
                        }) = fresh
                        else {
                            // Nothing of it here or in the update (heads of a push only).
                            continue;
                        };
                        tables
                            .snapshots
                            .insert(id.as_u128(), snapshot.as_slice())
                            .map_err(StoreError::from)?;
                        applied.changed.push(id);
                        (doc, record)
                    }
                };
                state.synced_heads = update.heads.clone();
                tables.finish(id, &doc, &record, &state)?;
                written.push((
                    id,
                    Loaded {
                        doc,
                        record: Some(record),
                    },
                ));
            }
            let mut meta = txn.open_table(META).map_err(StoreError::from)?;
            let checkpoint = reply.checkpoint.0.to_le_bytes();
            let last_sync = now.timestamp_millis().to_le_bytes();
            meta.insert(CHECKPOINT_KEY, checkpoint.as_slice())
                .map_err(StoreError::from)?;
            meta.insert(LAST_SYNC_KEY, last_sync.as_slice())
                .map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)?;
        self.cache.put(written);
        Ok(applied)
    }
}

/// The refused part of a document: its changes after the heads the server last confirmed.
fn refused_edit(
    local: &Loaded,
    id: DocId,
    state: &DocState,
    reason: &str,
    now: DateTime<Utc>,
    number: u64,
) -> RejectedEdit {
    let doc = &local.doc;
    let synced = state.known_synced_heads(doc);
    let changes: Vec<Vec<u8>> = doc
        .get_changes(&synced)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    RejectedEdit {
        id: number,
        account: id,
        name: match &local.record {
            Some(record) => record.name.clone(),
            None => account::hydrate(doc, id)
                .map(|r| r.name)
                .unwrap_or_default(),
        },
        reason: reason.to_owned(),
        rejected_at: now,
        fields: conflicts::changed_fields(doc, &synced, &doc.get_heads()),
        changes,
    }
}

/// Updates for new documents at which preparing them is spread over more threads.
const FRESH_PER_THREAD: usize = 32;

/// A document new to the device, made from its update, with the snapshot to store and its
/// record.
struct Fresh {
    doc: Automerge,
    /// The server's own bytes when the update was one whole snapshot, else one save (cheaper
    /// than writing every change out again, and what the next load reads fastest).
    snapshot: Vec<u8>,
    record: AccountDoc,
}

impl Fresh {
    /// The new document `update` makes, or `None` if it carries nothing. The update's
    /// snapshot is loaded as the document itself (merging it into an empty one would apply
    /// every change again), and its bytes are kept when they are the whole document.
    fn of(update: &DocUpdate, actor: ActorId) -> Result<Option<Fresh>, SyncError> {
        let id = update.doc;
        let bad = |reason| SyncError::BadReply(format!("update of {id}: {reason}"));
        let mut doc = match &update.snapshot {
            Some(snapshot) => load_snapshot(snapshot).map_err(bad)?,
            None => Automerge::new(),
        };
        let before = doc.get_heads();
        apply_strictly(&mut doc, update, &mut PatchLog::inactive()).map_err(bad)?;
        if doc.is_empty() {
            return Ok(None);
        }
        let snapshot = match &update.snapshot {
            Some(snapshot) if doc.get_heads() == before => snapshot.clone(),
            _ => doc.save(),
        };
        let record = account::hydrate(&doc, id).map_err(StoreError::from)?;
        Ok(Some(Fresh {
            doc: doc.with_actor(actor),
            snapshot,
            record,
        }))
    }

    /// [`Self::of`] for each update, on as many threads as there are cores (each taking at
    /// least [`FRESH_PER_THREAD`]): decoding and reading a document is pure work on it.
    fn of_all(
        updates: &[&DocUpdate],
        actor: &ActorId,
    ) -> HashMap<DocId, Result<Option<Fresh>, SyncError>> {
        let prepare = |update: &&DocUpdate| (update.doc, Fresh::of(update, actor.clone()));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let threads = cores.min(updates.len() / FRESH_PER_THREAD).max(1);
        if threads == 1 {
            return updates.iter().map(prepare).collect();
        }
        let part = updates.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let mut parts = updates.chunks(part);
            let here = parts.next().unwrap_or_default();
            let others: Vec<_> = parts
                .map(|updates| scope.spawn(move || updates.iter().map(prepare).collect::<Vec<_>>()))
                .collect();
            let mut all: HashMap<_, _> = here.iter().map(prepare).collect();
            for other in others {
                match other.join() {
                    Ok(prepared) => all.extend(prepared),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    }
}

/// Loads an update's snapshot strictly: a snapshot that does not load in full fails.
fn load_snapshot(snapshot: &[u8]) -> Result<Automerge, String> {
    let options = LoadOptions::new().on_partial_load(OnPartialLoad::Error);
    Automerge::load_with_options(snapshot, options).map_err(|e| format!("snapshot: {e}"))
}

/// Merges one update strictly into a document the device holds, logging what changed in
/// `log`: a change that does not decode, or one that depends on a change neither the update
/// nor the document holds, fails the whole update. (Automerge's own incremental load would
/// keep the readable part and queue the rest silently.)
fn merge_update(doc: &mut Automerge, update: &DocUpdate, log: &mut PatchLog) -> Result<(), String> {
    if let Some(snapshot) = &update.snapshot {
        let mut other = load_snapshot(snapshot)?;
        doc.merge_and_log_patches(&mut other, log)
            .map_err(|e| format!("snapshot: {e}"))?;
    }
    apply_strictly(doc, update, log)
}

/// Applies an update's changes, failing if any does not decode or depends on a change neither
/// the update nor the document holds.
fn apply_strictly(
    doc: &mut Automerge,
    update: &DocUpdate,
    log: &mut PatchLog,
) -> Result<(), String> {
    let changes = update
        .changes
        .iter()
        .enumerate()
        .map(|(i, bytes)| Change::from_bytes(bytes.clone()).map_err(|e| format!("change {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    doc.apply_changes_log_patches(changes, log)
        .map_err(|e| e.to_string())?;
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(format!(
            "{} changes it depends on were not sent",
            missing.len()
        ));
    }
    Ok(())
}
