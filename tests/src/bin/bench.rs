//! The benchmark command: DESIGN.md's workload against the real server (in process, on
//! 127.0.0.1, over redb files in temp dirs) and real device stores, side by side with samod.
//!
//! `cargo run --release -p outpost-tests --bin bench -- [--quick | --large] [--seed N]`
//! prints the machine, progress on stderr, then one table: scenario, Outpost, peer, ratio,
//! bar, met.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use automerge::ChangeHash;
use clap::Parser;
use outpost_client::Store;
use outpost_tests::bench;
use outpost_tests::{Device, TestServer};

use bench::outpost::{self, Catchup, Generator};
use bench::peer::{Peer, PeerCatchup};
use bench::proxy::{CountingProxy, Framing};
use bench::workload::{self, FOLLOW_UPS, REPS, Workload};
use bench::{Row, Table, bytes, count, device, memory, percentile, progress, server, time, views};

#[derive(Debug, Parser)]
#[command(about = "Outpost's benchmark: DESIGN.md's bars, side by side with samod")]
struct Args {
    /// A first look in under 2 minutes: smaller N and k, shorter load.
    #[arg(long)]
    quick: bool,
    /// N=1k and N=100k only, without samod (it takes minutes per reconnect at 10k): the
    /// 100k rows (initial sync, idle reconnect, team views), in about a quarter of an hour.
    #[arg(long, conflicts_with = "quick")]
    large: bool,
    /// Seed of the generated workload.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Internal: probe a closed device store in this process and print the figures.
    #[arg(long = device::PROBE_ARG, hide = true, value_name = "STORE")]
    probe_store: Option<PathBuf>,
}

/// Idle reconnects of samod at each size: this many, or fewer once they took
/// [`PEER_IDLE_BUDGET`] (samod's reconnect time grows faster than its open documents: its hub
/// walks every open document on each event).
const PEER_IDLE_RUNS: usize = 3;
/// Requests per team view and size.
const VIEW_RUNS: usize = 50;
const PEER_IDLE_BUDGET: Duration = Duration::from_secs(30);

/// DESIGN.md's team-view bar holds at this many accounts.
const VIEWS_BAR_N: usize = 100_000;

/// DESIGN.md's day offline: 50 local and 50 remote edits on a 10,000-account device.
const DESIGN_N: usize = 10_000;
const DESIGN_K: usize = 100;

/// What the table's figures are, printed under it.
const NOTES: [&str; 6] = [
    "Outpost: the real server (redb, a durable commit per group of pushes) and device stores \
     (redb) in temp dirs, on 127.0.0.1. A reconnect is a new HTTP client (a new TCP \
     connection) and one sync; its time is until the sync returned.",
    "samod 0.16: a server repo and a device repo, each with TokioFilesystemStorage (it does \
     not fsync), talking over its TCP transport; every document open on both sides. A \
     catch-up lasts from dialing until every document is in sync both ways.",
    "Wire bytes: TCP payload through a counting loopback proxy, both directions, HTTP headers \
     and samod framing included. Messages: HTTP requests plus replies for Outpost, \
     length-delimited frames for samod.",
    "Physical limit: the compressed size of the automerge changes that had to cross \
     (automerge's own change compression), the same changes for both systems.",
    "Ratio: samod's figure / Outpost's. The bar against samod is DESIGN.md's, for its \
     workload only (N=10k, k=100).",
    "Workload content is deterministic from the seed; document and follow-up ids are drawn \
     by the store.",
];

