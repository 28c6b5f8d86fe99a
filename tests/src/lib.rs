//! End-to-end harness: a real server on `127.0.0.1:0` over a redb file in a temp dir, and rep
//! devices with their own redb stores, synced over real HTTP.
//!
//! # Layout
//! - [`TestServer`]: starts, stops and restarts the server on one data directory, seeded
//!   with the [fixture team](TestServer::start).
//! - [`Device`]: a user's store plus an HTTP client pointed at a server.
//! - [`CutProxy`]: a loopback TCP proxy that cuts each request or reply after a set number
//!   of bytes.
//! - [`ServerProcess`]: the real `outpost-server serve` binary as a child process.
//! - [`binary`]: builds and finds a workspace binary for tests that run it.
//! - [`bench`]: the benchmark's and the load command's workload, scenarios and figures.
//! - [`sim`]: the deterministic simulation (devices, server logic and a faulty network in one
//!   process, driven by a seed), run by `tests/simulation.rs` and the `soak` binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use outpost_client::{HttpClient, Store, SyncError, SyncReport};
use outpost_protocol::api::{NewUser, Role};
use outpost_protocol::{
    CONTENT_TYPE, DocPush, ErrorReply, Seq, SyncReply, SyncRequest, decode, encode,
};
use outpost_server::auth::LoginConfig;
use outpost_server::backup::BackupConfig;
use outpost_server::connections::Connections;
use outpost_server::{Config, Server, Storage};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod bench;
pub mod browser;
pub mod cli;
pub mod sim;

/// A running server and the directory its database lives in.
#[derive(Debug)]
pub struct TestServer {
    dir: TempDir,
    running: Option<Running>,
    /// The connection and event-stream limits it serves with.
    connections: Connections,
    /// Login limits and password pool of the server (the defaults unless a test sets them).
    login: LoginConfig,
}

#[derive(Debug)]
struct Running {
    addr: SocketAddr,
    storage: Arc<Storage>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// The password of every fixture user.
pub const PASSWORD: &str = "field-sales-2026";

/// The fixture: reps of team `field`, the reps of team `south`, the managers with the team
/// each leads, and the admin.
pub const FIELD_REPS: [&str; 6] = ["ana", "ben", "cai", "dee", "eve", "fay"];
pub const SOUTH_REPS: [&str; 1] = ["sol"];
pub const MANAGERS: [(&str, &str); 2] = [("mia", "field"), ("max", "south")];
pub const ADMIN: &str = "root";

impl TestServer {
    /// Starts a server on a fresh database seeded with the fixture: team `field` (reps
    /// [`FIELD_REPS`], led by `mia`), team `south` (rep `sol`, led by `max`), and the admin
    /// `root`, all with the password [`PASSWORD`].
    pub async fn start() -> TestServer {
        TestServer::start_with(Connections::default(), LoginConfig::default()).await
    }

    /// [`Self::start`], serving with these connection and event-stream limits.
    pub async fn start_with_connections(connections: Connections) -> TestServer {
        TestServer::start_with(connections, LoginConfig::default()).await
    }

    /// [`Self::start`] with these login limits and password pool.
    pub async fn start_with_login(login: LoginConfig) -> TestServer {
        TestServer::start_with(Connections::default(), login).await
    }

    async fn start_with(connections: Connections, login: LoginConfig) -> TestServer {
        let dir = TempDir::new().expect("temp dir");
        let storage = Storage::open(dir.path().join("outpost.redb")).expect("open server db");
        let user = |login: &str, role, team: Option<&str>| NewUser {
            login: login.into(),
            password: PASSWORD.into(),
            role,
            team: team.map(str::to_owned),
        };
        for (manager, team) in MANAGERS {
            storage.add_team(team).expect("add team");
            storage
                .add_user(&user(manager, Role::Manager, None))
                .expect("add manager");
            storage.set_lead(team, manager, true).expect("lead");
        }
        for (reps, team) in [(&FIELD_REPS[..], "field"), (&SOUTH_REPS[..], "south")] {
            for rep in reps {
                storage
                    .add_user(&user(rep, Role::Rep, Some(team)))
                    .expect("add rep");
            }
        }
        storage
            .add_user(&user(ADMIN, Role::Admin, None))
            .expect("add admin");
        drop(storage);
        let mut server = TestServer {
            dir,
            running: None,
            connections,
            login,
        };
        server.boot().await;
        server
    }

    /// Starts a server on the database already in `dir` (as set up by the console commands,
    /// or left by [`Self::stop`]).
    pub async fn open(dir: TempDir) -> TestServer {
        let mut server = TestServer {
            dir,
            running: None,
            connections: Connections::default(),
            login: LoginConfig::default(),
        };
        server.boot().await;
        server
    }

    /// Shuts the server down gracefully and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        self.shut_down().await;
        self.dir
    }

