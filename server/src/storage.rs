//! The server's redb store: each document as a snapshot plus incremental chunks, the change
//! feed that numbers every commit, and per-document metadata.
//!
//! Every commit of a document gets the next feed sequence number `seq`; its new changes are
//! stored as the chunk `(doc, seq)` and the feed maps `seq → doc`. A device's catch-up is a
//! range scan of the feed after its checkpoint, so it costs what changed, not what exists.
//! When a document has collected [`COMPACT_AFTER`] chunks it is rewritten as one snapshot and
//! the chunks it replaces are removed in the same transaction.

use std::path::Path;

use automerge::{Automerge, Change, ChangeHash};
use outpost_protocol::{DeviceId, DocId, Head, Seq};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Chunks a document may collect before it is compacted into one snapshot.
pub const COMPACT_AFTER: u32 = 64;

const SNAPSHOTS: TableDefinition<u128, &[u8]> = TableDefinition::new("snapshots");
/// `(doc, seq) → (origin device, received at in Unix ms, raw changes as a postcard list)`.
const CHUNKS: TableDefinition<(u128, u64), (u128, i64, &[u8])> = TableDefinition::new("chunks");
/// `seq → doc`: one entry per commit, in commit order.
const FEED: TableDefinition<u64, u128> = TableDefinition::new("feed");
/// `doc → DocMeta` (postcard).
const DOCS: TableDefinition<u128, &[u8]> = TableDefinition::new("docs");

/// The server store could not be read or written; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("storage: {0}")]
    Redb(#[from] redb::Error),
    #[error("stored document {doc} is damaged: {reason}")]
    Corrupt { doc: DocId, reason: String },
}

macro_rules! redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StorageError {
            fn from(e: $ty) -> Self {
                StorageError::Redb(e.into())
            }
        }
    )*};
}
redb_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn corrupt(doc: DocId, reason: impl ToString) -> StorageError {
    StorageError::Corrupt {
        doc,
        reason: reason.to_string(),
    }
}

/// What the server keeps beside each document so replies need not load it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocMeta {
    pub heads: Vec<Head>,
    /// Chunks stored since the last snapshot.
    pub chunks: u32,
    /// The feed position the snapshot covers; chunks at or before it were removed.
    pub snapshot_seq: Seq,
}

/// One stored chunk: the changes of one commit of a document.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub origin: DeviceId,
    pub changes: Vec<Vec<u8>>,
}

fn decode_changes(doc: DocId, bytes: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
    postcard::from_bytes(bytes).map_err(|e| corrupt(doc, e))
}

/// The server's database.
#[derive(Debug)]
pub struct Storage {
    db: Database,
}

impl Storage {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Storage, StorageError> {
        Storage::init(Database::create(path)?)
    }

    /// A database that lives in memory only, for tests.
    pub fn in_memory() -> Result<Storage, StorageError> {
        let backend = redb::backends::InMemoryBackend::new();
        Storage::init(Database::builder().create_with_backend(backend)?)
    }

    fn init(db: Database) -> Result<Storage, StorageError> {
        let txn = db.begin_write()?;
        // Create every table up front so read transactions never meet a missing one.
        WriteTables::open(&txn)?;
        txn.commit()?;
        Ok(Storage { db })
    }

    pub(crate) fn begin_write(&self) -> Result<redb::WriteTransaction, StorageError> {
        Ok(self.db.begin_write()?)
    }

    pub(crate) fn read(&self) -> Result<ReadTables, StorageError> {
        let txn = self.db.begin_read()?;
        Ok(ReadTables {
            snapshots: txn.open_table(SNAPSHOTS)?,
            chunks: txn.open_table(CHUNKS)?,
            feed: txn.open_table(FEED)?,
            docs: txn.open_table(DOCS)?,
        })
    }

    /// The position of the last commit in the change feed.
    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        self.read()?.feed_head()
    }

    /// The document as stored, or `None` if the server has never received it.
    pub fn document(&self, doc: DocId) -> Result<Option<Automerge>, StorageError> {
        let tables = self.read()?;
        load(&tables.snapshots, &tables.chunks, doc)
    }

    /// The document's heads as last committed (empty if the server never received it).
    pub fn heads(&self, doc: DocId) -> Result<Vec<Head>, StorageError> {
        Ok(self.read()?.meta(doc)?.heads)
    }

    /// Every document id the server holds.
    pub fn documents(&self) -> Result<Vec<DocId>, StorageError> {
        let tables = self.read()?;
        let mut ids = Vec::new();
        for entry in tables.docs.iter()? {
            ids.push(DocId::from_u128(entry?.0.value()));
        }
        Ok(ids)
    }
}

fn meta_from(doc: DocId, bytes: Option<&[u8]>) -> Result<DocMeta, StorageError> {
    bytes.map_or(Ok(DocMeta::default()), |b| {
        postcard::from_bytes(b).map_err(|e| corrupt(doc, e))
    })
}

