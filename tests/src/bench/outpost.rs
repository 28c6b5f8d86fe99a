//! The Outpost side of the sync scenarios: a generating device that talks to the server
//! directly, and the measured reader device whose link runs through the counting proxy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use automerge::{Change, ChangeHash};
use outpost_client::{HttpClient, Store, SyncReport};
use outpost_protocol::DocId;

use super::proxy::{CountingProxy, Traffic};
use super::workload::Workload;
use crate::{ADMIN, Device, TestServer};

/// The team's other devices, folded into one: creates the accounts and makes the remote
/// edits. Its store lives in memory (its own durability is not what is measured).
#[derive(Debug)]
pub struct Generator {
    store: Store,
    client: HttpClient,
    /// Every account created so far, in creation order.
    pub ids: Vec<DocId>,
}

impl Generator {
    /// A generator logged in to `server` as the admin (it writes every rep's accounts).
    pub async fn new(server: &TestServer) -> anyhow::Result<Generator> {
        let generator = Generator {
            store: Store::in_memory()?,
            client: HttpClient::new(&server.url()),
            ids: Vec::new(),
        };
        server
            .log_in(&generator.store, &generator.client, ADMIN)
            .await;
        Ok(generator)
    }

    /// Creates `count` more accounts from the workload (not yet pushed).
    pub fn generate(&mut self, workload: &mut Workload, count: usize) -> anyhow::Result<()> {
        let now = workload.now();
        for _ in 0..count {
            let spec = workload.account();
            // Generated names may repeat; they are distinct customers all the same.
            let id = self.store.create_account_anyway(&spec.new, now)?;
            self.store.edit_account_all(id, &spec.edits, now)?;
            self.ids.push(id);
        }
        Ok(())
    }

    pub async fn sync(&self) -> anyhow::Result<SyncReport> {
        Ok(self.client.sync(&self.store).await?)
    }
}

/// One measured sync of the reader device.
#[derive(Debug)]
pub struct Catchup {
    pub time: Duration,
    /// What crossed the proxy: HTTP headers and bodies, both ways.
    pub traffic: Traffic,
    pub report: SyncReport,
}

/// A reconnect of `reader`: a fresh HTTP client (so a new TCP connection) through the proxy,
/// then one sync.
pub async fn reconnect(reader: &mut Device, proxy: &CountingProxy) -> anyhow::Result<Catchup> {
    reader.connect(&proxy.url());
    proxy.take();
    let started = Instant::now();
    let report = reader.try_sync().await?;
    let time = started.elapsed();
    Ok(Catchup {
        time,
        traffic: proxy.take(),
        report,
    })
}

/// The size of `changes` compressed as automerge compresses a change for storage or the wire.
pub fn compressed_size(changes: &[Change]) -> u64 {
    changes.iter().map(|c| c.clone().bytes().len() as u64).sum()
}

/// The physical limit of a new device's initial sync: every change of `ids`, compressed.
pub fn initial_limit(server: &TestServer, ids: &[DocId]) -> anyhow::Result<u64> {
    ids.iter().try_fold(0, |total, &id| {
        let doc = server
            .storage()
            .document(id)?
            .context("document on server")?;
        Ok(total + compressed_size(&doc.get_changes(&[])))
    })
}

/// What a day offline changed, for replaying the same changes on the peer.
#[derive(Debug)]
pub struct DayOffline {
    pub catchup: Catchup,
    /// Compressed size of the changes that had to cross the reader's link (both ways).
    pub limit: u64,
    /// The reader's own offline changes, per document.
    pub local: Vec<(DocId, Vec<Change>)>,
    /// The changes other devices pushed meanwhile, per document.
    pub remote: Vec<(DocId, Vec<Change>)>,
}

/// `k` accounts change while the reader is offline: half edited on the reader, half by the
/// rest of the team (pushed to the server first); then the reader reconnects and syncs.
pub async fn day_offline(
    server: &TestServer,
    generator: &Generator,
    reader: &mut Device,
    proxy: &CountingProxy,
    workload: &mut Workload,
    k: usize,
) -> anyhow::Result<DayOffline> {
    let now = workload.now();
    let picked: Vec<DocId> = workload
        .distinct(generator.ids.len(), k)
        .into_iter()
        .map(|i| generator.ids[i])
        .collect();
    let (local, remote) = picked.split_at(k / 2);
    let mut before = HashMap::new();
    for &id in &picked {
        let heads: Vec<ChangeHash> = server
            .storage()
            .heads(id)?
            .iter()
            .map(|h| ChangeHash(h.0))
            .collect();
        before.insert(id, heads);
    }
    for &id in remote {
        generator
            .store
            .edit_account(id, &workload.day_edit(), now)?;
    }
    let pushed = generator.sync().await?;
    ensure!(
        pushed.pushed.len() == remote.len(),
        "remote edits not all pushed"
    );
    for &id in local {
        reader.store.edit_account(id, &workload.day_edit(), now)?;
    }

    let catchup = reconnect(reader, proxy).await?;
    ensure!(
        catchup.report.pushed.len() == local.len() && catchup.report.received.len() == remote.len(),
        "day offline: pushed {} of {}, received {} of {}",
        catchup.report.pushed.len(),
        local.len(),
        catchup.report.received.len(),
        remote.len()
    );

    let new_changes = |ids: &[DocId]| -> anyhow::Result<Vec<(DocId, Vec<Change>)>> {
        ids.iter()
            .map(|&id| {
                let doc = server
                    .storage()
                    .document(id)?
                    .context("document on server")?;
                Ok((id, doc.get_changes(&before[&id])))
            })
            .collect()
    };
    let local = new_changes(local)?;
    let remote = new_changes(remote)?;
    let limit = local
        .iter()
        .chain(&remote)
        .map(|(_, changes)| compressed_size(changes))
        .sum();
    for &id in &picked {
        ensure!(
            reader.store.heads(id)? == server.storage().heads(id)?,
            "reader and server differ on {id} after the catch-up"
        );
    }
    Ok(DayOffline {
        catchup,
        limit,
        local,
        remote,
    })
}
