//! End-to-end harness: a real server on `127.0.0.1:0` over a redb file in a temp dir, and rep
//! devices with their own redb stores, synced over real HTTP.
//!
//! # Layout
//! - [`TestServer`]: starts, stops and restarts the server on one data directory.
//! - [`Device`]: a rep's store plus an HTTP client pointed at a server.
//! - [`CutProxy`]: a loopback TCP proxy that cuts each reply after a set number of bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use outpost_client::{HttpClient, Store, SyncError, SyncReport};
use outpost_server::{Config, Server, Storage};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and the directory its database lives in.
#[derive(Debug)]
pub struct TestServer {
    dir: TempDir,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    storage: Arc<Storage>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a server on a fresh database.
    pub async fn start() -> TestServer {
        let mut server = TestServer {
            dir: TempDir::new().expect("temp dir"),
            running: None,
        };
        server.boot().await;
        server
    }

    async fn boot(&mut self) {
        let storage = Storage::open(self.dir.path().join("outpost.redb")).expect("open server db");
        let server = Server::new(storage, &Config::default());
        let storage = server.storage();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        self.running = Some(Running {
            addr,
            storage,
            stop,
            task,
        });
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// The base URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.running().addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// The server's store, read in process.
    pub fn storage(&self) -> &Storage {
        &self.running().storage
    }

    /// Shuts the server down gracefully and starts it again on the same database.
    pub async fn restart(&mut self) {
        let Running {
            storage,
            stop,
            task,
            ..
        } = self.running.take().expect("running");
        drop(storage);
        let _ = stop.send(());
        task.await
            .expect("server task")
            .expect("server stopped cleanly");
        self.boot().await;
    }
}

/// A rep's device: a store on disk and a client for one server.
#[derive(Debug)]
pub struct Device {
    dir: TempDir,
    pub store: Store,
    pub client: HttpClient,
}

impl Device {
    /// A new device with an empty store, talking to `server_url`.
    pub fn new(server_url: &str) -> Device {
        let dir = TempDir::new().expect("temp dir");
        Device {
            store: Store::open(dir.path().join("store.redb")).expect("open device store"),
            client: HttpClient::new(server_url),
            dir,
        }
    }

    /// Where the device's store file lives.
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store.redb")
    }

    /// Closes the store and opens it again from disk, as a restarted app would.
    pub fn reopen(self) -> Device {
        let Device { dir, store, client } = self;
        drop(store);
        let store = Store::open(dir.path().join("store.redb")).expect("reopen store");
        Device { dir, store, client }
    }

    /// Points the device at another server address.
    pub fn connect(&mut self, server_url: &str) {
        self.client = HttpClient::new(server_url);
    }

    pub async fn try_sync(&self) -> Result<SyncReport, SyncError> {
        self.client.sync(&self.store).await
    }

    pub async fn sync(&self) -> SyncReport {
        self.try_sync().await.expect("sync succeeds")
    }
}

/// A loopback proxy that forwards requests untouched and cuts every reply after
/// `reply_bytes` bytes, closing the connection, as a dropped mobile link would.
#[derive(Debug)]
pub struct CutProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr, reply_bytes: usize) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, reply_bytes));
            }
        });
        CutProxy { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, reply_bytes: usize) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    // Wait for the reply to start (the server has handled the request by then), pass on at
    // most `reply_bytes` of it, then close both connections.
    let mut forwarded = 0;
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min(reply_bytes - forwarded),
        };
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        forwarded += n;
        if forwarded >= reply_bytes {
            break;
        }
    }
    requests.abort();
}