    /// A new device logged in as the admin (sees and may change every account).
    pub async fn device(&self) -> Device {
        self.device_of(ADMIN).await
    }

    /// A new device logged in as `login` (a fixture user, password [`PASSWORD`]).
    pub async fn device_of(&self, login: &str) -> Device {
        let device = Device::new(&self.url());
        self.log_in(&device.store, &device.client, login).await;
        device
    }

    /// Logs the device whose store this is in as `login` (password [`PASSWORD`]).
    pub async fn log_in(&self, store: &Store, client: &HttpClient, login: &str) {
        client
            .login(store, login, PASSWORD, "test device")
            .await
            .unwrap_or_else(|e| panic!("{login} logs in: {e}"));
    }

    /// Adds reps (password [`PASSWORD`]) to a new team.
    pub fn add_team(&self, team: &str, reps: &[String]) {
        let storage = self.storage();
        storage.add_team(team).expect("add team");
        for rep in reps {
            storage
                .add_user(&NewUser {
                    login: rep.clone(),
                    password: PASSWORD.into(),
                    role: Role::Rep,
                    team: Some(team.to_owned()),
                })
                .expect("add rep");
        }
    }

    async fn boot(&mut self) {
        let storage = Storage::open(self.dir.path().join("outpost.redb")).expect("open server db");
        // Backups on demand only (`POST /v1/admin/backups`), into DATA/backups.
        let config = Config {
            backups: Some(BackupConfig {
                dir: self.dir.path().join("backups"),
                every: None,
                keep: NonZeroUsize::new(4).expect("non-zero"),
            }),
            connections: self.connections.clone(),
            login: self.login.clone(),
            ..Config::default()
        };
        let server = Server::new(storage, &config);
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

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The base URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.running().addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// `GET path` with `device`'s token: the status and the body as JSON (`Null` if it is not).
    pub async fn get_json(
        &self,
        device: &Device,
        path: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(device.token())
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// The server's store, read in process.
    pub fn storage(&self) -> &Storage {
        &self.running().storage
    }

    /// Shuts the server down gracefully and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.shut_down().await;
        self.boot().await;
    }

    async fn shut_down(&mut self) {
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
    }
}

/// One raw change on a copy of `doc`, signed by `actor`, putting `value` in the root field
/// `field`: what a hostile or broken device pushes when it skips the library (its record
/// rules, its own actor). Returns the change and the copy with it.
pub fn put_change(
    doc: &automerge::Automerge,
    actor: &[u8],
    field: &str,
    value: &str,
) -> (Vec<u8>, automerge::Automerge) {
    use automerge::transaction::Transactable;
    let mut doc = doc.fork().with_actor(automerge::ActorId::from(actor));
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(automerge::ROOT, field, value)
        .expect("a root field takes a string");
    tx.commit();
    let change = doc.get_changes(&heads).remove(0).raw_bytes().to_vec();
    (change, doc)
}

/// A plain HTTP client for the JSON API, with the process's rustls provider installed (which
/// creating an [`HttpClient`] does) as reqwest needs it.
pub fn http() -> reqwest::Client {
    drop(HttpClient::new("http://127.0.0.1"));
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
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

    /// A new device logged in as the fixture user `login` (password [`PASSWORD`]) at
    /// `server_url`, for servers run as processes.
    pub async fn logged_in(server_url: &str, login: &str) -> Device {
        let device = Device::new(server_url);
        device
            .client
            .login(&device.store, login, PASSWORD, "test device")
            .await
            .unwrap_or_else(|e| panic!("{login} logs in: {e}"));
        device
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

    /// The token the device logged in with, for the JSON API.
    pub fn token(&self) -> String {
        let (_, token) = self
            .store
            .credentials()
            .expect("read credentials")
            .expect("the device logged in");
        token
    }

    /// Posts `body` to the sync endpoint of the server at `url` with this device's token, and
    /// returns the status with the decoded reply (200) or the typed error (any other).
    pub async fn post_sync(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> (u16, Result<SyncReply, ErrorReply>) {
        let response = reqwest::Client::new()
            .post(format!("{url}/v1/sync"))
            .header("content-type", CONTENT_TYPE)
            .bearer_auth(self.token())
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("the reply's body");
        let reply = if status == 200 {
            Ok(decode(&bytes).expect("a sync reply"))
        } else {
            Err(serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{status}, not a typed error ({e}): {bytes:?}")))
        };
        (status, reply)
    }

    /// Pushes `pushes` as they are, from checkpoint 0, to the server at `url` (see
    /// [`Self::post_sync`]): for tests of what the server does with what a device sends.
    pub async fn push_raw(
        &self,
        url: &str,
        pushes: Vec<DocPush>,
    ) -> (u16, Result<SyncReply, ErrorReply>) {
        let body = encode(&SyncRequest {
            device: self.store.device(),
            checkpoint: Seq(0),
            pushes,
        });
        self.post_sync(url, body).await
    }
}

/// A loopback proxy that cuts every connection after a set number of bytes of the request
/// or of the reply ([`Cut`]), closing it, as a dropped mobile link would.
#[derive(Debug)]
pub struct CutProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

/// Where a [`CutProxy`] cuts each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After this many bytes of the request: the server sees the connection end early.
    Request(usize),
    /// After this many bytes of the reply, once the server has handled the request.
    Reply(usize),
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr, reply_bytes: usize) -> CutProxy {
        CutProxy::cutting(upstream, Cut::Reply(reply_bytes)).await
    }

    /// A proxy that cuts every connection at `cut`.
    pub async fn cutting(upstream: SocketAddr, cut: Cut) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, cut));
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

async fn relay(client: TcpStream, upstream: SocketAddr, cut: Cut) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (request_bytes, reply_bytes) = match cut {
        Cut::Request(bytes) => (bytes, usize::MAX),
        Cut::Reply(bytes) => (usize::MAX, bytes),
    };
    let (client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let mut limited = client_read.take(request_bytes as u64);
        let _ = tokio::io::copy(&mut limited, &mut server_write).await;
        // Cut: the server sees the connection end in the middle of the request.
        let _ = server_write.shutdown().await;
    });
    // Wait for the reply to start (the server has handled the request by then), pass on at
    // most `reply_bytes` of it, then close both connections. After a cut request, whatever
    // the server answers (an error, or nothing) is passed on.
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

