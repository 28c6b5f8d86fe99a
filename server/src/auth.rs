//! Who is calling. Every request that acts for a user carries `Authorization: Bearer TOKEN`,
//! the token a device received when its user logged in; the [`Caller`] extractor looks it up
//! on every request, so a revoked device or a disabled user is refused at once.
//!
//! Logins are limited before their password is checked ([`LoginLimiter`]: per login name
//! and client address, per address, per name from untrusted addresses, with doubling
//! lockouts) and their argon2 work runs in its own bounded pool ([`PasswordPool`]), so
//! guesses cannot run in parallel past the limit and a flood of logins refuses logins
//! (503 with `Retry-After`) instead of slowing every other request.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroUsize;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use outpost_protocol::DeviceId;
use sha2::{Digest, Sha256};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use outpost_protocol::api::Role;

use crate::AppState;
use crate::directory::Principal;
use crate::http::AppError;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::NoToken)?
            .trim()
            .to_owned();
        let storage = state.storage.clone();
        let principal = tokio::task::spawn_blocking(move || storage.authenticate(&token)).await??;
        Ok(Caller(principal))
    }
}

impl Caller {
    /// Refuses callers below `role` (admin > manager > rep).
    pub fn require(&self, role: Role) -> Result<&Principal, AppError> {
        if self.0.role >= role {
            Ok(&self.0)
        } else {
            Err(AppError::Forbidden(format!("this needs the {role} role")))
        }
    }
}

/// The part of an address one client is assumed to control: an IPv4 address, or an IPv6
/// /64 (one subscriber's usual allocation, so rotating through it gains nothing).
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A login name as the limiter keeps it: a fixed 32 bytes whatever a request sends.
type NameKey = [u8; 32];

fn name_key(login: &str) -> NameKey {
    Sha256::digest(login.as_bytes()).into()
}

/// How logins are limited and how much password hashing the server does at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginConfig {
    /// Threads that hash and check passwords (argon2, 19 MiB each); the default is the
    /// number of cores.
    pub hash_workers: NonZeroUsize,
    /// Password checks that may wait for a worker; beyond them a login is refused at once
    /// with 503 and `Retry-After`.
    pub hash_queue: usize,
    /// Attempts one address may make for one login name per window.
    pub per_name_address: u32,
    /// Attempts one address may make over all names per window (password spraying).
    pub per_address: u32,
    /// Attempts a login name may receive per window from addresses it has not logged in
    /// from before (guessing spread over many addresses).
    pub per_name: u32,
    /// The window attempts are counted in.
    pub window: Duration,
    /// The first lockout when a limit is reached; each further one for the same key doubles.
    pub lockout: Duration,
    /// The longest lockout.
    pub max_lockout: Duration,
    /// Entries each of the limiter's tables keeps at most (least recently used go first).
    pub max_entries: NonZeroUsize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            hash_workers: std::thread::available_parallelism()
                .unwrap_or(NonZeroUsize::new(2).expect("non-zero")),
            hash_queue: 32,
            per_name_address: 5,
            per_address: 20,
            per_name: 50,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            max_entries: NonZeroUsize::new(100_000).expect("non-zero"),
        }
    }
}

/// How long an address that logged a name in stays trusted for that name.
const TRUST_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Attempts counted for one key in the current window, and its lockouts.
#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: Instant,
    attempts: u32,
    locked_until: Option<Instant>,
    /// Lockouts so far: the next one lasts `lockout * 2^lockouts`.
    lockouts: u32,
    last: Instant,
}

impl Counter {
    fn new(now: Instant) -> Counter {
        Counter {
            window_start: now,
            attempts: 0,
            locked_until: None,
            lockouts: 0,
            last: now,
        }
    }

    /// Whether the counter holds nothing worth keeping any more: no lockout running and
    /// quiet for longer than the longest lockout (so the doubling is forgotten too).
    fn stale(&self, now: Instant, config: &LoginConfig) -> bool {
        self.locked_until.is_none_or(|until| until <= now)
            && now.duration_since(self.last) > config.max_lockout.max(config.window)
    }

