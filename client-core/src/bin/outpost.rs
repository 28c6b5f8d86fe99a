//! `outpost`: the field rep's command line. It keeps customer accounts in a store on this
//! device, so a rep can work through the day offline: see what is due, log visits and calls,
//! plan the next contact, move opportunities, convert leads, mark accounts lost. Everything
//! syncs with the Outpost server whenever a connection exists.
//!
//! Times are UTC throughout. The clock is read once per command, in `main`, and passed down.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand};
use outpost_client::account::{AccountSummary, NewOpportunity};
use outpost_client::conflicts::Conflict;
use outpost_client::facts::{self, Facts};
use outpost_client::model::{
    Attitude, Contact, ContactMethod, Day, Deal, Kind, Level, Money, Needs, Payment, Priority,
    Role, Service, Source, Stage, Status,
};
use outpost_client::{
    Account, AccountEdit, EditError, HttpClient, NewAccount, NewFollowUp, Store, StoreError,
    SyncReport,
};
use outpost_protocol::DocId;
use serde::Serialize;

/// Prints a line on stdout like `println!`, but ends the command quietly when the reader has
/// gone (`outpost list | head -3`) instead of panicking.
macro_rules! out {
    () => {
        emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

fn emit(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Your customer accounts, on this device, synced with the Outpost server.
///
/// Everything works offline: changes stay on this device until the next `outpost sync`
/// (or while `outpost watch` runs) sends them. Start the day with `outpost today`.
///
/// ACCOUNT is an account's id or its first few characters (at least 4), as `outpost list`
/// shows it. Contacts, plans and opportunities inside an account are named the same way, by
/// the ids `outpost show ACCOUNT` prints. Times are UTC: "2025-03-14 09:30".
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
    /// What to do today: overdue accounts first, then those due today.
    Today(TodayArgs),
    /// Log a visit or call in one line: `outpost log 1a2b --method phone price ok, wants demo`.
    Log(LogArgs),
    /// Plan the next contact: `outpost plan 1a2b --due "2025-03-20 10:00" confirm budget`.
    ///
    /// `outpost plan done ACCOUNT PLAN` marks a planned contact as done.
    Plan(PlanArgs),
    /// Show one account in full: profile, contacts, follow-ups, plans, opportunities, what is
    /// due, and any conflicts.
    Show(ShowArgs),
    /// List every account on this device.
    List(Output),
    /// Find accounts by name, code or owner.
    Search(SearchArgs),
    /// Add a customer (or, with --lead, a lead) and print its id.
    Create(Box<CreateArgs>),
    /// Change an account's profile: name, owner, region, level, priority, notes, custom fields.
    Set(Box<SetArgs>),
    /// Record what the customer needs and can spend.
    Needs(NeedsArgs),
    /// Add, change or remove the people you deal with at a customer.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Add an opportunity (a possible sale) to an account.
    #[command(subcommand)]
    Opportunity(OpportunityCommand),
    /// Move an opportunity to another stage: `outpost move 1a2b 9f8e negotiation`.
    Move(MoveArgs),
    /// Record a closed sale.
    Deal(DealArgs),
    /// Record after-sales service given to a customer.
    Service(ServiceArgs),
    /// Convert a lead into a customer (status intent), keeping its history.
    Convert(ConvertArgs),
    /// Mark an account lost, with the reason: `outpost lost 1a2b chose a competitor`.
    Lost(LostArgs),
    /// Put a lead to sleep until a wake-up date; it shows up in `today` on that day.
    Dormant(DormantArgs),
    /// Show what has not been synced yet; or, with ACCOUNT STATUS, change an account's status.
    Status(StatusArgs),
    /// List fields that two devices changed at the same time, with each value.
    Conflicts(ConflictsArgs),
    /// Settle a conflict by keeping one of its values: `outpost settle 1a2b name 1`.
    Settle(SettleArgs),
    /// Print the CSV import template: the columns and one example row.
    Template,
    /// Import accounts from a CSV file (check it first with --dry-run). A file with any bad
    /// row imports nothing; rows that look like existing accounts are skipped and listed.
    Import(ImportArgs),
    /// Export every account as CSV, to a file or the screen.
    Export(ExportArgs),
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
struct TodayArgs {
    /// Only accounts this rep owns.
    #[arg(long)]
    owner: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The CSV file, with a header row.
    file: PathBuf,
    /// Which template column each of the file's columns fills: `Company=name,Rep=owner`.
    /// Columns already named like the template need no mapping.
    #[arg(long, value_name = "COLUMN=field,...", default_value = "")]
    map: outpost_client::csv_io::Mapping,
    /// Check the file and report what would happen, without importing anything.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Write to this file instead of the screen.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// Part of a name, code or owner, in any case (no quotes needed).
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// Full registered name of the customer.
    #[arg(long)]
    name: String,
    /// Rep responsible for the account.
    #[arg(long)]
    owner: String,
    /// Enter a lead (a prospect still to qualify): its first follow-up is due within 24 h.
    #[arg(long)]
    lead: bool,
    /// Sales region or territory.
    #[arg(long)]
    region: Option<String>,
    /// Industry, such as "Manufacturing / New-energy vehicles".
    #[arg(long)]
    industry: Option<String>,
    /// Headcount or revenue band, such as "100-500".
    #[arg(long)]
    size: Option<String>,
    /// Where it came from: trade_show, referral, online_campaign, inbound or cold_visit.
    #[arg(long)]
    source: Option<Source>,
    /// Day of the first contact, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    first_contact: Option<Day>,
    /// How much the account matters: key, normal or growth.
    #[arg(long)]
    level: Option<Level>,
    /// A (closes within a month, 70 %+), B, C or D (no clear need).
    #[arg(long)]
    priority: Option<Priority>,
    /// Name of your first contact person there.
    #[arg(long, value_name = "NAME")]
    contact_name: Option<String>,
    /// The contact's work phone.
    #[arg(long, value_name = "PHONE", requires = "contact_name")]
    contact_phone: Option<String>,
    /// The contact's work email.
    #[arg(long, value_name = "EMAIL", requires = "contact_name")]
    contact_email: Option<String>,
    /// The contact's job title.
    #[arg(long, value_name = "TITLE", requires = "contact_name")]
    contact_title: Option<String>,
    /// The contact's part in the deal: decision_maker, executor or influencer.
    #[arg(long, value_name = "ROLE", requires = "contact_name")]
    contact_role: Option<Role>,
    /// Create it even if it looks like an account already on this device.
    #[arg(long)]
    anyway: bool,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
struct SetArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
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
    /// Industry, such as "Manufacturing / New-energy vehicles".
    #[arg(long, group = "change")]
    industry: Option<String>,
    /// Headcount or revenue band, such as "100-500".
    #[arg(long, group = "change")]
    size: Option<String>,
    /// trade_show, referral, online_campaign, inbound or cold_visit.
    #[arg(long, group = "change")]
    source: Option<Source>,
    /// Day of the first contact, YYYY-MM-DD.
    #[arg(long, group = "change", value_name = "DATE", value_parser = parse_day)]
    first_contact: Option<Day>,
    /// key, normal or growth.
    #[arg(long, group = "change")]
    level: Option<Level>,
    /// A, B, C or D.
    #[arg(long, group = "change")]
    priority: Option<Priority>,
    /// Replace the account's notes with this text.
    #[arg(long, group = "change", value_name = "TEXT")]
    notes: Option<String>,
    /// Set a custom field, such as `--custom wechat=harborfoods`; `--custom wechat=` removes
    /// it. Repeat for several fields.
    #[arg(long, group = "change", value_name = "FIELD=VALUE", value_parser = parse_custom)]
    custom: Vec<(String, Option<String>)>,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
struct NeedsArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// What the customer says they need. An empty value ("") clears a field.
    #[arg(long, group = "change", value_name = "TEXT")]
    explicit: Option<String>,
    /// Needs you see that they have not voiced.
    #[arg(long, group = "change", value_name = "TEXT")]
    latent: Option<String>,
    /// What hurts today.
    #[arg(long, group = "change", value_name = "TEXT")]
    pain_points: Option<String>,
    /// Lowest budget, such as 10000 or 10000.50 (needs --currency).
    #[arg(long, group = "change", value_name = "AMOUNT", value_parser = parse_amount, requires = "currency")]
    budget_min: Option<i64>,
    /// Highest budget (needs --currency).
    #[arg(long, group = "change", value_name = "AMOUNT", value_parser = parse_amount, requires = "currency")]
    budget_max: Option<i64>,
    /// Currency of the budget, such as EUR.
    #[arg(long, value_parser = parse_currency)]
    currency: Option<String>,
    /// When they expect to buy: a month (2025-03) or a quarter (2025-Q2).
    #[arg(long, group = "change", value_name = "PERIOD")]
    purchase_period: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ContactCommand {
    /// Add a person at the customer and print the contact's id.
    Add(ContactAddArgs),
    /// Change a contact; fields left out stay as they are, "" clears one.
    Edit(ContactEditArgs),
    /// Remove a contact.
    Remove {
        /// The account.
        #[arg(value_name = "ACCOUNT")]
        id: String,
        /// The contact's id, or its first few characters.
        #[arg(value_name = "CONTACT")]
        contact: String,
    },
}

#[derive(Debug, Args)]
struct ContactAddArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// The person's name.
    #[arg(long)]
    name: String,
    /// Job title.
    #[arg(long)]
    title: Option<String>,
    /// Part in the deal: decision_maker, executor or influencer.
    #[arg(long)]
    role: Option<Role>,
    /// Work phone (never a private number).
    #[arg(long)]
    phone: Option<String>,
    /// Work email.
    #[arg(long)]
    email: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
struct ContactEditArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// The contact's id, or its first few characters.
    #[arg(value_name = "CONTACT")]
    contact: String,
    /// The person's name.
    #[arg(long, group = "change")]
    name: Option<String>,
    /// Job title.
    #[arg(long, group = "change")]
    title: Option<String>,
    /// Part in the deal: decision_maker, executor or influencer.
    #[arg(long, group = "change")]
    role: Option<String>,
    /// Work phone.
    #[arg(long, group = "change")]
    phone: Option<String>,
    /// Work email.
    #[arg(long, group = "change")]
    email: Option<String>,
}

#[derive(Debug, Args)]
struct LogArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// What happened, in a few words (no quotes needed): what they said, what you offered,
    /// what was agreed.
    #[arg(required = true)]
    summary: Vec<String>,
    /// How you reached them: phone, messaging, email, visit or video.
    #[arg(long, default_value = "visit")]
    method: ContactMethod,
    /// When it happened, if not just now: "2025-03-14 09:30" (UTC) or RFC 3339. Logged more
    /// than 24 h later, it is flagged as late.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
    /// How they took it: positive, hesitant or refused.
    #[arg(long)]
    attitude: Option<Attitude>,
    /// What happens next, such as "send the revised quote".
    #[arg(long, value_name = "ACTION")]
    next: Option<String>,
    /// When the next action is due, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    next_due: Option<Day>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct PlanArgs {
    #[command(subcommand)]
    command: Option<PlanCommand>,
    /// The account.
    #[arg(value_name = "ACCOUNT", required = true)]
    id: Option<String>,
    /// When to make contact: "2025-03-20 10:00" (UTC), or a day (09:00 UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_due, required = true)]
    due: Option<DateTime<Utc>>,
    /// How: phone, messaging, email, visit or video.
    #[arg(long, default_value = "phone")]
    method: ContactMethod,
    /// Who makes the contact (default: the account's owner).
    #[arg(long)]
    owner: Option<String>,
    /// The goal of the contact, such as "confirm budget" (no quotes needed).
    #[arg(required = true)]
    goal: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Mark a planned contact as done (log the contact itself with `outpost log`).
    Done {
        /// The account.
        #[arg(value_name = "ACCOUNT")]
        id: String,
        /// The plan's id, or its first few characters.
        #[arg(value_name = "PLAN")]
        plan: String,
    },
}

#[derive(Debug, Subcommand)]
enum OpportunityCommand {
    /// Add an opportunity and print its id.
    Add(OpportunityAddArgs),
}

#[derive(Debug, Args)]
struct OpportunityAddArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// What is being sold, such as "2025 equipment purchase".
    #[arg(long)]
    name: String,
    /// Rep responsible (default: the account's owner).
    #[arg(long)]
    owner: Option<String>,
    /// potential, needs_confirmed, solution_accepted, negotiation, won or lost.
    #[arg(long, default_value = "potential")]
    stage: Stage,
    /// Percent likely to close (default: the stage's usual figure).
    #[arg(long, value_name = "PERCENT")]
    probability: Option<u8>,
    #[command(flatten)]
    amount: AmountArgs,
    /// Expected close day, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    close: Option<Day>,
}

/// An optional amount of money, typed as decimal text with its currency.
#[derive(Debug, Args)]
struct AmountArgs {
    /// The amount, such as 12000 or 12000.50 (needs --currency).
    #[arg(long, value_parser = parse_amount, requires = "currency")]
    amount: Option<i64>,
    /// Currency of the amount, such as EUR.
    #[arg(long, value_parser = parse_currency, requires = "amount")]
    currency: Option<String>,
}

#[derive(Debug, Args)]
struct MoveArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// The opportunity's id, or its first few characters.
    #[arg(value_name = "OPPORTUNITY")]
    opportunity: String,
    /// potential, needs_confirmed, solution_accepted, negotiation, won or lost. Won needs
    /// --amount, --currency and --signed; lost needs --reason.
    stage: Stage,
    /// Percent likely to close (default: the stage's usual figure).
    #[arg(long, value_name = "PERCENT")]
    probability: Option<u8>,
    #[command(flatten)]
    amount: AmountArgs,
    /// Day the contract was signed, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    signed: Option<Day>,
    /// Why it was lost or paused.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Debug, Args)]
struct DealArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// Day the deal closed, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on: Day,
    /// Amount, such as 12000.50.
    #[arg(long, value_parser = parse_amount)]
    amount: i64,
    /// Currency of the amount, such as EUR.
    #[arg(long, value_parser = parse_currency)]
    currency: String,
    /// Products or services sold.
    #[arg(long, value_name = "TEXT")]
    products: String,
    /// online, offline or instalments.
    #[arg(long)]
    payment: Payment,
    /// Anything else worth keeping.
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
}

