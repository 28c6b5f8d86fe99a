//! Deterministic simulation: several devices and the server's sync logic in one process, one
//! seeded random generator deciding every step, a virtual clock, and a network the harness
//! owns, which loses, duplicates, delays and reorders messages, cuts devices off, and
//! restarts devices and the server.
//!
//! # What is real and what is simulated
//! - The server is the real [`Storage`] on a redb file in a temp dir, the real [`Writer`]
//!   thread (with a two-document cache, so documents are evicted and reloaded often) and the
//!   real exchange the HTTP handler runs ([`outpost_server::exchange::exchange`]). Only HTTP
//!   and token authentication are left out: each device's [`Principal`] is built from its
//!   user's directory record (`Storage::user`) and its store's device id, which is what the
//!   token lookup would return. The users come from a directory built once per process
//!   (argon2 hashing is slow on purpose) and copied into each run's temp dir.
//! - A device is a real [`Store`] on a redb file driven through [`SyncSession`], edited
//!   through the store's API with timestamps from the virtual clock. Its stores are opened
//!   with [`Store::open_seeded`], so account ids, entry ids and device ids (and with them
//!   every automerge change hash) follow from the seed: a run replays byte for byte.
//! - The network is a list of messages in flight. A device's request is a body from
//!   [`SyncSession::next_request`]; delivering it runs the exchange against the server and
//!   puts the reply in flight; delivering a reply applies it with
//!   [`SyncSession::handle_reply`], through the device's session if that session is waiting
//!   for exactly that reply, else as a stale reply through a fresh session (a reply is just
//!   a body; applying an old one must be safe).
//!
//! # Faults
//! Each step, the generator picks one of: a device edits (creates an account, logs a
//! follow-up, rewrites its notes, sets its priority, adds a contact); a device sends its
//! next request (a device still waiting for a reply gives up on that sync and starts over,
//! as the HTTP driver does after a timeout); a message in flight is delivered (any of them:
//! replies and requests arrive out of order and late), dropped or duplicated; a device is
//! cut off or reconnected (its messages stay in flight until it is back); a device restarts
//! (its store is closed and reopened, its session abandoned); the server restarts (the
//! writer thread is stopped and the store closed with no flush of anything else, then both
//! reopened on the same file), sometimes right after handling a request, whose reply is
//! then lost. The clock moves on by up to two minutes each step.
//!
//! The accounts belong to three reps of one team (one rep has two devices) and are read by
//! the team's manager, who edits them too; one account is shared with a second rep for
//! writing, so several accounts are edited concurrently on up to four devices.
//!
//! # Invariants
//! After every server restart, every change a device saw acknowledged (`Accepted`) is in
//! the server's store. After healing (no more faults, everything in flight delivered, then
//! every device syncs in turn until a whole round moves nothing): the server holds exactly
//! the accounts that were created; every device holds exactly the accounts its user reads,
//! each with the server's heads (equal heads mean equal histories), and nothing unsynced;
//! every edit is in the server's document (so on every reader), unless the server refused
//! it and its author's store kept it as refused; and no acknowledged change was refused.
//!
//! [`Config::sabotage`] breaks the server on purpose, to show that the checks can fail.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use anyhow::{Context, bail, ensure};
use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use chrono::{DateTime, Duration, Utc};
use outpost_client::model::{Contact, Priority};
use outpost_client::{
    AccountEdit, ContactMethod, NewAccount, NewFollowUp, Store, SyncReport, SyncSession,
};
use outpost_protocol::api::{NewUser, Role};
use outpost_protocol::{DocId, PushOutcome, SyncRequest};
use outpost_server::exchange::exchange;
use outpost_server::{Config as ServerConfig, Principal, Storage, Writer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;
use tokio::sync::broadcast;

/// The team every simulated rep belongs to, and its manager.
const TEAM: &str = "field";
const MANAGER: &str = "mia";
const REPS: [&str; 3] = ["ana", "ben", "cai"];
/// The devices: (user, device name). `ana` has two.
const DEVICES: [(&str, &str); 5] = [
    ("ana", "ana-phone"),
    ("ana", "ana-tablet"),
    ("ben", "ben-phone"),
    ("cai", "cai-phone"),
    (MANAGER, "mia-laptop"),
];
/// Documents the server's writer keeps loaded: few, so they are evicted and reloaded.
const CACHE_DOCS: usize = 2;
/// Rounds of "every device syncs" healing may take before the run counts as not converging.
const HEAL_ROUNDS: usize = 8;

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Steps with faults before healing.
    pub steps: usize,
    pub sabotage: Option<Sabotage>,
}

