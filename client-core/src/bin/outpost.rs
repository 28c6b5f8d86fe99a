//! `outpost`: the field rep's command line. It keeps customer accounts in a store on this
//! device, so they can be created, edited and followed up with offline, and syncs them with
//! the Outpost server whenever a connection exists.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand};
use outpost_client::{
    AccountEdit, ContactMethod, HttpClient, NewAccount, NewFollowUp, Store, StoreError, SyncReport,
};
use outpost_protocol::DocId;
use serde::Serialize;

/// Your customer accounts, on this device, synced with the Outpost server.
///
/// Everything works offline: changes stay on this device until the next `outpost sync`
/// (or while `outpost watch` runs) sends them.
#[derive(Debug, Parser)]
#[command(name = "outpost", version)]
struct Cli {
    /// Folder where this device keeps its accounts (created if missing).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "OUTPOST_STORE",
        default_value = "./outpost-device"
    )]
    store: PathBuf,

    /// Address of the Outpost server to sync with.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "OUTPOST_SERVER",
        default_value = "http://127.0.0.1:7420"
    )]
    server: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a customer account and print its id.
    Create(CreateArgs),
    /// Change an account's name, owner or region.
    Set(SetArgs),
    /// Log a contact with a customer, such as `outpost log 1a2b called about the renewal`.
    Log(LogArgs),
    /// List every account on this device.
    List(Output),
    /// Show one account with its follow-ups, oldest first.
    Show {
        /// Account id, or its first few characters (at least 4).
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Show what has not been synced yet and when this device last synced.
    Status(Output),
    /// Send your changes to the server and get everyone else's.
    Sync(Output),
    /// Keep syncing: sync now, then again whenever the server has news. Stop with Ctrl-C.
    ///
    /// Other commands can use the store meanwhile: it is open only during each sync.
    Watch,
}

#[derive(Debug, Args)]
struct Output {
    /// Print JSON instead of text, for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Customer name, as you want to see it in lists.
    #[arg(long)]
    name: String,
    /// Rep responsible for the account.
    #[arg(long)]
    owner: String,
    /// Sales region or territory.
    #[arg(long)]
    region: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
struct SetArgs {
    /// Account id, or its first few characters (at least 4).
    id: String,
    /// New customer name.
    #[arg(long, group = "change")]
    name: Option<String>,
    /// New responsible rep.
    #[arg(long, group = "change")]
    owner: Option<String>,
    /// New region or territory.
    #[arg(long, group = "change")]
    region: Option<String>,
}

#[derive(Debug, Args)]
struct LogArgs {
    /// Account id, or its first few characters (at least 4).
    id: String,
    /// What happened, in a few words (no quotes needed).
    #[arg(required = true)]
    summary: Vec<String>,
    /// How you reached them: phone, messaging, email, visit or video.
    #[arg(long, default_value = "visit")]
    method: ContactMethod,
    /// When it happened, if not just now: "2025-03-14 09:30" (UTC) or RFC 3339.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli, Utc::now()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, now: DateTime<Utc>) -> Result<()> {
    let store = || open_store(&cli.store);
    match cli.command {
        Command::Create(args) => create(&store()?, args, now),
        Command::Set(args) => set(&store()?, args, now),
        Command::Log(args) => log(&store()?, args, now),
        Command::List(output) => list(&store()?, output),
        Command::Show { id, output } => show(&store()?, &id, output),
        Command::Status(output) => status(&store()?, output),
        Command::Sync(output) => sync(&store()?, &cli.server, output),
        // Opens the store only while it syncs, so other commands can use it meanwhile.
        Command::Watch => watch(&cli.store, &cli.server),
    }
}

/// How long to wait before each new attempt to open a store another process holds: a command
/// holds it for a moment, `watch` for the length of one sync. About 3 seconds in all.
const OPEN_RETRY_DELAYS: [Duration; 7] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
];

/// Opens the store in `dir`, waiting a little if another `outpost` command is using it.
fn open_store(dir: &Path) -> Result<Store> {
    for delay in OPEN_RETRY_DELAYS {
        if let Some(store) = try_open_store(dir)? {
            return Ok(store);
        }
        std::thread::sleep(delay);
    }
    try_open_store(dir)?.ok_or_else(|| store_busy(dir))
}

