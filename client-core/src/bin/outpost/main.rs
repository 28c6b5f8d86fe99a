//! `outpost`: the field rep's command line. It keeps customer accounts in a store on this
//! device, so a rep can work through the day offline: see what is due, log visits and calls,
//! plan the next contact, move opportunities, convert leads, mark accounts lost. Everything
//! syncs with the Outpost server whenever a connection exists.
//!
//! Instants are stored as UTC; what a rep types and reads is local time, in the system's time
//! zone or `--tz` / `OUTPOST_TZ`. The clock and the zone are read once per command, in
//! `main`: the time is passed down, the zone set in `format` for everything printed and
//! passed to the library where it counts days.
//!
//! # Layout
//! - `args`: the command line as clap reads it, with its help text.
//! - `input`: reading typed values (times, days, amounts, entry ids).
//! - `store`: opening this device's store, waiting while another command holds it.
//! - `day`: the day's work: what is due, logging contacts, planning the next one.
//! - `records`: changing an account: profile, needs, contacts, sales, lifecycle.
//! - `show`: reading accounts: one in full, the list, a search.
//! - `conflicts`: listing and settling fields two devices changed at once.
//! - `csv_file`: the CSV template, import and export.
//! - `sync`: syncing with the server, once or continuously, and what is unsynced.
//! - `review`: the weekly review: submitting a week, the weeks' status and opinions.
//! - `format`: writing to the terminal: tables, short ids, JSON, control characters escaped.
//! - `i18n`: the CLI's messages in Chinese or English (Fluent), library errors worded in them.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Parser;

#[macro_use]
mod i18n;
#[macro_use]
mod format;

mod args;
mod conflicts;
mod csv_file;
mod day;
mod input;
mod password;
mod records;
mod review;
mod show;
mod store;
mod sync;

use args::{Cli, Command, OpportunityCommand, StatusArgs};
use store::open_store;

fn main() -> ExitCode {
    let cli = Cli::parse();
    format::set_zone(cli.tz.unwrap_or_else(system_zone));
    match run(cli, Utc::now()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note!("{}", t!("error-line", message = i18n::error(&e)));
            ExitCode::FAILURE
        }
    }
}

/// This system's time zone; UTC, with a warning, when it cannot be read or is not a zone
/// this build knows.
fn system_zone() -> chrono_tz::Tz {
    let name = iana_time_zone::get_timezone().map_err(|e| e.to_string());
    match name.and_then(|n| outpost_client::facts::zone(&n).map_err(|e| e.to_string())) {
        Ok(zone) => zone,
        Err(e) => {
            note!("{}", t!("warning-zone-unknown", reason = e));
            chrono_tz::Tz::UTC
        }
    }
}

fn run(cli: Cli, now: DateTime<Utc>) -> Result<()> {
    let store = || open_store(&cli.store);
    let remote = || sync::Remote::new(&cli.server, cli.ca_cert.as_deref(), cli.require_tls);
    match cli.command {
        Command::Today(args) => day::today(&store()?, args, now),
        Command::Log(args) => day::log(&store()?, args, now),
        Command::Plan(args) => day::plan(&store()?, args, now),
        Command::Show(args) => show::show(&store()?, &args.id, args.output, now),
        Command::List(output) => show::list(&store()?, output),
        Command::Search(args) => show::search(&store()?, args),
        Command::Template(args) => csv_file::template(args),
        Command::Import(args) => csv_file::import(&store()?, args, &remote, now),
        Command::Export(args) => csv_file::export(&store()?, args),
        Command::Create(args) => records::create(&store()?, *args, now),
        Command::Set(args) => records::set(&store()?, *args, now),
        Command::Needs(args) => records::needs(&store()?, args, now),
        Command::Contact(command) => records::contact(&store()?, command, now),
        Command::Opportunity(OpportunityCommand::Add(args)) => {
            records::add_opportunity(&store()?, args, now)
        }
        Command::Move(args) => records::move_opportunity(&store()?, args, now),
        Command::Deal(args) => records::deal(&store()?, args, now),
        Command::Service(args) => records::service(&store()?, args, now),
        Command::Convert(args) => records::convert(&store()?, args, now),
        Command::Lost(args) => records::lost(&store()?, args, now),
        Command::Dormant(args) => records::dormant(&store()?, args, now),
        Command::Status(StatusArgs {
            id: Some(id),
            status: Some(new),
            ..
        }) => records::set_status(&store()?, &id, new, now),
        Command::Status(args) => sync::status(&store()?, args.output),
        Command::Conflicts(args) => conflicts::conflicts(&store()?, args),
        Command::Settle(args) => conflicts::settle(&store()?, args, now),
        Command::Sync(output) => {
            let (store, remote) = (store()?, remote()?);
            let json = output.json;
            sync::sync(&store, &remote, output)?;
            // After the records: the weekly reviews' status, kept for `outpost review`.
            review::after_sync(&store, remote.client(), json)
        }
        Command::Review(args) => review::review(&store()?, &remote, args, now),
        Command::Login(args) => sync::login(&store()?, &remote()?, args),
        Command::Password => password::change(&store()?, &remote()?),
        Command::Rejected(args) => sync::rejected(&store()?, args),
        Command::History(args) => sync::history(&store()?, &remote()?, args),
        // Opens the store only while it syncs, so other commands can use it meanwhile.
        Command::Watch => sync::watch(&cli.store, &remote()?),
    }
}