#[derive(Debug, Args)]
struct ServiceArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// Day of the service, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on: Day,
    /// What was done.
    #[arg(long, value_name = "TEXT")]
    work: String,
    /// How it turned out.
    #[arg(long, value_name = "TEXT")]
    result: String,
    /// Customer satisfaction, 1 (poor) to 5 (excellent).
    #[arg(long, value_name = "1-5")]
    satisfaction: Option<u8>,
    /// The next step.
    #[arg(long, value_name = "TEXT")]
    next: Option<String>,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// The lead.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// Day of the conversion, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on: Option<Day>,
}

#[derive(Debug, Args)]
struct LostArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// Why it was lost, such as "chose a competitor" (no quotes needed).
    #[arg(required = true)]
    reason: Vec<String>,
}

#[derive(Debug, Args)]
struct DormantArgs {
    /// The lead.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// Day to wake it up, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    until: Day,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// An account whose status to change (leave out to see the sync status).
    #[arg(value_name = "ACCOUNT", requires = "status")]
    id: Option<String>,
    /// The new status: to_follow or following for a lead; potential, intent or won for a
    /// customer. Use `outpost lost`, `outpost dormant` or `outpost convert` for the others.
    status: Option<Status>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct ConflictsArgs {
    /// Only this account (default: every account on this device).
    #[arg(value_name = "ACCOUNT")]
    id: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct SettleArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    id: String,
    /// The conflicted field, as `outpost conflicts` lists it (such as `name`).
    field: String,
    /// Which value to keep, by its number in `outpost conflicts` (0 is the one shown now).
    choice: usize,
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
        Command::Today(args) => today(&store()?, args, now),
        Command::Log(args) => log(&store()?, args, now),
        Command::Plan(args) => plan(&store()?, args, now),
        Command::Show(args) => show(&store()?, &args.id, args.output, now),
        Command::List(output) => list(&store()?, output),
        Command::Search(args) => search(&store()?, args),
        Command::Template => {
            out!("{}", outpost_client::csv_io::template().trim_end());
            Ok(())
        }
        Command::Import(args) => import(&store()?, args, now),
        Command::Export(args) => export(&store()?, args),
        Command::Create(args) => create(&store()?, *args, now),
        Command::Set(args) => set(&store()?, *args, now),
        Command::Needs(args) => needs(&store()?, args, now),
        Command::Contact(command) => contact(&store()?, command, now),
        Command::Opportunity(OpportunityCommand::Add(args)) => {
            add_opportunity(&store()?, args, now)
        }
        Command::Move(args) => move_opportunity(&store()?, args, now),
        Command::Deal(args) => deal(&store()?, args, now),
        Command::Service(args) => service(&store()?, args, now),
        Command::Convert(args) => {
            let on = args.on.unwrap_or(Day(now.date_naive()));
            let store = store()?;
            let name = edit(&store, &args.id, AccountEdit::ConvertLead { on }, now)?;
            out!("converted {name} to a customer (status intent) on {on}");
            Ok(())
        }
        Command::Lost(args) => {
            let reason = args.reason.join(" ");
            let lost = AccountEdit::MarkLost {
                reason: reason.clone(),
            };
            let name = edit(&store()?, &args.id, lost, now)?;
            out!("marked {name} lost: {}", reason.trim());
            Ok(())
        }
        Command::Dormant(args) => {
            let dormant = AccountEdit::MarkDormant {
                wake_up_on: args.until,
            };
            let name = edit(&store()?, &args.id, dormant, now)?;
            out!("{name} is dormant until {}", args.until);
            Ok(())
        }
        Command::Status(StatusArgs {
            id: Some(id),
            status: Some(new),
            ..
        }) => set_status(&store()?, &id, new, now),
        Command::Status(args) => status(&store()?, args.output),
        Command::Conflicts(args) => conflicts(&store()?, args),
        Command::Settle(args) => settle(&store()?, args, now),
        Command::Sync(output) => sync(&store()?, &cli.server, output),
        // Opens the store only while it syncs, so other commands can use it meanwhile.
        Command::Watch => watch(&cli.store, &cli.server),
    }
}

