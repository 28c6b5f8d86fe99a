//! The server's redb store: each document as a snapshot plus incremental chunks, the change
//! feed that numbers every commit, and per-document metadata.
//!
//! Every commit of a document gets the next feed sequence number `seq`; its new changes are
//! stored as the chunk `(doc, seq)` and the feed maps `seq → doc`. A device's catch-up is a
//! range scan of the feed after its checkpoint, so it costs what changed, not what exists.
//! When a document has collected [`COMPACT_AFTER`] chunks it is rewritten as one snapshot and
//! the chunks it replaces are removed in the same transaction.
//!
//! Every commit is also written to the scoped feed of each scope the document is in (its
//! owner, the owner's team, users it is shared with), so a rep's catch-up scans only the
//! commits in their scope. When a commit moves a document between scopes it writes `Entered`
//! to the scopes it joined and `Left` to those it left. The history table keeps, per commit
//! and forever, who pushed it and when, even after its chunk was compacted away.

use std::path::Path;
use std::sync::RwLock;

use automerge::{Automerge, Change, ChangeHash};
use outpost_protocol::{DeviceId, DocId, Head, Seq};
use redb::{
    Database, Key, MultimapTableDefinition, MultimapTableHandle, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::index::Index;
use crate::projection::{self, Projection};

/// Chunks a document may collect before it is compacted into one snapshot.
pub const COMPACT_AFTER: u32 = 64;

const SNAPSHOTS: TableDefinition<u128, &[u8]> = TableDefinition::new("snapshots");
/// `(doc, seq) → (origin device, received at in Unix ms, raw changes as a postcard list)`.
const CHUNKS: TableDefinition<(u128, u64), (u128, i64, &[u8])> = TableDefinition::new("chunks");
/// `seq → doc`: one entry per commit, in commit order.
const FEED: TableDefinition<u64, u128> = TableDefinition::new("feed");
/// `doc → DocMeta` (postcard).
const DOCS: TableDefinition<u128, &[u8]> = TableDefinition::new("docs");
/// `(scope, seq) → (doc, ScopeEntry as u8)`: the feed of one visibility scope.
const SCOPE_FEED: TableDefinition<(&str, u64), (u128, u8)> = TableDefinition::new("scope_feed");
/// `(doc, seq) → HistoryRecord` (postcard): who committed what, kept through compaction.
const HISTORY: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("history");
/// `(doc, login) → may write`: accounts shared with users other than their owner.
const SHARES: TableDefinition<(u128, &str), bool> = TableDefinition::new("shares");
/// `owner login → doc`: each user's book, for handovers.
pub(crate) const OWNED: MultimapTableDefinition<&str, u128> = MultimapTableDefinition::new("owned");
/// `doc → Projection` (postcard): the account's summary row for team views.
const PROJECTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("projections");
/// Settings of the store itself: `"projection_layout"` → [`projection::LAYOUT`], and
/// [`FEED_FLOOR`].
const SETTINGS: TableDefinition<&str, u64> = TableDefinition::new("settings");
/// The feed position new commits are numbered after at least (0 if never set). A restore
/// raises it far past anything the lost server could have numbered (see
/// [`raise_feed_floor`]), so a position a device got from the lost server is never reused
/// for another commit, and the restored server can tell that the device's checkpoint is not
/// in its feed.
const FEED_FLOOR: &str = "feed_floor";
/// How far a restore moves the feed floor past the backup's head: more commits than a
/// server makes between a backup and a restore.
const FLOOR_GAP: u64 = 1 << 40;
/// `login → UserRecord` (postcard).
pub(crate) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Team names.
pub(crate) const TEAMS: TableDefinition<&str, ()> = TableDefinition::new("teams");
/// `team → the name people read` (`华南销售部`), for teams given one.
pub(crate) const TEAM_NAMES: TableDefinition<&str, &str> = TableDefinition::new("team_names");
/// `team → IANA time zone`: the zone a team's views count days in (teams without one use
/// the server's).
pub(crate) const TEAM_ZONES: TableDefinition<&str, &str> = TableDefinition::new("team_zones");
/// `login → (UTC day number, accounts the user created that day, bytes of changes the user
/// has had stored)`: what the per-user quotas ([`crate::limits::Limits`]) count.
pub(crate) const USAGE: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("usage");
/// `device → feed position`: the checkpoint of the last reply the server sent the device, so
/// what it has been told of (handovers above all) whatever checkpoint it later claims.
pub(crate) const TOLD: TableDefinition<u128, u64> = TableDefinition::new("told");
/// `device → DeviceRecord` (postcard).
pub(crate) const DEVICES: TableDefinition<u128, &[u8]> = TableDefinition::new("devices");
/// `SHA-256 of a device token → device`.
pub(crate) const TOKENS: TableDefinition<[u8; 32], u128> = TableDefinition::new("tokens");

/// Something done to every table of the store, table by table, each opened with its types
/// (redb cannot open a table without them).
pub(crate) trait TableVisitor {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StorageError>;
    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        table: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StorageError>;
}

/// Visits every table the server defines. This is the one list of them: a backup copies
/// exactly these (and fails on a store holding any other, so a table added above but not
/// here cannot go missing from backups unnoticed), and a restore checks a file has them all.
pub(crate) fn visit_tables(visitor: &mut impl TableVisitor) -> Result<(), StorageError> {
    visitor.table(SNAPSHOTS)?;
    visitor.table(CHUNKS)?;
    visitor.table(FEED)?;
    visitor.table(DOCS)?;
    visitor.table(SCOPE_FEED)?;
    visitor.table(HISTORY)?;
    visitor.table(SHARES)?;
    visitor.multimap(OWNED)?;
    visitor.table(PROJECTIONS)?;
    visitor.table(SETTINGS)?;
    visitor.table(USERS)?;
    visitor.table(TEAMS)?;
    visitor.table(TEAM_NAMES)?;
    visitor.table(TEAM_ZONES)?;
    visitor.table(USAGE)?;
    visitor.table(TOLD)?;
    visitor.table(DEVICES)?;
    visitor.table(TOKENS)?;
    visitor.table(crate::reviews::REVIEWS)?;
    Ok(())
}

/// Copies every table from one read transaction into a write transaction.
struct CopyTables<'a> {
    from: &'a ReadTransaction,
    to: &'a WriteTransaction,
    copied: Vec<String>,
}