/// A deliberately broken server, to show that the invariants can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// Each server restart brings the database back to how it was when the server last
    /// started, as if its commits (acknowledged ones included) had never reached the disk.
    ForgetCommits,
}

/// What a passing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub edits: usize,
    pub exchanges: usize,
    pub dropped: usize,
    pub duplicated: usize,
    pub stale_replies: usize,
    pub partitions: usize,
    pub device_restarts: usize,
    pub server_restarts: usize,
    pub rejected_pushes: usize,
}

impl Stats {
    /// Adds another run's counts to these.
    pub fn add(&mut self, other: &Stats) {
        self.edits += other.edits;
        self.exchanges += other.exchanges;
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.stale_replies += other.stale_replies;
        self.partitions += other.partitions;
        self.device_restarts += other.device_restarts;
        self.server_restarts += other.server_restarts;
        self.rejected_pushes += other.rejected_pushes;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "edits {}, exchanges {}, messages dropped {}, duplicated {}, stale replies applied {}, \
             partitions {}, device restarts {}, server restarts {}, pushes rejected {}",
            self.edits,
            self.exchanges,
            self.dropped,
            self.duplicated,
            self.stale_replies,
            self.partitions,
            self.device_restarts,
            self.server_restarts,
            self.rejected_pushes
        )
    }
}

/// A passing run: a digest of every step taken and the final state, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub digest: u64,
    pub stats: Stats,
}

/// A failed run: the seed that replays it, why it failed, and its last steps.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub reason: String,
    pub last_steps: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {} failed: {}", self.seed, self.reason)?;
        writeln!(f, "last steps:")?;
        for step in &self.last_steps {
            writeln!(f, "  {step}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// The command that replays one seed with the `soak` binary.
pub fn replay_command(seed: u64, steps: usize) -> String {
    format!(
        "cargo run --release -p outpost-tests --bin soak -- --start {seed} --seeds 1 --steps {steps}"
    )
}

/// Runs the simulation of `seed`: `config.steps` steps with faults, then healing and the
/// checks of the invariants.
pub fn run(seed: u64, config: &Config) -> Result<Outcome, Failure> {
    let mut trace = Vec::new();
    let result = Sim::new(seed, config.sabotage, &mut trace).and_then(|mut sim| {
        for step in 0..config.steps {
            sim.step(step).with_context(|| format!("at step {step}"))?;
        }
        sim.heal().context("while healing")?;
        sim.check().context("after healing")?;
        sim.outcome()
    });
    result.map_err(|e| {
        let from = trace.len().saturating_sub(40);
        Failure {
            seed,
            reason: format!("{e:#}"),
            last_steps: trace.split_off(from),
        }
    })
}

/// A temp dir for one run's redb files: in memory (`/dev/shm`) where there is one, since a
/// run commits thousands of times and nothing in it needs the disk to keep what it wrote (a
/// simulated restart closes and reopens files; it does not lose the page cache).
fn scratch_dir() -> std::io::Result<TempDir> {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("outpost-sim-")
        .tempdir_in(parent)
}

/// The directory every run starts from (team, manager, reps), as redb file bytes.
fn directory() -> &'static [u8] {
    static DIRECTORY: OnceLock<Vec<u8>> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let dir = TempDir::new().expect("temp dir");
        let path = dir.path().join("directory.redb");
        let storage = Storage::open(&path).expect("open server db");
        let user = |login: &str, role, team: Option<&str>| NewUser {
            login: login.into(),
            password: crate::PASSWORD.into(),
            role,
            team: team.map(str::to_owned),
        };
        storage.add_team(TEAM).expect("add team");
        storage
            .add_user(&user(MANAGER, Role::Manager, None))
            .expect("add manager");
        storage.set_lead(TEAM, MANAGER, true).expect("lead");
        for rep in REPS {
            storage
                .add_user(&user(rep, Role::Rep, Some(TEAM)))
                .expect("add rep");
        }
        drop(storage);
        std::fs::read(&path).expect("read directory")
    })
}

