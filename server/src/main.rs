//! `outpost-server`: runs the Outpost sync server over a redb store in a data directory.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use outpost_server::{Config, Server, Storage};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(version, about = "The Outpost sync server for field sales teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve devices until SIGINT or SIGTERM.
    Serve {
        /// Directory holding the server's database (created if missing).
        #[arg(long, env = "OUTPOST_DATA", default_value = "./outpost-data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "OUTPOST_LISTEN", default_value = "127.0.0.1:7420")]
        listen: SocketAddr,
        /// Documents kept loaded in memory; others are read from disk when needed.
        #[arg(long, default_value = "1024")]
        cache_docs: NonZeroUsize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            cache_docs,
        } => serve(data, listen, cache_docs).await,
    }
}

async fn serve(data: PathBuf, listen: SocketAddr, cache_docs: NonZeroUsize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let path = data.join("outpost.redb");
    let storage =
        Storage::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let server = Server::new(storage, &Config { cache_docs });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, data = %data.display(), "outpost-server listening");
    server.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