impl TableVisitor for CopyTables<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StorageError> {
        let source = self.from.open_table(table)?;
        let mut target = self.to.open_table(table)?;
        for entry in source.iter()? {
            let (key, value) = entry?;
            target.insert(key.value(), value.value())?;
        }
        self.copied.push(table.name().to_owned());
        Ok(())
    }

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        table: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StorageError> {
        let source = self.from.open_multimap_table(table)?;
        let mut target = self.to.open_multimap_table(table)?;
        for entry in source.iter()? {
            let (key, values) = entry?;
            for value in values {
                target.insert(key.value(), value?.value())?;
            }
        }
        self.copied.push(table.name().to_owned());
        Ok(())
    }
}

/// Opens every table read-only: fails if one is missing or has other types.
struct CheckTables<'a>(&'a ReadTransaction);

/// Tables added after the first release of backups: a store or backup written before them
/// lacks them, and opening it creates them empty, so a check does not require them.
const ADDED_LATER: [&str; 5] = ["team_names", "team_zones", "usage", "told", "reviews"];

impl TableVisitor for CheckTables<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), StorageError> {
        match self.0.open_table(table) {
            Err(redb::TableError::TableDoesNotExist(name))
                if ADDED_LATER.contains(&name.as_str()) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(()),
        }
    }

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        table: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StorageError> {
        self.0.open_multimap_table(table)?;
        Ok(())
    }
}

/// The names of every table (plain and multimap) in a read transaction, sorted.
pub(crate) fn table_names(txn: &ReadTransaction) -> Result<Vec<String>, StorageError> {
    let mut names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_owned()).collect();
    names.extend(txn.list_multimap_tables()?.map(|t| t.name().to_owned()));
    names.sort();
    Ok(names)
}