/// Whether `doc` exists and holds `change`.
fn holds(doc: Option<&Automerge>, change: &ChangeHash) -> bool {
    doc.is_some_and(|d| d.get_change_by_hash(change).is_some())
}

/// The server side: storage and writer over one redb file.
struct Server {
    storage: Arc<Storage>,
    writer: Writer,
    thread: JoinHandle<()>,
}

impl Server {
    fn open(path: &Path) -> anyhow::Result<Server> {
        let storage = Arc::new(Storage::open(path)?);
        let (events, _) = broadcast::channel(16);
        let config = ServerConfig {
            cache_docs: NonZeroUsize::new(CACHE_DOCS).expect("non-zero"),
            ..ServerConfig::default()
        };
        let (writer, thread) = Writer::spawn(
            storage.clone(),
            &config,
            events,
            Default::default(),
            Default::default(),
        );
        Ok(Server {
            storage,
            writer,
            thread,
        })
    }

    /// Stops the writer thread and closes the store. Nothing is flushed first: what was
    /// not committed is gone, as after a crash.
    fn stop(self) -> anyhow::Result<()> {
        let Server {
            storage,
            writer,
            thread,
        } = self;
        drop(writer);
        if thread.join().is_err() {
            bail!("the writer thread panicked");
        }
        ensure!(
            Arc::into_inner(storage).is_some(),
            "something still holds the server's store"
        );
        Ok(())
    }
}

struct Device {
    name: &'static str,
    path: PathBuf,
    store: Store,
    who: Principal,
    /// The sync in progress, and the request whose reply it waits for.
    session: Option<SyncSession>,
    awaiting: Option<u64>,
    cut: bool,
    created: usize,
}

/// The changes a reply acknowledges, per document.
type Acknowledged = Vec<(DocId, Vec<ChangeHash>)>;

#[derive(Clone)]
enum Payload {
    Request(Vec<u8>),
    /// A reply and the changes it acknowledges, per document.
    Reply(Vec<u8>, Acknowledged),
}

#[derive(Clone)]
struct Message {
    /// The request's number; its replies carry the same.
    id: u64,
    device: usize,
    payload: Payload,
}

/// One edit: the change it made on its author's device.
struct Edit {
    device: usize,
    doc: DocId,
    change: ChangeHash,
}

struct Sim<'t> {
    rng: StdRng,
    now: DateTime<Utc>,
    runtime: tokio::runtime::Runtime,
    dir: TempDir,
    server: Option<Server>,
    sabotage: Option<Sabotage>,
    devices: Vec<Device>,
    network: Vec<Message>,
    next_message: u64,
    /// Every account created: its owner, and the rep it is shared with.
    accounts: BTreeMap<DocId, (String, Option<String>)>,
    edits: Vec<Edit>,
    acknowledged: BTreeMap<DocId, BTreeSet<ChangeHash>>,
    trace: &'t mut Vec<String>,
    stats: Stats,
}

impl<'t> Sim<'t> {
    fn new(
        seed: u64,
        sabotage: Option<Sabotage>,
        trace: &'t mut Vec<String>,
    ) -> anyhow::Result<Sim<'t>> {
        let dir = scratch_dir()?;
        std::fs::write(dir.path().join("server.redb"), directory())?;
        let server = Server::open(&dir.path().join("server.redb"))?;
        if sabotage.is_some() {
            std::fs::copy(dir.path().join("server.redb"), dir.path().join("boot.redb"))?;
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut devices = Vec::with_capacity(DEVICES.len());
        for (login, name) in DEVICES {
            let path = dir.path().join(format!("{name}.redb"));
            let store = Store::open_seeded(&path, rng.random())?;
            let user = server.storage.user(login)?;
            let who = Principal {
                login: user.login,
                role: user.role,
                team: user.team,
                leads: user.leads,
                device: store.device(),
            };
            devices.push(Device {
                name,
                path,
                store,
                who,
                session: None,
                awaiting: None,
                cut: false,
                created: 0,
            });
        }
        let now = DateTime::from_timestamp(1_790_000_000, 0).expect("valid time");
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        let mut sim = Sim {
            rng,
            now,
            runtime,
            dir,
            server: Some(server),
            sabotage,
            devices,
            network: Vec::new(),
            next_message: 0,
            accounts: BTreeMap::new(),
            edits: Vec::new(),
            acknowledged: BTreeMap::new(),
            trace,
            stats: Stats::default(),
        };
        sim.share_one()?;
        Ok(sim)
    }

