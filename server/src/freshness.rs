//! When each device last completed a sync, for the team views' freshness. Recorded in memory
//! on every sync (no write transaction on the sync path) and flushed to the device table
//! every [`FLUSH_EVERY`] and at shutdown; views read the table with the unflushed times laid
//! over it, so they are never behind.

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
}

impl SyncTimes {
    /// Notes that `device` of `login` is up to date as of `at`.
    pub fn record(&self, device: DeviceId, login: &str, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().expect("sync times lock");
        pending.insert(device, (login.to_owned(), at.timestamp_millis()));
    }

    /// Writes the pending times to `storage`; kept pending if the write fails.
    pub fn flush(&self, storage: &Storage) -> Result<(), DirectoryError> {
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