// Opening the store.

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
    anyhow!(
        "cannot open the store {}: another outpost command is still using it after {:.1} \
         seconds; try again once it has finished",
        dir.join("store.redb").display(),
        waited.as_secs_f64(),
    )
}

// Changing accounts.

/// Applies one edit to the account `id` names and returns the account's name.
fn edit(store: &Store, id: &str, edit: AccountEdit, now: DateTime<Utc>) -> Result<String> {
    let id = store.resolve(id)?;
    store.edit_account(id, &edit, now)?;
    Ok(store.account(id)?.record.name)
}

fn create(store: &Store, args: CreateArgs, now: DateTime<Utc>) -> Result<()> {
    let contact = args.contact_name.map(|name| Contact {
        name,
        title: args.contact_title,
        role: args.contact_role,
        phone: args.contact_phone,
        email: args.contact_email,
    });
    let new = NewAccount {
        name: args.name,
        owner: args.owner,
        kind: if args.lead {
            Kind::Lead
        } else {
            Kind::Customer
        },
        region: args.region,
        industry: args.industry,
        size: args.size,
        source: args.source,
        first_contact: args.first_contact,
        level: args.level,
        priority: args.priority,
        contact,
        ..NewAccount::default()
    };
    let created = if args.anyway {
        store.create_account_anyway(&new, now)
    } else {
        store.create_account(&new, now)
    };
    let id = match created {
        Ok(id) => id,
        Err(EditError::Duplicate { existing }) => {
            if args.output.json {
                print_json(&serde_json::json!({ "id": null, "duplicates": existing }))?;
            }
            eprintln!(
                "warning: `{}` looks like {} already on this device:",
                new.name.trim(),
                if existing.len() == 1 {
                    "an account"
                } else {
                    "accounts"
                }
            );
            let rows = existing
                .iter()
                .map(|a| {
                    vec![
                        short(a.id),
                        or_dash(a.code.as_deref()),
                        a.name.clone(),
                        format!("owner {}", a.owner),
                    ]
                })
                .collect();
            for line in table(None, rows) {
                eprintln!("  {line}");
            }
            bail!(
                "nothing created; work on the account above, or run the same command with \
                 --anyway if this really is another customer"
            );
        }
        Err(e) => return Err(e.into()),
    };
    if args.output.json {
        let code = store.account(id)?.record.code;
        return print_json(&serde_json::json!({ "id": id, "code": code }));
    }
    out!("{id}");
    Ok(())
}

