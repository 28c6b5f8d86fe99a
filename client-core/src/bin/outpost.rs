//! `outpost`: the field rep's command line. It keeps customer accounts in a store on this
//! device, so they can be created, edited and followed up with offline, and syncs them with
//! the Outpost server whenever a connection exists.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use clap::{ArgGroup, Parser, Subcommand};
use outpost_client::{
    Account, AccountEdit, ContactMethod, HttpClient, NewAccount, NewFollowUp, Store, StoreError,
    SyncReport,
};
use outpost_protocol::DocId;
use serde::Serialize;

/// Your customer accounts, on this device, synced with the Outpost server.
///
/// Everything works offline: changes are kept on the device and sent the next time you run
/// `outpost sync` (or while `outpost watch` runs).
#[derive(Debug, Parser)]
#[command(name = "outpost", version)]
struct Cli {
    /// Folder where this device keeps its accounts (created if missing).
    #[arg(
        long,
        global = true,
        env = "OUTPOST_STORE",
        default_value = "./outpost-device"
    )]
    store: PathBuf,

    /// Address of the Outpost server to sync with.
    #[arg(
        long,
        global = true,
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
    Create {
        /// Customer name, as you want to see it in lists.
        #[arg(long)]
        name: String,
        /// Rep responsible for the account.
        #[arg(long)]
        owner: String,
        /// Sales region or territory.
        #[arg(long)]
        region: Option<String>,
        /// Print `{"id": "..."}` instead of the bare id.
        #[arg(long)]
        json: bool,
    },

    /// Change an account's name, owner or region.
    #[command(group = ArgGroup::new("change").required(true).multiple(true))]
    Set {
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
    },

    /// Log a contact with a customer, such as `outpost log 1a2b called about the renewal`.
    Log {
        /// Account id, or its first few characters (at least 4).
        id: String,
        /// What happened, in a few words (no quotes needed).
        #[arg(required = true)]
        summary: Vec<String>,
        /// How you reached them: phone, messaging, email, visit or video.
        #[arg(long, default_value = "visit")]
        method: ContactMethod,
        /// When it happened, if not just now: "2025-03-14 09:30" (UTC) or RFC 3339.
        #[arg(long, value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
    },

    /// List every account on this device.
    List {
        /// Print the accounts as JSON.
        #[arg(long)]
        json: bool,
    },

    /// Show one account with its follow-ups, oldest first.
    Show {
        /// Account id, or its first few characters (at least 4).
        id: String,
        /// Print the account as JSON.
        #[arg(long)]
        json: bool,
    },

    /// Show what has not been synced yet and when this device last synced.
    Status {
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },

    /// Send your changes to the server and get everyone else's.
    Sync {
        /// Print the sync report as JSON.
        #[arg(long)]
        json: bool,
    },

    /// Keep syncing: sync now, then again whenever the server has news. Stop with Ctrl-C.
    Watch,
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
    let store = open_store(&cli.store)?;
    match cli.command {
        Command::Create {
            name,
            owner,
            region,
            json,
        } => {
            let id = store.create_account(
                &NewAccount {
                    name,
                    owner,
                    region,
                },
                now,
            )?;
            if json {
                print_json(&serde_json::json!({ "id": id.to_string() }))
            } else {
                println!("{id}");
                Ok(())
            }
        }
        Command::Set {
            id,
            name,
            owner,
            region,
        } => {
            let id = store.resolve(&id)?;
            let edits: Vec<AccountEdit> = [
                name.map(AccountEdit::SetName),
                owner.map(AccountEdit::SetOwner),
                region.map(AccountEdit::SetRegion),
            ]
            .into_iter()
            .flatten()
            .collect();
            edit_all(&store, id, &edits, now)?;
            println!("updated {}", store.account(id)?.name);
            Ok(())
        }
        Command::Log {
            id,
            summary,
            method,
            at,
        } => {
            let id = store.resolve(&id)?;
            let follow_up = NewFollowUp {
                occurred_at: at.unwrap_or(now),
                method,
                summary: summary.join(" "),
            };
            store.edit_account(id, &AccountEdit::LogFollowUp(follow_up), now)?;
            println!("logged {method} with {}", store.account(id)?.name);
            Ok(())
        }
        Command::List { json } => list(&store, json),
        Command::Show { id, json } => {
            let account = store.account(store.resolve(&id)?)?;
            if json {
                return print_json(&account);
            }
            show(&account);
            Ok(())
        }
        Command::Status { json } => status(&store, json),
        Command::Sync { json } => {
            let client = HttpClient::new(&cli.server);
            let report = runtime()?
                .block_on(client.sync(&store))
                .with_context(|| format!("sync with {} failed", cli.server))?;
            if json {
                return print_json(&report);
            }
            println!("{}", describe(&report));
            Ok(())
        }
        Command::Watch => {
            let client = HttpClient::new(&cli.server);
            runtime()?.block_on(async {
                tokio::select! {
                    result = watch(&client, &store) => {
                        result.with_context(|| format!("watching {} failed", cli.server))
                    }
                    stop = tokio::signal::ctrl_c() => stop.context("cannot listen for Ctrl-C"),
                }
            })
        }
    }
}

