//! Backups: a consistent copy of the whole store in one redb file, written while the server
//! runs, and the restore that puts one back as a data directory's database.
//!
//! A backup is one read transaction over the live database. redb's reads are snapshots
//! (MVCC): the writer keeps committing meanwhile, and the copy holds exactly the commits
//! before the snapshot, every table as of the same instant, so every push acknowledged
//! before it is in the copy. Copying the live file with the file system would not be safe:
//! redb rewrites its header and reuses freed pages in place. redb 4 has no copy facility of
//! its own and opens a table only with its key and value types, so each table is copied
//! through its typed definition ([`crate::storage::visit_tables`], the one list of them).
//!
//! A backup is written to `NAME.partial`, committed durably, then renamed to `NAME` and the
//! directory synced: a file with the final name is always complete. The derived state (the
//! projection index, the writer's cache) is not copied; a server opening the restored file
//! builds it from the tables as on every start.

use std::fs;
use std::io;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use outpost_client::private;
use outpost_protocol::Seq;
use redb::{Database, DatabaseError, ReadOnlyDatabase};
use serde::{Deserialize, Serialize};

use crate::storage::{Storage, StorageError, check_store, copy_store, raise_feed_floor};

/// The page cache of the backup file being written (see [`write`]).
const WRITE_CACHE_BYTES: usize = 8 << 20;

/// Where backups go and how often the server writes one by itself.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// The directory backups are written to (created when needed).
    pub dir: PathBuf,
    /// How often the server writes a backup; `None`: only when asked (admin API).
    pub every: Option<Duration>,
    /// Backups kept in `dir`: older ones are deleted after each new one.
    pub keep: NonZeroUsize,
}

/// A backup written: its file, its size and the feed position it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The file name (in the backup directory, for backups the server wrote).
    pub file: String,
    pub bytes: u64,
    /// The position of the last commit in the backup's change feed: every commit up to it is
    /// in the backup.
    pub feed_head: u64,
}

/// A backup or restore that did not happen. A failed backup leaves no file under its final
/// name; a failed restore leaves the data directory as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path} is not an Outpost backup: {reason}")]
    NotOutpost { path: PathBuf, reason: String },
    #[error("{0} exists; refusing to overwrite it")]
    Exists(PathBuf),
    #[error("{0} already holds a database; pass --force to replace it")]
    HasDatabase(PathBuf),
    #[error("{0} is in use by a running server: stop it first")]
    InUse(PathBuf),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a backup of `storage` as it is now to the new file `out`.
pub fn write(storage: &Storage, out: &Path) -> Result<BackupInfo, BackupError> {
    if out.exists() {
        return Err(BackupError::Exists(out.to_owned()));
    }
    let partial = partial_path(out);
    let snapshot = storage.begin_read()?;
    let copied = (|| {
        match fs::remove_file(&partial) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&partial)(e)),
            _ => {}
        }
        // redb buffers writes in up to half its cache (1 GiB by default), so a backup of a
        // large store would hold much of it in memory before writing it out. It is written
        // once, in order, and never read back here: a small buffer costs nothing.
        let target = private::database(
            Database::builder().set_cache_size(WRITE_CACHE_BYTES),
            &partial,
        )
        .map_err(StorageError::from)?;
        // Committed with `Durability::Immediate` (the default): the file is synced.
        let head = copy_store(&snapshot, &target)?;
        drop(target);
        fs::rename(&partial, out).map_err(io_error(out))?;
        sync_parent(out)?;
        Ok(head)
    })();
    drop(snapshot);
    let head = copied.inspect_err(|_| {
        let _ = fs::remove_file(&partial);
    })?;
    let bytes = fs::metadata(out).map_err(io_error(out))?.len();
    Ok(BackupInfo {
        file: out
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        bytes,
        feed_head: head.0,
    })
}

