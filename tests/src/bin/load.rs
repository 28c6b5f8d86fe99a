//! Drives hundreds of simulated devices against the real `outpost-server` binary for a set
//! time, then checks that nothing was lost.
//!
//! ```sh
//! cargo run --release -p outpost-tests --bin load -- [--devices N] [--seconds S] [--seed X]
//! ```
//!
//! Each device is a real `Store` (in memory) and `HttpClient`, logged in as its own user.
//! Reps edit their own accounts (a new account now and then, otherwise a logged follow-up or
//! a line added to the notes) and sync; managers sync their team and list it. Every second
//! the server's resident memory and the syncs and errors of that second are sampled; as each
//! minute ends its sync latency (p50, p99, requests) is printed, and at the end the first
//! and last minute's p99 are compared (bar: the last within 1.5x of the first and under
//! 100 ms). At the end every device syncs once more and an admin device checks that it holds
//! every account each device holds, with the same heads and value, and every edit the reps
//! made.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use futures_util::StreamExt;
use outpost_client::{AccountEdit, HttpClient, Store, SyncError, SyncReport};
use outpost_protocol::DocId;
use outpost_protocol::api::{NewUser, Role};
use outpost_server::Storage;
use outpost_tests::bench::memory::status_of;
use outpost_tests::bench::workload::Workload;
use outpost_tests::bench::{bytes, count, machine, percentile, progress, time};
use outpost_tests::{PASSWORD, ServerProcess, metric};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;

#[derive(Debug, Parser)]
#[command(
    about = "Drives many simulated devices against the real server and checks nothing is lost"
)]
struct Args {
    /// Simulated devices, each its own user.
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// How long the load lasts.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seed of the edits and think times.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// Devices per team; the first [`MANAGERS_PER_TEAM`] of each are its managers.
const TEAM_SIZE: usize = 50;
const MANAGERS_PER_TEAM: usize = 2;
/// A device's pause between one sync and its next edit, drawn uniformly.
const THINK_MS: std::ops::Range<u64> = 250..750;
/// Chance that a rep's edit creates an account (always, while the rep has none).
const NEW_ACCOUNT_ODDS: f64 = 0.1;
/// Chance that an edit of an existing account adds a line to its notes, not a follow-up.
const NOTES_ODDS: f64 = 0.3;
/// Logins in flight at once (each costs the server an argon2 hash).
const LOGINS_AT_ONCE: usize = 4;
/// Tries of each device's final sync before its unsynced edits count as lost.
const FINAL_TRIES: usize = 3;
/// Seconds between the points of the memory series in the table, at least.
const SERIES_STEP: usize = 10;
/// Points of the memory series in the table, at most (a longer run spaces them out).
const SERIES_POINTS: usize = 12;
const ADMIN: &str = "load-admin";

/// What one rep made, to be found on the admin device.
#[derive(Debug, Default, Clone, Copy)]
struct Made {
    accounts: u64,
    follow_ups: u64,
    notes: u64,
}

impl Made {
    fn add(&mut self, other: Made) {
        self.accounts += other.accounts;
        self.follow_ups += other.follow_ups;
        self.notes += other.notes;
    }

    fn edits(&self) -> u64 {
        self.accounts + self.follow_ups + self.notes
    }
}

/// One sync of the load: how long it took, the bytes it moved, and its error kind if any.
#[derive(Debug)]
struct Sample {
    latency: Duration,
    bytes: u64,
    error: Option<String>,
}

/// Syncs and failed syncs since the sampler last looked, and the latencies of the minute
/// under way.
#[derive(Debug, Default)]
struct Tally {
    syncs: AtomicU64,
    errors: AtomicU64,
    minute: Mutex<Vec<Duration>>,
}

/// Seconds in one row of the per-minute latency series.
const MINUTE: usize = 60;
/// The bar on the last minute's p99: within this factor of the first's, and under
/// [`P99_BAR`].
const GROWTH_BAR: f64 = 1.5;
const P99_BAR: Duration = Duration::from_millis(100);

/// The syncs that completed in one minute of the load.
#[derive(Debug)]
struct Minute {
    /// 1-based; the last may be partial.
    n: usize,
    seconds: usize,
    p50: Duration,
    p99: Duration,
    requests: usize,
}

impl Minute {
    fn of(n: usize, seconds: usize, latencies: &[Duration]) -> Minute {
        Minute {
            n,
            seconds,
            p50: percentile(latencies, 50.0),
            p99: percentile(latencies, 99.0),
            requests: latencies.len(),
        }
    }