/// The sizes of one run.
#[derive(Debug)]
struct Plan {
    /// Account counts at which a new device syncs and idle reconnects are measured, ascending.
    sizes: Vec<usize>,
    /// The size at which the days offline and the device figures run; samod runs up to it.
    offline_n: usize,
    /// Changed accounts per day offline (half local, half remote).
    ks: Vec<usize>,
    idle_runs: usize,
    edits: usize,
    push_devices: usize,
    push_time: Duration,
    probes: usize,
    /// Whether samod runs beside Outpost (up to `offline_n`).
    peer: bool,
    /// Whether the server rows (push throughput, fan-out) run.
    server: bool,
    /// Devices connected to the server process whose memory is measured.
    connected: usize,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        if args.large {
            Plan {
                sizes: vec![1_000, 100_000],
                offline_n: usize::MAX,
                ks: Vec::new(),
                idle_runs: 10,
                edits: 0,
                push_devices: 0,
                push_time: Duration::ZERO,
                probes: 0,
                peer: false,
                server: false,
                connected: 500,
            }
        } else if args.quick {
            Plan {
                sizes: vec![1_000],
                offline_n: 1_000,
                ks: vec![10, 100],
                idle_runs: 10,
                edits: 200,
                push_devices: 50,
                push_time: Duration::from_secs(3),
                probes: 100,
                peer: true,
                server: true,
                connected: 100,
            }
        } else {
            Plan {
                sizes: vec![1_000, 10_000],
                offline_n: 10_000,
                ks: vec![10, 100, 1_000],
                idle_runs: 10,
                edits: 200,
                push_devices: 50,
                push_time: Duration::from_secs(10),
                probes: 300,
                peer: true,
                server: true,
                connected: 500,
            }
        }
    }
}