/// [`open_store`] for async code: waits without blocking the runtime.
async fn open_store_async(dir: &Path) -> Result<Store> {
    for delay in OPEN_RETRY_DELAYS {
        if let Some(store) = try_open_store(dir)? {
            return Ok(store);
        }
        tokio::time::sleep(delay).await;
    }
    try_open_store(dir)?.ok_or_else(|| store_busy(dir))
}

/// The store in `dir`, or `None` while another process has it open (redb locks the file).
fn try_open_store(dir: &Path) -> Result<Option<Store>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the store folder {}", dir.display()))?;
    let path = dir.join("store.redb");
    match Store::open(&path) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Storage(redb::Error::DatabaseAlreadyOpen)) => Ok(None),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot open the store {}", path.display())))
        }
    }
}

fn store_busy(dir: &Path) -> anyhow::Error {
    let waited: Duration = OPEN_RETRY_DELAYS.iter().sum();
    anyhow::anyhow!(
        "cannot open the store {}: another outpost command is still using it after {:.1} \
         seconds; try again once it has finished",
        dir.join("store.redb").display(),
        waited.as_secs_f64(),
    )
}

fn create(store: &Store, args: CreateArgs, now: DateTime<Utc>) -> Result<()> {
    let new = NewAccount {
        name: args.name,
        owner: args.owner,
        region: args.region,
    };
    let id = store.create_account(&new, now)?;
    if args.output.json {
        return print_json(&serde_json::json!({ "id": id }));
    }
    println!("{id}");
    Ok(())
}

fn set(store: &Store, args: SetArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let edits: Vec<AccountEdit> = [
        args.name.map(AccountEdit::SetName),
        args.owner.map(AccountEdit::SetOwner),
        args.region.map(AccountEdit::SetRegion),
    ]
    .into_iter()
    .flatten()
    .collect();
    // All or nothing: `set --name ok --owner ""` changes nothing.
    store.edit_account_all(id, &edits, now)?;
    println!("updated {}", store.account(id)?.name);
    Ok(())
}

fn log(store: &Store, args: LogArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let follow_up = NewFollowUp {
        occurred_at: args.at.unwrap_or(now),
        method: args.method,
        summary: args.summary.join(" "),
    };
    store.edit_account(id, &AccountEdit::LogFollowUp(follow_up), now)?;
    println!("logged {} with {}", args.method, store.account(id)?.name);
    Ok(())
}

fn list(store: &Store, output: Output) -> Result<()> {
    let mut accounts = store.accounts()?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if output.json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        println!("No accounts yet. Add one with `outpost create --name NAME --owner OWNER`.");
        return Ok(());
    }
    let widest = |header: &str, cells: &mut dyn Iterator<Item = &str>| {
        cells
            .map(|c| c.chars().count())
            .fold(header.len(), usize::max)
    };
    let name_width = widest("NAME", &mut accounts.iter().map(|a| a.name.as_str()));
    let owner_width = widest("OWNER", &mut accounts.iter().map(|a| a.owner.as_str()));
    println!(
        "ID        {:name_width$}  {:owner_width$}  FOLLOW-UPS  LAST (UTC)",
        "NAME", "OWNER"
    );
    for a in &accounts {
        let last = a.last_follow_up.map_or_else(|| "-".to_owned(), minutes);
        let (id, name, owner, count) = (short(a.id), &a.name, &a.owner, a.follow_ups);
        println!("{id}  {name:name_width$}  {owner:owner_width$}  {count:>10}  {last}");
    }
    Ok(())
}

fn show(store: &Store, id: &str, output: Output) -> Result<()> {
    let account = store.account(store.resolve(id)?)?;
    if output.json {
        return print_json(&account);
    }
    println!("{}", account.name);
    println!("  id       {}", account.id);
    println!("  owner    {}", account.owner);
    println!("  region   {}", account.region.as_deref().unwrap_or("-"));
    if let Some(created) = account.created_at {
        println!("  created  {} UTC", minutes(created));
    }
    for conflict in &account.conflicts {
        println!(
            "conflict: {}: {}",
            conflict.field,
            conflict.values.join(" | ")
        );
    }
    if account.follow_ups.is_empty() {
        println!("No follow-ups yet.");
        return Ok(());
    }
    println!("Follow-ups (UTC, oldest first):");
    for f in &account.follow_ups {
        let method = f.method.to_string();
        println!("  {}  {method:<9}  {}", minutes(f.occurred_at), f.summary);
    }
    Ok(())
}

