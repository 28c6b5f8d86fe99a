//! The Outpost sync server: devices push the changes they made offline and catch up on
//! everyone else's in one batched exchange over a durable change feed.
//!
//! # Layout
//! - [`storage`]: the redb store: documents as snapshot + chunks, the change feed and the
//!   scoped feeds, history, metadata.
//! - [`directory`]: users, teams, devices and their tokens; argon2 password checks.
//! - [`freshness`]: when each device last synced, kept in memory and flushed every few
//!   seconds.
//! - [`access`]: scopes (who sees which account) and write permissions.
//! - [`writer`]: the single writer thread: checks pushes, group-commits them, owns the cache;
//!   also handovers and shares.
//! - [`catchup`]: builds the part of a reply that brings a device up to the feed's head,
//!   within the scopes it reads.
//! - [`exchange`]: one sync exchange without HTTP: the pushes committed, then the catch-up.
//! - [`auth`]: the [`auth::Caller`] extractor (device token → user) and the login limiter.
//! - [`http`]: axum routes, the sync handler, the live stream and errors.
//! - [`api`]: the JSON API: login, admin, handover, shares, history.
//! - [`dashboard`]: the managers' web page and its assets, served from the binary.
//! - [`projection`]: per-account summary rows, written with each commit, for team views.
//! - [`index`]: the projection rows in memory, laid out for the views' scans.
//! - [`views`]: the team views over the projection rows.
//! - [`limits`]: bounds on what a sync request may carry (configurable).
//! - [`metrics`]: counters and gauges for `GET /metrics` (Prometheus text format).
//! - [`connections`]: the accept loop: header, body and idle timeouts, the connection
//!   limit, event-stream limits, the open-file limit.
//! - [`tls`]: rustls termination (PEM certificate and key) as an axum listener.
//! - [`backup`]: consistent backups of the whole store while it runs, on demand (admin API)
//!   and on a schedule with retention, and the restore of one.
//!
//! [`Server`] ties them together; it takes its listener and shutdown signal from the caller,
//! so tests run it on `127.0.0.1:0`.

pub(crate) mod access;
pub(crate) mod api;
pub mod auth;
pub mod backup;
pub mod catchup;
pub mod connections;
pub(crate) mod dashboard;
pub mod directory;
pub mod exchange;
pub mod freshness;
pub mod http;
pub mod index;
pub mod limits;
pub mod metrics;
pub mod projection;
pub mod reviews;
pub mod storage;
pub mod tls;
pub mod views;
pub mod writer;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::Utc;
use tokio::sync::{broadcast, watch};

use crate::backup::{BackupConfig, BackupError, BackupInfo};

pub use directory::{DirectoryError, Principal};
pub use storage::{Committed, Storage, StorageError};
pub use writer::{WriteError, Writer};

/// Tunables of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Documents the writer keeps loaded; the rest are read from storage on demand.
    pub cache_docs: NonZeroUsize,
    /// What one sync request may carry.
    pub limits: limits::Limits,
    /// Where backups go and how often; `None`: the server writes none (the admin endpoint
    /// answers 404).
    pub backups: Option<BackupConfig>,
    /// The time zone views count days in for a team without one of its own (`serve` reads
    /// the system's; `--tz` overrides it).
    pub time_zone: chrono_tz::Tz,
    /// Timeouts and limits on connections and event streams.
    pub connections: connections::Connections,
    /// Login limits and the password-hashing pool.
    pub login: auth::LoginConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_docs: NonZeroUsize::new(1024).expect("non-zero"),
            limits: limits::Limits::default(),
            backups: None,
            time_zone: chrono_tz::Tz::UTC,
            connections: connections::Connections::default(),
            login: auth::LoginConfig::default(),
        }
    }
}

/// The server's backups: where they go, and a lock so one is written at a time (the
/// schedule and the admin API share the directory and its retention).
#[derive(Debug)]
pub(crate) struct Backups {
    config: BackupConfig,
    writing: Mutex<()>,
}

impl Backups {
    /// The backups in the backup directory, newest first.
    pub(crate) fn list(&self) -> Result<Vec<outpost_protocol::api::BackupFile>, BackupError> {
        backup::list(&self.config.dir)
    }

    /// Writes one backup of `storage` into the backup directory (blocking), and counts it.
    pub(crate) fn write(
        &self,
        storage: &Storage,
        syncs: &freshness::SyncTimes,
        metrics: &metrics::Metrics,
    ) -> Result<BackupInfo, BackupError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        // The sync times are flushed every few seconds; the backup gets the latest.
        if let Err(e) = syncs.flush(storage) {
            tracing::warn!(error = %e, "the backup holds the sync times of the last flush");
        }
        let now = Utc::now();
        let written = backup::write_into(storage, &self.config, now);
        match &written {
            Ok(info) => {
                metrics.backup_written(now.timestamp());
                tracing::info!(
                    file = info.file,
                    bytes = info.bytes,
                    feed_head = info.feed_head,
                    dir = %self.config.dir.display(),
                    "backup written"
                );
            }
            Err(e) => {
                metrics.backup_failed();
                tracing::error!(error = %e, dir = %self.config.dir.display(), "backup failed");
            }
        }
        written
    }
}

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    storage: Arc<Storage>,
    writer: Writer,
    events: broadcast::Sender<Committed>,
    shutdown: watch::Receiver<bool>,
    limiter: Arc<auth::LoginLimiter>,
    passwords: auth::PasswordPool,
    syncs: Arc<freshness::SyncTimes>,
    metrics: Arc<metrics::Metrics>,
    cache_docs: usize,
    limits: limits::Limits,
    backups: Option<Arc<Backups>>,
    time_zone: chrono_tz::Tz,
    connections: connections::Connections,
    /// The event streams open, per device and per user.
    streams: Arc<connections::StreamSlots>,
}