/// The workspace binary `name` in this build profile, built first so it is never
/// stale.
///
/// Integration tests of another package get no `CARGO_BIN_EXE_*`; the binary lives in the
/// profile folder (above the test's `deps` folder, or beside the benchmark).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().expect("binary cache");
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let exe = std::env::current_exe().expect("executable path");
    // A test runs from <target>/<profile>/deps, a binary (the benchmark) from <profile>.
    let exe_dir = exe.parent().expect("the executable is in a folder");
    let from_test = exe_dir.file_name().and_then(|n| n.to_str()) == Some("deps");
    let profile_dir = if from_test {
        exe_dir.parent().expect("deps is in the profile folder")
    } else {
        exe_dir
    };
    let profile_args: &[&str] = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => &[],
        Some("release") => &["--release"],
        Some(other) => &["--profile", other],
        None => panic!("unexpected target layout: {}", profile_dir.display()),
    };
    // Built as `cargo nextest run --workspace` builds the workspace (tests included, so with
    // the same unified features): a no-op once that build is done. `-p PACKAGE`, or leaving
    // out the tests, would change the features and rebuild the binary on every call. The
    // benchmark, itself a binary, builds the binaries only.
    let targets: &[&str] = if from_test {
        &["--tests", "--bins"]
    } else {
        &["--bins"]
    };
    let mut build = Command::new(env!("CARGO"));
    // The variables cargo sets for a running test describe this package, not the build:
    // a dependency's build script that watches one (ring's reruns when CARGO_MANIFEST_DIR
    // changes) would see it differ from a build started in a shell, and rebuild half the
    // tree on every test run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&name.as_ref())
        {
            build.env_remove(name.as_ref());
        }
    }
    let output = build
        .args(["build", "--quiet", "--workspace"])
        .args(targets)
        .args(profile_args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build of {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "no {name} binary at {}", path.display());
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), path.clone());
    path
}

/// The value of the sample `name` (with its labels, such as `outpost_pushes_total{outcome=
/// "accepted"}`) in a scrape of the server's `/metrics`.
pub fn metric(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// [`metric`], for tests: panics with the scrape when the sample is missing.
pub fn sample(scrape: &str, name: &str) -> f64 {
    metric(scrape, name).unwrap_or_else(|| panic!("no sample {name} in:\n{scrape}"))
}

/// The real `outpost-server serve` process on `127.0.0.1:0`, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Option<std::thread::JoinHandle<String>>,
}

impl ServerProcess {
    /// Starts the server on the database in `data` with `extra` arguments, and waits until it
    /// listens.
    pub fn start(data: &Path, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(binary("outpost-server"))
            .env_remove("OUTPOST_DATA")
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start outpost-server");
        let mut log = BufReader::new(child.stderr.take().expect("stderr"));
        let mut seen = String::new();
        let mut line = String::new();
        let addr = loop {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "server exited before listening:\n{seen}"
            );
            seen.push_str(&line);
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .expect("listen address");
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        let log = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = log.read_to_string(&mut rest);
            seen + &rest
        });
        ServerProcess {
            child,
            addr,
            log: Some(log),
        }
    }

    /// Everything the server logged, once it has exited.
    pub fn log(&mut self) -> String {
        self.log
            .take()
            .expect("log taken once")
            .join()
            .expect("log reader")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
    }
}