fn set(store: &Store, args: SetArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let mut edits: Vec<AccountEdit> = [
        args.name.map(AccountEdit::SetName),
        args.owner.map(AccountEdit::SetOwner),
        args.region.map(AccountEdit::SetRegion),
        args.industry.map(AccountEdit::SetIndustry),
        args.size.map(AccountEdit::SetSize),
        args.source.map(AccountEdit::SetSource),
        args.first_contact.map(AccountEdit::SetFirstContact),
        args.level.map(AccountEdit::SetLevel),
        args.priority.map(AccountEdit::SetPriority),
        args.notes.map(AccountEdit::SetNotes),
    ]
    .into_iter()
    .flatten()
    .collect();
    edits.extend(
        args.custom
            .into_iter()
            .map(|(field, value)| AccountEdit::SetCustom { field, value }),
    );
    // All or nothing: `set --name ok --owner ""` changes nothing.
    store.edit_account_all(id, &edits, now)?;
    out!("updated {}", store.account(id)?.record.name);
    Ok(())
}

fn needs(store: &Store, args: NeedsArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let mut needs: Needs = store.account(id)?.record.needs;
    let update = |slot: &mut Option<String>, value: Option<String>| {
        if let Some(value) = value {
            *slot = (!value.is_empty()).then_some(value);
        }
    };
    update(&mut needs.explicit, args.explicit);
    update(&mut needs.latent, args.latent);
    update(&mut needs.pain_points, args.pain_points);
    update(&mut needs.purchase_period, args.purchase_period);
    if let Some(currency) = args.currency {
        let money = |minor| Money {
            minor,
            currency: currency.clone(),
        };
        if let Some(min) = args.budget_min {
            needs.budget_min = Some(money(min));
        }
        if let Some(max) = args.budget_max {
            needs.budget_max = Some(money(max));
        }
    }
    store.edit_account(id, &AccountEdit::SetNeeds(needs), now)?;
    out!("updated the needs of {}", store.account(id)?.record.name);
    Ok(())
}

fn contact(store: &Store, command: ContactCommand, now: DateTime<Utc>) -> Result<()> {
    match command {
        ContactCommand::Add(args) => {
            let id = store.resolve(&args.id)?;
            let contact = Contact {
                name: args.name,
                title: args.title,
                role: args.role,
                phone: args.phone,
                email: args.email,
            };
            let added = store.edit_account(id, &AccountEdit::AddContact(contact), now)?;
            out!("{}", added.context("the store returned no contact id")?);
        }
        ContactCommand::Edit(args) => {
            let id = store.resolve(&args.id)?;
            let account = store.account(id)?;
            let contact_id = entry_id(&account.record.contacts, "contact", &args.contact)?;
            let mut contact = account.record.contacts[&contact_id].clone();
            if let Some(name) = args.name {
                contact.name = name;
            }
            let clearable = |slot: &mut Option<String>, value: Option<String>| {
                if let Some(value) = value {
                    *slot = (!value.is_empty()).then_some(value);
                }
            };
            clearable(&mut contact.title, args.title);
            clearable(&mut contact.phone, args.phone);
            clearable(&mut contact.email, args.email);
            if let Some(role) = args.role {
                contact.role = if role.is_empty() {
                    None
                } else {
                    Some(role.parse().map_err(|e| anyhow!("invalid role: {e}"))?)
                };
            }
            let edit = AccountEdit::EditContact {
                id: contact_id,
                contact,
            };
            store.edit_account(id, &edit, now)?;
            out!("updated a contact of {}", account.record.name);
        }
        ContactCommand::Remove { id, contact } => {
            let id = store.resolve(&id)?;
            let account = store.account(id)?;
            let contact_id = entry_id(&account.record.contacts, "contact", &contact)?;
            let name = account.record.contacts[&contact_id].name.clone();
            store.edit_account(id, &AccountEdit::RemoveContact(contact_id), now)?;
            out!("removed {name} from {}", account.record.name);
        }
    }
    Ok(())
}

fn log(store: &Store, args: LogArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let occurred_at = args.at.unwrap_or(now);
    let follow_up = NewFollowUp {
        attitude: args.attitude,
        next_action: args.next,
        next_due: args.next_due,
        ..NewFollowUp::new(occurred_at, args.method.clone(), &args.summary.join(" "))
    };
    store.edit_account(id, &AccountEdit::LogFollowUp(follow_up), now)?;
    let name = store.account(id)?.record.name;
    if now - occurred_at > facts::LATE_AFTER {
        out!(
            "logged {} with {name}, flagged late: it happened more than 24 h ago",
            args.method
        );
    } else {
        out!("logged {} with {name}", args.method);
    }
    Ok(())
}