    /// Brings the window and lockout up to `now`; how long the key is still locked, if it is.
    fn locked(&mut self, now: Instant, config: &LoginConfig) -> Option<Duration> {
        if let Some(until) = self.locked_until {
            if now < until {
                return Some(until - now);
            }
            self.locked_until = None;
            self.attempts = 0;
            self.window_start = now;
        }
        if now.duration_since(self.window_start) >= config.window {
            self.attempts = 0;
            self.window_start = now;
        }
        if now.duration_since(self.last) > config.max_lockout {
            self.lockouts = 0;
        }
        None
    }

    /// Locks the key (its limit is reached): for `lockout`, doubled per earlier lockout.
    fn lock(&mut self, now: Instant, config: &LoginConfig) -> Duration {
        let factor = 1u32 << self.lockouts.min(16);
        let wait = config
            .lockout
            .saturating_mul(factor)
            .min(config.max_lockout);
        self.locked_until = Some(now + wait);
        self.lockouts = self.lockouts.saturating_add(1);
        self.last = now;
        wait
    }
}

/// An LRU table of counters that drops stale entries from its old end as it is used.
#[derive(Debug)]
struct Counters<K: std::hash::Hash + Eq> {
    table: LruCache<K, Counter>,
}

impl<K: std::hash::Hash + Eq + Clone> Counters<K> {
    fn new(cap: NonZeroUsize) -> Self {
        Counters {
            table: LruCache::new(cap),
        }
    }

    fn expire(&mut self, now: Instant, config: &LoginConfig) {
        while let Some((_, counter)) = self.table.peek_lru() {
            if !counter.stale(now, config) {
                break;
            }
            self.table.pop_lru();
        }
    }

    fn get(&mut self, key: &K, now: Instant) -> &mut Counter {
        if !self.table.contains(key) {
            self.table.put(key.clone(), Counter::new(now));
        }
        self.table.get_mut(key).expect("just inserted")
    }

    /// Takes back an attempt that turned out not to be a failure.
    fn refund(&mut self, key: &K) {
        if let Some(counter) = self.table.peek_mut(key) {
            counter.attempts = counter.attempts.saturating_sub(1);
        }
    }
}

#[derive(Debug)]
struct Tables {
    pairs: Counters<(NameKey, IpAddr)>,
    addresses: Counters<IpAddr>,
    names: Counters<NameKey>,
    /// Names each address, and each device, logged in as successfully, and when.
    trusted_addresses: LruCache<(NameKey, IpAddr), Instant>,
    trusted_devices: LruCache<(NameKey, DeviceId), Instant>,
}

/// Limits password attempts, counting each one before its password is checked.
///
/// Three counters see an attempt: its (name, address) pair, its address, and its name. The
/// pair's limit stops guessing one account from one place, the address's stops spraying a
/// password over many names. The name's limit (higher) stops guessing one account from
/// many places, but it does not apply to an address or a device the user logged in from
/// before: someone failing for a name locks out only the places they fail from, and the
/// user's own devices keep working. A correct password gives its attempt back.
#[derive(Debug)]
pub struct LoginLimiter {
    config: LoginConfig,
    tables: Mutex<Tables>,
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// How long until the key that refused it may try again.
    pub wait: Duration,
}

/// An attempt that was counted: tell the limiter how it went, or it stays a failure.
#[derive(Debug)]
#[must_use = "report the attempt's outcome"]
pub struct Attempt {
    name: NameKey,
    address: IpAddr,
    device: DeviceId,
    counted_name: bool,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginConfig::default())
    }
}

impl LoginLimiter {
    pub fn new(config: LoginConfig) -> LoginLimiter {
        let cap = config.max_entries;
        LoginLimiter {
            tables: Mutex::new(Tables {
                pairs: Counters::new(cap),
                addresses: Counters::new(cap),
                names: Counters::new(cap),
                trusted_addresses: LruCache::new(cap),
                trusted_devices: LruCache::new(cap),
            }),
            config,
        }
    }