/// Copies the whole store as `from` sees it into `to` (an empty database), in one write
/// transaction committed durably. Returns the feed head of the copy. Fails, writing nothing,
/// if the store holds a table [`visit_tables`] does not list.
pub(crate) fn copy_store(from: &ReadTransaction, to: &Database) -> Result<Seq, StorageError> {
    let txn = to.begin_write()?;
    let mut copy = CopyTables {
        from,
        to: &txn,
        copied: Vec::new(),
    };
    visit_tables(&mut copy)?;
    let mut copied = copy.copied;
    copied.sort();
    if let Some(missed) = table_names(from)?.into_iter().find(|t| !copied.contains(t)) {
        return Err(StorageError::UnknownTable(missed));
    }
    txn.commit()?;
    let head = from
        .open_table(FEED)?
        .last()?
        .map_or(0, |(seq, _)| seq.value());
    Ok(Seq(head))
}

/// Numbers the commits of `db` (a store just restored from a backup) from far past its feed
/// head on, so no position the lost server handed out after the backup is used again.
/// Returns the new floor.
pub(crate) fn raise_feed_floor(db: &Database) -> Result<Seq, StorageError> {
    let txn = db.begin_write()?;
    let floor = {
        let head = txn
            .open_table(FEED)?
            .last()?
            .map_or(0, |(seq, _)| seq.value());
        let mut settings = txn.open_table(SETTINGS)?;
        let old = settings.get(FEED_FLOOR)?.map_or(0, |v| v.value());
        let floor = head.max(old).saturating_add(FLOOR_GAP);
        settings.insert(FEED_FLOOR, floor)?;
        floor
    };
    txn.commit()?;
    Ok(Seq(floor))
}

/// Checks that `db` holds every table of an Outpost store with the types this version
/// reads, and returns its feed head.
pub(crate) fn check_store(db: &impl ReadableDatabase) -> Result<Seq, StorageError> {
    let txn = db.begin_read()?;
    visit_tables(&mut CheckTables(&txn))?;
    let head = txn
        .open_table(FEED)?
        .last()?
        .map_or(0, |(seq, _)| seq.value());
    Ok(Seq(head))
}

/// The pseudo-device the server's own changes (handovers) are recorded as.
pub const SERVER_DEVICE: DeviceId = DeviceId::from_u128(0);

/// The server store could not be read or written; nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("storage: {0}")]
    Redb(#[from] redb::Error),
    #[error("stored document {doc} is damaged: {reason}")]
    Corrupt { doc: DocId, reason: String },
    /// The store holds a table the backup does not know (see [`visit_tables`]).
    #[error("table {0} is not in the server's list of tables, so a backup would miss it")]
    UnknownTable(String),
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
    /// The owner's login, as the document names it.
    pub owner: String,
    /// The scopes the document is visible in (see [`crate::scope`]).
    pub scopes: Vec<String>,
}

/// What a scoped feed entry tells the readers of that scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeEntry {
    /// New changes of a document already in the scope.
    Changed = 0,
    /// The document joined the scope: its readers need all of it.
    Entered = 1,
    /// The document left the scope.
    Left = 2,
}

impl ScopeEntry {
    fn from_u8(v: u8) -> ScopeEntry {
        match v {
            1 => ScopeEntry::Entered,
            2 => ScopeEntry::Left,
            _ => ScopeEntry::Changed,
        }
    }
}

/// Who committed one commit of a document, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HistoryRecord {
    pub device: DeviceId,
    pub user: String,
    pub received_at_ms: i64,
    pub hashes: Vec<[u8; 32]>,
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

