//! What explains a throughput figure on a shared machine: how busy the cores were with this
//! process and with everything else (and stolen by the hypervisor), how long the server spent
//! per sync (its `/metrics`), and what one fsync of the data directory's disk costs now. Two
//! runs of the pushes/s row can then be compared on more than the one figure.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{percentile, time};
use crate::{TestServer, metric};

/// The name the server gives its writer thread.
const WRITER_THREAD: &str = "outpost-writer";

/// utime + stime of a /proc `stat` line: the 14th and 15th fields, counted after the
/// command name (which may hold spaces).
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let after = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

/// fsyncs of the probe.
const FSYNCS: usize = 20;

/// Counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    /// This process's user + system time, in ticks (the in-process server included).
    own: u64,
    /// The server's writer thread's (every writer thread's, if several servers run).
    writer: u64,
    /// Every core's busy and stolen ticks, and all ticks, from /proc/stat's `cpu` line.
    busy: u64,
    steal: u64,
    total: u64,
    syncs: f64,
    sync_seconds: f64,
    /// Group commits and their time, when the server's /metrics report them.
    commits: Option<f64>,
    commit_seconds: Option<f64>,
}

impl Snapshot {
    pub async fn take(server: &TestServer) -> anyhow::Result<Snapshot> {
        let scrape = crate::http()
            .get(format!("{}/metrics", server.url()))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let own = cpu_ticks(&std::fs::read_to_string("/proc/self/stat")?)?;
        let mut writer = 0;
        for task in std::fs::read_dir("/proc/self/task")? {
            let task = task?.path();
            // A thread may end between the listing and the read: it then counts for nothing.
            let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
                continue;
            };
            if comm.trim() == WRITER_THREAD
                && let Ok(stat) = std::fs::read_to_string(task.join("stat"))
            {
                writer += cpu_ticks(&stat)?;
            }
        }
        let cpu = std::fs::read_to_string("/proc/stat")?;
        let line = cpu.lines().next().context("/proc/stat cpu line")?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        // user nice system idle iowait irq softirq steal
        let idle = ticks[3] + ticks[4];
        let steal = ticks[7];
        let total: u64 = ticks.iter().sum();
        Ok(Snapshot {
            at: Instant::now(),
            own,
            writer,
            busy: total - idle - steal,
            steal,
            total,
            syncs: metric(&scrape, "outpost_syncs_total").unwrap_or(0.0),
            sync_seconds: metric(&scrape, "outpost_sync_seconds_total").unwrap_or(0.0),
            commits: metric(&scrape, "outpost_commits_total"),
            commit_seconds: metric(&scrape, "outpost_commit_seconds_total"),
        })
    }
}

/// What happened between two snapshots, as one line of text.
pub fn describe(before: &Snapshot, after: &Snapshot, pushes: u64, fsync: &Fsync) -> String {
    let wall = after.at.duration_since(before.at).as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // /proc/self/stat and /proc/stat count in the same clock ticks (USER_HZ); the share of
    // all cores' ticks.
    let all_ticks = (after.total - before.total).max(1) as f64;
    let pct = |ticks: u64| 100.0 * ticks as f64 / all_ticks;
    let own = after.own - before.own;
    // Of one core: 100% means the single writer was the ceiling.
    let writer = 100.0 * (after.writer - before.writer) as f64 * cores as f64 / all_ticks;
    let busy = after.busy - before.busy;
    let steal = after.steal - before.steal;
    let syncs = after.syncs - before.syncs;
    let per_sync = if syncs > 0.0 {
        (after.sync_seconds - before.sync_seconds) / syncs
    } else {
        0.0
    };
    let in_flight = (after.sync_seconds - before.sync_seconds) / wall;
    let commits = match (
        before.commits,
        after.commits,
        before.commit_seconds,
        after.commit_seconds,
    ) {
        (Some(b), Some(a), Some(bs), Some(as_)) if a > b => format!(
            "{:.0} commits/s, {:.1} pushes/commit, {} per commit",
            (a - b) / wall,
            pushes as f64 / (a - b),
            time(Duration::from_secs_f64((as_ - bs) / (a - b)))
        ),
        _ => "group commits: not in the server's /metrics".to_owned(),
    };
    format!(
        "CPU of {cores} cores: bench+server {:.0}% (writer thread {writer:.0}% of one core), \
         others {:.0}%, stolen {:.0}%; server time per sync {} ({in_flight:.1} in flight); {commits}; fsync probe p50 / max {} / {}",
        pct(own),
        pct(busy.saturating_sub(own)),
        pct(steal),
        time(Duration::from_secs_f64(per_sync)),
        time(fsync.p50),
        time(fsync.max),
    )
}

/// What a 4 KiB write and fdatasync of a file in a directory costs.
#[derive(Debug)]
pub struct Fsync {
    pub p50: Duration,
    pub max: Duration,
}

/// [`FSYNCS`] appends and fdatasyncs of a scratch file in `dir`, the disk the server writes.
pub fn fsync_probe(dir: &Path) -> anyhow::Result<Fsync> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = [0u8; 4096];
    let mut times = Vec::with_capacity(FSYNCS);
    for _ in 0..FSYNCS {
        file.write_all(&block)?;
        let started = Instant::now();
        file.sync_data()?;
        times.push(started.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Fsync {
        p50: percentile(&times, 50.0),
        max: percentile(&times, 100.0),
    })
}
