//! The peer: samod, the Rust port of automerge-repo, doing the same catch-ups over loopback
//! TCP with its own on-disk storage (`TokioFilesystemStorage`) on both sides.
//!
//! samod syncs document by document: on every connection each open document runs automerge's
//! sync protocol with the peer, and there is no feed telling a device which documents
//! changed. So a device that wants all its accounts current keeps them all open and waits
//! until each one is in sync. Both repos here keep every document loaded across reconnects
//! (samod's best case: no document is read from disk during a catch-up).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use automerge::{Automerge, Change, ChangeHash};
use futures_util::future::{join, join_all};
use futures_util::stream::{self, StreamExt};
use outpost_protocol::DocId;
use samod::storage::{Storage, StorageKey, TokioFilesystemStorage};
use samod::{AcceptorHandle, BackoffConfig, DialerHandle, DocHandle, DocumentId, PeerId, Repo};
use samod_core::CompactionHash;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::proxy::{CountingProxy, Framing, Traffic};

/// How long one catch-up may take before the benchmark gives up on it.
const SYNC_LIMIT: Duration = Duration::from_secs(600);

/// One measured samod catch-up.
#[derive(Debug)]
pub struct PeerCatchup {
    /// From dialing until every document is in sync both ways.
    pub time: Duration,
    /// What crossed the proxy, trailing messages of the exchange included.
    pub traffic: Traffic,
}

/// A samod sync server and one samod device, with the device's link through the proxy.
pub struct Peer {
    server: Repo,
    device: Repo,
    server_storage: TokioFilesystemStorage,
    device_storage: TokioFilesystemStorage,
    acceptor: AcceptorHandle,
    accepting: JoinHandle<()>,
    proxy: CountingProxy,
    dialer: Option<DialerHandle<Infallible>>,
    /// The open documents, on the device and on the server.
    handles: HashMap<DocId, DocHandle>,
    server_handles: HashMap<DocId, DocHandle>,
    _dirs: [TempDir; 2],
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("documents", &self.handles.len())
            .field("connected", &self.dialer.is_some())
            .finish()
    }
}

/// Opens `ids` from the repo's storage.
async fn open(repo: &Repo, ids: &[DocId]) -> anyhow::Result<Vec<(DocId, DocHandle)>> {
    stream::iter(ids.iter().copied())
        .map(|id| async move {
            let handle = repo
                .find(document_id(id)?)
                .await?
                .context("imported document not found")?;
            anyhow::Ok((id, handle))
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

fn document_id(id: DocId) -> anyhow::Result<DocumentId> {
    Ok(DocumentId::try_from(id.to_bytes().to_vec())?)
}

impl Peer {
    pub async fn start() -> anyhow::Result<Peer> {
        let dirs = [TempDir::new()?, TempDir::new()?];
        let server_storage = TokioFilesystemStorage::new(dirs[0].path());
        let device_storage = TokioFilesystemStorage::new(dirs[1].path());
        let server = Repo::build_tokio()
            .with_storage(server_storage.clone())
            .with_peer_id(PeerId::from("server"))
            .load()
            .await;
        let device = Repo::build_tokio()
            .with_storage(device_storage.clone())
            .with_peer_id(PeerId::from("device"))
            .load()
            .await;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = server.make_acceptor(samod::Url::parse(&format!("tcp://{addr}"))?)?;
        let accept = acceptor.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((io, _)) = listener.accept().await {
                let _ = io.set_nodelay(true);
                if accept.accept_tokio_io(io).is_err() {
                    break;
                }
            }
        });
        let proxy = CountingProxy::start(addr, Framing::LengthDelimited).await;
        Ok(Peer {
            server,
            device,
            server_storage,
            device_storage,
            acceptor,
            accepting,
            proxy,
            dialer: None,
            handles: HashMap::new(),
            server_handles: HashMap::new(),
            _dirs: dirs,
        })
    }

    /// Puts the same documents into both repos' storage, as samod itself stores a compacted
    /// document, and opens them on both sides. Call while disconnected.
    pub async fn import(&mut self, docs: Vec<(DocId, Automerge)>) -> anyhow::Result<()> {
        ensure!(self.dialer.is_none(), "import while disconnected");
        let mut ids = Vec::with_capacity(docs.len());
        for (id, doc) in docs {
            let key = StorageKey::snapshot_path(
                &document_id(id)?,
                &CompactionHash::new(&doc.get_heads()),
            );
            let bytes = doc.save();
            Storage::put(&self.server_storage, key.clone(), bytes.clone()).await;
            Storage::put(&self.device_storage, key, bytes).await;
            ids.push(id);
        }
        self.handles.extend(open(&self.device, &ids).await?);
        self.server_handles.extend(open(&self.server, &ids).await?);
        Ok(())
    }

    /// Closes the device's connection and waits until the server has seen it go.
    pub async fn disconnect(&mut self) -> anyhow::Result<()> {
        if let Some(dialer) = self.dialer.take() {
            dialer.close();
            let started = Instant::now();
            while self.acceptor.connection_count() > 0 {
                ensure!(
                    started.elapsed() < SYNC_LIMIT,
                    "samod connection did not close"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(())
    }

    /// Reconnects the device and waits until every open document is in sync both ways.
    pub async fn reconnect(&mut self) -> anyhow::Result<PeerCatchup> {
        self.disconnect().await?;
        self.proxy.take();
        let started = Instant::now();
        let url = samod::Url::parse(&format!("tcp://{}", self.proxy.addr()))?;
        let dialer = self.device.dial_tcp(url, BackoffConfig::default())?;
        dialer.established().await?;
        let conn = dialer.connection_id().context("dialer connected")?;
        self.dialer = Some(dialer);
        let in_sync = self
            .handles
            .values()
            .map(|h| join(h.they_have_our_changes(conn), h.we_have_their_changes(conn)));
        tokio::time::timeout(SYNC_LIMIT, join_all(in_sync))
            .await
            .context("samod catch-up did not finish")?;
        let time = started.elapsed();
        let traffic = self
            .proxy
            .take_settled(Duration::from_millis(200), Duration::from_secs(30))
            .await;
        Ok(PeerCatchup { time, traffic })
    }

    /// Applies the device's offline changes to its own copies. Call while disconnected.
    pub fn edit_local(&self, changes: &[(DocId, Vec<Change>)]) -> anyhow::Result<()> {
        ensure!(self.dialer.is_none(), "offline edits while disconnected");
        for (id, changes) in changes {
            let handle = self.handles.get(id).context("document open on device")?;
            handle.with_document(|doc| doc.apply_changes(changes.clone()))?;
        }
        Ok(())
    }

    /// Applies other devices' changes on the server, as if they had synced them there.
    pub fn edit_remote(&self, changes: &[(DocId, Vec<Change>)]) -> anyhow::Result<()> {
        for (id, changes) in changes {
            let handle = self
                .server_handles
                .get(id)
                .context("document open on server")?;
            handle.with_document(|doc| doc.apply_changes(changes.clone()))?;
        }
        Ok(())
    }

    /// The heads of `id` on the device and on the server.
    pub fn heads(&self, id: DocId) -> anyhow::Result<(Vec<ChangeHash>, Vec<ChangeHash>)> {
        let heads = |handles: &HashMap<DocId, DocHandle>| {
            let handle = handles.get(&id).context("document open")?;
            anyhow::Ok(handle.with_document(|d| d.get_heads()))
        };
        Ok((heads(&self.handles)?, heads(&self.server_handles)?))
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.disconnect().await?;
        self.accepting.abort();
        self.device.stop().await;
        self.server.stop().await;
        Ok(())
    }
}
