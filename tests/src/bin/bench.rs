//! The benchmark command: DESIGN.md's workload against the real server (in process, on
//! 127.0.0.1, over redb files in temp dirs) and real device stores, side by side with samod.
//!
//! `cargo run --release -p outpost-tests --bin bench -- [--quick | --large] [--peer-10k]
//! [--seed N]` prints the machine, progress on stderr, each table row (scenario, Outpost,
//! peer, ratio, bar, met) on stdout as it completes, then the whole table.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use automerge::ChangeHash;
use clap::Parser;
use outpost_client::Store;
use outpost_tests::bench;
use outpost_tests::{Device, TestServer};

use bench::outpost::{self, Catchup, DayOffline, Generator};
use bench::peer::{Peer, PeerCatchup};
use bench::proxy::{CountingProxy, Framing};
use bench::workload::{self, FOLLOW_UPS, REPS, Workload};
use bench::{
    Row, Table, bytes, context, count, device, instructions, mature, memory, percentile, progress,
    server, time, views,
};

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
    /// Run samod's 10k rows too (its idle reconnect at 10k alone takes minutes); without it
    /// the full run's 10k rows are Outpost's only.
    #[arg(long = "peer-10k", conflicts_with_all = ["quick", "large"])]
    peer_10k: bool,
    /// Seed of the generated workload.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Internal: probe a closed device store in this process and print the figures.
    #[arg(long = device::PROBE_ARG, hide = true, value_name = "STORE")]
    probe_store: Option<PathBuf>,
    /// Internal: reopen a closed device store as a restarted app would, sync with a server
    /// and list the book.
    #[arg(long = device::RESTART_ARG, hide = true, num_args = 2, value_names = ["STORE", "URL"])]
    app_restart: Option<Vec<String>>,
    /// Internal: the pushes whose instructions callgrind counts.
    #[arg(long = instructions::COUNT_ARG, hide = true, num_args = 5,
          value_names = ["DATA", "STORE", "FRESH", "MATURE", "PUSHES"])]
    count_pushes: Option<Vec<String>>,
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
const NOTES: [&str; 8] = [
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
    "Mature rows: two-year accounts (each follow-up, note edit and opportunity its own \
     change) beside the workload's fresh ones on a server of their own; their ratio column \
     is mature / fresh (fresh / mature for pushes/s), not samod's.",
    "Instructions per push: callgrind's count over every thread of a child process (the \
     real server in process and its HTTP client), from sending one push to reading its reply; \
     the figure to compare across runs where times swing.",
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
    /// samod runs beside Outpost at sizes up to this (0: not at all).
    peer_max: usize,
    /// Whether the server rows (push throughput, fan-out) run.
    server: bool,
    /// Devices connected to the server process whose memory is measured.
    connected: usize,
    /// App restarts timed per size.
    restarts: usize,
    /// Runs of the durable pushes/s row (min / median / max when more than one).
    push_runs: usize,
    /// Mature accounts made (and as many fresh ones beside them); 0 skips the scenario.
    mature_accounts: usize,
    /// Single changes to each kind of account.
    mature_runs: usize,
    /// Pushes to each kind counted under callgrind.
    counted_pushes: usize,
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
                peer_max: 0,
                server: false,
                connected: 500,
                restarts: 5,
                push_runs: 0,
                mature_accounts: 0,
                mature_runs: 0,
                counted_pushes: 0,
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
                peer_max: 1_000,
                server: true,
                connected: 100,
                restarts: 5,
                push_runs: 3,
                mature_accounts: 4,
                mature_runs: 50,
                counted_pushes: 3,
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
                peer_max: if args.peer_10k { 10_000 } else { 1_000 },
                server: true,
                connected: 500,
                restarts: 5,
                push_runs: 3,
                mature_accounts: 10,
                mature_runs: 200,
                counted_pushes: 5,
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
    bench::own_exe()?;
    if let Some(path) = &args.probe_store {
        return device::probe_main(path);
    }
    if let Some([store, url]) = args.app_restart.as_deref() {
        return device::restart_main(store.as_ref(), url);
    }
    if let Some(counted) = &args.count_pushes {
        return instructions::count_main(counted);
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

    println!(
        "samod: {}",
        match plan.peer_max {
            0 => "not run".to_owned(),
            n if n >= *plan.sizes.last().unwrap_or(&0) => format!("at every size up to N={n}"),
            n => format!(
                "up to N={} only (its larger rows take minutes each: --peer-10k runs them)",
                size_label(n)
            ),
        }
    );
    let mut table = Table::default();
    let mut workload = Workload::new(args.seed);
    sync_scenarios(&plan, &mut workload, &mut table, started).await?;
    if plan.server {
        server_rows(&plan, &mut workload, &mut table, started).await?;
    }
    if plan.mature_accounts > 0 {
        mature_rows(&plan, &mut workload, &mut table, started).await?;
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
    let mut peer = if plan.peer_max > 0 {
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
        let peer_idle = match peer.as_mut().filter(|_| n <= plan.peer_max) {
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
        // Where samod ran at smaller sizes but not at this one, its column says why.
        let skipped = (plan.peer_max > 0 && n > plan.peer_max).then(|| {
            format!(
                "not run at N={label} (samod's {label} rows: --peer-10k, minutes per reconnect)"
            )
        });
        idle_rows(
            table,
            &label,
            &idle,
            peer_idle.as_deref(),
            skipped.as_deref(),
            plan,
        );

        progress(started, format!("N={label}: app restarts"));
        restart_rows(
            table,
            &mut reader,
            &proxy,
            &label,
            n,
            idle_times[idle_times.len() - 1].1,
            plan,
        )?;

        if n == plan.offline_n {
            let mut samod = peer.take().filter(|_| n <= plan.peer_max);
            for &k in &plan.ks {
                progress(started, format!("N={label}: day offline, k={k}"));
                let day = Day {
                    server: &server,
                    generator: &generator,
                    proxy: &proxy,
                    n,
                };
                day.run(
                    table,
                    &mut reader,
                    samod.as_mut(),
                    skipped.as_deref(),
                    workload,
                    k,
                )
                .await?;
            }
            if let Some(samod) = samod {
                samod.stop().await?;
            }
            progress(started, format!("N={label}: device figures"));
            device_rows(table, &mut reader, &generator, workload, plan, &label)?;
        }
        // samod is not needed past its last size: stop it rather than keep it idle.
        if n >= plan.peer_max
            && let Some(samod) = peer.take()
        {
            samod.stop().await?;
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
    skipped: Option<&str>,
    plan: &Plan,
) {
    let not_run = |row: Row| match skipped {
        Some(why) => row.peer(why),
        None => row,
    };
    let round_trips = idle.iter().map(|c| c.report.round_trips).max().unwrap_or(0);
    let wire = idle.iter().map(|c| c.traffic.bytes()).max().unwrap_or(0);
    let elapsed = median(idle.iter().map(|c| c.time));
    let msgs = 2 * u64::from(round_trips);

    let mut row = not_run(Row::info(
        format!("idle reconnect N={label}: messages (max of runs)"),
        messages(round_trips),
    ));
    if let Some(runs) = peer {
        let theirs = runs.iter().map(|r| r.traffic.frames()).max().unwrap_or(0);
        row = row.peer(count(theirs)).ratio(msgs as f64, theirs as f64);
    }
    table.push(row.bar("1 request", round_trips == 1));

    let mut row = not_run(Row::info(
        format!("idle reconnect N={label}: wire bytes (max of runs)"),
        bytes(wire),
    ));
    if let Some(runs) = peer {
        let theirs = runs.iter().map(|r| r.traffic.bytes()).max().unwrap_or(0);
        row = row.peer(bytes(theirs)).ratio(wire as f64, theirs as f64);
    }
    table.push(row.bar("< 1 KB", wire < 1000));

    let mut row = not_run(Row::info(
        format!(
            "idle reconnect N={label}, app running (store open across reconnects): time \
             (median; Outpost {} runs, samod {})",
            plan.idle_runs,
            peer.map_or(0, <[PeerCatchup]>::len)
        ),
        time(elapsed),
    ));
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
    /// Outpost catches up first; samod then gets the very same changes, local and remote
    /// (unless it does not run at this size: then `skipped` says why in its column).
    async fn run(
        &self,
        table: &mut Table,
        reader: &mut Device,
        samod: Option<&mut Peer>,
        skipped: Option<&str>,
        workload: &mut Workload,
        k: usize,
    ) -> anyhow::Result<()> {
        let day =
            outpost::day_offline(self.server, self.generator, reader, self.proxy, workload, k)
                .await?;
        let theirs = match samod {
            Some(samod) => Some(self.replay(samod, &day).await?),
            None => None,
        };
        let theirs = theirs.as_ref();
        let peer = |row: Row, figure: &dyn Fn(&PeerCatchup) -> String| match (theirs, skipped) {
            (Some(t), _) => row.peer(figure(t)),
            (None, Some(why)) => row.peer(why),
            (None, None) => row,
        };

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
        let mut row = peer(
            Row::info(format!("{scenario}: messages"), messages(round_trips)),
            &|t| count(t.traffic.frames()),
        );
        if let Some(t) = theirs {
            row = row.ratio(msgs as f64, t.traffic.frames() as f64);
        }
        table.push(row.bar("<= 2 round trips", round_trips <= 2));
        table.push(peer(
            Row::info(
                format!("{scenario}: physical limit (compressed size of the changes)"),
                bytes(day.limit),
            ),
            &|_| bytes(day.limit),
        ));
        let wire = ours.traffic.bytes() as f64;
        let limit = day.limit as f64;
        let mut row = peer(
            Row::info(
                format!("{scenario}: wire bytes"),
                format!(
                    "{} ({:.2}x limit)",
                    bytes(ours.traffic.bytes()),
                    wire / limit
                ),
            ),
            &|t| {
                format!(
                    "{} ({:.1}x limit)",
                    bytes(t.traffic.bytes()),
                    t.traffic.bytes() as f64 / limit
                )
            },
        );
        if let Some(t) = theirs {
            row = row.ratio(wire, t.traffic.bytes() as f64);
        }
        table.push(match theirs {
            Some(t) if design => row.bar(
                "<= 1.5x limit, >= 20x smaller",
                wire <= 1.5 * limit && t.traffic.bytes() as f64 >= 20.0 * wire,
            ),
            _ => row.bar("<= 1.5x limit", wire <= 1.5 * limit),
        });
        let secs = ours.time.as_secs_f64();
        let mut row = peer(
            Row::info(format!("{scenario}: time"), time(ours.time)),
            &|t| time(t.time),
        );
        if let Some(t) = theirs {
            row = row.ratio(secs, t.time.as_secs_f64());
        }
        table.push(match theirs {
            Some(t) if design => row.bar(">= 20x faster", t.time.as_secs_f64() >= 20.0 * secs),
            _ => row,
        });
        Ok(())
    }

    /// samod gets the day's changes, local and remote, and catches up; checked converged.
    async fn replay(&self, samod: &mut Peer, day: &DayOffline) -> anyhow::Result<PeerCatchup> {
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
        Ok(theirs)
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
        "{}/s ({} pushes, {} feed entries, {} updates replied)",
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
    let (fleet, ids) = server::capacity_fleet(&server, workload, plan.push_devices).await?;
    let mut rates = Vec::with_capacity(plan.push_runs);
    for run in 1..=plan.push_runs {
        let fsync = context::fsync_probe(server.dir())?;
        let before = context::Snapshot::take(&server).await?;
        let load = server::push_capacity_to(&server, &fleet, &ids, plan.push_time).await?;
        let after = context::Snapshot::take(&server).await?;
        rates.push(load.per_second());
        table.push(
            Row::info(
                format!(
                    "server: durable single-change pushes/s, {} protocol-level devices for {:.1} s \
                     (full catch-up replies, decoded not applied), run {run} of {}; what \
                     explains it: {}",
                    load.devices,
                    load.elapsed.as_secs_f64(),
                    plan.push_runs,
                    context::describe(&before, &after, load.pushes, &fsync)
                ),
                throughput(&load),
            )
            .bar(">= 5,000/s", load.per_second() >= 5000.0),
        );
    }
    if rates.len() > 1 {
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        table.push(
            Row::info(
                format!(
                    "server: durable single-change pushes/s, min / median / max of {} runs",
                    rates.len()
                ),
                format!(
                    "{} / {} / {}",
                    count(rates[0] as u64),
                    count(median as u64),
                    count(rates[rates.len() - 1] as u64)
                ),
            )
            .bar(">= 5,000/s (median)", median >= 5000.0),
        );
    }
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

/// The idle reconnect a user feels after reopening the app: a new process opens the store,
/// syncs (nothing new) and lists the book, timed from spawn to exit, beside the app-running
/// reconnect (`running`).
fn restart_rows(
    table: &mut Table,
    reader: &mut Device,
    proxy: &CountingProxy,
    label: &str,
    n: usize,
    running: Duration,
    plan: &Plan,
) -> anyhow::Result<()> {
    // Close the store: the restarted app opens the file in its own process.
    drop(std::mem::replace(&mut reader.store, Store::in_memory()?));
    let mut runs = Vec::with_capacity(plan.restarts);
    for _ in 0..plan.restarts {
        let run = device::restart(&reader.store_path(), &proxy.url())?;
        ensure!(
            run.accounts == n && run.round_trips == 1,
            "the restarted app listed {} of {n} accounts in {} round trips",
            run.accounts,
            run.round_trips
        );
        runs.push(run);
    }
    reader.store = Store::open(reader.store_path())?;
    runs.sort_by_key(|r| r.total);
    let mid = &runs[runs.len() / 2];
    table.push(Row::info(
        format!(
            "idle reconnect N={label}, app restart (process start, store open, sync, list the \
             book; child process, warm page cache): median of {}",
            plan.restarts
        ),
        format!(
            "{} (open {}, sync {}, list {}; app running: {})",
            time(mid.total),
            time(mid.open),
            time(mid.sync),
            time(mid.list),
            time(running)
        ),
    ));
    Ok(())
}

/// `mature / fresh` as text.
fn growth(mature: Duration, fresh: Duration) -> (f64, String) {
    let ratio = mature.as_secs_f64() / fresh.as_secs_f64().max(1e-9);
    (ratio, format!("{ratio:.2}x"))
}

/// A mature-vs-fresh row of p50 / p99 timings; the bar is on the p50s.
fn versus(scenario: String, fresh: &[Duration], mature: &[Duration]) -> Row {
    let (f50, m50) = (percentile(fresh, 50.0), percentile(mature, 50.0));
    let (ratio, text) = growth(m50, f50);
    let mut row = Row::info(
        format!(
            "{scenario}, p50 / p99 of {} each (ratio: mature / fresh p50)",
            fresh.len()
        ),
        format!(
            "mature {} / {}; fresh {} / {}",
            time(m50),
            time(percentile(mature, 99.0)),
            time(f50),
            time(percentile(fresh, 99.0))
        ),
    );
    row.ratio = text;
    row.bar("mature within 1.5x of fresh", ratio <= 1.5)
}

/// Two-year accounts beside fresh ones, on a server of their own: single-change push latency,
/// device edit and apply, durable pushes/s, and instructions per push under callgrind.
async fn mature_rows(
    plan: &Plan,
    workload: &mut Workload,
    table: &mut Table,
    started: Instant,
) -> anyhow::Result<()> {
    progress(
        started,
        format!(
            "mature accounts: making {} (and {} fresh)",
            plan.mature_accounts, plan.mature_accounts
        ),
    );
    let server = TestServer::start().await;
    server.add_team("bench", &workload::reps());
    let accounts = mature::build(&server, workload, plan.mature_accounts, started).await?;
    table.push(Row::info(
        format!(
            "mature accounts: {} with {} follow-ups, {} note edits, {} opportunities, each its \
             own edit_account (fresh: {} follow-ups in one), made on in-memory devices (one per \
             core) and pushed",
            accounts.mature.len(),
            workload::MATURE_FOLLOW_UPS,
            workload::MATURE_NOTE_EDITS,
            workload::MATURE_OPPORTUNITIES,
            FOLLOW_UPS
        ),
        format!(
            "{} changes each; made and pushed in {:.1} s",
            count(accounts.mature_changes as u64),
            accounts.built_in.as_secs_f64()
        ),
    ));

    progress(started, "mature accounts: single changes");
    let mut writer = server.device().await;
    let reader = server.device().await;
    writer.sync().await;
    reader.sync().await;
    let (fresh, mature) = mature::single_changes(
        &server,
        &writer,
        &reader,
        &accounts,
        workload,
        plan.mature_runs,
    )
    .await?;
    table.push(versus(
        "single-change push latency (one follow-up added, one sync), mature vs fresh".into(),
        &fresh.push,
        &mature.push,
    ));
    table.push(versus(
        "device edit durable (edit_account adding a follow-up), mature vs fresh".into(),
        &fresh.edit,
        &mature.edit,
    ));
    table.push(versus(
        "device apply of a sync reply carrying one new change (decode + apply, durable), \
         mature vs fresh"
            .into(),
        &fresh.apply,
        &mature.apply,
    ));

    // One device per account, as many as there are mature accounts: devices sharing an
    // account push concurrent branches of it, which measures merging, not a rep's push.
    progress(started, "mature accounts: durable pushes/s");
    let logins = server::log_in_devices(&server, accounts.mature.len()).await?;
    let fresh_load =
        server::push_capacity_to(&server, &logins, &accounts.fresh, plan.push_time).await?;
    let mature_load =
        server::push_capacity_to(&server, &logins, &accounts.mature, plan.push_time).await?;
    let ratio = fresh_load.per_second() / mature_load.per_second().max(1e-9);
    let mut row = Row::info(
        format!(
            "server: durable single-change pushes/s, {} protocol-level devices, each pushing \
             to its own account, for {:.1} s, mature vs fresh (ratio: fresh / mature)",
            logins.len(),
            plan.push_time.as_secs_f64()
        ),
        format!(
            "mature {}; fresh {}",
            throughput(&mature_load),
            throughput(&fresh_load)
        ),
    );
    row.ratio = format!("{ratio:.2}x");
    table.push(row.bar("mature within 1.5x of fresh", ratio <= 1.5));

    // The writer's store and the server's directory are handed, closed, to the counting child.
    drop(std::mem::replace(&mut writer.store, Store::in_memory()?));
    let data = server.stop().await;
    let scenario = format!(
        "instructions per push (callgrind, every thread: HTTP client, server, writer), median \
         of {} each (ratio: mature / fresh)",
        plan.counted_pushes
    );
    if let Some(why) = instructions::missing() {
        table.push(Row::info(scenario, why));
        return Ok(());
    }
    progress(
        started,
        format!(
            "mature accounts: {} pushes each under callgrind",
            plan.counted_pushes
        ),
    );
    let counts = instructions::count(
        data.path(),
        &writer.store_path(),
        accounts.fresh[0],
        accounts.mature[0],
        plan.counted_pushes,
    )?;
    let mid = |v: &[u64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (f, m) = (mid(&counts.fresh), mid(&counts.mature));
    let ratio = m as f64 / f as f64;
    let mut row = Row::info(
        scenario,
        format!(
            "mature {} (min {}, max {}); fresh {} (min {}, max {})",
            count(m),
            count(*counts.mature.iter().min().unwrap_or(&0)),
            count(*counts.mature.iter().max().unwrap_or(&0)),
            count(f),
            count(*counts.fresh.iter().min().unwrap_or(&0)),
            count(*counts.fresh.iter().max().unwrap_or(&0)),
        ),
    );
    row.ratio = format!("{ratio:.2}x");
    table.push(row.bar("mature within 1.5x of fresh", ratio <= 1.5));
    Ok(())
}