fn plan(store: &Store, args: PlanArgs, now: DateTime<Utc>) -> Result<()> {
    if let Some(PlanCommand::Done { id, plan }) = args.command {
        let id = store.resolve(&id)?;
        let account = store.account(id)?;
        let plan_id = entry_id(&account.record.plans, "plan", &plan)?;
        store.edit_account(id, &AccountEdit::CompletePlan(plan_id.clone()), now)?;
        let goal = &account.record.plans[&plan_id].goal;
        out!("done: {goal} ({})", account.record.name);
        return Ok(());
    }
    let (Some(id), Some(due)) = (args.id, args.due) else {
        bail!("give the account, --due and the goal, or `plan done ACCOUNT PLAN`");
    };
    let id = store.resolve(&id)?;
    let edit = AccountEdit::PlanFollowUp {
        due,
        method: args.method,
        goal: args.goal.join(" "),
        owner: args.owner,
    };
    let added = store.edit_account(id, &edit, now)?;
    out!("{}", added.context("the store returned no plan id")?);
    Ok(())
}

fn add_opportunity(store: &Store, args: OpportunityAddArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let owner = match args.owner {
        Some(owner) => owner,
        None => store.account(id)?.record.owner,
    };
    let new = NewOpportunity {
        name: args.name,
        stage: args.stage,
        probability: args.probability,
        amount: money(args.amount),
        expected_close: args.close,
        owner,
    };
    let added = store.edit_account(id, &AccountEdit::AddOpportunity(new), now)?;
    out!("{}", added.context("the store returned no opportunity id")?);
    Ok(())
}

fn move_opportunity(store: &Store, args: MoveArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let account = store.account(id)?;
    let opportunity = entry_id(
        &account.record.opportunities,
        "opportunity",
        &args.opportunity,
    )?;
    let edit = AccountEdit::MoveOpportunity {
        id: opportunity.clone(),
        stage: args.stage,
        probability: args.probability,
        amount: money(args.amount),
        signed_on: args.signed,
        lost_reason: args.reason,
    };
    store.edit_account(id, &edit, now)?;
    let moved = &store.account(id)?.record.opportunities[&opportunity];
    out!(
        "moved {} ({}) to {}, {} %",
        moved.name,
        account.record.name,
        moved.stage,
        moved.probability
    );
    Ok(())
}

fn deal(store: &Store, args: DealArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let deal = Deal {
        closed_on: args.on,
        amount: Money {
            minor: args.amount,
            currency: args.currency,
        },
        products: args.products,
        payment: args.payment,
        notes: args.notes,
    };
    let added = store.edit_account(id, &AccountEdit::RecordDeal(deal), now)?;
    out!("{}", added.context("the store returned no deal id")?);
    Ok(())
}

fn service(store: &Store, args: ServiceArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let service = Service {
        on: args.on,
        work: args.work,
        result: args.result,
        satisfaction: args.satisfaction,
        next_step: args.next,
    };
    let added = store.edit_account(id, &AccountEdit::RecordService(service), now)?;
    out!("{}", added.context("the store returned no service id")?);
    Ok(())
}

fn set_status(store: &Store, id: &str, new: Status, now: DateTime<Utc>) -> Result<()> {
    match new {
        Status::Lost => {
            bail!("invalid status: a lost account needs a reason: `outpost lost {id} REASON`")
        }
        Status::Dormant => {
            bail!(
                "invalid status: a dormant lead needs a wake-up day: `outpost dormant {id} --until DATE`"
            )
        }
        _ => {}
    }
    let name = edit(store, id, AccountEdit::SetStatus(new.clone()), now)?;
    out!("{name} is now {new}");
    Ok(())
}

fn settle(store: &Store, args: SettleArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let account = store.account(id)?;
    let kept = account
        .conflicts
        .iter()
        .find(|c| c.path == args.field)
        .and_then(|c| c.values.get(args.choice))
        .map(|v| v.value.clone());
    store.settle(id, &args.field, args.choice, now)?;
    let kept = kept.map_or_else(String::new, |v| format!(": kept `{v}`"));
    out!(
        "settled {} of {}{kept}; other devices agree once synced",
        args.field,
        account.record.name
    );
    Ok(())
}

/// The full id of the contact, plan or opportunity (`field`) that `typed` names: the id
/// itself, or its first few characters (at least 4) if only one id starts with them.
fn entry_id<T>(entries: &BTreeMap<String, T>, field: &str, typed: &str) -> Result<String> {
    let typed = typed.trim().to_lowercase();
    if entries.contains_key(&typed) {
        return Ok(typed);
    }
    let matching: Vec<&String> = entries.keys().filter(|k| k.starts_with(&typed)).collect();
    match matching.as_slice() {
        [] => bail!(
            "invalid {field}: this account has no {field} `{typed}`; `outpost show ACCOUNT` \
             lists them with their ids"
        ),
        _ if typed.len() < 4 => {
            bail!("invalid {field}: `{typed}` is too short; type at least 4 characters of the id")
        }
        [one] => Ok((*one).clone()),
        _ => bail!(
            "invalid {field}: {} {field} ids start with `{typed}`; type more of it",
            matching.len()
        ),
    }
}

fn money(AmountArgs { amount, currency }: AmountArgs) -> Option<Money> {
    Some(Money {
        minor: amount?,
        currency: currency?,
    })
}

// Reading accounts.

/// One line of the day's agenda.
#[derive(Debug, Serialize)]
struct Due<'a> {
    id: DocId,
    code: Option<&'a str>,
    name: &'a str,
    owner: &'a str,
    status: &'a str,
    priority: Option<&'a str>,
    next_due: DateTime<Utc>,
    overdue: bool,
}