    /// The first rep's first device creates an account and syncs it, and the rep shares it
    /// with the second rep for writing.
    fn share_one(&mut self) -> anyhow::Result<()> {
        let doc = self.create(0)?;
        self.sync_now(0)?;
        let (owner, with) = (self.devices[0].who.clone(), REPS[1].to_owned());
        let server = self.server();
        let result = self.runtime.block_on(server.writer.share(
            owner,
            doc,
            with.clone(),
            Some(true),
            self.now.timestamp_millis(),
        ))?;
        ensure!(
            result.outcome == PushOutcome::Accepted,
            "sharing was refused: {:?}",
            result.outcome
        );
        self.note(format!("{} shares {doc} with {with}", self.devices[0].name));
        self.accounts.get_mut(&doc).expect("created").1 = Some(with);
        Ok(())
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is running")
    }

    fn note(&mut self, line: String) {
        self.trace.push(line);
    }

    fn step(&mut self, step: usize) -> anyhow::Result<()> {
        self.now += Duration::seconds(self.rng.random_range(1..=120));
        let device = self.rng.random_range(0..self.devices.len());
        match self.rng.random_range(0..100) {
            0..30 => self.edit(device, step),
            30..50 => self.send(device),
            50..80 => self.deliver_any(),
            80..86 => {
                if let Some(i) = self.pick(false) {
                    let message = self.network.swap_remove(i);
                    self.stats.dropped += 1;
                    self.note(format!("message {} is lost", message.id));
                }
                Ok(())
            }
            86..90 => {
                if let Some(i) = self.pick(false) {
                    let copy = self.network[i].clone();
                    self.stats.duplicated += 1;
                    self.note(format!("message {} is duplicated", copy.id));
                    self.network.push(copy);
                }
                Ok(())
            }
            90..94 => {
                let d = &mut self.devices[device];
                d.cut = !d.cut;
                let line = if d.cut { "is cut off" } else { "is back" };
                let line = format!("{} {line}", d.name);
                self.stats.partitions += 1;
                self.note(line);
                Ok(())
            }
            94..97 => self.restart_device(device),
            _ => self.restart_server(),
        }
    }