/// How full redb's page cache is and how well it serves reads, since the database opened.
#[derive(Debug, Clone, Copy)]
pub struct PageCache {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// The page cache a database gets unless told otherwise: 1 GiB, redb's own default. A smaller
/// one bounds the server's memory tighter but cost write throughput in the benchmark (README,
/// Performance: "Page cache size").
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

/// The server's database, and the projection rows it holds kept in memory for the views.
#[derive(Debug)]
pub struct Storage {
    db: Database,
    /// The bound of redb's page cache, in bytes.
    cache_bytes: usize,
    /// The projection table's rows, updated after each commit that writes one.
    rows: RwLock<Index>,
    /// Users' display names by login, for the views.
    pub(crate) names: crate::directory::DisplayNames,
    /// Announces changes to users and devices, so open event streams check their access.
    pub(crate) access: crate::directory::AccessChanges,
}

impl Storage {
    /// Opens (or creates) the database file at `path`, with redb's page cache bounded to
    /// [`DEFAULT_CACHE_BYTES`].
    pub fn open(path: impl AsRef<Path>) -> Result<Storage, StorageError> {
        Storage::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the database file at `path` (readable by its owner only), keeping
    /// at most `cache_bytes` of its pages in memory. Every read goes through this cache, a backup's too, so it is what
    /// bounds the memory a full scan can take.
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        cache_bytes: usize,
    ) -> Result<Storage, StorageError> {
        let db = outpost_client::private::database(
            Database::builder().set_cache_size(cache_bytes),
            path.as_ref(),
        )?;
        Storage::init(db, cache_bytes)
    }

    /// A database that lives in memory only, for tests.
    pub fn in_memory() -> Result<Storage, StorageError> {
        let backend = redb::backends::InMemoryBackend::new();
        let db = Database::builder()
            .set_cache_size(DEFAULT_CACHE_BYTES)
            .create_with_backend(backend)?;
        Storage::init(db, DEFAULT_CACHE_BYTES)
    }

    fn init(db: Database, cache_bytes: usize) -> Result<Storage, StorageError> {
        let txn = db.begin_write()?;
        // Create every table up front so read transactions never meet a missing one.
        WriteTables::open(&txn)?;
        txn.open_table(USERS)?;
        txn.open_table(TEAMS)?;
        txn.open_table(TEAM_NAMES)?;
        txn.open_table(TEAM_ZONES)?;
        txn.open_table(DEVICES)?;
        txn.open_table(TOKENS)?;
        txn.open_table(crate::reviews::REVIEWS)?;
        let layout = txn
            .open_table(SETTINGS)?
            .get("projection_layout")?
            .map(|v| v.value());
        txn.commit()?;
        let storage = Storage {
            db,
            cache_bytes,
            rows: RwLock::default(),
            names: Default::default(),
            access: Default::default(),
        };
        if layout == Some(projection::LAYOUT) {
            let rows = Index::of(storage.projections()?);
            *storage.rows.write().unwrap_or_else(|e| e.into_inner()) = rows;
        } else {
            let count = storage.rebuild_projections()?;
            tracing::info!(count, "projection rows rebuilt for this version's layout");
        }
        Ok(storage)
    }

    pub(crate) fn begin_write(&self) -> Result<redb::WriteTransaction, StorageError> {
        Ok(self.db.begin_write()?)
    }

    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction, StorageError> {
        Ok(self.db.begin_read()?)
    }

    /// Who `doc` is shared with (login, and whether for writing), as committed.
    pub(crate) fn shares_of(&self, doc: DocId) -> Result<Vec<(String, bool)>, StorageError> {
        shares_in(&self.db.begin_read()?.open_table(SHARES)?, doc)
    }

    pub(crate) fn read(&self) -> Result<ReadTables, StorageError> {
        let txn = self.db.begin_read()?;
        Ok(ReadTables {
            snapshots: txn.open_table(SNAPSHOTS)?,
            chunks: txn.open_table(CHUNKS)?,
            feed: txn.open_table(FEED)?,
            docs: txn.open_table(DOCS)?,
            scope_feed: txn.open_table(SCOPE_FEED)?,
            history: txn.open_table(HISTORY)?,
            projections: txn.open_table(PROJECTIONS)?,
        })
    }

    /// The position of the last commit in the change feed.
    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        self.read()?.feed_head()
    }

