//! The Outpost sync server: devices push the changes they made offline and catch up on
//! everyone else's in one batched exchange over a durable change feed.
//!
//! # Layout
//! - [`storage`]: the redb store: documents as snapshot + chunks, the change feed, metadata.
//! - [`writer`]: the single writer thread: applies pushes, group-commits them, owns the cache.
//! - [`catchup`]: builds the part of a reply that brings a device up to the feed's head.
//! - [`auth`]: the [`auth::Caller`] extractor, where authentication plugs in.
//! - [`http`]: axum routes (`POST /v1/sync`, `GET /v1/events`, `GET /health`) and errors.
//!
//! [`Server`] ties them together; it takes its listener and shutdown signal from the caller,
//! so tests run it on `127.0.0.1:0`.

pub mod auth;
pub mod catchup;
pub mod http;
pub mod storage;
pub mod writer;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

pub use storage::{Committed, Storage, StorageError};
pub use writer::{WriteError, Writer};

/// Tunables of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Documents the writer keeps loaded; the rest are read from storage on demand.
    pub cache_docs: NonZeroUsize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_docs: NonZeroUsize::new(1024).expect("non-zero"),
        }
    }
}

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    storage: Arc<Storage>,
    writer: Writer,
    events: broadcast::Sender<Committed>,
    shutdown: watch::Receiver<bool>,
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
        let (writer, writer_thread) =
            Writer::spawn(storage.clone(), config.cache_docs, events.clone());
        let (stopping, shutdown) = watch::channel(false);
        Server {
            state: AppState {
                storage,
                writer,
                events,
                shutdown,
            },
            writer_thread,
            stopping,
        }
    }

    /// The store, for inspection by tools and tests.
    pub fn storage(&self) -> Arc<Storage> {
        self.state.storage.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets open requests finish, ends
    /// live streams, and waits for the writer to commit what it has queued.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            state,
            writer_thread,
            stopping,
        } = self;
        let app = http::router(state);
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                // Ends the live streams, which would otherwise hold the shutdown open.
                let _ = stopping.send(true);
            })
            .await?;
        // Every request handle to the writer is gone now; the thread ends after its queue.
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await?
            .map_err(|_| std::io::Error::other("the writer thread panicked"))
    }
}
