//! Opening this device's store, waiting a little while another `outpost` process holds it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use outpost_client::{Store, StoreError};

/// How long to wait before each new attempt to open a store another process holds: a command
/// holds it for a moment, `watch` for the length of one sync. About 3 seconds in all.
const OPEN_RETRY_DELAYS: [Duration; 7] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
];

/// Opens the store in `dir`, waiting a little if another `outpost` command is using it.
pub(crate) fn open_store(dir: &Path) -> Result<Store> {
    for delay in OPEN_RETRY_DELAYS {
        if let Some(store) = try_open_store(dir)? {
            return Ok(store);
        }
        std::thread::sleep(delay);
    }
    try_open_store(dir)?.ok_or_else(|| store_busy(dir))
}

/// [`open_store`] for async code: waits without blocking the runtime.
pub(crate) async fn open_store_async(dir: &Path) -> Result<Store> {
    for delay in OPEN_RETRY_DELAYS {
        if let Some(store) = try_open_store(dir)? {
            return Ok(store);
        }
        tokio::time::sleep(delay).await;
    }
    try_open_store(dir)?.ok_or_else(|| store_busy(dir))
}

/// The store in `dir`, or `None` while another process has it open (redb locks the file).
fn try_open_store(dir: &Path) -> Result<Option<Store>> {
    outpost_client::private::private_dir(dir).with_context(|| {
        t!(
            "cannot-create-store-folder",
            path = dir.display().to_string()
        )
    })?;
    let path = dir.join("store.redb");
    match Store::open(&path) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Storage(redb::Error::DatabaseAlreadyOpen)) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)
            .context(t!("cannot-open-store", path = path.display().to_string()))),
    }
}

fn store_busy(dir: &Path) -> anyhow::Error {
    let waited: Duration = OPEN_RETRY_DELAYS.iter().sum();
    anyhow!(t!(
        "store-busy",
        path = dir.join("store.redb").display().to_string(),
        seconds = format!("{:.1}", waited.as_secs_f64())
    ))
}