/// A server over one store, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    writer_thread: JoinHandle<()>,
    stopping: watch::Sender<bool>,
}

impl Server {
    /// Starts the writer over `storage`.
    pub fn new(storage: Storage, config: &Config) -> Server {
        let storage = Arc::new(storage);
        let (events, _) = broadcast::channel(1024);
        let syncs = Arc::<freshness::SyncTimes>::default();
        let metrics = Arc::<metrics::Metrics>::default();
        let (writer, writer_thread) = Writer::spawn(
            storage.clone(),
            config,
            events.clone(),
            syncs.clone(),
            metrics.clone(),
        );
        let (stopping, shutdown) = watch::channel(false);
        Server {
            state: AppState {
                storage,
                writer,
                events,
                shutdown,
                limiter: Arc::new(auth::LoginLimiter::new(config.login.clone())),
                passwords: auth::PasswordPool::new(
                    config.login.hash_workers,
                    config.login.hash_queue,
                ),
                syncs,
                metrics,
                cache_docs: config.cache_docs.get(),
                limits: config.limits.clone(),
                time_zone: config.time_zone,
                connections: config.connections.clone(),
                streams: Arc::default(),
                backups: config.backups.clone().map(|config| {
                    Arc::new(Backups {
                        config,
                        writing: Mutex::default(),
                    })
                }),
            },
            writer_thread,
            stopping,
        }
    }

    /// The store, for inspection by tools and tests.
    pub fn storage(&self) -> Arc<Storage> {
        self.state.storage.clone()
    }

    /// The writer, for tools that hand accounts over or share them without HTTP.
    pub fn writer(&self) -> Writer {
        self.state.writer.clone()
    }

    /// Serves on `listener` (a [`tokio::net::TcpListener`], or a [`tls::TlsListener`]) until `shutdown`
    /// resolves, then lets open requests finish, ends live streams, finishes a backup under
    /// way, and waits for the writer to commit what it has queued. Writes scheduled backups
    /// meanwhile if the config asks for them.
    pub async fn serve<L>(
        self,
        listener: L,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()>
    where
        L: axum::serve::Listener,
        L::Addr: Clone + std::fmt::Debug + Send + Sync + 'static,
    {
        let Server {
            state,
            writer_thread,
            stopping,
        } = self;
        let (storage, syncs) = (state.storage.clone(), state.syncs.clone());
        let flusher = tokio::spawn({
            let (storage, syncs) = (storage.clone(), syncs.clone());
            async move {
                let mut every = tokio::time::interval(freshness::FLUSH_EVERY);
                loop {
                    every.tick().await;
                    let (storage, syncs) = (storage.clone(), syncs.clone());
                    let flushed = tokio::task::spawn_blocking(move || syncs.flush(&storage)).await;
                    if let Ok(Err(e)) = flushed {
                        tracing::warn!(error = %e, "cannot record sync times; will retry");
                    }
                }
            }
        });
        let schedule = state
            .backups
            .clone()
            .and_then(|backups| {
                let every = backups.config.every?;
                Some((backups, every))
            })
            .map(|(backups, every)| {
                tokio::spawn(scheduled_backups(
                    backups,
                    every,
                    state.clone(),
                    state.shutdown.clone(),
                ))
            });
        let connections = state.connections.clone();
        let app = http::router(state);
        connections::serve(listener, app, connections, async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Ends the live streams, which would otherwise hold the shutdown open.
            let _ = stopping.send(true);
        })
        .await?;
        flusher.abort();
        if let Some(schedule) = schedule {
            // It stops between backups, so a backup under way is finished, not cut.
            schedule.await?;
        }
        if let Err(e) = tokio::task::spawn_blocking(move || syncs.flush(&storage)).await? {
            tracing::warn!(error = %e, "sync times since the last flush were not recorded");
        }
        // Every request handle to the writer is gone now; the thread ends after its queue.
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await?
            .map_err(|_| std::io::Error::other("the writer thread panicked"))
    }
}

/// Writes a backup every `every` (the first when one is due: `every` after the newest backup
/// in the directory, or at once if there is none) until the server stops. A failed backup
/// is logged and counted, and tried again a period later; the server keeps serving.
async fn scheduled_backups(
    backups: Arc<Backups>,
    every: std::time::Duration,
    state: AppState,
    mut stopping: watch::Receiver<bool>,
) {
    let dir = backups.config.dir.clone();
    let mut wait =
        match tokio::task::spawn_blocking(move || backup::due_in(&dir, every, Utc::now())).await {
            Ok(Ok(wait)) => wait,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot list earlier backups; backing up now");
                std::time::Duration::ZERO
            }
            Err(_) => std::time::Duration::ZERO,
        };
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopping.wait_for(|stopping| *stopping) => return,
        }
        let (backups, state) = (backups.clone(), state.clone());
        // The outcome is logged and counted by `Backups::write`.
        let _ = tokio::task::spawn_blocking(move || {
            backups.write(&state.storage, &state.syncs, &state.metrics)
        })
        .await;
        wait = every;
    }
}