fn today(store: &Store, args: TodayArgs, now: DateTime<Utc>) -> Result<()> {
    let tomorrow = now
        .date_naive()
        .checked_add_days(Days::new(1))
        .context("the date is out of range")?
        .and_time(NaiveTime::MIN)
        .and_utc();
    let accounts = store.accounts()?;
    let mut due: Vec<Due<'_>> = accounts
        .iter()
        .filter(|a| args.owner.as_deref().is_none_or(|o| a.owner == o))
        .filter_map(|a| {
            let next_due = a.next_due.filter(|d| *d < tomorrow)?;
            Some(Due {
                id: a.id,
                code: a.code.as_deref(),
                name: &a.name,
                owner: &a.owner,
                status: &a.status,
                priority: a.priority.as_deref(),
                next_due,
                overdue: next_due < now,
            })
        })
        .collect();
    // Longest overdue first; everything overdue is due before anything still due today.
    due.sort_by(|a, b| (a.next_due, a.name, a.id).cmp(&(b.next_due, b.name, b.id)));
    if args.output.json {
        return print_json(&due);
    }
    if due.is_empty() {
        out!("Nothing overdue and nothing due today.");
        return Ok(());
    }
    let headers = [
        "ID",
        "CODE",
        "NAME",
        "OWNER",
        "STATUS",
        "PRIORITY",
        "DUE (UTC)",
    ];
    for (title, overdue) in [("Overdue", true), ("Due today", false)] {
        let rows: Vec<Vec<String>> = due
            .iter()
            .filter(|d| d.overdue == overdue)
            .map(|d| {
                let late = if overdue {
                    format!("  ({} late)", ago(now - d.next_due))
                } else {
                    String::new()
                };
                vec![
                    short(d.id),
                    or_dash(d.code),
                    d.name.to_owned(),
                    d.owner.to_owned(),
                    d.status.to_owned(),
                    or_dash(d.priority).to_uppercase(),
                    format!("{}{late}", minutes(d.next_due)),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        out!("{title} ({})", rows.len());
        for line in table(Some(&headers), rows) {
            out!("  {line}");
        }
    }
    Ok(())
}

/// A duration as a rep would say it: "3 days", "5 h", "20 min".
fn ago(elapsed: chrono::TimeDelta) -> String {
    match (
        elapsed.num_days(),
        elapsed.num_hours(),
        elapsed.num_minutes(),
    ) {
        (1, _, _) => "1 day".to_owned(),
        (days, _, _) if days > 1 => format!("{days} days"),
        (_, hours, _) if hours >= 1 => format!("{hours} h"),
        (_, _, minutes) => format!("{minutes} min"),
    }
}

fn list(store: &Store, output: Output) -> Result<()> {
    let mut accounts = store.accounts()?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if output.json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        out!("No accounts yet. Add one with `outpost create --name NAME --owner OWNER`.");
        return Ok(());
    }
    print_accounts(&accounts);
    Ok(())
}

fn import(store: &Store, args: ImportArgs, now: DateTime<Utc>) -> Result<()> {
    use outpost_client::csv_io;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let checked = csv_io::check(store, std::io::BufReader::new(file), &args.map, now)?;
    let total = checked.importable();
    let mut bar = ProgressBar::new(total, !args.output.json && !args.dry_run);
    let report = csv_io::import(store, checked, args.dry_run, now, &mut |done| {
        bar.show(done)
    })?;
    bar.finish();
    if args.output.json {
        print_json(&report)?;
    } else {
        for e in &report.errors {
            out!("line {}: {}: {}", e.line, e.field, e.reason);
        }
        for d in &report.duplicates {
            out!(
                "line {}: skipped, looks like {}: {}",
                d.line,
                d.matches.join(", "),
                d.name
            );
        }
        let verb = if report.dry_run {
            "would import"
        } else {
            "imported"
        };
        let imported = if report.dry_run {
            report.importable
        } else {
            report.created
        };
        out!(
            "{} rows: {verb} {imported}, {} duplicate(s) skipped, {} bad row(s){}",
            report.rows,
            report.duplicates.len(),
            report.errors.len(),
            if report.errors.is_empty() {
                ""
            } else {
                "; nothing was imported, fix the rows above"
            }
        );
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} bad row(s) in {}",
            report.errors.len(),
            args.file.display()
        )
    }
}

fn export(store: &Store, args: ExportArgs) -> Result<()> {
    use outpost_client::csv_io;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let count = csv_io::export(store, std::io::BufWriter::new(file))?;
            eprintln!("exported {count} account(s) to {}", path.display());
        }
        None => {
            csv_io::export(store, std::io::stdout().lock())?;
        }
    }
    Ok(())
}

/// A one-line progress bar on stderr, for long imports.
struct ProgressBar {
    total: usize,
    shown: bool,
}

impl ProgressBar {
    fn new(total: usize, shown: bool) -> ProgressBar {
        ProgressBar {
            total,
            shown: shown && total >= 1000,
        }
    }

    fn show(&mut self, done: usize) {
        if self.shown {
            let width = 30;
            let filled = (done * width).checked_div(self.total).unwrap_or(width);
            eprint!(
                "\r[{}{}] {done}/{}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
        }
    }

    fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

fn search(store: &Store, args: SearchArgs) -> Result<()> {
    let wanted = args.text.join(" ").trim().to_lowercase();
    let mut found: Vec<AccountSummary> = store
        .accounts()?
        .into_iter()
        .filter(|a| {
            [Some(&a.name), a.code.as_ref(), Some(&a.owner)]
                .into_iter()
                .flatten()
                .any(|text| text.to_lowercase().contains(&wanted))
        })
        .collect();
    found.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if args.output.json {
        return print_json(&found);
    }
    if found.is_empty() {
        out!("No account's name, code or owner contains `{wanted}`.");
        return Ok(());
    }
    print_accounts(&found);
    Ok(())
}

fn print_accounts(accounts: &[AccountSummary]) {
    let headers = [
        "ID",
        "CODE",
        "NAME",
        "OWNER",
        "STATUS",
        "FOLLOW-UPS",
        "LAST (UTC)",
    ];
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                short(a.id),
                or_dash(a.code.as_deref()),
                a.name.clone(),
                a.owner.clone(),
                a.status.clone(),
                a.follow_ups.to_string(),
                a.last_follow_up.map_or_else(|| "-".to_owned(), minutes),
            ]
        })
        .collect();
    for line in table(Some(&headers), rows) {
        out!("{line}");
    }
}

fn show(store: &Store, id: &str, output: Output, now: DateTime<Utc>) -> Result<()> {
    let account = store.account(store.resolve(id)?)?;
    let facts = facts::facts(&account.record, now);
    if output.json {
        let mut value = serde_json::to_value(&account)?;
        value["facts"] = serde_json::to_value(&facts)?;
        return print_json(&value);
    }
    print_account(&account, &facts);
    Ok(())
}

