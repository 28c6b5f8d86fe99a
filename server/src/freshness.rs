//! When each device last completed a sync, for the team views' freshness, and what the server
//! has told each device (the checkpoint of its last reply), so a handover ends the old owner's
//! writes once its device has heard of it. Recorded in memory on every sync (no write
//! transaction on the sync path) and flushed to the store every [`FLUSH_EVERY`] and at
//! shutdown; readers lay the memory over the store, so they are never behind.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use outpost_protocol::DeviceId;

use crate::Storage;
use crate::directory::DirectoryError;
use crate::views::LastSyncs;

/// How often recorded sync times are written to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Sync times not yet written: device → (its user, when).
#[derive(Debug, Default)]
pub struct SyncTimes {
    pending: Mutex<HashMap<DeviceId, (String, i64)>>,
    /// device → (checkpoint of the last reply sent to it, whether that is stored yet). Entries
    /// stay after a flush, so a reader of memory never misses a value in flight to the store.
    told: Mutex<HashMap<DeviceId, (u64, bool)>>,
}

impl SyncTimes {
    /// Notes that `device` of `login` is up to date as of `at`.
    pub fn record(&self, device: DeviceId, login: &str, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().expect("sync times lock");
        pending.insert(device, (login.to_owned(), at.timestamp_millis()));
    }

    /// Notes that a reply with `checkpoint` was sent to `device`.
    pub fn told(&self, device: DeviceId, checkpoint: u64) {
        let mut told = self.told.lock().expect("told lock");
        let entry = told.entry(device).or_insert((0, true));
        if checkpoint > entry.0 {
            *entry = (checkpoint, false);
        }
    }

    /// The checkpoint of the last reply sent to `device` since this server started, if any
    /// (the store has those from before).
    pub fn told_of(&self, device: DeviceId) -> Option<u64> {
        self.told
            .lock()
            .expect("told lock")
            .get(&device)
            .map(|(seq, _)| *seq)
    }

    /// Writes the pending times and told checkpoints to `storage`; kept pending if the write
    /// fails.
    pub fn flush(&self, storage: &Storage) -> Result<(), DirectoryError> {
        let unstored: Vec<(DeviceId, u64)> = self
            .told
            .lock()
            .expect("told lock")
            .iter()
            .filter(|(_, (_, stored))| !stored)
            .map(|(device, (seq, _))| (*device, *seq))
            .collect();
        if !unstored.is_empty() {
            storage.record_told(&unstored)?;
            let mut told = self.told.lock().expect("told lock");
            for (device, seq) in unstored {
                if let Some(entry) = told.get_mut(&device)
                    && entry.0 == seq
                {
                    entry.1 = true;
                }
            }
        }
        self.flush_times(storage)
    }

    fn flush_times(&self, storage: &Storage) -> Result<(), DirectoryError> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("sync times lock"));
        if taken.is_empty() {
            return Ok(());
        }
        let syncs: Vec<(DeviceId, i64)> = taken.iter().map(|(d, (_, at))| (*d, *at)).collect();
        storage.record_syncs(&syncs).inspect_err(|_| {
            let mut pending = self.pending.lock().expect("sync times lock");
            for (device, entry) in taken {
                pending.entry(device).or_insert(entry);
            }
        })
    }

    /// When each user's devices last synced, stored and pending together, by login.
    pub fn last_syncs(&self, storage: &Storage) -> Result<LastSyncs, DirectoryError> {
        let mut latest = storage.last_syncs()?;
        for (login, at_ms) in self.pending.lock().expect("sync times lock").values() {
            if let Some(at) = DateTime::from_timestamp_millis(*at_ms) {
                let slot = latest.entry(login.clone()).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
        Ok(latest)
    }
}