fn load<S, C>(snapshots: &S, chunks: &C, id: DocId) -> Result<Option<Automerge>, StorageError>
where
    S: ReadableTable<u128, &'static [u8]>,
    C: ReadableTable<(u128, u64), (u128, i64, &'static [u8])>,
{
    let key = id.as_u128();
    let (mut doc, mut found) = match snapshots.get(key)? {
        Some(bytes) => (
            Automerge::load(bytes.value()).map_err(|e| corrupt(id, e))?,
            true,
        ),
        None => (Automerge::new(), false),
    };
    let mut changes = Vec::new();
    for entry in chunks.range((key, 0)..=(key, u64::MAX))? {
        let (_, value) = entry?;
        for bytes in decode_changes(id, value.value().2)? {
            changes.push(Change::from_bytes(bytes).map_err(|e| corrupt(id, e))?);
        }
        found = true;
    }
    doc.apply_changes(changes).map_err(|e| corrupt(id, e))?;
    Ok(found.then_some(doc))
}

/// A consistent snapshot of the store for building replies.
pub(crate) struct ReadTables {
    snapshots: redb::ReadOnlyTable<u128, &'static [u8]>,
    chunks: redb::ReadOnlyTable<(u128, u64), (u128, i64, &'static [u8])>,
    feed: redb::ReadOnlyTable<u64, u128>,
    docs: redb::ReadOnlyTable<u128, &'static [u8]>,
}

impl ReadTables {
    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        Ok(Seq(self.feed.last()?.map_or(0, |(seq, _)| seq.value())))
    }

    /// Feed entries after `after`, oldest first.
    pub fn feed_after(
        &self,
        after: Seq,
    ) -> Result<impl Iterator<Item = Result<(Seq, DocId), StorageError>> + '_, StorageError> {
        let range = self.feed.range(after.0.saturating_add(1)..)?;
        Ok(range.map(|entry| {
            let (seq, doc) = entry?;
            Ok((Seq(seq.value()), DocId::from_u128(doc.value())))
        }))
    }

    pub fn meta(&self, doc: DocId) -> Result<DocMeta, StorageError> {
        meta_from(
            doc,
            self.docs.get(doc.as_u128())?.as_ref().map(|v| v.value()),
        )
    }

    pub fn chunk(&self, doc: DocId, seq: Seq) -> Result<Option<Chunk>, StorageError> {
        let Some(value) = self.chunks.get((doc.as_u128(), seq.0))? else {
            return Ok(None);
        };
        let (origin, _received_at, changes) = value.value();
        let changes = decode_changes(doc, changes)?;
        Ok(Some(Chunk {
            origin: DeviceId::from_u128(origin),
            changes,
        }))
    }

    pub fn snapshot(&self, doc: DocId) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .snapshots
            .get(doc.as_u128())?
            .map(|v| v.value().to_vec()))
    }
}

/// The tables one write transaction touches.
pub(crate) struct WriteTables<'txn> {
    snapshots: redb::Table<'txn, u128, &'static [u8]>,
    chunks: redb::Table<'txn, (u128, u64), (u128, i64, &'static [u8])>,
    feed: redb::Table<'txn, u64, u128>,
    docs: redb::Table<'txn, u128, &'static [u8]>,
}

/// One commit of new changes to a document, as written into the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub seq: Seq,
    pub doc: DocId,
    pub origin: DeviceId,
}

impl<'txn> WriteTables<'txn> {
    pub fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StorageError> {
        Ok(WriteTables {
            snapshots: txn.open_table(SNAPSHOTS)?,
            chunks: txn.open_table(CHUNKS)?,
            feed: txn.open_table(FEED)?,
            docs: txn.open_table(DOCS)?,
        })
    }

    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        Ok(Seq(self.feed.last()?.map_or(0, |(seq, _)| seq.value())))
    }

    /// The document as this transaction sees it (an empty document if it is new).
    pub fn load(&self, doc: DocId) -> Result<Automerge, StorageError> {
        Ok(load(&self.snapshots, &self.chunks, doc)?.unwrap_or_default())
    }

    /// Stores `changes` (encoded automerge changes, already applied to `doc`) as the commit `committed`, and compacts
    /// the document into a snapshot when its chunks pile up.
    pub fn commit_changes(
        &mut self,
        committed: Committed,
        received_at_ms: i64,
        changes: &[&[u8]],
        doc: &Automerge,
    ) -> Result<(), StorageError> {
        let changes = postcard::to_stdvec(changes).expect("byte lists always serialize");
        let Committed {
            seq,
            doc: id,
            origin,
        } = committed;
        let key = id.as_u128();
        let mut meta = meta_from(id, self.docs.get(key)?.as_ref().map(|v| v.value()))?;
        self.chunks.insert(
            (key, seq.0),
            (origin.as_u128(), received_at_ms, changes.as_slice()),
        )?;
        self.feed.insert(seq.0, key)?;
        meta.heads = doc
            .get_heads()
            .iter()
            .map(|h: &ChangeHash| Head(h.0))
            .collect();
        meta.chunks += 1;
        if meta.chunks > COMPACT_AFTER {
            // The snapshot and the removal of the chunks it replaces commit together, so no
            // crash can lose a change.
            self.snapshots.insert(key, doc.save().as_slice())?;
            self.chunks
                .retain_in((key, 0)..=(key, seq.0), |_, _| false)?;
            meta.chunks = 0;
            meta.snapshot_seq = seq;
        }
        let encoded = postcard::to_stdvec(&meta).expect("metadata always serializes");
        self.docs.insert(key, encoded.as_slice())?;
        Ok(())
    }
}
