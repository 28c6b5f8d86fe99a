//! The server's resident memory with many documents and many connected devices: the real
//! `outpost-server` binary, started on the benchmark's data directory, with devices logged
//! in (one token each) and holding their live event streams open, while the team's manager
//! opens every view, then while an admin has it write an online backup (a read of every
//! table, through the same page cache as everything else).

use std::path::Path;
use std::time::Duration;

use crate::{PASSWORD, ServerProcess};
use anyhow::{Context, ensure};
use futures_util::StreamExt;
use outpost_protocol::DeviceId;
use outpost_protocol::api::{NewUser, Role};
use outpost_server::Storage;
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
    /// Resident after an online backup of the whole database.
    pub after_backup: u64,
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

/// The admin who asks for the backup.
const ADMIN: &str = "bench-admin";

/// Starts the server on `data` (its own backup schedule off, so the backup happens at a
/// known step), connects `devices` devices of `reps` (round robin), lets the manager open
/// every view, then has an admin ask for a backup; reports the server's memory at each step.
pub async fn server_memory(
    data: &Path,
    reps: &[String],
    devices: usize,
) -> anyhow::Result<ServerMemory> {
    Storage::open(data.join("outpost.redb"))?.add_user(&NewUser {
        login: ADMIN.into(),
        password: PASSWORD.into(),
        role: Role::Admin,
        team: None,
    })?;
    let data = data.to_owned();
    let server = tokio::task::spawn_blocking(move || {
        ServerProcess::start(&data, &["--backup-every", "off"])
    })
    .await?;
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
    let admin = log_in(&http, &base, ADMIN).await?;
    http.post(format!("{base}/v1/admin/backups"))
        .bearer_auth(&admin)
        .send()
        .await?
        .error_for_status()?;
    let after_backup = status_of(pid, "VmRSS:")?;
    let peak = status_of(pid, "VmHWM:")?;
    for stream in streams {
        stream.abort();
    }
    drop(server);
    Ok(ServerMemory {
        started,
        connected,
        after_views,
        after_backup,
        peak,
    })
}