    /// Counts an attempt to log in as `login` from `address` on `device`, before its
    /// password is checked; refused if a limit is reached.
    pub fn begin(
        &self,
        login: &str,
        address: IpAddr,
        device: DeviceId,
        now: Instant,
    ) -> Result<Attempt, Refused> {
        let config = &self.config;
        let name = name_key(login);
        let address = address_key(address);
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *tables;
        t.pairs.expire(now, config);
        t.addresses.expire(now, config);
        t.names.expire(now, config);
        let fresh = |at: Option<&Instant>| at.is_some_and(|at| now.duration_since(*at) < TRUST_FOR);
        let trusted = fresh(t.trusted_addresses.get(&(name, address)))
            || fresh(t.trusted_devices.get(&(name, device)));
        let mut counters: Vec<(&mut Counter, u32)> = vec![
            (t.pairs.get(&(name, address), now), config.per_name_address),
            (t.addresses.get(&address, now), config.per_address),
        ];
        if !trusted {
            counters.push((t.names.get(&name, now), config.per_name));
        }
        let mut wait = None;
        for (counter, limit) in &mut counters {
            let locked = counter
                .locked(now, config)
                .or_else(|| (counter.attempts >= *limit).then(|| counter.lock(now, config)));
            wait = wait.max(locked);
        }
        if let Some(wait) = wait {
            return Err(Refused { wait });
        }
        for (counter, _) in counters {
            counter.attempts += 1;
            counter.last = now;
        }
        Ok(Attempt {
            name,
            address,
            device,
            counted_name: !trusted,
        })
    }

    /// The attempt's password was right: it is not a failure, and its address and device
    /// are trusted for the name from now on.
    pub fn succeeded(&self, attempt: Attempt, now: Instant) {
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        t.pairs.table.pop(&(attempt.name, attempt.address));
        t.addresses.refund(&attempt.address);
        if attempt.counted_name {
            t.names.refund(&attempt.name);
        }
        t.trusted_addresses
            .put((attempt.name, attempt.address), now);
        t.trusted_devices.put((attempt.name, attempt.device), now);
    }

    /// The attempt's password was not checked (the server was busy or failed): it does not
    /// count.
    pub fn not_checked(&self, attempt: Attempt) {
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        t.pairs.refund(&(attempt.name, attempt.address));
        t.addresses.refund(&attempt.address);
        if attempt.counted_name {
            t.names.refund(&attempt.name);
        }
    }

    /// The attempt failed; it stays counted (this only says so, for readers of the code).
    pub fn failed(&self, attempt: Attempt) {
        drop(attempt);
    }
}

/// A password check or hash, run by the pool.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why the pool did not run a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the server is checking as many passwords as it can; try again in a moment")]
    Busy,
    #[error("the password worker stopped")]
    Stopped,
}

/// Threads of their own for argon2 (hashing a new password, checking a login's), with a
/// bounded queue. Nothing else runs on them and they take no lock the rest of the server
/// uses, so a flood of logins waits here, or is refused when the queue is full, while
/// token checks, syncs and views go on in tokio's blocking pool.
#[derive(Debug, Clone)]
pub struct PasswordPool {
    jobs: SyncSender<Job>,
}

impl PasswordPool {
    /// Starts `workers` threads; `queue` jobs may wait beyond those running. The threads
    /// end when the last handle to the pool is dropped.
    pub fn new(workers: NonZeroUsize, queue: usize) -> PasswordPool {
        // The channel holds waiting jobs only; a worker takes one off as it starts it.
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..workers.get() {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("outpost-password-{n}"))
                .spawn(move || work(&receiver))
                .expect("spawn a password worker");
        }
        PasswordPool { jobs }
    }

    /// Runs `op` on a worker; refused at once with [`PoolError::Busy`] when every worker is
    /// busy and the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(op());
        });
        match self.jobs.try_send(job) {
            Ok(()) => answer.await.map_err(|_| PoolError::Stopped),
            Err(TrySendError::Full(_)) => Err(PoolError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(PoolError::Stopped),
        }
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking job loses only its own answer (the caller sees `Stopped`).
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}