/// `10000` as `10k`.
fn size_label(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// An Outpost exchange's messages: each round trip is a request and its reply.
fn messages(round_trips: u32) -> String {
    let plural = if round_trips == 1 { "" } else { "s" };
    format!("{} ({round_trips} round trip{plural})", 2 * round_trips)
}

fn median(times: impl Iterator<Item = Duration>) -> Duration {
    let times: Vec<Duration> = times.collect();
    percentile(&times, 50.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.probe_store {
        return device::probe_main(path);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::new(args);
    println!(
        "Outpost benchmark ({} run, seed {})",
        match (args.quick, args.large) {
            (true, _) => "quick",
            (_, true) => "large",
            _ => "full",
        },
        args.seed
    );
    println!("machine: {}", bench::machine());
    let days = if plan.ks.is_empty() {
        "no day offline".to_owned()
    } else {
        format!("days offline at N={} with k={:?}", plan.offline_n, plan.ks)
    };
    println!(
        "workload: accounts with {FOLLOW_UPS} follow-ups, 0-3 opportunities and a status each \
         (history: the creation and one change filling them in), owned by {REPS} reps; \
         sizes {:?}; {days}",
        plan.sizes
    );

    let mut table = Table::default();
    let mut workload = Workload::new(args.seed);
    sync_scenarios(&plan, &mut workload, &mut table, started).await?;
    if plan.server {
        server_rows(&plan, &mut workload, &mut table, started).await?;
    }

    progress(started, "done");
    println!();
    print!("{}", table.render());
    println!();
    for note in NOTES {
        println!("- {note}");
    }
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A new device's initial sync, idle reconnects, days offline and device figures, per size.
async fn sync_scenarios(
    plan: &Plan,
    workload: &mut Workload,
    table: &mut Table,
    started: Instant,
) -> anyhow::Result<()> {
    let server = TestServer::start().await;
    server.add_team("bench", &workload::reps());
    views::add_manager(&server, "bench")?;
    let proxy = CountingProxy::start(server.addr(), Framing::Opaque).await;
    let mut generator = Generator::new(&server).await?;
    let mut peer = if plan.peer {
        Some(Peer::start().await?)
    } else {
        None
    };
    let mut idle_times = Vec::new();

    for &n in &plan.sizes {
        let label = size_label(n);
        let before = generator.ids.len();
        progress(
            started,
            format!("N={label}: generating {} accounts", n - before),
        );
        generator.generate(workload, n - before)?;
        generator.sync().await?;

        progress(started, format!("N={label}: a new device syncs"));
        let mut reader = server.device().await;
        let initial = outpost::reconnect(&mut reader, &proxy).await?;
        ensure!(
            initial.report.received.len() == n,
            "the new device got every account"
        );
        let limit = outpost::initial_limit(&server, &generator.ids)?;
        table.push(Row::info(
            format!("new device, initial sync of N={label}: time, round trips, wire bytes"),
            format!(
                "{}, {} rt, {} ({:.2}x limit {})",
                time(initial.time),
                initial.report.round_trips,
                bytes(initial.traffic.bytes()),
                initial.traffic.bytes() as f64 / limit as f64,
                bytes(limit)
            ),
        ));

        progress(started, format!("N={label}: team views"));
        for (name, path) in views::VIEWS {
            let times = views::view_times(&server, path, n, VIEW_RUNS).await?;
            let p99 = percentile(&times, 99.0);
            let row = Row::info(
                format!(
                    "team view {name}, manager of all N={label} accounts: p50 / p99 of {VIEW_RUNS}"
                ),
                format!("{} / {}", time(percentile(&times, 50.0)), time(p99)),
            );
            table.push(if n >= VIEWS_BAR_N {
                row.bar("p99 < 20 ms", p99 < Duration::from_millis(20))
            } else {
                row
            });
        }

        progress(started, format!("N={label}: idle reconnects"));
        let mut idle = Vec::with_capacity(plan.idle_runs);
        for _ in 0..plan.idle_runs {
            idle.push(outpost::reconnect(&mut reader, &proxy).await?);
        }
        let peer_idle = match peer.as_mut() {
            Some(samod) => {
                progress(
                    started,
                    format!("N={label}: samod import and idle reconnects"),
                );
                let mut docs = Vec::with_capacity(n - before);
                for &id in &generator.ids[before..] {
                    let doc = server
                        .storage()
                        .document(id)?
                        .context("document on server")?;
                    docs.push((id, doc));
                }
                samod.disconnect().await?;
                samod.import(docs).await?;
                progress(started, format!("N={label}: samod imported"));
                let mut runs = Vec::with_capacity(PEER_IDLE_RUNS);
                let runs_started = Instant::now();
                while runs.len() < PEER_IDLE_RUNS
                    && (runs.is_empty() || runs_started.elapsed() < PEER_IDLE_BUDGET)
                {
                    let run = samod.reconnect().await?;
                    progress(
                        started,
                        format!("N={label}: samod idle reconnect {}", time(run.time)),
                    );
                    runs.push(run);
                }
                Some(runs)
            }
            None => None,
        };
        idle_times.push((n, median(idle.iter().map(|c| c.time))));
        idle_rows(table, &label, &idle, peer_idle.as_deref(), plan);

        if n == plan.offline_n {
            let mut samod = peer
                .take()
                .context("samod runs up to the day-offline size")?;
            for &k in &plan.ks {
                progress(started, format!("N={label}: day offline, k={k}"));
                let day = Day {
                    server: &server,
                    generator: &generator,
                    proxy: &proxy,
                    n,
                };
                day.run(table, &mut reader, &mut samod, workload, k).await?;
            }
            samod.stop().await?;
            progress(started, format!("N={label}: device figures"));
            device_rows(table, &mut reader, &generator, workload, plan, &label)?;
        }
    }
    if let (Some(&(small_n, small)), Some(&(big_n, big))) = (idle_times.first(), idle_times.last())
        && big_n > small_n
    {
        let growth = big.as_secs_f64() / small.as_secs_f64();
        table.push(
            Row::info(
                format!(
                    "idle reconnect time, N={} vs N={}",
                    size_label(big_n),
                    size_label(small_n)
                ),
                format!("{growth:.2}x ({} vs {})", time(big), time(small)),
            )
            .bar("flat in N (<= 2x)", growth <= 2.0),
        );
    }
    let n = generator.ids.len();
    drop((generator, proxy));
    let data = server.stop().await;
    progress(
        started,
        format!(
            "N={}: server memory with {} devices",
            size_label(n),
            plan.connected
        ),
    );
    let memory = memory::server_memory(data.path(), &workload::reps(), plan.connected).await?;
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    table.push(Row::info(
        format!(
            "server process, N={} documents, {} devices logged in with open event \
             streams, every view, then an online backup: resident memory",
            size_label(n),
            plan.connected
        ),
        format!(
            "{} (started {}, connected {}, after views {}, peak {})",
            mib(memory.after_backup),
            mib(memory.started),
            mib(memory.connected),
            mib(memory.after_views),
            mib(memory.peak)
        ),
    ));
    Ok(())
}

fn idle_rows(
    table: &mut Table,
    label: &str,
    idle: &[Catchup],
    peer: Option<&[PeerCatchup]>,
    plan: &Plan,
) {
    let round_trips = idle.iter().map(|c| c.report.round_trips).max().unwrap_or(0);
    let wire = idle.iter().map(|c| c.traffic.bytes()).max().unwrap_or(0);
    let elapsed = median(idle.iter().map(|c| c.time));
    let msgs = 2 * u64::from(round_trips);

    let mut row = Row::info(
        format!("idle reconnect N={label}: messages (max of runs)"),
        messages(round_trips),
    );
    if let Some(runs) = peer {
        let theirs = runs.iter().map(|r| r.traffic.frames()).max().unwrap_or(0);
        row = row.peer(count(theirs)).ratio(msgs as f64, theirs as f64);
    }
    table.push(row.bar("1 request", round_trips == 1));

    let mut row = Row::info(
        format!("idle reconnect N={label}: wire bytes (max of runs)"),
        bytes(wire),
    );
    if let Some(runs) = peer {
        let theirs = runs.iter().map(|r| r.traffic.bytes()).max().unwrap_or(0);
        row = row.peer(bytes(theirs)).ratio(wire as f64, theirs as f64);
    }
    table.push(row.bar("< 1 KB", wire < 1000));

    let mut row = Row::info(
        format!(
            "idle reconnect N={label}: time (median; Outpost {} runs, samod {})",
            plan.idle_runs,
            peer.map_or(0, <[PeerCatchup]>::len)
        ),
        time(elapsed),
    );
    if let Some(runs) = peer {
        let theirs = median(runs.iter().map(|r| r.time));
        row = row
            .peer(time(theirs))
            .ratio(elapsed.as_secs_f64(), theirs.as_secs_f64());
    }
    table.push(row);
}

/// The day-offline scenario at one size, for both systems.
struct Day<'a> {
    server: &'a TestServer,
    generator: &'a Generator,
    proxy: &'a CountingProxy,
    n: usize,
}

impl Day<'_> {
    /// Outpost catches up first; samod then gets the very same changes, local and remote.
    async fn run(
        &self,
        table: &mut Table,
        reader: &mut Device,
        samod: &mut Peer,
        workload: &mut Workload,
        k: usize,
    ) -> anyhow::Result<()> {
        let day =
            outpost::day_offline(self.server, self.generator, reader, self.proxy, workload, k)
                .await?;
        samod.disconnect().await?;
        samod.edit_local(&day.local)?;
        samod.edit_remote(&day.remote)?;
        let theirs = samod.reconnect().await?;
        for (id, _) in day.local.iter().chain(&day.remote) {
            let (device, samod_server) = samod.heads(*id)?;
            let expected: Vec<ChangeHash> = self
                .server
                .storage()
                .heads(*id)?
                .iter()
                .map(|h| ChangeHash(h.0))
                .collect();
            ensure!(
                device == expected && samod_server == expected,
                "samod did not converge on {id}"
            );
        }

        let ours = &day.catchup;
        let scenario = format!(
            "day offline N={}, k={k} ({} local + {} remote edits)",
            size_label(self.n),
            day.local.len(),
            day.remote.len()
        );
        // DESIGN.md sets the bar against samod for its own workload only.
        let design = self.n == DESIGN_N && k == DESIGN_K;
        let round_trips = ours.report.round_trips;
        let msgs = 2 * u64::from(round_trips);
        table.push(
            Row::info(format!("{scenario}: messages"), messages(round_trips))
                .peer(count(theirs.traffic.frames()))
                .ratio(msgs as f64, theirs.traffic.frames() as f64)
                .bar("<= 2 round trips", round_trips <= 2),
        );
        table.push(
            Row::info(
                format!("{scenario}: physical limit (compressed size of the changes)"),
                bytes(day.limit),
            )
            .peer(bytes(day.limit)),
        );
        let (wire, their_wire) = (ours.traffic.bytes() as f64, theirs.traffic.bytes() as f64);
        let limit = day.limit as f64;
        let row = Row::info(
            format!("{scenario}: wire bytes"),
            format!(
                "{} ({:.2}x limit)",
                bytes(ours.traffic.bytes()),
                wire / limit
            ),
        )
        .peer(format!(
            "{} ({:.1}x limit)",
            bytes(theirs.traffic.bytes()),
            their_wire / limit
        ))
        .ratio(wire, their_wire);
        table.push(if design {
            row.bar(
                "<= 1.5x limit, >= 20x smaller",
                wire <= 1.5 * limit && their_wire >= 20.0 * wire,
            )
        } else {
            row.bar("<= 1.5x limit", wire <= 1.5 * limit)
        });
        let (secs, their_secs) = (ours.time.as_secs_f64(), theirs.time.as_secs_f64());
        let row = Row::info(format!("{scenario}: time"), time(ours.time))
            .peer(time(theirs.time))
            .ratio(secs, their_secs);
        table.push(if design {
            row.bar(">= 20x faster", their_secs >= 20.0 * secs)
        } else {
            row
        });
        Ok(())
    }
}

fn device_rows(
    table: &mut Table,
    reader: &mut Device,
    generator: &Generator,
    workload: &mut Workload,
    plan: &Plan,
    label: &str,
) -> anyhow::Result<()> {
    let edits = device::edit_latencies(&reader.store, &generator.ids, workload, plan.edits)?;
    let p50 = percentile(&edits, 50.0);
    table.push(
        Row::info(
            format!(
                "device N={label}: local edit durable (edit_account), p50 / p99 of {}",
                plan.edits
            ),
            format!("{} / {}", time(p50), time(percentile(&edits, 99.0))),
        )
        .bar("p50 < 5 ms", p50 < Duration::from_millis(5)),
    );

    // Close the store: the probe opens the file in another process.
    drop(std::mem::replace(&mut reader.store, Store::in_memory()?));
    let probe = device::probe(&reader.store_path())?;
    ensure!(
        probe.accounts == generator.ids.len(),
        "the probe saw every account"
    );
    table.push(
        Row::info(
            format!("device N={label}: store open (child process, warm page cache)"),
            time(probe.open),
        )
        .bar("< 200 ms", probe.open < Duration::from_millis(200)),
    );
    table.push(Row::info(
        format!("device N={label}: list all account summaries + read one account"),
        time(probe.browse),
    ));
    let peak = probe.rss_peak as f64 / 1024.0;
    table.push(
        Row::info(
            format!("device N={label}: resident memory, open + list (child's peak RSS)"),
            format!(
                "{peak:.1} MiB (before open {:.1} MiB, after {:.1} MiB)",
                probe.rss_start as f64 / 1024.0,
                probe.rss_end as f64 / 1024.0
            ),
        )
        .bar("< 100 MB", peak < 100.0),
    );
    Ok(())
}

fn throughput(load: &server::Throughput) -> String {
    format!(
        "{}/s ({} pushes, {} commits, {} updates replied)",
        count(load.per_second() as u64),
        count(load.pushes),
        count(load.commits),
        count(load.updates)
    )
}

/// Push throughput and fan-out latency, on a fresh server.
async fn server_rows(
    plan: &Plan,
    workload: &mut Workload,
    table: &mut Table,
    started: Instant,
) -> anyhow::Result<()> {
    progress(started, "server push capacity");
    let server = TestServer::start().await;
    server.add_team("bench", &workload::reps());
    let load = server::push_capacity(&server, workload, plan.push_devices, plan.push_time).await?;
    table.push(
        Row::info(
            format!(
                "server: durable single-change pushes/s, {} protocol-level devices for {:.1} s \
                 (full catch-up replies, decoded not applied)",
                load.devices,
                load.elapsed.as_secs_f64()
            ),
            throughput(&load),
        )
        .bar(">= 2,000/s", load.per_second() >= 2000.0),
    );
    progress(started, "end-to-end push throughput");
    let load =
        server::push_end_to_end(&server, workload, plan.push_devices, plan.push_time).await?;
    table.push(Row::info(
        format!(
            "end to end: pushes/s of {} real devices (edit_account + HttpClient::sync, applying \
             each other's changes) for {:.1} s, all on this machine",
            load.devices,
            load.elapsed.as_secs_f64()
        ),
        throughput(&load),
    ));

    progress(started, "fan-out latency");
    let fan = server::fan_out(&server, workload, plan.probes).await?;
    table.push(Row::info(
        format!(
            "server: fan-out, push start -> SSE event at another device, p50 / p99 of {}",
            plan.probes
        ),
        format!(
            "{} / {}",
            time(percentile(&fan.notified, 50.0)),
            time(percentile(&fan.notified, 99.0))
        ),
    ));
    let p99 = percentile(&fan.pulled, 99.0);
    table.push(
        Row::info(
            "server: fan-out, push start -> change pulled into the other device, p50 / p99",
            format!("{} / {}", time(percentile(&fan.pulled, 50.0)), time(p99)),
        )
        .bar("p99 < 50 ms", p99 < Duration::from_millis(50)),
    );
    Ok(())
}
