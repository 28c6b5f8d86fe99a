//! Server figures: durable push throughput with many devices pushing at once, and how fast a
//! committed change reaches another online device through the event stream.
//!
//! Throughput is measured twice. Real devices (`Store` + `HttpClient::sync`) share the two
//! cores with the server and spend most of them applying each other's changes, so the server's
//! own capacity is measured with protocol-level load devices: each makes its change with
//! automerge directly and sends the same `SyncRequest` a device would, and decodes the reply
//! without applying it.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT};
use outpost_client::{HttpClient, Store};
use outpost_protocol::{
    CONTENT_TYPE, DeviceId, DocId, DocPush, PushOutcome, Seq, SyncReply, SyncRequest,
};

use super::workload::Workload;
use crate::{ADMIN, TestServer};

/// Edits each real device cycles through (generated up front from the seed).
const EDITS_PER_DEVICE: usize = 64;

/// What the pushing devices achieved.
#[derive(Debug)]
pub struct Throughput {
    pub devices: usize,
    /// Pushes the server acknowledged (each one change of one document, durable).
    pub pushes: u64,
    /// Feed entries the server committed meanwhile (one per acknowledged push).
    pub commits: u64,
    /// Document updates the replies carried (the others' changes).
    pub updates: u64,
    pub elapsed: Duration,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.pushes as f64 / self.elapsed.as_secs_f64()
    }
}

/// Real devices, each with one account of its own, pushed and caught up.
async fn fleet(
    server: &TestServer,
    workload: &mut Workload,
    devices: usize,
) -> anyhow::Result<Vec<(Store, HttpClient, DocId)>> {
    let mut fleet = Vec::with_capacity(devices);
    for _ in 0..devices {
        let store = Store::in_memory()?;
        let client = HttpClient::new(&server.url());
        server.log_in(&store, &client, ADMIN).await;
        let id = store.create_account_anyway(&workload.account().new, workload.now())?;
        fleet.push((store, client, id));
    }
    // Everyone pushes their account, then catches up on the others'.
    for _ in 0..2 {
        for (store, client, _) in &fleet {
            client.sync(store).await?;
        }
    }
    Ok(fleet)
}

/// Real devices edit their account and sync in a loop for `duration`; every sync pushes one
/// change and applies what the others committed since the previous one.
pub async fn push_end_to_end(
    server: &TestServer,
    workload: &mut Workload,
    devices: usize,
    duration: Duration,
) -> anyhow::Result<Throughput> {
    let now = workload.now();
    let fleet = fleet(server, workload, devices).await?;
    let edits: Vec<Vec<_>> = (0..devices)
        .map(|_| (0..EDITS_PER_DEVICE).map(|_| workload.day_edit()).collect())
        .collect();
    let feed_before = server.storage().feed_head()?;
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = fleet
        .into_iter()
        .zip(edits)
        .map(|((store, client, id), edits)| {
            tokio::spawn(async move {
                let (mut pushes, mut updates) = (0u64, 0u64);
                for edit in edits.iter().cycle() {
                    if Instant::now() >= deadline {
                        break;
                    }
                    store.edit_account(id, edit, now)?;
                    let report = client.sync(&store).await?;
                    pushes += report.pushed.len() as u64;
                    updates += report.received.len() as u64;
                }
                anyhow::Ok((pushes, updates))
            })
        })
        .collect();
    finish(server, tasks, devices, feed_before, started).await
}

/// The durable pushes/s row's devices, as it has always measured them: `devices` real
/// devices each create an account (its creation change only) and push it; their logins and
/// accounts then serve protocol-level devices ([`push_capacity_to`]).
pub async fn capacity_fleet(
    server: &TestServer,
    workload: &mut Workload,
    devices: usize,
) -> anyhow::Result<(Vec<(DeviceId, String)>, Vec<DocId>)> {
    let fleet = fleet(server, workload, devices).await?;
    let mut logins = Vec::with_capacity(devices);
    let mut ids = Vec::with_capacity(devices);
    for (store, _, id) in fleet {
        let (_, token) = store
            .credentials()?
            .context("fleet devices are logged in")?;
        logins.push((store.device(), token));
        ids.push(id);
    }
    Ok((logins, ids))
}

/// `count` protocol-level devices logged in as the admin: their ids and tokens.
pub async fn log_in_devices(
    server: &TestServer,
    count: usize,
) -> anyhow::Result<Vec<(DeviceId, String)>> {
    let mut logins = Vec::with_capacity(count);
    for _ in 0..count {
        let store = Store::in_memory()?;
        let client = HttpClient::new(&server.url());
        server.log_in(&store, &client, ADMIN).await;
        let (_, token) = store.credentials()?.context("logged in")?;
        logins.push((store.device(), token));
    }
    Ok(logins)
}

