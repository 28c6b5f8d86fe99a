//! The server's resident memory with many documents and many connected devices: the real
//! `outpost-server` binary, started on the benchmark's data directory, with devices logged
//! in (one token each) and holding their live event streams open, while the team's manager
//! opens every view.

use std::path::Path;
use std::time::Duration;

use crate::{PASSWORD, ServerProcess};
use anyhow::{Context, ensure};
use futures_util::StreamExt;
use outpost_protocol::DeviceId;
use serde_json::{Value, json};

use super::proc_kib;
use super::views::{MANAGER, VIEWS};

/// The server's memory at each step, in KiB.
#[derive(Debug)]
pub struct ServerMemory {
    /// Resident after start (documents on disk, projection rows loaded).
    pub started: u64,
    /// Resident with every device connected.
    pub connected: u64,
    /// Resident after the manager opened every view.
    pub after_views: u64,
    /// The peak resident size over the whole run.
    pub peak: u64,
}

/// A `Name:   123 kB` figure (such as `VmRSS:`) of process `pid`, in KiB.
pub fn status_of(pid: u32, name: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    proc_kib(&status, name).with_context(|| format!("{name} of process {pid}"))
}

async fn log_in(http: &reqwest::Client, base: &str, login: &str) -> anyhow::Result<String> {
    let reply: Value = http
        .post(format!("{base}/v1/login"))
        .json(&json!({
            "login": login,
            "password": PASSWORD,
            "device": DeviceId::from_u128(rand::random()).to_string(),
            "label": "bench device",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    reply["token"]
        .as_str()
        .map(str::to_owned)
        .context("login reply has a token")
}

/// Starts the server on `data`, connects `devices` devices of `reps` (round robin), then
/// lets the manager open every view; reports the server's memory at each step.
pub async fn server_memory(
    data: &Path,
    reps: &[String],
    devices: usize,
) -> anyhow::Result<ServerMemory> {
    let data = data.to_owned();
    let server = tokio::task::spawn_blocking(move || ServerProcess::start(&data, &[])).await?;
    let (pid, base) = (server.child.id(), format!("http://{}", server.addr));
    let started = status_of(pid, "VmRSS:")?;
    let http = reqwest::Client::new();
    let mut streams = Vec::with_capacity(devices);
    for n in 0..devices {
        let token = log_in(&http, &base, &reps[n % reps.len()]).await?;
        let response = http
            .get(format!("{base}/v1/events"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        // Held open (and drained) until the measurement ends.
        let mut body = response.bytes_stream();
        streams.push(tokio::spawn(async move {
            while let Some(Ok(_)) = body.next().await {}
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        streams.iter().all(|s| !s.is_finished()),
        "every device stays connected"
    );
    let connected = status_of(pid, "VmRSS:")?;
    let manager = log_in(&http, &base, MANAGER).await?;
    for (_, path) in VIEWS {
        http.get(format!("{base}{path}"))
            .bearer_auth(&manager)
            .send()
            .await?
            .error_for_status()?;
    }
    let after_views = status_of(pid, "VmRSS:")?;
    let peak = status_of(pid, "VmHWM:")?;
    for stream in streams {
        stream.abort();
    }
    drop(server);
    Ok(ServerMemory {
        started,
        connected,
        after_views,
        peak,
    })
}
