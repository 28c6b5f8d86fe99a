//! The benchmark behind `cargo run --release -p outpost-tests --bin bench`: DESIGN.md's
//! workload against the real server and real device stores, side by side with samod.
//!
//! # Layout
//! - [`workload`]: the seeded generator of accounts and of a day's offline edits.
//! - [`proxy`]: a loopback TCP proxy that counts the bytes (and frames) crossing it.
//! - [`outpost`]: the Outpost side of the sync scenarios: a generating device, a measured
//!   reader device behind the proxy, the physical limit of each catch-up.
//! - [`peer`]: the same catch-ups with samod (automerge-repo's Rust port) over TCP.
//! - [`device`]: local edit latency and the store probe run in a child process.
//! - [`server`]: push throughput of many devices and fan-out latency over the event stream.
//! - [`views`]: how long a manager waits for a team view.
//! - [`mature`]: two-year accounts beside fresh ones: edit, push, apply, pushes/s.
//! - [`instructions`]: instructions per push under callgrind (the bench re-run as a child).
//! - [`context`]: CPU, steal, server time per sync and fsync cost around a throughput run.
//! - [`memory`]: the server process's resident memory with many documents and devices.
//! - this module: the result table, machine facts and number formatting.

pub mod context;
pub mod device;
pub mod instructions;
pub mod mature;
pub mod memory;
pub mod outpost;
pub mod peer;
pub mod proxy;
pub mod server;
pub mod views;
pub mod workload;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One line of the result table.
#[derive(Debug)]
pub struct Row {
    pub scenario: String,
    pub outpost: String,
    pub peer: String,
    pub ratio: String,
    pub bar: String,
    pub met: Option<bool>,
}

impl Row {
    /// A row without a peer figure or a bar.
    pub fn info(scenario: impl Into<String>, outpost: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            outpost: outpost.into(),
            peer: "-".into(),
            ratio: "-".into(),
            bar: "-".into(),
            met: None,
        }
    }

    pub fn peer(mut self, peer: impl Into<String>) -> Row {
        self.peer = peer.into();
        self
    }

    /// How many times the peer's figure is Outpost's (higher means Outpost does better).
    pub fn ratio(mut self, outpost: f64, peer: f64) -> Row {
        self.ratio = ratio(outpost, peer);
        self
    }

    pub fn bar(mut self, bar: impl Into<String>, met: bool) -> Row {
        self.bar = bar.into();
        self.met = Some(met);
        self
    }
}

/// `peer / outpost` as text, or `-` when Outpost's figure is zero.
pub fn ratio(outpost: f64, peer: f64) -> String {
    if outpost <= 0.0 {
        return "-".into();
    }
    let ratio = peer / outpost;
    if ratio >= 100.0 {
        format!("{}x", count(ratio.round() as u64))
    } else {
        format!("{ratio:.1}x")
    }
}

const HEADER: [&str; 6] = [
    "scenario",
    "Outpost",
    "peer (samod)",
    "ratio",
    "bar",
    "met?",
];

impl Row {
    fn cells(&self) -> [String; 6] {
        let met = match self.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        [
            self.scenario.clone(),
            self.outpost.clone(),
            self.peer.clone(),
            self.ratio.clone(),
            self.bar.clone(),
            met.to_owned(),
        ]
    }
}

/// The result table. Each row is also printed on stdout as it is pushed (in the table's
/// columns, unpadded), so a run stopped part way keeps every figure measured so far; the
/// padded table is rendered again at the end.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn push(&mut self, row: Row) {
        if self.rows.is_empty() {
            println!("| {} |", HEADER.join(" | "));
            println!("|{}|", ["---"; 6].join("|"));
        }
        println!("| {} |", row.cells().join(" | "));
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let header = HEADER;
        let cells: Vec<[String; 6]> = self.rows.iter().map(Row::cells).collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |out: &mut String, row: &[String]| {
            let padded: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let _ = writeln!(out, "| {} |", padded.join(" | "));
        };
        let mut out = String::new();
        line(&mut out, &header.map(String::from));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
        for row in &cells {
            line(&mut out, row);
        }
        out
    }
}

/// The bench binary's path, as it was when first asked (the benchmark asks at its start).
/// The memory row's `cargo build` of the workspace binaries may replace the file while the
/// benchmark runs, after which the running executable's own path reads "... (deleted)";
/// the children are then started from the path, which holds the same build of the same
/// sources.
pub fn own_exe() -> std::io::Result<std::path::PathBuf> {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    if let Some(exe) = EXE.get() {
        return Ok(exe.clone());
    }
    let exe = std::env::current_exe()?;
    Ok(EXE.get_or_init(|| exe).clone())
}

/// A progress line on stderr, stamped with the time since `started`.
pub fn progress(started: Instant, what: impl std::fmt::Display) {
    eprintln!("[{:>6.1} s] {what}", started.elapsed().as_secs_f64());
}

/// The machine the run happened on, from the standard library and /proc.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| proc_kib(&text, "MemTotal:"))
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    format!("{cores} cores ({cpu}), {ram} RAM")
}

/// The value in KiB of a `Name:   123 kB` line of a /proc status file.
pub fn proc_kib(text: &str, name: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with(name)).and_then(|l| {
        l[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

/// The `p`-th percentile (0..=100) of `samples`, by nearest rank.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A duration in ms below 10 s, in s above.
pub fn time(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// `12345` as `12,345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