/// One protocol-level device per login pushes one change per request for `duration`, device
/// `i` to account `ids[i % ids.len()]`, which must be on the server. Each request carries the
/// device's checkpoint, so the server builds the full catch-up reply, decoded and dropped.
pub async fn push_capacity_to(
    server: &TestServer,
    logins: &[(DeviceId, String)],
    ids: &[DocId],
    duration: Duration,
) -> anyhow::Result<Throughput> {
    let url = format!("{}/v1/sync", server.url());
    let feed_before = server.storage().feed_head()?;
    let mut loaders = Vec::with_capacity(logins.len());
    for (i, (device, token)) in logins.iter().enumerate() {
        let id = ids[i % ids.len()];
        let doc = server
            .storage()
            .document(id)?
            .context("account on server")?;
        loaders.push(Loader {
            device: *device,
            token: token.clone(),
            id,
            doc: doc.with_actor(ActorId::from(device.to_bytes().as_slice())),
            checkpoint: feed_before,
        });
    }
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = loaders
        .into_iter()
        .map(|mut loader| {
            let url = url.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let (mut pushes, mut updates) = (0u64, 0u64);
                while Instant::now() < deadline {
                    updates += loader.push(&http, &url, pushes).await?;
                    pushes += 1;
                }
                anyhow::Ok((pushes, updates))
            })
        })
        .collect();
    finish(server, tasks, logins.len(), feed_before, started).await
}

async fn finish(
    server: &TestServer,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<(u64, u64)>>>,
    devices: usize,
    feed_before: Seq,
    started: Instant,
) -> anyhow::Result<Throughput> {
    let (mut pushes, mut updates) = (0, 0);
    for task in tasks {
        let (p, u) = task.await??;
        pushes += p;
        updates += u;
    }
    let elapsed = started.elapsed();
    let commits = server.storage().feed_head()?.0 - feed_before.0;
    Ok(Throughput {
        devices,
        pushes,
        commits,
        updates,
        elapsed,
    })
}

/// A protocol-level device: its account document and its place in the feed.
struct Loader {
    device: DeviceId,
    token: String,
    id: DocId,
    doc: Automerge,
    checkpoint: Seq,
}

impl Loader {
    /// Makes one change, pushes it, checks it was accepted; returns the updates replied.
    async fn push(&mut self, http: &reqwest::Client, url: &str, n: u64) -> anyhow::Result<u64> {
        let before = self.doc.get_heads();
        let mut tx = self.doc.transaction();
        tx.put(ROOT, "region", format!("zone {n}"))?;
        tx.commit();
        let changes = self
            .doc
            .get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let body = outpost_protocol::encode(&SyncRequest {
            device: self.device,
            checkpoint: self.checkpoint,
            pushes: vec![DocPush {
                doc: self.id,
                changes,
            }],
        });
        let reply = http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let reply: SyncReply = outpost_protocol::decode(&reply)?;
        ensure!(
            matches!(reply.pushed.as_slice(), [r] if r.outcome == PushOutcome::Accepted),
            "push not accepted: {:?}",
            reply.pushed
        );
        self.checkpoint = reply.checkpoint;
        Ok(reply.updates.len() as u64)
    }
}

/// Latencies from the start of a device's sync that pushes a change to another online device.
#[derive(Debug)]
pub struct FanOut {
    /// Until the event stream announced the commit.
    pub notified: Vec<Duration>,
    /// Until the listening device had pulled the change into its store.
    pub pulled: Vec<Duration>,
}

/// One device pushes `probes` changes, one at a time, on an otherwise idle server; another
/// device listens on the event stream and syncs at each event.
pub async fn fan_out(
    server: &TestServer,
    workload: &mut Workload,
    probes: usize,
) -> anyhow::Result<FanOut> {
    let now = workload.now();
    let writer = Store::in_memory()?;
    let writer_client = HttpClient::new(&server.url());
    server.log_in(&writer, &writer_client, ADMIN).await;
    let id = writer.create_account_anyway(&workload.account().new, now)?;
    writer_client.sync(&writer).await?;
    let listener = Store::in_memory()?;
    let listener_client = HttpClient::new(&server.url());
    server.log_in(&listener, &listener_client, ADMIN).await;
    listener_client.sync(&listener).await?;
    let mut events = listener_client.subscribe(&listener).await?;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listening = tokio::spawn(async move {
        while let Some(_seq) = events.next().await? {
            let noticed = Instant::now();
            let report = listener_client.sync(&listener).await?;
            if tx.send((noticed, Instant::now(), report.received)).is_err() {
                break;
            }
        }
        anyhow::Ok(())
    });

    let mut result = FanOut {
        notified: Vec::with_capacity(probes),
        pulled: Vec::with_capacity(probes),
    };
    for _ in 0..probes {
        writer.edit_account(id, &workload.day_edit(), now)?;
        let started = Instant::now();
        writer_client.sync(&writer).await?;
        loop {
            let (noticed, pulled, received) =
                tokio::time::timeout(Duration::from_secs(10), rx.recv())
                    .await
                    .context("no event within 10 s")?
                    .context("listener stopped")?;
            if received.contains(&id) {
                result.notified.push(noticed - started);
                result.pulled.push(pulled - started);
                break;
            }
        }
    }
    listening.abort();
    Ok(result)
}