fn print_account(account: &Account, facts: &Facts) {
    let doc = &account.record;
    let id8 = short(account.id);
    match &doc.code {
        Some(code) => out!("{}  ({code})", doc.name),
        None => out!("{}", doc.name),
    }
    let field = |label: &str, value: &str| out!("  {label:<14} {value}");
    field("id", &account.id.to_string());
    let mut lifecycle = format!("{} · {}", doc.kind, doc.status);
    if let Some(reason) = doc
        .lost_reason
        .as_ref()
        .filter(|_| doc.status == Status::Lost)
    {
        lifecycle += &format!(": {reason}");
    }
    if let Some(wake) = doc.wake_up_on.filter(|_| doc.status == Status::Dormant) {
        lifecycle += &format!(" until {wake}");
    }
    if let Some(on) = doc.converted_on {
        lifecycle += &format!(" · converted from lead on {on}");
        if let Some(days) = facts.conversion_days {
            lifecycle += &format!(" ({days} days)");
        }
    }
    field("status", &lifecycle);
    let level = doc.level.as_ref().map(|l| format!("level {l}"));
    let priority = doc
        .priority
        .as_ref()
        .map(|p| format!("priority {}", p.as_str().to_uppercase()));
    let ranking: Vec<String> = [level, priority].into_iter().flatten().collect();
    if !ranking.is_empty() {
        field("ranking", &ranking.join(" · "));
    }
    field("owner", &doc.owner);
    for (label, value) in [
        ("region", &doc.region),
        ("industry", &doc.industry),
        ("size", &doc.size),
    ] {
        if let Some(value) = value {
            field(label, value);
        }
    }
    if let Some(source) = &doc.source {
        field("source", source.as_str());
    }
    if let Some(day) = doc.first_contact {
        field("first contact", &day.to_string());
    }
    field("created", &format!("{} UTC", minutes(doc.created_at.0)));
    let next = match facts.next_due {
        Some(due) if facts.overdue => format!("{} UTC, OVERDUE", minutes(due)),
        Some(due) => format!("{} UTC", minutes(due)),
        None => "-".to_owned(),
    };
    field("next contact", &next);
    field("cadence", &format!("every {} days", facts.cadence_days));

    let needs = &doc.needs;
    let budget = match (&needs.budget_min, &needs.budget_max) {
        (Some(min), Some(max)) => Some(format!("{min} to {max}")),
        (Some(min), None) => Some(format!("from {min}")),
        (None, Some(max)) => Some(format!("up to {max}")),
        (None, None) => None,
    };
    let need_lines: Vec<(&str, String)> = [
        ("explicit", needs.explicit.clone()),
        ("latent", needs.latent.clone()),
        ("pain points", needs.pain_points.clone()),
        ("budget", budget),
        ("buys in", needs.purchase_period.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value?)))
    .collect();
    if !need_lines.is_empty() {
        out!("Needs");
        for (label, value) in need_lines {
            field(label, &value);
        }
    }

    let notes = doc.notes.as_str();
    if !notes.trim().is_empty() {
        out!("Notes");
        for line in notes.lines() {
            out!("  {line}");
        }
    }

    if !doc.contacts.is_empty() {
        out!("Contacts");
        for (id, c) in &doc.contacts {
            let mut parts = vec![c.name.clone()];
            parts.extend(c.title.clone());
            parts.extend(c.role.as_ref().map(ToString::to_string));
            parts.extend(c.phone.clone());
            parts.extend(c.email.clone());
            out!("  {}  {}", short_entry(id), parts.join(" · "));
        }
    }

    let follow_ups = account.follow_ups();
    if follow_ups.is_empty() {
        out!("No follow-ups yet.");
    } else {
        out!("Follow-ups (UTC, oldest first)");
        for (id, f) in follow_ups {
            let method = f.method.to_string();
            out!("  {}  {method:<9}  {}", minutes(f.occurred_at.0), f.summary);
            let mut details = Vec::new();
            details.extend(f.attitude.as_ref().map(|a| format!("attitude {a}")));
            match (&f.next_action, f.next_due) {
                (Some(action), Some(due)) => details.push(format!("next: {action} by {due}")),
                (Some(action), None) => details.push(format!("next: {action}")),
                (None, Some(due)) => details.push(format!("next contact by {due}")),
                (None, None) => {}
            }
            if facts.late_follow_ups.contains(id) {
                details.push(format!(
                    "LATE: logged {}, more than 24 h after",
                    minutes(f.recorded_at.0)
                ));
            }
            if !details.is_empty() {
                out!("  {:16}  {:9}  {}", "", "", details.join(" · "));
            }
        }
    }

    let mut open: Vec<_> = doc.plans.iter().filter(|(_, p)| !p.done).collect();
    open.sort_by_key(|(id, p)| (p.due, *id));
    if !open.is_empty() {
        out!("Planned contacts (UTC)");
        for (id, p) in open {
            out!(
                "  {}  {}  {:<9}  {} (by {})",
                short_entry(id),
                minutes(p.due.0),
                p.method.to_string(),
                p.goal,
                p.owner
            );
        }
    }

    if !doc.opportunities.is_empty() {
        out!("Opportunities");
        for (id, o) in &doc.opportunities {
            let mut parts = vec![format!("{} {} %", o.stage, o.probability)];
            parts.extend(o.amount.as_ref().map(ToString::to_string));
            parts.extend(o.expected_close.map(|d| format!("closes {d}")));
            parts.extend(o.signed_on.map(|d| format!("signed {d}")));
            parts.extend(o.lost_reason.as_ref().map(|r| format!("lost: {r}")));
            parts.push(format!("owner {}", o.owner));
            out!("  {}  {}: {}", short_entry(id), o.name, parts.join(" · "));
        }
    }

    if !doc.deals.is_empty() {
        out!("Deals");
        let mut deals: Vec<_> = doc.deals.iter().collect();
        deals.sort_by_key(|(id, d)| (d.closed_on, *id));
        for (id, d) in deals {
            let mut line = format!(
                "  {}  {}  {}  {} · paid {}",
                short_entry(id),
                d.closed_on,
                d.amount,
                d.products,
                d.payment
            );
            if let Some(notes) = &d.notes {
                line += &format!(" · {notes}");
            }
            out!("{line}");
        }
    }

    if !doc.services.is_empty() {
        out!("After-sales service");
        let mut services: Vec<_> = doc.services.iter().collect();
        services.sort_by_key(|(id, s)| (s.on, *id));
        for (id, s) in services {
            let mut line = format!("  {}  {}  {}: {}", short_entry(id), s.on, s.work, s.result);
            if let Some(score) = s.satisfaction {
                line += &format!(" · satisfaction {score}/5");
            }
            if let Some(next) = &s.next_step {
                line += &format!(" · next: {next}");
            }
            out!("{line}");
        }
    }

    if !doc.custom.is_empty() {
        out!("Custom fields");
        for (key, value) in &doc.custom {
            field(key, value);
        }
    }

    if !account.conflicts.is_empty() {
        out!("Conflicts: settle each with `outpost settle {id8} FIELD NUMBER`");
        print_conflicts(&account.conflicts, "  ");
    }
}