    /// A random message in flight; `deliverable`: only one whose device is connected.
    fn pick(&mut self, deliverable: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.network.len())
            .filter(|&i| !deliverable || !self.devices[self.network[i].device].cut)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[self.rng.random_range(0..candidates.len())])
    }

    /// A new account owned by the device's user.
    fn create(&mut self, device: usize) -> anyhow::Result<DocId> {
        let d = &mut self.devices[device];
        d.created += 1;
        let new = NewAccount {
            name: format!("{} account {}", d.name, d.created),
            owner: d.who.login.clone(),
            ..NewAccount::default()
        };
        let doc = d.store.create_account_anyway(&new, self.now)?;
        let heads = d.store.heads(doc)?;
        self.accounts.insert(doc, (d.who.login.clone(), None));
        let line = format!("{} creates {doc}", d.name);
        self.record(device, doc, &[], &heads);
        self.note(line);
        Ok(doc)
    }

    /// Records the changes an edit made: the heads it added.
    fn record(
        &mut self,
        device: usize,
        doc: DocId,
        before: &[outpost_protocol::Head],
        after: &[outpost_protocol::Head],
    ) {
        for head in after.iter().filter(|h| !before.contains(h)) {
            self.stats.edits += 1;
            self.edits.push(Edit {
                device,
                doc,
                change: ChangeHash(head.0),
            });
        }
    }

    fn edit(&mut self, device: usize, step: usize) -> anyhow::Result<()> {
        let d = &self.devices[device];
        let accounts = d.store.accounts()?;
        let is_rep = d.who.role == Role::Rep;
        if is_rep && (accounts.is_empty() || self.rng.random_ratio(1, 5)) {
            return self.create(device).map(drop);
        }
        if accounts.is_empty() {
            return Ok(());
        }
        let doc = accounts[self.rng.random_range(0..accounts.len())].id;
        let what = format!("{} step {step}", d.name);
        let edit = match self.rng.random_range(0..4) {
            0 => {
                let methods = [ContactMethod::Visit, ContactMethod::Phone];
                let method = methods[self.rng.random_range(0..methods.len())].clone();
                AccountEdit::LogFollowUp(NewFollowUp::new(self.now, method, &what))
            }
            1 => {
                let notes = d.store.account(doc)?.record.notes.as_str().to_owned();
                AccountEdit::SetNotes(format!("{notes}{what}\n"))
            }
            2 => {
                let priorities = [Priority::A, Priority::B, Priority::C, Priority::D];
                let priority = &priorities[self.rng.random_range(0..priorities.len())];
                AccountEdit::SetPriority(priority.clone())
            }
            _ => AccountEdit::AddContact(Contact {
                name: what,
                ..Contact::default()
            }),
        };
        let before = d.store.heads(doc)?;
        d.store
            .edit_account(doc, &edit, self.now)
            .with_context(|| format!("{} edits {doc}: {edit:?}", d.name))?;
        let after = d.store.heads(doc)?;
        let line = format!("{} edits {doc}: {edit:?}", d.name);
        self.record(device, doc, &before, &after);
        self.note(line);
        Ok(())
    }

    /// The device sends its next request (starting a sync if none is under way, or over if
    /// the one under way still waits for a reply).
    fn send(&mut self, device: usize) -> anyhow::Result<()> {
        let d = &mut self.devices[device];
        if d.awaiting.take().is_some() {
            d.session = None;
        }
        let mut body = match &mut d.session {
            Some(session) => session.next_request(&d.store)?,
            None => None,
        };
        if body.is_none() {
            let mut session = SyncSession::new();
            body = session.next_request(&d.store)?;
            d.session = Some(session);
        }
        let body = body.context("a new sync always sends a request")?;
        let id = self.next_message;
        self.next_message += 1;
        d.awaiting = Some(id);
        let line = format!("{} sends request {id} ({} bytes)", d.name, body.len());
        self.network.push(Message {
            id,
            device,
            payload: Payload::Request(body),
        });
        self.note(line);
        Ok(())
    }

    fn deliver_any(&mut self) -> anyhow::Result<()> {
        match self.pick(true) {
            Some(i) => {
                let message = self.network.swap_remove(i);
                self.deliver(message)
            }
            None => Ok(()),
        }
    }

    fn deliver(&mut self, message: Message) -> anyhow::Result<()> {
        match message.payload {
            Payload::Request(body) => {
                let (reply, acknowledged) = self.serve(message.device, &body)?;
                self.network.push(Message {
                    id: message.id,
                    device: message.device,
                    payload: Payload::Reply(reply, acknowledged),
                });
                self.note(format!("the server answers request {}", message.id));
            }
            Payload::Reply(body, acknowledged) => {
                let d = &mut self.devices[message.device];
                let current = d.awaiting == Some(message.id);
                let line = if current {
                    d.awaiting = None;
                    let session = d.session.as_mut().context("a session awaits it")?;
                    session.handle_reply(&d.store, &body, self.now)?;
                    format!("{} applies reply {}", d.name, message.id)
                } else {
                    self.stats.stale_replies += 1;
                    SyncSession::new().handle_reply(&d.store, &body, self.now)?;
                    format!("{} applies stale reply {}", d.name, message.id)
                };
                self.acknowledge(acknowledged);
                self.note(line);
            }
        }
        Ok(())
    }

    fn acknowledge(&mut self, acknowledged: Acknowledged) {
        for (doc, changes) in acknowledged {
            self.acknowledged.entry(doc).or_default().extend(changes);
        }
    }

    /// The server's exchange for one request body from `device`: the reply body and the
    /// changes it acknowledges.
    fn serve(&mut self, device: usize, body: &[u8]) -> anyhow::Result<(Vec<u8>, Acknowledged)> {
        let request: SyncRequest = outpost_protocol::decode(body)?;
        let mut pushed = BTreeMap::new();
        for push in &request.pushes {
            let hashes = push
                .changes
                .iter()
                .map(|c| Change::from_bytes(c.clone()).map(|c| c.hash()))
                .collect::<Result<Vec<_>, _>>()?;
            pushed.insert(push.doc, hashes);
        }
        let server = self.server.as_ref().expect("the server is running");
        let who = self.devices[device].who.clone();
        let reply = self.runtime.block_on(exchange(
            &server.storage,
            &server.writer,
            who,
            request,
            self.now.timestamp_millis(),
        ))?;
        self.stats.exchanges += 1;
        let mut acknowledged = Vec::new();
        for result in &reply.pushed {
            match result.outcome {
                PushOutcome::Accepted => {
                    let changes = pushed.remove(&result.doc).unwrap_or_default();
                    acknowledged.push((result.doc, changes));
                }
                PushOutcome::Rejected { .. } => self.stats.rejected_pushes += 1,
                PushOutcome::MissingDependencies | PushOutcome::Invalid { .. } => {}
            }
        }
        Ok((outpost_protocol::encode(&reply), acknowledged))
    }

    /// One whole sync of `device`, with no faults.
    fn sync_now(&mut self, device: usize) -> anyhow::Result<SyncReport> {
        let mut session = SyncSession::new();
        while let Some(body) = session.next_request(&self.devices[device].store)? {
            let (reply, acknowledged) = self.serve(device, &body)?;
            session.handle_reply(&self.devices[device].store, &reply, self.now)?;
            self.acknowledge(acknowledged);
        }
        Ok(session.finish())
    }

    fn restart_device(&mut self, device: usize) -> anyhow::Result<()> {
        let seed = self.rng.random();
        let d = &mut self.devices[device];
        d.session = None;
        d.awaiting = None;
        // Closed before it opens again: redb refuses a second handle on one file.
        let closed = std::mem::replace(&mut d.store, Store::in_memory()?);
        drop(closed);
        d.store = Store::open_seeded(&d.path, seed)?;
        self.stats.device_restarts += 1;
        let line = format!("{} restarts", d.name);
        self.note(line);
        Ok(())
    }

    /// Restarts the server; half the time it stops right after handling a request in
    /// flight, whose reply is lost.
    fn restart_server(&mut self) -> anyhow::Result<()> {
        if self.rng.random_bool(0.5)
            && let Some(i) = self.pick(true)
            && let Payload::Request(body) = &self.network[i].payload
        {
            let (device, body) = (self.network[i].device, body.clone());
            let id = self.network.swap_remove(i).id;
            self.serve(device, &body)?;
            self.note(format!("the server handles request {id} and stops"));
        }
        self.server.take().expect("running").stop()?;
        let (path, boot) = (
            self.dir.path().join("server.redb"),
            self.dir.path().join("boot.redb"),
        );
        if self.sabotage == Some(Sabotage::ForgetCommits) {
            std::fs::copy(&boot, &path)?;
        }
        self.server = Some(Server::open(&path)?);
        self.stats.server_restarts += 1;
        self.note("the server restarts".into());
        self.check_acknowledged()
    }

    /// Every change a device saw acknowledged is in the server's store.
    fn check_acknowledged(&self) -> anyhow::Result<()> {
        let storage = &self.server().storage;
        for (doc, changes) in &self.acknowledged {
            let stored = storage.document(*doc)?;
            for change in changes {
                ensure!(
                    holds(stored.as_ref(), change),
                    "acknowledged change {change} of {doc} is not on the server"
                );
            }
        }
        Ok(())
    }

    /// Faults off: every device reconnects, everything in flight arrives (in random order),
    /// then every device syncs in turn until a whole round moves nothing.
    fn heal(&mut self) -> anyhow::Result<()> {
        self.note("healing".into());
        for d in &mut self.devices {
            d.cut = false;
        }
        while let Some(i) = self.pick(true) {
            let message = self.network.swap_remove(i);
            self.deliver(message)?;
        }
        for d in &mut self.devices {
            d.session = None;
            d.awaiting = None;
        }
        for round in 0..HEAL_ROUNDS {
            let mut moved = false;
            for device in 0..self.devices.len() {
                let report = self.sync_now(device)?;
                moved |= !(report.pushed.is_empty()
                    && report.received.is_empty()
                    && report.dropped.is_empty()
                    && report.rejected.is_empty());
            }
            self.note(format!("healing round {round}: moved {moved}"));
            if !moved {
                return Ok(());
            }
        }
        bail!("still syncing after {HEAL_ROUNDS} rounds of every device syncing")
    }

    /// Whether `who` reads an account owned by `owner` and shared with `shared`.
    fn reads(who: &Principal, owner: &str, shared: Option<&str>) -> bool {
        owner == who.login
            || shared == Some(who.login.as_str())
            || (who.leads.iter().any(|t| t == TEAM) && REPS.contains(&owner))
    }

    fn check(&self) -> anyhow::Result<()> {
        self.check_acknowledged()?;
        let storage = &self.server().storage;
        let on_server: BTreeSet<DocId> = storage.documents()?.into_iter().collect();
        let created: BTreeSet<DocId> = self.accounts.keys().copied().collect();
        ensure!(
            on_server == created,
            "the server holds {on_server:?}, but {created:?} were created"
        );
        let mut refused = BTreeSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let status = d.store.status()?;
            ensure!(
                status.unsynced.is_empty(),
                "{} still has unsynced edits in {:?}",
                d.name,
                status.unsynced
            );
            for edit in d.store.rejected()? {
                for bytes in edit.changes {
                    refused.insert((i, Change::from_bytes(bytes)?.hash()));
                }
            }
            let held: BTreeSet<DocId> = d.store.accounts()?.iter().map(|a| a.id).collect();
            let reads: BTreeSet<DocId> = self
                .accounts
                .iter()
                .filter(|(_, (owner, shared))| Self::reads(&d.who, owner, shared.as_deref()))
                .map(|(doc, _)| *doc)
                .collect();
            ensure!(
                held == reads,
                "{} holds {held:?} but its user reads {reads:?}",
                d.name
            );
            for doc in reads {
                let (mine, servers) = (d.store.heads(doc)?, storage.heads(doc)?);
                ensure!(
                    mine == servers,
                    "{} has heads {mine:?} of {doc}, the server {servers:?}",
                    d.name
                );
            }
        }
        let mut documents = BTreeMap::new();
        for edit in &self.edits {
            if let Entry::Vacant(entry) = documents.entry(edit.doc) {
                entry.insert(storage.document(edit.doc)?);
            }
            let stored = holds(documents[&edit.doc].as_ref(), &edit.change);
            let was_refused = refused.contains(&(edit.device, edit.change));
            ensure!(
                stored || was_refused,
                "edit {} of {} by {} is neither on the server nor refused",
                edit.change,
                edit.doc,
                self.devices[edit.device].name
            );
            let acknowledged = self
                .acknowledged
                .get(&edit.doc)
                .is_some_and(|a| a.contains(&edit.change));
            ensure!(
                !(acknowledged && was_refused),
                "edit {} of {} was acknowledged, then refused",
                edit.change,
                edit.doc
            );
        }
        Ok(())
    }

    /// The digest of every step and of the server's final heads, and the counts.
    fn outcome(&self) -> anyhow::Result<Outcome> {
        let mut hasher = DefaultHasher::new();
        self.trace.hash(&mut hasher);
        let storage = &self.server().storage;
        for doc in self.accounts.keys() {
            doc.hash(&mut hasher);
            for head in storage.heads(*doc)? {
                head.0.hash(&mut hasher);
            }
        }
        Ok(Outcome {
            digest: hasher.finish(),
            stats: self.stats.clone(),
        })
    }
}