    fn line(&self) -> String {
        let partial = if self.seconds < MINUTE {
            format!(" ({} s)", self.seconds)
        } else {
            String::new()
        };
        format!(
            "minute {}{partial}: sync latency p50 {} / p99 {}, {} requests",
            self.n,
            time(self.p50),
            time(self.p99),
            count(self.requests as u64)
        )
    }
}

/// One second of the load, as the sampler saw it.
#[derive(Debug)]
struct Second {
    rss: u64,
    /// What the server's page cache held (`outpost_page_cache_bytes`), in bytes.
    page_cache: u64,
    /// Accounts in the server's projection index (`outpost_indexed_accounts`).
    accounts: u64,
    syncs: u64,
    errors: u64,
}

#[derive(Debug)]
struct SimDevice {
    login: String,
    manager: bool,
    store: Store,
    client: HttpClient,
    workload: Workload,
    rng: StdRng,
    own: Vec<DocId>,
    made: Made,
    samples: Vec<Sample>,
}

impl SimDevice {
    /// One realistic edit of a rep: a new account now and then, otherwise a follow-up or a
    /// line in the notes of one of the rep's own accounts.
    fn edit(&mut self) -> anyhow::Result<()> {
        let now = self.workload.now();
        if self.own.is_empty() || self.rng.random_bool(NEW_ACCOUNT_ODDS) {
            let mut new = self.workload.account().new;
            new.owner = self.login.clone();
            self.own.push(self.store.create_account_anyway(&new, now)?);
            self.made.accounts += 1;
            return Ok(());
        }
        let id = *self
            .own
            .choose(&mut self.rng)
            .context("the rep has accounts")?;
        let edit = if self.rng.random_bool(NOTES_ODDS) {
            self.made.notes += 1;
            let mut notes = self.store.account(id)?.record.notes.as_str().to_owned();
            notes.push_str(&format!("call back, note {}\n", self.made.notes));
            AccountEdit::SetNotes(notes)
        } else {
            self.made.follow_ups += 1;
            self.workload.day_edit()
        };
        self.store.edit_account(id, &edit, now)?;
        Ok(())
    }

    /// Edits (reps) or lists the team (managers) and syncs, with think time in between,
    /// until `deadline`.
    async fn run(mut self, deadline: Instant, tally: Arc<Tally>) -> anyhow::Result<SimDevice> {
        loop {
            let think = Duration::from_millis(self.rng.random_range(THINK_MS));
            if Instant::now() + think >= deadline {
                return Ok(self);
            }
            tokio::time::sleep(think).await;
            if !self.manager {
                self.edit()?;
            }
            let started = Instant::now();
            let result = self.client.sync(&self.store).await;
            let latency = started.elapsed();
            let (bytes, error) = match &result {
                Ok(report) => (
                    (report.bytes_sent + report.bytes_received) as u64,
                    report_error(report),
                ),
                Err(e) => (0, Some(error_kind(e))),
            };
            tally.syncs.fetch_add(1, Ordering::Relaxed);
            tally.minute.lock().expect("minute latencies").push(latency);
            if error.is_some() {
                tally.errors.fetch_add(1, Ordering::Relaxed);
            }
            self.samples.push(Sample {
                latency,
                bytes,
                error,
            });
            if self.manager {
                self.store.accounts()?;
            }
        }
    }