/// Lists conflicted fields, each value numbered as `outpost settle` takes it.
fn print_conflicts(conflicts: &[Conflict], indent: &str) {
    for conflict in conflicts {
        out!("{indent}{}", conflict.path);
        let rows = conflict
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let device: String = v.device.chars().take(8).collect();
                let at = v.at.map_or_else(|| "-".to_owned(), |t| minutes(t) + " UTC");
                let shown = if i == 0 { "(shown)" } else { "" };
                vec![
                    i.to_string(),
                    v.value.clone(),
                    shown.to_owned(),
                    format!("device {device}"),
                    at,
                ]
            })
            .collect();
        for line in table(None, rows) {
            out!("{indent}  {line}");
        }
    }
}

/// One conflicted field, for `conflicts --json`.
#[derive(Debug, Serialize)]
struct FieldConflict<'a> {
    id: DocId,
    code: Option<&'a str>,
    name: &'a str,
    #[serde(flatten)]
    conflict: &'a Conflict,
}

fn conflicts(store: &Store, args: ConflictsArgs) -> Result<()> {
    let ids = match &args.id {
        Some(id) => vec![store.resolve(id)?],
        None => {
            let mut summaries = store.accounts()?;
            summaries.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
            summaries.into_iter().map(|a| a.id).collect()
        }
    };
    let accounts: Vec<Account> = ids
        .into_iter()
        .map(|id| store.account(id))
        .collect::<Result<_, _>>()?;
    if args.output.json {
        let all: Vec<FieldConflict<'_>> = accounts
            .iter()
            .flat_map(|a| {
                a.conflicts.iter().map(|conflict| FieldConflict {
                    id: a.id,
                    code: a.record.code.as_deref(),
                    name: &a.record.name,
                    conflict,
                })
            })
            .collect();
        return print_json(&all);
    }
    let conflicted: Vec<&Account> = accounts
        .iter()
        .filter(|a| !a.conflicts.is_empty())
        .collect();
    if conflicted.is_empty() {
        out!("No conflicts.");
        return Ok(());
    }
    for account in &conflicted {
        out!("{}  {}", short(account.id), account.record.name);
        print_conflicts(&account.conflicts, "  ");
    }
    let first = &conflicted[0];
    out!(
        "Keep one value with `outpost settle ACCOUNT FIELD NUMBER`, such as `outpost settle {} {} 1`.",
        short(first.id),
        first.conflicts[0].path
    );
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
    out!("device      {}", status.device);
    out!("unsynced    {} account(s)", status.unsynced.len());
    for id in &status.unsynced {
        out!(
            "  {}  {}",
            short(*id),
            names.get(id).map_or("", String::as_str)
        );
    }
    out!("checkpoint  {}", status.checkpoint);
    let last_sync = status
        .last_sync
        .map_or_else(|| "never".to_owned(), |t| minutes(t) + " UTC");
    out!("last sync   {last_sync}");
    Ok(())
}

// Syncing.

fn sync(store: &Store, server: &str, output: Output) -> Result<()> {
    let report = runtime()?
        .block_on(HttpClient::new(server).sync(store))
        .with_context(|| format!("sync with {server} failed"))?;
    if output.json {
        return print_json(&report);
    }
    out!("{}", describe(&report));
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
    out!("{}", describe(&report));
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
        out!("{}", describe(&report));
    }
    out!("The server closed the live stream.");
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

// Formatting.

/// The first 8 hex digits of an id: enough to tell a rep's accounts apart, and to type.
fn short(id: DocId) -> String {
    id.to_string()[..8].to_owned()
}

/// The first 8 characters of a contact, plan or opportunity id.
fn short_entry(id: &str) -> String {
    id.chars().take(8).collect()
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

fn minutes(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Lines of a table with columns padded to their widest cell (the last column is not padded).
fn table(headers: Option<&[&str]>, rows: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if let Some(headers) = headers {
        all.push(headers.iter().map(|h| (*h).to_owned()).collect());
    }
    all.extend(rows);
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            all.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    all.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c + 1 == row.len() {
                        cell.clone()
                    } else {
                        format!("{cell:width$}", width = widths[c])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

fn print_json(value: &impl Serialize) -> Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

// Reading typed input.

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

/// The start of the working day a plan falls on when only the day is given.
const PLAN_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a time"),
};

/// Reads `--due`: a time as [`parse_time`] reads it, or a day (09:00 UTC).
fn parse_due(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text).or_else(|e| match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => Ok(day.and_time(PLAN_TIME).and_utc()),
        Err(_) => Err(format!("{e}, or a day YYYY-MM-DD")),
    })
}

/// Reads a day, `YYYY-MM-DD`.
fn parse_day(text: &str) -> Result<Day, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Day)
        .map_err(|_| format!("`{text}` is not a day written YYYY-MM-DD, such as 2025-03-14"))
}

/// Reads an amount typed as decimal text (`1234`, `1234.5`, `1234.56`) into integer minor
/// units, exactly: the digits are read as text, never through a float.
fn parse_amount(text: &str) -> Result<i64, String> {
    let typed = text.trim();
    let (whole, fraction) = typed.split_once('.').unwrap_or((typed, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed =
        !whole.is_empty() && digits(whole) && digits(fraction) && !(typed.ends_with('.'));
    if !well_formed {
        return Err(format!(
            "`{text}` is not an amount: write digits with an optional decimal point, such as \
             1234.56 (no sign, no thousands separators)"
        ));
    }
    if fraction.len() > 2 {
        return Err(format!(
            "`{text}` has more than 2 decimals; amounts are kept to the cent"
        ));
    }
    let cents: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| format!("`{text}` is not an amount"))?;
    whole
        .parse::<i64>()
        .ok()
        .and_then(|units| units.checked_mul(100))
        .and_then(|minor| minor.checked_add(cents))
        .ok_or_else(|| format!("`{text}` is too large an amount"))
}

/// Reads a currency code; `eur` is taken as `EUR`.
fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(format!("`{text}` is not a currency code such as EUR"))
    }
}

/// Reads `FIELD=VALUE` for a custom field; an empty value removes the field.
fn parse_custom(text: &str) -> Result<(String, Option<String>), String> {
    let (field, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FIELD=VALUE, such as wechat=harborfoods"))?;
    let field = field.trim();
    if field.is_empty() {
        return Err(format!("`{text}` has no field name before `=`"));
    }
    Ok((
        field.to_owned(),
        (!value.is_empty()).then(|| value.to_owned()),
    ))
}