    /// The page cache's bound, what it holds now, and its hits and misses.
    pub fn page_cache(&self) -> PageCache {
        let stats = self.db.cache_stats();
        PageCache {
            capacity_bytes: self.cache_bytes as u64,
            used_bytes: stats.used_bytes() as u64,
            hits: stats.read_hits(),
            misses: stats.read_misses(),
            evictions: stats.evictions(),
        }
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

    /// The documents `owner` owns.
    pub fn owned_by(&self, owner: &str) -> Result<Vec<DocId>, StorageError> {
        let txn = self.db.begin_read()?;
        let owned = txn.open_multimap_table(OWNED)?;
        let mut out = Vec::new();
        for doc in owned.get(owner)? {
            out.push(DocId::from_u128(doc?.value()));
        }
        Ok(out)
    }

    /// Recomputes every projection row from the stored documents, in one transaction.
    /// Returns how many accounts it wrote.
    pub fn rebuild_projections(&self) -> Result<usize, StorageError> {
        let txn = self.begin_write()?;
        let mut rows = Vec::new();
        {
            let mut tables = WriteTables::open(&txn)?;
            for doc in tables.documents()? {
                let Some(document) = load(&tables.snapshots, &tables.chunks, doc)? else {
                    continue;
                };
                let record = outpost_client::account::hydrate(&document, doc)
                    .map_err(|e| corrupt(doc, e))?;
                let team = crate::access::owner_team(&tables, &record.owner)?;
                let row = Projection::of(&record, team, |d| tables.device_user(d));
                tables.set_projection(doc, &row)?;
                rows.push((doc, row));
            }
            txn.open_table(SETTINGS)?
                .insert("projection_layout", projection::LAYOUT)?;
        }
        txn.commit()?;
        let count = rows.len();
        *self.rows.write().unwrap_or_else(|e| e.into_inner()) = Index::of(rows);
        Ok(count)
    }

    /// Runs `view` over every account's projection row as of the last commit.
    pub fn with_rows<T>(&self, view: impl FnOnce(&Index) -> T) -> T {
        view(&self.rows.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Makes rows just committed visible to the views.
    pub(crate) fn publish(&self, rows: Vec<(DocId, Projection)>) {
        if !rows.is_empty() {
            let mut index = self.rows.write().unwrap_or_else(|e| e.into_inner());
            for (doc, row) in rows {
                index.upsert(doc, row);
            }
        }
    }

    /// Every account's projection row, as stored.
    pub fn projections(&self) -> Result<Vec<(DocId, Projection)>, StorageError> {
        self.read()?.projections()
    }

    /// Every document id the server holds.
    pub fn documents(&self) -> Result<Vec<DocId>, StorageError> {
        document_ids(&self.read()?.docs)
    }
}

/// The id of every document in the `docs` table.
fn document_ids(
    docs: &impl ReadableTable<u128, &'static [u8]>,
) -> Result<Vec<DocId>, StorageError> {
    let mut ids = Vec::new();
    for entry in docs.iter()? {
        ids.push(DocId::from_u128(entry?.0.value()));
    }
    Ok(ids)
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

/// The shares of `doc` in `shares` (login, and whether for writing).
fn shares_in(
    shares: &impl ReadableTable<(u128, &'static str), bool>,
    doc: DocId,
) -> Result<Vec<(String, bool)>, StorageError> {
    let key = doc.as_u128();
    let mut out = Vec::new();
    for entry in shares.range((key, "")..)? {
        let (k, v) = entry?;
        let (d, login) = k.value();
        if d != key {
            break;
        }
        out.push((login.to_owned(), v.value()));
    }
    Ok(out)
}

/// A consistent snapshot of the store for building replies.
pub(crate) struct ReadTables {
    snapshots: redb::ReadOnlyTable<u128, &'static [u8]>,
    chunks: redb::ReadOnlyTable<(u128, u64), (u128, i64, &'static [u8])>,
    feed: redb::ReadOnlyTable<u64, u128>,
    docs: redb::ReadOnlyTable<u128, &'static [u8]>,
    scope_feed: redb::ReadOnlyTable<(&'static str, u64), (u128, u8)>,
    history: redb::ReadOnlyTable<(u128, u64), &'static [u8]>,
    projections: redb::ReadOnlyTable<u128, &'static [u8]>,
}

impl ReadTables {
    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        Ok(Seq(self.feed.last()?.map_or(0, |(seq, _)| seq.value())))
    }

    /// Whether `checkpoint` is a position in this feed (every checkpoint a reply hands out
    /// is the position of a commit, or zero). One that is not was handed out by a server
    /// this store does not continue: the commits up to it may be missing here.
    pub fn knows(&self, checkpoint: Seq) -> Result<bool, StorageError> {
        Ok(checkpoint == Seq::ZERO || self.feed.get(checkpoint.0)?.is_some())
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

    /// Entries of one scope's feed after `after`, oldest first.
    pub fn scope_after(
        &self,
        scope: &str,
        after: Seq,
    ) -> Result<
        impl Iterator<Item = Result<(Seq, DocId, ScopeEntry), StorageError>> + '_,
        StorageError,
    > {
        let range = self
            .scope_feed
            .range((scope, after.0.saturating_add(1))..=(scope, u64::MAX))?;
        Ok(range.map(|entry| {
            let (key, value) = entry?;
            let (doc, kind) = value.value();
            Ok((
                Seq(key.value().1),
                DocId::from_u128(doc),
                ScopeEntry::from_u8(kind),
            ))
        }))
    }

    /// The whole document, if the server holds it.
    pub fn document(&self, doc: DocId) -> Result<Option<Automerge>, StorageError> {
        load(&self.snapshots, &self.chunks, doc)
    }

    /// Every account's projection row, by document id.
    pub fn projections(&self) -> Result<Vec<(DocId, Projection)>, StorageError> {
        let mut out = Vec::new();
        for entry in self.projections.iter()? {
            let (key, bytes) = entry?;
            let doc = DocId::from_u128(key.value());
            let row = postcard::from_bytes(bytes.value()).map_err(|e| corrupt(doc, e))?;
            out.push((doc, row));
        }
        Ok(out)
    }

    /// Every commit of `doc`, oldest first.
    pub fn history(&self, doc: DocId) -> Result<Vec<(Seq, HistoryRecord)>, StorageError> {
        let key = doc.as_u128();
        let mut out = Vec::new();
        for entry in self.history.range((key, 0)..=(key, u64::MAX))? {
            let (k, v) = entry?;
            let record = postcard::from_bytes(v.value()).map_err(|e| corrupt(doc, e))?;
            out.push((Seq(k.value().1), record));
        }
        Ok(out)
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
    scope_feed: redb::Table<'txn, (&'static str, u64), (u128, u8)>,
    history: redb::Table<'txn, (u128, u64), &'static [u8]>,
    owned: redb::MultimapTable<'txn, &'static str, u128>,
    projections: redb::Table<'txn, u128, &'static [u8]>,
    pub shares: redb::Table<'txn, (u128, &'static str), bool>,
    pub users: redb::Table<'txn, &'static str, &'static [u8]>,
    usage: redb::Table<'txn, &'static str, (u64, u64, u64)>,
    told: redb::Table<'txn, u128, u64>,
    /// Read only: which user each device serves, for the projection rows' activity.
    devices: redb::Table<'txn, u128, &'static [u8]>,
    /// Projection rows written in this transaction, to publish once it commits.
    pub written_rows: Vec<(DocId, Projection)>,
    /// The [`FEED_FLOOR`].
    floor: u64,
}

/// What one user has used of the per-user quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Accounts the user created today (UTC).
    pub created_today: u64,
    /// Bytes of the user's changes the server has stored, ever.
    pub bytes: u64,
}

/// One commit to a document, as written into the feed and announced to live streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub seq: Seq,
    pub doc: DocId,
    /// The device that pushed it ([`SERVER_DEVICE`] for the server's own changes).
    pub origin: DeviceId,
    /// Every scope the commit concerns: those the document was in and is in now.
    pub scopes: Vec<String>,
}

/// What one commit writes: who made it, and the document's owner and scopes afterwards.
#[derive(Debug)]
pub(crate) struct CommitWrite<'a> {
    /// The document's metadata as this transaction read it before the commit.
    pub meta: DocMeta,
    pub seq: Seq,
    pub doc: DocId,
    pub origin: DeviceId,
    pub user: &'a str,
    pub received_at_ms: i64,
    /// New changes (already applied to the document), as encoded by their author; empty when
    /// the commit only moves the document between scopes.
    pub changes: &'a [&'a [u8]],
    /// The hashes of `changes` (known to the writer, which parsed them).
    pub hashes: Vec<[u8; 32]>,
    pub owner: &'a str,
    pub scopes: Vec<String>,
    /// The account's new summary row; `None` when its content did not change.
    pub projection: Option<Projection>,
}

impl<'txn> WriteTables<'txn> {
    pub fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StorageError> {
        Ok(WriteTables {
            snapshots: txn.open_table(SNAPSHOTS)?,
            chunks: txn.open_table(CHUNKS)?,
            feed: txn.open_table(FEED)?,
            docs: txn.open_table(DOCS)?,
            scope_feed: txn.open_table(SCOPE_FEED)?,
            history: txn.open_table(HISTORY)?,
            owned: txn.open_multimap_table(OWNED)?,
            projections: txn.open_table(PROJECTIONS)?,
            written_rows: Vec::new(),
            shares: txn.open_table(SHARES)?,
            users: txn.open_table(USERS)?,
            usage: txn.open_table(USAGE)?,
            told: txn.open_table(TOLD)?,
            devices: txn.open_table(DEVICES)?,
            floor: txn
                .open_table(SETTINGS)?
                .get(FEED_FLOOR)?
                .map_or(0, |v| v.value()),
        })
    }

    /// The user of the device `device` (its id as text), if the server knows it. Devices are
    /// never reassigned to another user, so the answer never changes once given.
    pub fn device_user(&self, device: &str) -> Option<String> {
        let device = device.parse::<DeviceId>().ok()?;
        let bytes = self.devices.get(device.as_u128()).ok()??;
        crate::directory::device_user(bytes.value())
    }

    /// The position the next commit is numbered after: the last commit's, or the feed floor
    /// if that is higher.
    pub fn feed_head(&self) -> Result<Seq, StorageError> {
        let last = self.feed.last()?.map_or(0, |(seq, _)| seq.value());
        Ok(Seq(last.max(self.floor)))
    }

    pub fn meta(&self, doc: DocId) -> Result<DocMeta, StorageError> {
        meta_from(
            doc,
            self.docs.get(doc.as_u128())?.as_ref().map(|v| v.value()),
        )
    }

    /// Every document id the store holds.
    pub fn documents(&self) -> Result<Vec<DocId>, StorageError> {
        document_ids(&self.docs)
    }

    /// The checkpoint of the last reply stored as sent to `device` (0 if none).
    pub fn told(&self, device: DeviceId) -> Result<u64, StorageError> {
        Ok(self.told.get(device.as_u128())?.map_or(0, |v| v.value()))
    }

    /// Whether `doc` left `scope` in a commit after feed position `after`.
    pub fn left_after(&self, scope: &str, doc: DocId, after: u64) -> Result<bool, StorageError> {
        for entry in self
            .scope_feed
            .range((scope, after.saturating_add(1))..=(scope, u64::MAX))?
        {
            let (_, value) = entry?;
            let (id, kind) = value.value();
            if id == doc.as_u128() && ScopeEntry::from_u8(kind) == ScopeEntry::Left {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What `login` has used of the per-user quotas on UTC day `day`.
    pub fn usage(&self, login: &str, day: u64) -> Result<Usage, StorageError> {
        let (on, created, bytes) = self.usage.get(login)?.map_or((day, 0, 0), |v| v.value());
        Ok(Usage {
            created_today: if on == day { created } else { 0 },
            bytes,
        })
    }

    /// Counts `created` new accounts on UTC day `day` and `bytes` of stored changes to
    /// `login`, in this transaction (so a refused or failed commit counts nothing).
    pub fn add_usage(
        &mut self,
        login: &str,
        day: u64,
        created: u64,
        bytes: u64,
    ) -> Result<(), StorageError> {
        let used = self.usage(login, day)?;
        self.usage.insert(
            login,
            (
                day,
                used.created_today + created,
                used.bytes.saturating_add(bytes),
            ),
        )?;
        Ok(())
    }

    /// Replaces the projection row of `doc`.
    pub fn set_projection(&mut self, doc: DocId, row: &Projection) -> Result<(), StorageError> {
        let row = postcard::to_stdvec(row).expect("projections always serialize");
        self.projections.insert(doc.as_u128(), row.as_slice())?;
        Ok(())
    }

    /// The users `doc` is shared with, and whether each may write.
    pub fn shares_of(&self, doc: DocId) -> Result<Vec<(String, bool)>, StorageError> {
        shares_in(&self.shares, doc)
    }

    /// The document as this transaction sees it (an empty document if it is new).
    pub fn load(&self, doc: DocId) -> Result<Automerge, StorageError> {
        Ok(load(&self.snapshots, &self.chunks, doc)?.unwrap_or_default())
    }

    /// Writes one commit: its changes as a chunk (if any), its feed and history entries, an
    /// entry in every scope it concerns, and the document's new metadata, compacting the
    /// document (`doc`, with the changes applied) into a snapshot when its chunks pile up.
    /// Returns what live streams are told.
    pub fn commit(
        &mut self,
        write: CommitWrite<'_>,
        doc: &Automerge,
    ) -> Result<Committed, StorageError> {
        let CommitWrite {
            mut meta,
            seq,
            doc: id,
            origin,
            user,
            received_at_ms,
            changes,
            hashes,
            owner,
            scopes,
            projection,
        } = write;
        let key = id.as_u128();
        if let Some(row) = projection {
            self.set_projection(id, &row)?;
            self.written_rows.push((id, row));
        }
        self.feed.insert(seq.0, key)?;
        if !changes.is_empty() {
            let encoded = postcard::to_stdvec(changes).expect("byte lists always serialize");
            self.chunks.insert(
                (key, seq.0),
                (origin.as_u128(), received_at_ms, encoded.as_slice()),
            )?;
            meta.chunks += 1;
            let record = HistoryRecord {
                device: origin,
                user: user.to_owned(),
                received_at_ms,
                hashes,
            };
            let record = postcard::to_stdvec(&record).expect("history always serializes");
            self.history.insert((key, seq.0), record.as_slice())?;
        }
        let mut concerned = meta.scopes.clone();
        for scope in &scopes {
            let entry = if !meta.scopes.contains(scope) {
                ScopeEntry::Entered
            } else if !changes.is_empty() {
                ScopeEntry::Changed
            } else {
                continue;
            };
            self.scope_feed
                .insert((scope.as_str(), seq.0), (key, entry as u8))?;
            if !concerned.contains(scope) {
                concerned.push(scope.clone());
            }
        }
        for scope in meta.scopes.iter().filter(|s| !scopes.contains(s)) {
            self.scope_feed
                .insert((scope.as_str(), seq.0), (key, ScopeEntry::Left as u8))?;
        }
        if meta.owner != owner {
            if !meta.owner.is_empty() {
                self.owned.remove(meta.owner.as_str(), key)?;
            }
            self.owned.insert(owner, key)?;
            meta.owner = owner.to_owned();
        }
        meta.scopes = scopes;
        meta.heads = doc
            .get_heads()
            .iter()
            .map(|h: &ChangeHash| Head(h.0))
            .collect();
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
        Ok(Committed {
            seq,
            doc: id,
            origin,
            scopes: concerned,
        })
    }
}