    /// Syncs until every edit is on the server, retrying failed syncs.
    async fn final_sync(&self) -> anyhow::Result<()> {
        let mut last = None;
        for _ in 0..FINAL_TRIES {
            match self.client.sync(&self.store).await {
                Ok(report) if report_error(&report).is_none() => {
                    let unsynced = self.store.status()?.unsynced.len();
                    ensure!(
                        unsynced == 0,
                        "{}: {unsynced} accounts unsynced",
                        self.login
                    );
                    let rejected = self.store.rejected()?.len();
                    ensure!(rejected == 0, "{}: {rejected} edits refused", self.login);
                    return Ok(());
                }
                Ok(report) => last = report_error(&report),
                Err(e) => last = Some(e.to_string()),
            }
        }
        anyhow::bail!(
            "{}: the final sync failed {FINAL_TRIES} times: {}",
            self.login,
            last.unwrap_or_default()
        )
    }
}

/// The error kind of a sync that returned, if the server refused or rejected a push.
fn report_error(report: &SyncReport) -> Option<String> {
    if !report.rejected.is_empty() {
        Some("push rejected".into())
    } else if !report.refused.is_empty() {
        Some("push refused".into())
    } else {
        None
    }
}

/// The error kind of a failed sync, short enough for the table.
fn error_kind(error: &SyncError) -> String {
    match error {
        SyncError::Transport(e) if e.is_timeout() => "timeout".into(),
        SyncError::Transport(e) if e.is_connect() => "connect".into(),
        SyncError::Transport(_) => "transport".into(),
        SyncError::Refused { status, reply } => format!("HTTP {status} {:?}", reply.code),
        other => other.to_string(),
    }
}

/// The login of device `n` and whether it is a manager, and its team.
fn member(n: usize) -> (String, bool, String) {
    let (team, seat) = (n / TEAM_SIZE, n % TEAM_SIZE);
    let manager = seat < MANAGERS_PER_TEAM;
    let kind = if manager { "lead" } else { "rep" };
    (
        format!("load-{team}-{kind}-{seat:02}"),
        manager,
        format!("team-{team}"),
    )
}

/// A fresh data directory with the teams, their reps and managers, and the admin. Passwords
/// are hashed on every core.
fn seed_users(devices: usize) -> anyhow::Result<TempDir> {
    let dir = TempDir::new()?;
    let storage = Storage::open(dir.path().join("outpost.redb"))?;
    for team in 0..devices.div_ceil(TEAM_SIZE) {
        storage.add_team(&format!("team-{team}"))?;
    }
    let user = |login: &str, role, team: Option<&str>| NewUser {
        login: login.into(),
        password: PASSWORD.into(),
        role,
        team: team.map(str::to_owned),
    };
    storage.add_user(&user(ADMIN, Role::Admin, None))?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let storage = &storage;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for n in (worker..devices).step_by(workers) {
                        let (login, manager, team) = member(n);
                        if manager {
                            storage.add_user(&user(&login, Role::Manager, None))?;
                            storage.set_lead(&team, &login, true)?;
                        } else {
                            storage.add_user(&user(&login, Role::Rep, Some(&team)))?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("seeding thread"))
    })?;
    Ok(dir)
}

/// A new in-memory device logged in as `login`.
async fn log_in(base: &str, login: &str) -> anyhow::Result<(Store, HttpClient)> {
    let store = Store::in_memory()?;
    let client = HttpClient::new(base);
    client
        .login(&store, login, PASSWORD, "load device")
        .await
        .with_context(|| format!("{login} logs in"))?;
    Ok((store, client))
}

/// Samples the server's resident memory, its page cache and index sizes (from its metrics)
/// and the tally every second until `deadline`; prints each minute's latency as it ends.
async fn sample(
    pid: u32,
    base: String,
    tally: Arc<Tally>,
    deadline: Instant,
) -> anyhow::Result<(Vec<Second>, Vec<Minute>)> {
    let http = reqwest::Client::new();
    let mut seconds = Vec::new();
    let mut minutes = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while Instant::now() < deadline {
        tick.tick().await;
        let scrape = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let gauge = |name: &str| {
            metric(&scrape, name)
                .map(|value| value as u64)
                .with_context(|| format!("{name} in the server's metrics"))
        };
        seconds.push(Second {
            page_cache: gauge("outpost_page_cache_bytes")?,
            accounts: gauge("outpost_indexed_accounts")?,
            rss: status_of(pid, "VmRSS:")?,
            syncs: tally.syncs.swap(0, Ordering::Relaxed),
            errors: tally.errors.swap(0, Ordering::Relaxed),
        });
        if seconds.len().is_multiple_of(MINUTE) {
            let latencies = std::mem::take(&mut *tally.minute.lock().expect("minute latencies"));
            let minute = Minute::of(seconds.len() / MINUTE, MINUTE, &latencies);
            println!("{}", minute.line());
            minutes.push(minute);
        }
    }
    Ok((seconds, minutes))
}

/// What the admin device found: accounts and edits checked.
#[derive(Debug)]
struct Checked {
    accounts: usize,
    edits: u64,
}