fn open_store(dir: &Path) -> Result<Store> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the store folder {}", dir.display()))?;
    let path = dir.join("store.redb");
    Store::open(&path).map_err(|e| {
        let hint = match e {
            StoreError::Storage(redb::Error::DatabaseAlreadyOpen) => {
                " (another outpost command, such as `outpost watch`, is using it)"
            }
            _ => "",
        };
        anyhow::Error::new(e).context(format!("cannot open the store {}{hint}", path.display()))
    })
}

/// Applies every edit, or none when one of them is invalid.
fn edit_all(store: &Store, id: DocId, edits: &[AccountEdit], now: DateTime<Utc>) -> Result<()> {
    // The store commits edits one at a time. Rehearsing them on a scratch account first keeps
    // `set --name ok --owner ""` from half-applying, without copying the field rules here.
    let scratch = Store::in_memory()?;
    let placeholder = NewAccount {
        name: "scratch".into(),
        owner: "scratch".into(),
        region: None,
    };
    let rehearsal = scratch.create_account(&placeholder, now)?;
    for edit in edits {
        scratch.edit_account(rehearsal, edit, now)?;
    }
    for edit in edits {
        store.edit_account(id, edit, now)?;
    }
    Ok(())
}

fn list(store: &Store, json: bool) -> Result<()> {
    let mut accounts = store.accounts()?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        println!("No accounts yet. Add one with `outpost create --name NAME --owner OWNER`.");
        return Ok(());
    }
    let width = |column: &str, cells: Vec<usize>| cells.into_iter().fold(column.len(), usize::max);
    let name_width = width(
        "NAME",
        accounts.iter().map(|a| a.name.chars().count()).collect(),
    );
    let owner_width = width(
        "OWNER",
        accounts.iter().map(|a| a.owner.chars().count()).collect(),
    );
    println!(
        "ID        {:name_width$}  {:owner_width$}  FOLLOW-UPS  LAST (UTC)",
        "NAME", "OWNER"
    );
    for a in &accounts {
        let last = a
            .last_follow_up
            .map_or_else(|| "-".to_owned(), |t| minutes(t).to_string());
        println!(
            "{}  {:name_width$}  {:owner_width$}  {:>10}  {last}",
            short(a.id),
            a.name,
            a.owner,
            a.follow_ups,
        );
    }
    Ok(())
}

fn show(account: &Account) {
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
    } else {
        println!("Follow-ups (UTC, oldest first):");
        for f in &account.follow_ups {
            println!(
                "  {}  {:<9}  {}",
                minutes(f.occurred_at),
                f.method.to_string(),
                f.summary
            );
        }
    }
}

fn status(store: &Store, json: bool) -> Result<()> {
    let status = store.status()?;
    if json {
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
    match status.last_sync {
        Some(at) => println!("last sync   {} UTC", minutes(at)),
        None => println!("last sync   never"),
    }
    Ok(())
}

/// Follows the server's live stream, syncing whenever it announces changes this device lacks.
async fn watch(client: &HttpClient, store: &Store) -> Result<()> {
    // Subscribing before the first sync means a change committed in between is announced
    // rather than missed until the next one.
    let mut notifications = client.subscribe(store.device()).await?;
    println!("{}", describe(&client.sync(store).await?));
    while let Some(seq) = notifications.next().await? {
        // Positions at or below the checkpoint (often our own pushes echoed back) are already here.
        if seq <= store.status()?.checkpoint {
            continue;
        }
        println!("{}", describe(&client.sync(store).await?));
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
    let mut line = format!(
        "synced in {} {trips}: pushed {}, received {}, refused {}; {} bytes sent, {} received",
        report.round_trips,
        report.pushed.len(),
        report.received.len(),
        report.refused.len(),
        report.bytes_sent,
        report.bytes_received,
    );
    for (id, reason) in &report.refused {
        line.push_str(&format!("; refused {}: {reason}", short(*id)));
    }
    line
}

/// The first 8 hex digits of an id: enough to tell a rep's accounts apart, and to type.
fn short(id: DocId) -> String {
    id.to_string()[..8].to_owned()
}

fn minutes(t: DateTime<Utc>) -> impl std::fmt::Display {
    t.format("%Y-%m-%d %H:%M")
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