/// Checks that `path` is a complete Outpost store this version can open, and returns the
/// position of its last commit. Opens it read-only: nothing is written to it.
pub fn verify(path: &Path) -> Result<Seq, BackupError> {
    let not_outpost = |reason: String| BackupError::NotOutpost {
        path: path.to_owned(),
        reason,
    };
    if !path.is_file() {
        return Err(not_outpost("no such file".into()));
    }
    let db = ReadOnlyDatabase::open(path).map_err(|e| not_outpost(e.to_string()))?;
    check_store(&db).map_err(|e| not_outpost(e.to_string()))
}

/// Puts the backup `from` in place as the database `target`, after checking it is an
/// Outpost store. Refuses to replace an existing database unless `force`, and always while a
/// server has it open. The copy is written beside `target` and renamed over it, so `target`
/// is either the old database or the whole backup. Returns the restored feed head.
///
/// The lost server may have committed after the backup, and its devices hold checkpoints
/// past the backup's feed head. The restored store numbers new commits from far past that
/// head ([`raise_feed_floor`]), so such a checkpoint is never a position of the restored
/// feed: the server sees that it does not know it, and the device pushes everything again
/// and catches up from the start (see [`crate::catchup`]).
pub fn restore(from: &Path, target: &Path, force: bool) -> Result<Seq, BackupError> {
    let head = verify(from)?;
    // Held until the backup is in place: no server can open the old database meanwhile.
    let _lock = if target.exists() {
        if !force {
            return Err(BackupError::HasDatabase(target.to_owned()));
        }
        match Database::open(target) {
            Ok(db) => Some(db),
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(BackupError::InUse(target.to_owned()));
            }
            // A damaged database is what a restore replaces.
            Err(_) => None,
        }
    } else {
        None
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::private_dir(dir).map_err(io_error(dir))?;
    }
    let partial = partial_path(target);
    let copied = (|| {
        fs::copy(from, &partial).map_err(io_error(&partial))?;
        // The copy takes the backup's mode; the store is private whatever that was.
        private::private_file(&partial, false).map_err(io_error(&partial))?;
        // Committed durably, which syncs the whole copy.
        raise_feed_floor(&Database::open(&partial).map_err(StorageError::from)?)?;
        fs::rename(&partial, target).map_err(io_error(target))?;
        sync_parent(target)
    })();
    copied.inspect_err(|_| {
        let _ = fs::remove_file(&partial);
    })?;
    Ok(head)
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

const PREFIX: &str = "outpost-";
const SUFFIX: &str = ".redb";
/// The time in a backup's name: sorting names sorts backups by age.
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";

/// The name of a backup written at `at`.
fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

/// When the backup called `name` was written, if it is one of the server's.
fn written_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    Some(NaiveDateTime::parse_from_str(stamp, STAMP).ok()?.and_utc())
}

/// The server's backups in `dir`, newest first.
fn backups(dir: &Path) -> Result<Vec<(DateTime<Utc>, PathBuf)>, BackupError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        entries => entries.map_err(io_error(dir))?,
    };
    for entry in entries {
        let path = entry.map_err(io_error(dir))?.path();
        let at = path
            .file_name()
            .and_then(|n| written_at(&n.to_string_lossy()));
        if let Some(at) = at {
            found.push((at, path));
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    Ok(found)
}

/// The server's backups in `dir`, newest first, with their size (for the admin API).
pub fn list(dir: &Path) -> Result<Vec<outpost_protocol::api::BackupFile>, BackupError> {
    let mut out = Vec::new();
    for (written_at, path) in backups(dir)? {
        let bytes = fs::metadata(&path).map_err(io_error(&path))?.len();
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(outpost_protocol::api::BackupFile {
            file,
            written_at,
            bytes,
        });
    }
    Ok(out)
}

/// Writes a new backup into `config.dir` (named by the time, `outpost-<UTC time>.redb`),
/// then deletes all but the newest `config.keep` backups there and any partial file a
/// crash left behind. Only the server writes in that directory, one backup at a time.
pub fn write_into(
    storage: &Storage,
    config: &BackupConfig,
    now: DateTime<Utc>,
) -> Result<BackupInfo, BackupError> {
    let dir = &config.dir;
    private::private_dir(dir).map_err(io_error(dir))?;
    let written = write(storage, &dir.join(file_name(now)))?;
    for (_, old) in backups(dir)?.into_iter().skip(config.keep.get()) {
        fs::remove_file(&old).map_err(io_error(&old))?;
    }
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".partial")) {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(written)
}