fn status(store: &Store, output: Output) -> Result<()> {
    let status = store.status()?;
    if output.json {
        return print_json(&status);
    }
    let names: HashMap<DocId, String> = store
        .accounts()?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    println!("device      {}", status.device);
    println!("unsynced    {} account(s)", status.unsynced.len());
    for id in &status.unsynced {
        println!(
            "  {}  {}",
            short(*id),
            names.get(id).map_or("", String::as_str)
        );
    }
    println!("checkpoint  {}", status.checkpoint);
    let last_sync = status
        .last_sync
        .map_or_else(|| "never".to_owned(), |t| minutes(t) + " UTC");
    println!("last sync   {last_sync}");
    Ok(())
}

fn sync(store: &Store, server: &str, output: Output) -> Result<()> {
    let report = runtime()?
        .block_on(HttpClient::new(server).sync(store))
        .with_context(|| format!("sync with {server} failed"))?;
    if output.json {
        return print_json(&report);
    }
    println!("{}", describe(&report));
    Ok(())
}

fn watch(dir: &Path, server: &str) -> Result<()> {
    let client = HttpClient::new(server);
    runtime()?.block_on(async {
        tokio::select! {
            result = follow(&client, dir) => {
                result.with_context(|| format!("watching {server} failed"))
            }
            stop = tokio::signal::ctrl_c() => stop.context("cannot listen for Ctrl-C"),
        }
    })
}

/// Follows the server's live stream, syncing whenever it announces changes this device lacks.
/// The store is open only while it is read or synced, never while waiting for news.
async fn follow(client: &HttpClient, dir: &Path) -> Result<()> {
    let device = open_store_async(dir).await?.device();
    // Subscribing before the first sync means a change committed in between is announced
    // rather than missed until the next one.
    let mut notifications = client.subscribe(device).await?;
    let store = open_store_async(dir).await?;
    let report = client.sync(&store).await?;
    // Closed before the line is printed: a script that reads it may use the store at once.
    drop(store);
    println!("{}", describe(&report));
    while let Some(seq) = notifications.next().await? {
        let store = match open_store_async(dir).await {
            Ok(store) => store,
            Err(e) => {
                // Whatever this sync would have fetched, the next one fetches too.
                eprintln!("warning: skipped a sync: {e:#}; will sync at the server's next change");
                continue;
            }
        };
        // A position the checkpoint already covers (often our own push, echoed back) holds
        // nothing new.
        if seq <= store.status()?.checkpoint {
            continue;
        }
        let report = client.sync(&store).await?;
        drop(store);
        println!("{}", describe(&report));
    }
    println!("The server closed the live stream.");
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

/// One line saying what a sync did.
fn describe(report: &SyncReport) -> String {
    let trips = if report.round_trips == 1 {
        "round trip"
    } else {
        "round trips"
    };
    let refused: String = report
        .refused
        .iter()
        .map(|(id, reason)| format!("; refused {}: {reason}", short(*id)))
        .collect();
    format!(
        "synced in {} {trips}: pushed {}, received {}, refused {}; {} bytes sent, {} received{refused}",
        report.round_trips,
        report.pushed.len(),
        report.received.len(),
        report.refused.len(),
        report.bytes_sent,
        report.bytes_received,
    )
}

/// The first 8 hex digits of an id: enough to tell a rep's accounts apart, and to type.
fn short(id: DocId) -> String {
    id.to_string()[..8].to_owned()
}

fn minutes(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Reads `--at`: RFC 3339, or "YYYY-MM-DD HH:MM" taken as UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map(|t| t.and_utc()))
        .map_err(|_| {
            "expected \"YYYY-MM-DD HH:MM\" (UTC) or RFC 3339, such as 2025-03-14T09:30:00+01:00"
                .to_owned()
        })
}
