//! The command line as clap reads it: every command, its arguments and its help text.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use outpost_client::model::{
    Attitude, ContactMethod, Day, Level, Payment, Priority, Role, Source, Stage, Status,
};

use crate::input::{
    TypedTime, parse_amount, parse_currency, parse_custom, parse_day, parse_due, parse_time,
    parse_zone,
};

/// Your customer accounts, on this device, synced with the Outpost server.
///
/// Everything works offline: changes stay on this device until the next `outpost sync`
/// (or while `outpost watch` runs) sends them. Start the day with `outpost today`.
///
/// ACCOUNT is an account's id or its first few characters (at least 4), as `outpost list`
/// shows it. Contacts, plans and opportunities inside an account are named the same way, by
/// the ids `outpost show ACCOUNT` prints. Times are local (the system's time zone, or --tz): "2025-03-14 09:30".
#[derive(Debug, Parser)]
#[command(name = "outpost", version)]
pub(crate) struct Cli {
    /// Folder where this device keeps its accounts (created if missing).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "OUTPOST_STORE",
        default_value = "./outpost-device"
    )]
    pub(crate) store: PathBuf,

    /// Address of the Outpost server to sync with.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "OUTPOST_SERVER",
        default_value = "http://127.0.0.1:7420"
    )]
    pub(crate) server: String,

    /// A PEM certificate to trust for the server's TLS (a team CA or a self-signed server
    /// certificate), besides the system's.
    #[arg(long, global = true, value_name = "PEM", env = "OUTPOST_CA_CERT")]
    pub(crate) ca_cert: Option<PathBuf>,

    /// Refuse to talk to the server other than over https://.
    #[arg(long, global = true, env = "OUTPOST_REQUIRE_TLS")]
    pub(crate) require_tls: bool,

    /// The time zone times are typed and shown in, an IANA name such as Asia/Shanghai
    /// (default: this system's).
    #[arg(long, global = true, value_name = "ZONE", env = "OUTPOST_TZ", value_parser = parse_zone)]
    pub(crate) tz: Option<chrono_tz::Tz>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// The import template in your language (from the locale): the columns and one example
    /// row, on the screen or to a CSV or `.xlsx` file.
    Template(TemplateArgs),
    /// Import accounts from a CSV file (check it first with --dry-run). A file with any bad
    /// row imports nothing; rows that look like existing accounts are skipped and listed.
    Import(ImportArgs),
    /// Export every account as CSV, to a file or the screen.
    Export(ExportArgs),
    /// Log this device in (once): `outpost login --user ana`, password on standard input.
    ///
    /// The server issues a token for this device; sync and watch use it from then on.
    Login(LoginArgs),
    /// Change your password on the server: the current one, then the new one, each on a
    /// line of standard input (prompted on a terminal). This device stays logged in.
    Password,
    /// Edits the server did not accept, with why and what they changed, so you can redo them.
    ///
    /// `outpost rejected dismiss N` forgets one once you have redone it.
    Rejected(RejectedArgs),
    /// Who changed an account, what and when (from the server).
    History(ShowArgs),
    /// Send your changes to the server and get everyone else's.
    Sync(Output),
    /// The weekly review: your weeks with their status and your manager's opinions, as the
    /// last `outpost sync` fetched them (works offline).
    ///
    /// `outpost review submit [--week DAY]` submits a week's records (default: this week,
    /// Monday to Sunday in your time zone); it syncs first and needs the server.
    Review(ReviewArgs),
    /// Keep syncing: sync now, then again whenever the server has news. Stop with Ctrl-C.
    ///
    /// Other commands can use the store meanwhile: it is open only during each sync.
    Watch,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Your login on the server.
    #[arg(long)]
    pub(crate) user: String,
    /// A name for this device in your device list (default: the host name).
    #[arg(long)]
    pub(crate) label: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RejectedArgs {
    /// `dismiss N`: forget refused edit N.
    #[arg(value_name = "dismiss N", num_args = 0..=2)]
    pub(crate) dismiss: Vec<String>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct Output {
    /// Print JSON instead of text, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    #[command(subcommand)]
    pub(crate) command: Option<ReviewCommand>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewCommand {
    /// Submit a week's records for your manager's review (syncs first; needs the server).
    Submit {
        /// Any day of the week to submit, such as 2026-11-30 (default: this week).
        #[arg(long, value_name = "DAY", value_parser = parse_day)]
        week: Option<Day>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub(crate) struct TodayArgs {
    /// Only accounts this rep owns.
    #[arg(long)]
    pub(crate) owner: Option<String>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The CSV file or `.xlsx` workbook (its first sheet), with a header row; headers and
    /// values may be the template's codes or their Chinese labels.
    pub(crate) file: PathBuf,
    /// The CSV file's encoding, if detection guesses wrong: utf-8, gb18030 or gbk (by
    /// default a BOM decides, else valid UTF-8 is UTF-8, else GB18030 as Chinese Excel writes).
    #[arg(long, value_name = "ENCODING")]
    pub(crate) encoding: Option<outpost_client::csv_io::Encoding>,
    /// Which template column each of the file's columns fills: `Company=name,Rep=owner`.
    /// Columns already named like the template need no mapping.
    #[arg(long, value_name = "COLUMN=field,...", default_value = "")]
    pub(crate) map: outpost_client::csv_io::Mapping,
    /// Check the file and report what would happen, without importing anything.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to this file instead of the screen (a `.xlsx` name writes a workbook).
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// csv (UTF-8 with a BOM, as Excel reads it) or xlsx; by default from the file name.
    #[arg(long, value_enum)]
    pub(crate) format: Option<SheetFormat>,
}

/// The kind of file an export or template is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SheetFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Args)]
pub(crate) struct TemplateArgs {
    /// Write to this file instead of the screen (a `.xlsx` name writes a workbook).
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// csv (UTF-8 with a BOM) or xlsx; by default from the file name.
    #[arg(long, value_enum)]
    pub(crate) format: Option<SheetFormat>,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Part of a name, code or owner, in any case (no quotes needed).
    #[arg(required = true, value_name = "TEXT")]
    pub(crate) text: Vec<String>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Full registered name of the customer.
    #[arg(long)]
    pub(crate) name: String,
    /// Rep responsible for the account (default: you, as logged in).
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Enter a lead (a prospect still to qualify): its first follow-up is due within 24 h.
    #[arg(long)]
    pub(crate) lead: bool,
    /// Sales region or territory.
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// Industry, such as "Manufacturing / New-energy vehicles".
    #[arg(long)]
    pub(crate) industry: Option<String>,
    /// Headcount or revenue band, such as "100-500".
    #[arg(long)]
    pub(crate) size: Option<String>,
    /// Where it came from: trade_show, referral, online_campaign, inbound or cold_visit.
    #[arg(long)]
    pub(crate) source: Option<Source>,
    /// Day of the first contact, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) first_contact: Option<Day>,
    /// How much the account matters: key, normal or growth.
    #[arg(long)]
    pub(crate) level: Option<Level>,
    /// A (closes within a month, 70 %+), B, C or D (no clear need).
    #[arg(long)]
    pub(crate) priority: Option<Priority>,
    /// Name of your first contact person there.
    #[arg(long, value_name = "NAME")]
    pub(crate) contact_name: Option<String>,
    /// The contact's work phone.
    #[arg(long, value_name = "PHONE", requires = "contact_name")]
    pub(crate) contact_phone: Option<String>,
    /// The contact's work email.
    #[arg(long, value_name = "EMAIL", requires = "contact_name")]
    pub(crate) contact_email: Option<String>,
    /// The contact's job title.
    #[arg(long, value_name = "TITLE", requires = "contact_name")]
    pub(crate) contact_title: Option<String>,
    /// The contact's part in the deal: decision_maker, executor or influencer.
    #[arg(long, value_name = "ROLE", requires = "contact_name")]
    pub(crate) contact_role: Option<Role>,
    /// Create it even if it looks like an account already on this device.
    #[arg(long)]
    pub(crate) anyway: bool,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
pub(crate) struct SetArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// New customer name.
    #[arg(long, group = "change")]
    pub(crate) name: Option<String>,
    /// New responsible rep.
    #[arg(long, group = "change")]
    pub(crate) owner: Option<String>,
    /// New region or territory.
    #[arg(long, group = "change")]
    pub(crate) region: Option<String>,
    /// Industry, such as "Manufacturing / New-energy vehicles".
    #[arg(long, group = "change")]
    pub(crate) industry: Option<String>,
    /// Headcount or revenue band, such as "100-500".
    #[arg(long, group = "change")]
    pub(crate) size: Option<String>,
    /// trade_show, referral, online_campaign, inbound or cold_visit.
    #[arg(long, group = "change")]
    pub(crate) source: Option<Source>,
    /// Day of the first contact, YYYY-MM-DD.
    #[arg(long, group = "change", value_name = "DATE", value_parser = parse_day)]
    pub(crate) first_contact: Option<Day>,
    /// key, normal or growth.
    #[arg(long, group = "change")]
    pub(crate) level: Option<Level>,
    /// A, B, C or D.
    #[arg(long, group = "change")]
    pub(crate) priority: Option<Priority>,
    /// Replace the account's notes with this text.
    #[arg(long, group = "change", value_name = "TEXT")]
    pub(crate) notes: Option<String>,
    /// Set a custom field, such as `--custom wechat=harborfoods`; `--custom wechat=` removes
    /// it. Repeat for several fields.
    #[arg(long, group = "change", value_name = "FIELD=VALUE", value_parser = parse_custom)]
    pub(crate) custom: Vec<(String, Option<String>)>,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
pub(crate) struct NeedsArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// What the customer says they need. An empty value ("") clears a field.
    #[arg(long, group = "change", value_name = "TEXT")]
    pub(crate) explicit: Option<String>,
    /// Needs you see that they have not voiced.
    #[arg(long, group = "change", value_name = "TEXT")]
    pub(crate) latent: Option<String>,
    /// What hurts today.
    #[arg(long, group = "change", value_name = "TEXT")]
    pub(crate) pain_points: Option<String>,
    /// Lowest budget, such as 10000 or 10000.50 (needs --currency).
    #[arg(long, group = "change", value_name = "AMOUNT", value_parser = parse_amount, requires = "currency")]
    pub(crate) budget_min: Option<i64>,
    /// Highest budget (needs --currency).
    #[arg(long, group = "change", value_name = "AMOUNT", value_parser = parse_amount, requires = "currency")]
    pub(crate) budget_max: Option<i64>,
    /// Currency of the budget, such as EUR.
    #[arg(long, value_parser = parse_currency)]
    pub(crate) currency: Option<String>,
    /// When they expect to buy: a month (2025-03) or a quarter (2025-Q2).
    #[arg(long, group = "change", value_name = "PERIOD")]
    pub(crate) purchase_period: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContactCommand {
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
pub(crate) struct ContactAddArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// The person's name.
    #[arg(long)]
    pub(crate) name: String,
    /// Job title.
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// Part in the deal: decision_maker, executor or influencer.
    #[arg(long)]
    pub(crate) role: Option<Role>,
    /// Work phone (never a private number).
    #[arg(long)]
    pub(crate) phone: Option<String>,
    /// Work email.
    #[arg(long)]
    pub(crate) email: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true))]
pub(crate) struct ContactEditArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// The contact's id, or its first few characters.
    #[arg(value_name = "CONTACT")]
    pub(crate) contact: String,
    /// The person's name.
    #[arg(long, group = "change")]
    pub(crate) name: Option<String>,
    /// Job title.
    #[arg(long, group = "change")]
    pub(crate) title: Option<String>,
    /// Part in the deal: decision_maker, executor or influencer.
    #[arg(long, group = "change")]
    pub(crate) role: Option<String>,
    /// Work phone.
    #[arg(long, group = "change")]
    pub(crate) phone: Option<String>,
    /// Work email.
    #[arg(long, group = "change")]
    pub(crate) email: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// What happened, in a few words (no quotes needed): what they said, what you offered,
    /// what was agreed.
    #[arg(required = true)]
    pub(crate) summary: Vec<String>,
    /// How you reached them: phone, messaging, email, visit or video.
    #[arg(long, default_value = "visit")]
    pub(crate) method: ContactMethod,
    /// When it happened, if not just now: "2025-03-14 09:30" (local time) or RFC 3339. Logged more
    /// than 24 h later, it is flagged as late.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) at: Option<TypedTime>,
    /// How they took it: positive, hesitant or refused.
    #[arg(long)]
    pub(crate) attitude: Option<Attitude>,
    /// What happens next, such as "send the revised quote".
    #[arg(long, value_name = "ACTION")]
    pub(crate) next: Option<String>,
    /// When the next action is due, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) next_due: Option<Day>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct PlanArgs {
    #[command(subcommand)]
    pub(crate) command: Option<PlanCommand>,
    /// The account.
    #[arg(value_name = "ACCOUNT", required = true)]
    pub(crate) id: Option<String>,
    /// When to make contact: "2025-03-20 10:00" (local time), or a day (09:00).
    #[arg(long, value_name = "TIME", value_parser = parse_due, required = true)]
    pub(crate) due: Option<TypedTime>,
    /// How: phone, messaging, email, visit or video.
    #[arg(long, default_value = "phone")]
    pub(crate) method: ContactMethod,
    /// Who makes the contact (default: the account's owner).
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// The goal of the contact, such as "confirm budget" (no quotes needed).
    #[arg(required = true)]
    pub(crate) goal: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PlanCommand {
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
pub(crate) enum OpportunityCommand {
    /// Add an opportunity and print its id.
    Add(OpportunityAddArgs),
}

#[derive(Debug, Args)]
pub(crate) struct OpportunityAddArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// What is being sold, such as "2025 equipment purchase".
    #[arg(long)]
    pub(crate) name: String,
    /// Rep responsible (default: the account's owner).
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// potential, needs_confirmed, solution_accepted, negotiation, won or lost.
    #[arg(long, default_value = "potential")]
    pub(crate) stage: Stage,
    /// Percent likely to close (default: the stage's usual figure).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) probability: Option<u8>,
    #[command(flatten)]
    pub(crate) amount: AmountArgs,
    /// Expected close day, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) close: Option<Day>,
}

/// An optional amount of money, typed as decimal text with its currency.
#[derive(Debug, Args)]
pub(crate) struct AmountArgs {
    /// The amount, such as 12000 or 12000.50 (needs --currency).
    #[arg(long, value_parser = parse_amount, requires = "currency")]
    pub(crate) amount: Option<i64>,
    /// Currency of the amount, such as EUR.
    #[arg(long, value_parser = parse_currency, requires = "amount")]
    pub(crate) currency: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// The opportunity's id, or its first few characters.
    #[arg(value_name = "OPPORTUNITY")]
    pub(crate) opportunity: String,
    /// potential, needs_confirmed, solution_accepted, negotiation, won or lost. Won needs
    /// --amount, --currency and --signed; lost needs --reason.
    pub(crate) stage: Stage,
    /// Percent likely to close (default: the stage's usual figure).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) probability: Option<u8>,
    #[command(flatten)]
    pub(crate) amount: AmountArgs,
    /// Day the contract was signed, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) signed: Option<Day>,
    /// Why it was lost or paused.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DealArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// Day the deal closed, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) on: Day,
    /// Amount, such as 12000.50.
    #[arg(long, value_parser = parse_amount)]
    pub(crate) amount: i64,
    /// Currency of the amount, such as EUR.
    #[arg(long, value_parser = parse_currency)]
    pub(crate) currency: String,
    /// Products or services sold.
    #[arg(long, value_name = "TEXT")]
    pub(crate) products: String,
    /// online, offline or instalments.
    #[arg(long)]
    pub(crate) payment: Payment,
    /// Anything else worth keeping.
    #[arg(long, value_name = "TEXT")]
    pub(crate) notes: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// Day of the service, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) on: Day,
    /// What was done.
    #[arg(long, value_name = "TEXT")]
    pub(crate) work: String,
    /// How it turned out.
    #[arg(long, value_name = "TEXT")]
    pub(crate) result: String,
    /// Customer satisfaction, 1 (poor) to 5 (excellent).
    #[arg(long, value_name = "1-5")]
    pub(crate) satisfaction: Option<u8>,
    /// The next step.
    #[arg(long, value_name = "TEXT")]
    pub(crate) next: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The lead.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// Day of the conversion, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) on: Option<Day>,
}

#[derive(Debug, Args)]
pub(crate) struct LostArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// Why it was lost, such as "chose a competitor" (no quotes needed).
    #[arg(required = true)]
    pub(crate) reason: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DormantArgs {
    /// The lead.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// Day to wake it up, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub(crate) until: Day,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// An account whose status to change (leave out to see the sync status).
    #[arg(value_name = "ACCOUNT", requires = "status")]
    pub(crate) id: Option<String>,
    /// The new status: to_follow or following for a lead; potential, intent or won for a
    /// customer. Use `outpost lost`, `outpost dormant` or `outpost convert` for the others.
    pub(crate) status: Option<Status>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct ConflictsArgs {
    /// Only this account (default: every account on this device).
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: Option<String>,
    #[command(flatten)]
    pub(crate) output: Output,
}

#[derive(Debug, Args)]
pub(crate) struct SettleArgs {
    /// The account.
    #[arg(value_name = "ACCOUNT")]
    pub(crate) id: String,
    /// The conflicted field, as `outpost conflicts` lists it (such as `name`).
    pub(crate) field: String,
    /// Which value to keep, by its number in `outpost conflicts` (0 is the one shown now).
    pub(crate) choice: usize,
}