/// How long until the next scheduled backup: `every` after the newest backup in `dir`, or
/// now if there is none (a restarted server does not start the period over).
pub fn due_in(dir: &Path, every: Duration, now: DateTime<Utc>) -> Result<Duration, BackupError> {
    let Some((newest, _)) = backups(dir)?.into_iter().next() else {
        return Ok(Duration::ZERO);
    };
    let elapsed = (now - newest).to_std().unwrap_or(Duration::ZERO);
    Ok(every.saturating_sub(elapsed))
}

/// Parses a duration written as a number and a unit: `30s`, `30m`, `12h`, `7d`, `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (s, m, h, d or w)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (s, m, h, d or w)"
            ));
        }
    };
    if number == 0 {
        return Err("the period must be longer than zero".into());
    }
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::storage::table_names;

    #[test]
    fn durations_parse_with_their_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        for bad in [
            "7",
            "d",
            "0d",
            "7 days",
            "-1h",
            "1.5h",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn names_sort_by_time_and_read_back() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).unwrap();
        let name = file_name(at);
        assert_eq!(name, "outpost-20261123T090507.000Z.redb");
        assert_eq!(written_at(&name), Some(at));
        assert!(file_name(at) < file_name(at + chrono::Duration::milliseconds(1)));
        assert_eq!(
            written_at("outpost-20261123T090507.000Z.redb.partial"),
            None
        );
        assert_eq!(written_at("notes.redb"), None);
    }

    #[test]
    fn a_backup_holds_every_table_of_the_live_store() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = Storage::open(dir.path().join("live.redb")).unwrap();
        let out = dir.path().join("copy.redb");
        let info = write(&storage, &out).unwrap();
        assert_eq!(info.feed_head, 0);
        assert_eq!(info.bytes, fs::metadata(&out).unwrap().len());
        let live = table_names(&storage.begin_read().unwrap()).unwrap();
        let copy = ReadOnlyDatabase::open(&out).unwrap();
        let copied = table_names(&redb::ReadableDatabase::begin_read(&copy).unwrap()).unwrap();
        assert_eq!(copied, live);
        assert_eq!(live.len(), 19, "{live:?}");
        assert!(!partial_path(&out).exists());
        assert!(matches!(write(&storage, &out), Err(BackupError::Exists(_))));
    }

    /// A backup written before the team tables existed (display names, time zones), or the
    /// quota, told and reviews tables, still restores: the check found them missing and refused it.
    #[test]
    fn a_backup_from_before_the_team_tables_restores() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = Storage::open(dir.path().join("live.redb")).unwrap();
        let out = dir.path().join("old.redb");
        write(&storage, &out).unwrap();
        let old = Database::open(&out).unwrap();
        let txn = old.begin_write().unwrap();
        for name in ["team_names", "team_zones"] {
            let table: redb::TableDefinition<&str, &str> = redb::TableDefinition::new(name);
            assert!(txn.delete_table(table).unwrap(), "{name}");
        }
        let usage: redb::TableDefinition<&str, (u64, u64, u64)> =
            redb::TableDefinition::new("usage");
        assert!(txn.delete_table(usage).unwrap());
        let told: redb::TableDefinition<u128, u64> = redb::TableDefinition::new("told");
        assert!(txn.delete_table(told).unwrap());
        assert!(txn.delete_table(crate::reviews::REVIEWS).unwrap());
        txn.commit().unwrap();
        drop(old);
        let data = dir.path().join("restored");
        restore(&out, &data.join("outpost.redb"), false).unwrap();
        let restored = Storage::open(data.join("outpost.redb")).unwrap();
        assert_eq!(
            table_names(&restored.begin_read().unwrap()).unwrap().len(),
            19
        );
    }
}
