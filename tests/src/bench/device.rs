//! Device figures: how long a local edit takes to be durable, and what opening and browsing a
//! store costs, measured in a child process so its memory is the device's alone.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use outpost_client::Store;
use outpost_protocol::DocId;

use super::proc_kib;
use super::workload::Workload;

/// The long option that makes the bench binary run [`probe_main`] instead of the benchmark.
pub const PROBE_ARG: &str = "probe-store";

/// Times `edits` single edits (each a durable redb commit), round-robin over `ids`.
pub fn edit_latencies(
    store: &Store,
    ids: &[DocId],
    workload: &mut Workload,
    edits: usize,
) -> anyhow::Result<Vec<Duration>> {
    let now = workload.now();
    let picked = workload.distinct(ids.len(), edits.min(ids.len()));
    (0..edits)
        .map(|i| {
            let edit = workload.day_edit();
            let id = ids[picked[i % picked.len()]];
            let started = Instant::now();
            store.edit_account(id, &edit, now)?;
            Ok(started.elapsed())
        })
        .collect()
}

/// What the child process measured on a closed store.
#[derive(Debug)]
pub struct Probe {
    /// `Store::open` of the file (page cache warm: the file was just written).
    pub open: Duration,
    /// Listing every account (the summary rows) and reading one account in full.
    pub browse: Duration,
    pub accounts: usize,
    /// Resident memory of the child before opening, after browsing, and its peak, in KiB.
    pub rss_start: u64,
    pub rss_end: u64,
    pub rss_peak: u64,
}

/// Runs the probe on the store at `path` (which must be closed) in a child process.
pub fn probe(path: &Path) -> anyhow::Result<Probe> {
    let (_, fields) = child(
        "store probe",
        Command::new(super::own_exe()?)
            .arg(format!("--{PROBE_ARG}"))
            .arg(path),
    )?;
    let field = |name: &str| fields.get(name).copied().context("probe output field");
    Ok(Probe {
        open: Duration::from_micros(field("open_us")?),
        browse: Duration::from_micros(field("browse_us")?),
        accounts: usize::try_from(field("accounts")?)?,
        rss_start: field("rss_start_kb")?,
        rss_end: field("rss_end_kb")?,
        rss_peak: field("rss_peak_kb")?,
    })
}

fn status_kib(name: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    proc_kib(&status, name).with_context(|| format!("{name} in /proc/self/status"))
}

/// The child side: open the store, list its accounts, read one, report on stdout.
pub fn probe_main(path: &Path) -> anyhow::Result<()> {
    let rss_start = status_kib("VmRSS:")?;
    let started = Instant::now();
    let store = Store::open(path)?;
    let open = started.elapsed();
    let started = Instant::now();
    let accounts = store.accounts()?;
    let first = accounts.first().context("store has accounts")?;
    store.account(first.id)?;
    let browse = started.elapsed();
    println!(
        "open_us={} browse_us={} accounts={} rss_start_kb={rss_start} rss_end_kb={} rss_peak_kb={}",
        open.as_micros(),
        browse.as_micros(),
        accounts.len(),
        status_kib("VmRSS:")?,
        status_kib("VmHWM:")?,
    );
    Ok(())
}

/// The long option that makes the bench binary run [`restart_main`]: an app reopened.
pub const RESTART_ARG: &str = "app-restart";

/// One app restart as the parent timed it, with the child's own split.
#[derive(Debug)]
pub struct Restart {
    /// From spawning the process until it exited: what the user waits for.
    pub total: Duration,
    pub open: Duration,
    pub sync: Duration,
    pub list: Duration,
    pub accounts: usize,
    pub round_trips: u64,
}

/// Starts the bench binary on the closed store at `path`, as a restarted app: the process
/// starts, opens the store, syncs with `server_url` (nothing new on either side) and lists
/// the book; timed from the spawn to the exit.
pub fn restart(path: &Path, server_url: &str) -> anyhow::Result<Restart> {
    let (total, fields) = child(
        "app restart",
        Command::new(super::own_exe()?)
            .arg(format!("--{RESTART_ARG}"))
            .arg(path)
            .arg(server_url),
    )?;
    let field = |name: &str| fields.get(name).copied().context("restart output field");
    Ok(Restart {
        total,
        open: Duration::from_micros(field("open_us")?),
        sync: Duration::from_micros(field("sync_us")?),
        list: Duration::from_micros(field("list_us")?),
        accounts: usize::try_from(field("accounts")?)?,
        round_trips: field("round_trips")?,
    })
}

/// The child side of [`restart`]: what the app does when reopened, on a current-thread
/// runtime as a phone app's sync task would run.
pub fn restart_main(path: &Path, server_url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = Store::open(path)?;
    let open = started.elapsed();
    let started = Instant::now();
    let client = outpost_client::HttpClient::new(server_url);
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(client.sync(&store))?;
    let sync = started.elapsed();
    ensure!(
        report.pushed.is_empty() && report.received.is_empty(),
        "an idle reconnect moves nothing: {report:?}"
    );
    let started = Instant::now();
    let accounts = store.accounts()?;
    let list = started.elapsed();
    println!(
        "open_us={} sync_us={} list_us={} accounts={} round_trips={}",
        open.as_micros(),
        sync.as_micros(),
        list.as_micros(),
        accounts.len(),
        report.round_trips
    );
    Ok(())
}

/// Runs a child mode of the bench to its exit: how long it took from the spawn, and the
/// `name=number` pairs it printed.
fn child(what: &str, command: &mut Command) -> anyhow::Result<(Duration, HashMap<String, u64>)> {
    let started = Instant::now();
    let output = command.output()?;
    let took = started.elapsed();
    ensure!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields = String::from_utf8(output.stdout)?
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect();
    Ok((took, fields))
}