/// Every account each device holds is on the admin device with the same heads and value, and
/// the admin device holds every account, follow-up and note line the reps made.
fn check_nothing_lost(admin: &Store, devices: &[SimDevice], made: Made) -> anyhow::Result<Checked> {
    let mut seen = HashSet::new();
    for device in devices {
        for summary in device.store.accounts()? {
            let id = summary.id;
            ensure!(
                admin.heads(id).ok() == Some(device.store.heads(id)?),
                "account {id} of {} is not on the admin device with the same heads",
                device.login
            );
            ensure!(
                admin.account(id)? == device.store.account(id)?,
                "account {id} of {} differs on the admin device",
                device.login
            );
            seen.insert(id);
        }
    }
    let accounts = admin.accounts()?;
    let follow_ups: u64 = accounts.iter().map(|a| u64::from(a.follow_ups)).sum();
    let mut notes = 0;
    for summary in &accounts {
        let account = admin.account(summary.id)?;
        notes += account.record.notes.as_str().lines().count() as u64;
    }
    let found = Made {
        accounts: accounts.len() as u64,
        follow_ups,
        notes,
    };
    ensure!(
        (found.accounts, found.follow_ups, found.notes)
            == (made.accounts, made.follow_ups, made.notes),
        "the reps made {made:?}, the admin device holds {found:?}"
    );
    ensure!(
        seen.len() == accounts.len(),
        "the devices hold {} accounts, the admin device {}",
        seen.len(),
        accounts.len()
    );
    Ok(Checked {
        accounts: accounts.len(),
        edits: found.edits(),
    })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    ensure!(
        args.devices > MANAGERS_PER_TEAM,
        "at least {} devices (each team's first {MANAGERS_PER_TEAM} are managers)",
        MANAGERS_PER_TEAM + 1
    );
    println!(
        "Outpost load: {} devices for {} s, seed {}",
        args.devices, args.seconds, args.seed
    );
    println!("machine: {}", machine());
    progress(started, format!("seeding {} users", args.devices + 1));
    let data = seed_users(args.devices)?;
    let path = data.path().to_owned();
    let server = tokio::task::spawn_blocking(move || ServerProcess::start(&path, &[])).await?;
    let (pid, base) = (server.child.id(), format!("http://{}", server.addr));
    let rss_start = status_of(pid, "VmRSS:")?;

    progress(started, format!("logging {} devices in", args.devices));
    let mut devices: Vec<SimDevice> = futures_util::stream::iter(0..args.devices)
        .map(|n| {
            let base = base.clone();
            async move {
                let (login, manager, _) = member(n);
                let (store, client) = log_in(&base, &login).await?;
                let seed = args.seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                anyhow::Ok(SimDevice {
                    login,
                    manager,
                    store,
                    client,
                    workload: Workload::new(seed),
                    rng: StdRng::seed_from_u64(seed.rotate_left(17)),
                    own: Vec::new(),
                    made: Made::default(),
                    samples: Vec::new(),
                })
            }
        })
        .buffer_unordered(LOGINS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    devices.sort_by_key(|d| d.manager);
    let rss_logged_in = status_of(pid, "VmRSS:")?;

    progress(started, format!("load for {} s", args.seconds));
    let tally = Arc::new(Tally::default());
    let load_started = Instant::now();
    let deadline = load_started + Duration::from_secs(args.seconds);
    let sampler = tokio::spawn(sample(pid, base.clone(), tally.clone(), deadline));
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|device| tokio::spawn(device.run(deadline, tally.clone())))
        .collect();
    let mut devices = Vec::with_capacity(tasks.len());
    for task in tasks {
        devices.push(task.await??);
    }
    let elapsed = load_started.elapsed();
    let (seconds, mut minutes) = sampler.await??;
    // The syncs after the last whole minute: a partial minute, printed but not compared.
    let rest = std::mem::take(&mut *tally.minute.lock().expect("minute latencies"));
    if !rest.is_empty() {
        let minute = Minute::of(minutes.len() + 1, seconds.len() % MINUTE, &rest);
        println!("{}", minute.line());
        minutes.push(minute);
    }

    // Reps first (sorted so above), then the managers, who then hold the reps' last edits.
    progress(started, "final syncs");
    for device in &devices {
        device.final_sync().await?;
    }
    progress(started, "checking on the admin device");
    let (admin, admin_client) = log_in(&base, ADMIN).await?;
    admin_client.sync(&admin).await?;
    let mut made = Made::default();
    for device in &devices {
        made.add(device.made);
    }
    let checked = check_nothing_lost(&admin, &devices, made)?;
    let rss_end = status_of(pid, "VmRSS:")?;
    let rss_peak = status_of(pid, "VmHWM:")?;
    drop(server);
    progress(started, "done");

    let samples: Vec<&Sample> = devices.iter().flat_map(|d| &d.samples).collect();
    let latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    let mut errors = BTreeMap::<&str, u64>::new();
    for error in samples.iter().filter_map(|s| s.error.as_deref()) {
        *errors.entry(error).or_default() += 1;
    }
    let errors = if errors.is_empty() {
        "none".to_owned()
    } else {
        let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        kinds.join(", ")
    };
    let secs = elapsed.as_secs_f64();
    let syncs = samples.len() as u64;
    let moved: u64 = samples.iter().map(|s| s.bytes).sum();
    let managers = devices.iter().filter(|d| d.manager).count();
    let busiest = seconds.iter().map(|s| s.syncs).max().unwrap_or(0);
    let step = (seconds.len() / SERIES_POINTS).max(SERIES_STEP);
    let series: Vec<String> = seconds
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % step == 0)
        .map(|(i, s)| {
            format!(
                "{} s: {} ({} cached, {} accounts)",
                i + 1,
                mib(s.rss),
                mib(s.page_cache / 1024),
                count(s.accounts)
            )
        })
        .collect();
    let failed_seconds = seconds.iter().filter(|s| s.errors > 0).count();
    let whole: Vec<&Minute> = minutes.iter().filter(|m| m.seconds == MINUTE).collect();
    let drift = match (whole.first(), whole.last()) {
        (Some(first), Some(last)) if whole.len() > 1 => {
            let growth = last.p99.as_secs_f64() / first.p99.as_secs_f64().max(1e-9);
            let met = growth <= GROWTH_BAR && last.p99 < P99_BAR;
            format!(
                "{} vs {} ({growth:.2}x; bar: last within {GROWTH_BAR}x of first and under {} \
                 ms: {})",
                time(last.p99),
                time(first.p99),
                P99_BAR.as_millis(),
                if met { "met" } else { "NOT met" }
            )
        }
        _ => "n/a (fewer than two whole minutes)".to_owned(),
    };
    let per_minute: Vec<String> = minutes
        .iter()
        .map(|m| format!("{}: {} / {}", m.n, time(m.p50), time(m.p99)))
        .collect();
    let rows = [
        (
            "devices".to_owned(),
            format!(
                "{} ({} reps, {managers} managers, {} teams)",
                args.devices,
                args.devices - managers,
                args.devices.div_ceil(TEAM_SIZE)
            ),
        ),
        (
            "seconds (think time per device)".into(),
            format!("{secs:.1} ({}-{} ms)", THINK_MS.start, THINK_MS.end),
        ),
        (
            "syncs".into(),
            format!(
                "{} ({:.0}/s; busiest second {busiest})",
                count(syncs),
                syncs as f64 / secs
            ),
        ),
        (
            "edits".into(),
            format!(
                "{} ({:.0}/s: {} accounts, {} follow-ups, {} notes)",
                count(made.edits()),
                made.edits() as f64 / secs,
                count(made.accounts),
                count(made.follow_ups),
                count(made.notes)
            ),
        ),
        (
            "sync latency p50 / p95 / p99 / max".into(),
            format!(
                "{} / {} / {} / {}",
                time(percentile(&latencies, 50.0)),
                time(percentile(&latencies, 95.0)),
                time(percentile(&latencies, 99.0)),
                time(percentile(&latencies, 100.0))
            ),
        ),
        (
            "sync latency per minute, p50 / p99".into(),
            per_minute.join("; "),
        ),
        ("last whole minute's p99 vs first's".into(), drift),
        (
            "bytes per sync (sent + received)".into(),
            bytes(moved / syncs.max(1)),
        ),
        (
            "errors by kind".into(),
            format!("{errors} ({failed_seconds} seconds with errors)"),
        ),
        (
            "server RSS start / logged in / peak / end".into(),
            format!(
                "{} / {} / {} / {}",
                mib(rss_start),
                mib(rss_logged_in),
                mib(rss_peak),
                mib(rss_end)
            ),
        ),
        (
            "server RSS over time (page cache held, accounts indexed)".into(),
            series.join("; "),
        ),
        (
            "nothing lost".into(),
            format!(
                "yes ({} accounts, {} edits checked)",
                count(checked.accounts as u64),
                count(checked.edits)
            ),
        ),
    ];
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    for (figure, value) in rows {
        println!("| {figure} | {value} |");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(&args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
