//! Team views for managers, computed from the projection rows (never from documents) and
//! scoped to the caller: a manager sees the teams they lead, an admin every team; a rep
//! opens none. Every view says when it was computed and, per rep, when their devices last
//! synced and when their newest follow-up happened, because reps work offline and a number
//! is only as fresh as their last sync. Every table of every view also comes as CSV.
//!
//! Days and weeks (the `from`/`to` filters, the activity view's weeks, an agreed day's due
//! time) are those of one time zone, given to every view: the selected team's, or the `tz`
//! query parameter; each view names it in `time_zone`.
//!
//! The rows are scanned per request from the in-memory [`Index`]: filters and groups work
//! on interned labels, and names are looked up only for the groups a view returns.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use outpost_client::facts::{local_day, start_of_day};
use outpost_protocol::DocId;
use serde::{Deserialize, Serialize};

use crate::index::{Index, Label, NONE, Slot, monday_of, time_of, week_number};
use crate::projection::{quarter_start, week_of};

/// When each user's devices last synced, by login.
pub type LastSyncs = HashMap<String, DateTime<Utc>>;

/// How a view is built: from the rows, the teams the caller sees (`None`: all), the
/// query, each rep's last sync, the time, and the time zone its days are counted in.
pub type Build<T> = fn(&Index, Option<&[String]>, &Filters, &LastSyncs, DateTime<Utc>, Tz) -> T;

/// The query every view takes: filters, all optional, and the output options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub team: Option<String>,
    pub rep: Option<String>,
    pub source: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    /// Accounts created on or after this day (in the activity view: weeks from this day).
    pub from: Option<NaiveDate>,
    /// Accounts created on or before this day (in the activity view: weeks up to this day).
    pub to: Option<NaiveDate>,
    /// The IANA time zone days and weeks are counted in, overriding the team's.
    pub tz: Option<String>,
    /// Archived accounts in the analysis views (funnel, activity, lost reasons, won profile):
    /// `include` (the default), `exclude` or `only`. The working views (pipeline,
    /// follow-ups, duplicates, hygiene) always leave them out.
    pub archived: Option<ArchivedFilter>,
    /// Output: `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Format,
    /// Output: which table of the view a CSV holds (the first one when not given).
    pub table: Option<String>,
    /// Output: how many entries the long lists (overdue accounts, duplicate groups) carry in
    /// JSON, first ones first; [`DEFAULT_LIMIT`] when not given. CSV carries them all.
    pub limit: Option<usize>,
    /// Not a query parameter: users' display names by login (from the directory's map in
    /// memory), which every per-rep row carries beside the login.
    #[serde(skip)]
    pub display_names: Arc<HashMap<String, String>>,
}

/// How many overdue accounts or duplicate groups a JSON view lists unless asked otherwise.
pub const DEFAULT_LIMIT: usize = 100;

/// Which accounts an analysis view counts by whether they are archived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchivedFilter {
    #[default]
    Include,
    Exclude,
    Only,
}

/// What a view is for, which decides whether archived accounts are in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Daily work (pipeline, follow-ups, duplicates, hygiene): archived accounts are out.
    Working,
    /// Analysis over history (funnel, activity, lost reasons, won profile): archived accounts
    /// count unless the `archived` filter says otherwise.
    Analysis,
    /// The archive itself.
    Archive,
}

/// How a view is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

impl Filters {
    /// The name people read for the rep `login`: the display name, or the login.
    fn shown(&self, login: &str) -> String {
        crate::directory::shown_name(&self.display_names, login)
    }

    /// How many entries of a long list to send.
    fn limit(&self) -> usize {
        match self.format {
            Format::Csv => usize::MAX,
            Format::Json => self.limit.unwrap_or(DEFAULT_LIMIT),
        }
    }
}

/// The filters and the caller's teams as labels, ready to test slots against.
struct Selection {
    teams: Option<Vec<Label>>,
    /// `(field, wanted)`: slot field by position in [`Selection::fields`], its label.
    wanted: Vec<(usize, Label)>,
    /// Entered at or after (Unix ms): the start of the `from` day in the view's zone.
    from_ms: Option<i64>,
    /// Entered before (Unix ms): the start of the day after `to` in the view's zone.
    until_ms: Option<i64>,
    archived: ArchivedFilter,
}

impl Selection {
    /// The selection, or `None` when a filter names a value no account has.
    fn of(
        index: &Index,
        teams: Option<&[String]>,
        filters: &Filters,
        dated: bool,
        tz: Tz,
        purpose: Purpose,
    ) -> Option<Self> {
        let mut wanted = Vec::new();
        for (field, value) in [
            &filters.team,
            &filters.rep,
            &filters.source,
            &filters.industry,
            &filters.region,
            &filters.status,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(value) = value {
                wanted.push((field, index.labels.find(value)?));
            }
        }
        let teams = teams.map(|teams| teams.iter().filter_map(|t| index.labels.find(t)).collect());
        Some(Selection {
            teams,
            wanted,
            from_ms: filters
                .from
                .filter(|_| dated)
                .map(|day| start_of_day(day, tz).timestamp_millis()),
            until_ms: filters.to.filter(|_| dated).map(|day| {
                day.checked_add_days(Days::new(1))
                    .map_or(i64::MAX, |next| start_of_day(next, tz).timestamp_millis())
            }),
            archived: match purpose {
                Purpose::Working => ArchivedFilter::Exclude,
                Purpose::Analysis => filters.archived.unwrap_or_default(),
                Purpose::Archive => ArchivedFilter::Only,
            },
        })
    }

    fn fields(slot: &Slot) -> [Label; 6] {
        [
            slot.team,
            slot.owner,
            slot.source,
            slot.industry,
            slot.region,
            slot.status,
        ]
    }

    fn keeps(&self, slot: &Slot) -> bool {
        !slot.merged
            && match self.archived {
                ArchivedFilter::Include => true,
                ArchivedFilter::Exclude => !slot.archived,
                ArchivedFilter::Only => slot.archived,
            }
            && self.teams.as_ref().is_none_or(|t| t.contains(&slot.team))
            && self
                .wanted
                .iter()
                .all(|&(field, label)| Self::fields(slot)[field] == label)
            && self.from_ms.is_none_or(|from| slot.created_ms >= from)
            && self.until_ms.is_none_or(|until| slot.created_ms < until)
    }
}

/// A view's tables as CSV.
pub trait Tables {
    /// The names of the view's tables; the first is the default.
    const TABLES: &'static [&'static str];

    /// The table `name` as CSV, or `None` if the view has no such table.
    fn csv(&self, name: &str) -> Option<String>;
}

/// `rows` as CSV with a header of their field names, every cell neutralised so a spreadsheet
/// never runs a stored name or comment as a formula.
fn csv_of<T: Serialize>(rows: &[T]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.serialize(row).expect("view rows are flat records");
    }
    let bytes = out.into_inner().expect("writing to memory cannot fail");
    let csv = String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8");
    outpost_client::csv_io::neutralise_csv(&csv)
}

/// One cell of the pipeline: the opportunities of one rep (or the whole selection, `rep:
/// None`) in one stage and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTotal {
    pub rep: Option<String>,
    /// The name people read for `rep`.
    pub display_name: Option<String>,
    pub stage: String,
    pub currency: Option<String>,
    pub count: u64,
    /// Sum of the amounts, in minor units.
    pub total_minor: i64,
    /// Sum of amount × probability / 100, in minor units (rounded down per opportunity).
    pub weighted_minor: i64,
}

/// How fresh a rep's figures are: when their devices last synced, and when the newest
/// follow-up among their selected accounts happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub rep: String,
    pub display_name: String,
    pub last_sync: Option<DateTime<Utc>>,
    pub newest_follow_up: Option<DateTime<Utc>>,
}

/// The pipeline by stage, per rep and for the whole selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    pub accounts: u64,
    pub by_rep: Vec<StageTotal>,
    pub total: Vec<StageTotal>,
    /// Open pipeline (every stage but won and lost), per currency.
    pub open: Vec<MoneyTotal>,
    /// Won opportunities (closed business, not pipeline), per currency.
    pub won: Vec<MoneyTotal>,
    pub freshness: Vec<Freshness>,
}

/// Opportunities of several stages in one currency, added up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyTotal {
    pub currency: Option<String>,
    pub count: u64,
    pub total_minor: i64,
    pub weighted_minor: i64,
}

impl Tables for Pipeline {
    const TABLES: &'static [&'static str] = &["by_rep", "total", "open", "won", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "by_rep" => Some(csv_of(&self.by_rep)),
            "total" => Some(csv_of(&self.total)),
            "open" => Some(csv_of(&self.open)),
            "won" => Some(csv_of(&self.won)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the pipeline of the accounts the caller may see (`teams`: `None` for every team).
pub fn pipeline(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Pipeline {
    let mut cells: HashMap<(Label, Label, Label), (u64, i64, i64)> = HashMap::new();
    let selected = select(index, teams, filters, true, tz, Purpose::Working);
    for &i in &selected {
        let slot = index.slot(i);
        for opportunity in index.opportunities(slot) {
            let weighted = opportunity
                .amount_minor
                .saturating_mul(i64::from(opportunity.probability))
                / 100;
            for rep in [slot.owner, NONE] {
                let key = (rep, opportunity.stage, opportunity.currency);
                let cell = cells.entry(key).or_default();
                cell.0 += 1;
                cell.1 = cell.1.saturating_add(opportunity.amount_minor);
                cell.2 = cell.2.saturating_add(weighted);
            }
        }
    }
    let (mut by_rep, mut total) = (Vec::new(), Vec::new());
    for ((rep, stage, currency), (count, total_minor, weighted_minor)) in cells {
        let cell = StageTotal {
            rep: optional(index, rep),
            display_name: optional(index, rep).map(|r| filters.shown(&r)),
            stage: name(index, stage),
            currency: optional(index, currency),
            count,
            total_minor,
            weighted_minor,
        };
        if rep == NONE {
            total.push(cell);
        } else {
            by_rep.push(cell);
        }
    }
    for cells in [&mut by_rep, &mut total] {
        cells.sort_by(|a, b| (&a.rep, &a.stage, &a.currency).cmp(&(&b.rep, &b.stage, &b.currency)));
    }
    // Open pipeline and won business apart: adding them up would count closed deals as
    // business still to win.
    let (mut open, mut won) = (
        std::collections::BTreeMap::<Option<String>, MoneyTotal>::new(),
        std::collections::BTreeMap::<Option<String>, MoneyTotal>::new(),
    );
    for cell in &total {
        let into = match cell.stage.as_str() {
            "won" => &mut won,
            "lost" => continue,
            _ => &mut open,
        };
        let sum = into
            .entry(cell.currency.clone())
            .or_insert_with(|| MoneyTotal {
                currency: cell.currency.clone(),
                ..MoneyTotal::default()
            });
        sum.count += cell.count;
        sum.total_minor = sum.total_minor.saturating_add(cell.total_minor);
        sum.weighted_minor = sum.weighted_minor.saturating_add(cell.weighted_minor);
    }
    Pipeline {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts: selected.len() as u64,
        by_rep,
        total,
        open: open.into_values().collect(),
        won: won.into_values().collect(),
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// One account whose next contact is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    pub account: DocId,
    pub name: String,
    pub rep: String,
    pub display_name: String,
    pub priority: Option<String>,
    pub next_due: DateTime<Utc>,
}

/// Follow-up discipline of one rep for accounts of one priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discipline {
    pub rep: String,
    pub display_name: String,
    pub priority: Option<String>,
    pub accounts: u64,
    /// Accounts whose next contact is not overdue: followed up within their cadence.
    pub within_cadence: u64,
}

/// Follow-ups logged more than 24 h after they happened, per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateLogging {
    pub rep: String,
    pub display_name: String,
    pub follow_ups: u64,
    pub late: u64,
}

/// The follow-up view: discipline per rep and priority, the overdue list (most overdue
/// first), late logging per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUps {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    pub accounts: u64,
    pub discipline: Vec<Discipline>,
    /// How many accounts are overdue; `overdue` lists the most overdue of them.
    pub overdue_total: u64,
    pub overdue: Vec<Overdue>,
    pub late: Vec<LateLogging>,
    pub freshness: Vec<Freshness>,
}

impl Tables for FollowUps {
    const TABLES: &'static [&'static str] = &["overdue", "discipline", "late", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "overdue" => Some(csv_of(&self.overdue)),
            "discipline" => Some(csv_of(&self.discipline)),
            "late" => Some(csv_of(&self.late)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the follow-up view of the accounts the caller may see, as of `now`.
pub fn follow_ups(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> FollowUps {
    let mut discipline: HashMap<(Label, Label), (u64, u64)> = HashMap::new();
    let mut late: HashMap<Label, (u64, u64)> = HashMap::new();
    let mut overdue = Vec::new();
    let now_ms = now.timestamp_millis();
    let selected = select(index, teams, filters, true, tz, Purpose::Working);
    for &i in &selected {
        let slot = index.slot(i);
        let due_ms = slot
            .next_due
            .and_then(|due| due.resolve(tz))
            .map_or(i64::MAX, |t| t.timestamp_millis());
        let is_overdue = due_ms < now_ms;
        let cell = discipline.entry((slot.owner, slot.priority)).or_default();
        cell.0 += 1;
        cell.1 += u64::from(!is_overdue);
        let logged = late.entry(slot.owner).or_default();
        logged.0 += u64::from(slot.follow_ups);
        logged.1 += u64::from(slot.late_follow_ups);
        if is_overdue {
            overdue.push((due_ms, index.account(i).0, i));
        }
    }
    let overdue_total = overdue.len() as u64;
    let limit = filters.limit().min(overdue.len());
    if limit < overdue.len() {
        overdue.select_nth_unstable(limit);
        overdue.truncate(limit);
    }
    overdue.sort_unstable();
    let mut discipline: Vec<Discipline> = discipline
        .into_iter()
        .map(|((rep, priority), (accounts, within_cadence))| Discipline {
            rep: name(index, rep),
            display_name: filters.shown(&name(index, rep)),
            priority: optional(index, priority),
            accounts,
            within_cadence,
        })
        .collect();
    discipline.sort_by(|a, b| (&a.rep, &a.priority).cmp(&(&b.rep, &b.priority)));
    let mut late: Vec<LateLogging> = late
        .into_iter()
        .map(|(rep, (follow_ups, late))| LateLogging {
            rep: name(index, rep),
            display_name: filters.shown(&name(index, rep)),
            follow_ups,
            late,
        })
        .collect();
    late.sort_by(|a, b| a.rep.cmp(&b.rep));
    FollowUps {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts: selected.len() as u64,
        discipline,
        overdue_total,
        overdue: overdue
            .into_iter()
            .filter_map(|(due_ms, account, i)| {
                let slot = index.slot(i);
                Some(Overdue {
                    account,
                    name: index.account(i).1.to_owned(),
                    rep: name(index, slot.owner),
                    display_name: filters.shown(&name(index, slot.owner)),
                    priority: optional(index, slot.priority),
                    next_due: time_of(due_ms)?,
                })
            })
            .collect(),
        late,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// The funnel of one group of accounts: how many entered, reached intent, were won, and how
/// many stand lost or dormant now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelRow {
    /// What the accounts are grouped by: `all`, `rep`, `source`, `industry` or `region`.
    pub dimension: String,
    /// The group's value (`None`: not recorded; always `None` for `all`).
    pub value: Option<String>,
    /// The name people read for a rep's row (`dimension` `rep`).
    pub display_name: Option<String>,
    pub accounts: u64,
    /// Accounts that reached intent (or won) at some point, by their status history: an
    /// account lost after intent still counts here.
    pub intent: u64,
    /// Accounts that were won at some point.
    pub won: u64,
    /// `intent / accounts` (`None` without accounts).
    pub intent_rate: Option<f64>,
    /// `won / intent`, the stage-to-stage rate (`None` when none reached intent).
    pub won_rate: Option<f64>,
    /// Accounts lost now.
    pub lost: u64,
    /// Leads dormant now.
    pub dormant: u64,
    /// Leads converted to customers.
    pub converted: u64,
    /// Mean days from first contact to conversion, over the converted leads.
    pub cycle_days_avg: Option<f64>,
}

/// Funnel conversion (entered → intent → won) and conversion cycle, for the selection and by
/// rep, source, industry and region. Intent and won count the stages accounts reached (their
/// status history; an account without one counts its current status only), lost and
/// dormant where accounts stand now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    pub rows: Vec<FunnelRow>,
    pub freshness: Vec<Freshness>,
}

impl Tables for Funnel {
    const TABLES: &'static [&'static str] = &["rows", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "rows" => Some(csv_of(&self.rows)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// The most (rep, week) cells the activity view counts in a dense array.
const DENSE_CELLS: usize = 1 << 22;

/// The funnel dimensions, in the order the rows come.
const DIMENSIONS: [&str; 5] = ["all", "rep", "source", "industry", "region"];

/// Builds the funnel of the accounts the caller may see.
pub fn funnel(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Funnel {
    #[derive(Default)]
    struct Cell {
        accounts: u64,
        intent: u64,
        won: u64,
        lost: u64,
        dormant: u64,
        converted: u64,
        cycle_days: i64,
    }
    let (lost, dormant) = (index.labels.find("lost"), index.labels.find("dormant"));
    // One array of cells per dimension, indexed by label: no hashing per account.
    let mut cells: Vec<Vec<Cell>> = (0..DIMENSIONS.len())
        .map(|_| (0..index.labels.len()).map(|_| Cell::default()).collect())
        .collect();
    let selected = select(index, teams, filters, true, tz, Purpose::Analysis);
    for &i in &selected {
        let slot = index.slot(i);
        let values = [NONE, slot.owner, slot.source, slot.industry, slot.region];
        let (is_lost, is_dormant) = (Some(slot.status) == lost, Some(slot.status) == dormant);
        for (dimension, value) in values.into_iter().enumerate() {
            let cell = &mut cells[dimension][value as usize];
            cell.accounts += 1;
            cell.intent += u64::from(slot.reached_intent);
            cell.won += u64::from(slot.reached_won);
            cell.lost += u64::from(is_lost);
            cell.dormant += u64::from(is_dormant);
            if let Some(days) = slot.conversion_days {
                cell.converted += 1;
                cell.cycle_days += days;
            }
        }
    }
    let mut rows = Vec::new();
    for (dimension, cells) in cells.into_iter().enumerate() {
        let mut group: Vec<FunnelRow> = cells
            .into_iter()
            .enumerate()
            .filter(|(_, cell)| cell.accounts > 0)
            .map(|(value, cell)| FunnelRow {
                dimension: DIMENSIONS[dimension].to_owned(),
                value: optional(index, value as Label),
                display_name: (DIMENSIONS[dimension] == "rep")
                    .then(|| optional(index, value as Label).map(|r| filters.shown(&r)))
                    .flatten(),
                accounts: cell.accounts,
                intent: cell.intent,
                won: cell.won,
                intent_rate: rate(cell.intent, cell.accounts),
                won_rate: rate(cell.won, cell.intent),
                lost: cell.lost,
                dormant: cell.dormant,
                converted: cell.converted,
                cycle_days_avg: (cell.converted > 0)
                    .then(|| cell.cycle_days as f64 / cell.converted as f64),
            })
            .collect();
        group.sort_by(|a, b| a.value.cmp(&b.value));
        rows.extend(group);
    }
    Funnel {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        rows,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// `part / whole`, or `None` when `whole` is zero.
fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Follow-ups one rep logged in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekActivity {
    pub rep: String,
    pub display_name: String,
    /// The Monday the week starts.
    pub week: NaiveDate,
    pub follow_ups: u64,
}

/// Activity per rep per week: the follow-ups each rep logged (whoever owns the account now),
/// by when they happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    pub weeks: Vec<WeekActivity>,
    pub freshness: Vec<Freshness>,
}

impl Tables for Activity {
    const TABLES: &'static [&'static str] = &["weeks", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "weeks" => Some(csv_of(&self.weeks)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the activity of the accounts the caller may see; `from`/`to` select weeks (a week
/// counts when its Monday is in the range, or `from` falls in it).
pub fn activity(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Activity {
    // The accounts in scope, by every filter but the rep: `rep` picks who logged a follow-up,
    // not who owns the account now (a handover or merge must not move past work).
    let by_account = Filters {
        rep: None,
        ..filters.clone()
    };
    let selected = select(index, teams, &by_account, false, tz, Purpose::Analysis);
    let logger = match &filters.rep {
        None => None,
        Some(rep) => match index.labels.find(rep) {
            Some(label) => Some(label),
            None => return empty_activity(now, tz),
        },
    };
    let wanted = |rep: Label| logger.is_none_or(|l| l == rep);
    let mut weeks: HashMap<(Label, i32), u64> = HashMap::new();
    // The week (in the view's zone) a quarter hour falls in.
    let week = |quarter: i32| week_number(week_of(local_day(quarter_start(quarter), tz)));
    if let Some((low, high)) = index
        .quarter_span()
        .map(|(first, last)| (week(first), week(last)))
    {
        let first = filters
            .from
            .map_or(low, |from| week_number(week_of(from)).max(low));
        let last = filters
            .to
            .map_or(high, |to| week_number(week_of(to)).min(high));
        let span = usize::try_from(i64::from(high) - i64::from(low) + 1).unwrap_or(usize::MAX);
        let kept = |week: i32| week >= first && week <= last;
        if span.saturating_mul(index.labels.len()) <= DENSE_CELLS {
            // One array cell per (rep, week): no hashing per entry.
            let mut counts = vec![0u64; span * index.labels.len()];
            for &i in &selected {
                let slot = index.slot(i);
                for &(quarter, rep, count) in index.quarters(slot) {
                    let week = week(quarter);
                    if kept(week) && wanted(rep) {
                        counts[rep as usize * span + (week - low) as usize] += u64::from(count);
                    }
                }
            }
            for (cell, count) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                let (owner, week) = (cell / span, (cell % span) as i32 + low);
                weeks.insert((owner as Label, week), count);
            }
        } else {
            for &i in &selected {
                let slot = index.slot(i);
                for &(quarter, rep, count) in index.quarters(slot) {
                    let week = week(quarter);
                    if kept(week) && wanted(rep) {
                        *weeks.entry((rep, week)).or_default() += u64::from(count);
                    }
                }
            }
        }
    }
    let mut weeks: Vec<WeekActivity> = weeks
        .into_iter()
        .filter_map(|((rep, week), follow_ups)| {
            Some(WeekActivity {
                rep: name(index, rep),
                display_name: filters.shown(&name(index, rep)),
                week: monday_of(week)?,
                follow_ups,
            })
        })
        .collect();
    weeks.sort_by(|a, b| (&a.rep, a.week).cmp(&(&b.rep, b.week)));
    Activity {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        weeks,
        freshness: freshness(index, &selected, last_syncs, filters)
            .into_iter()
            .filter(|f| filters.rep.as_ref().is_none_or(|rep| f.rep == *rep))
            .collect(),
    }
}

/// The activity view of a rep nobody has logged anything as.
fn empty_activity(now: DateTime<Utc>, tz: Tz) -> Activity {
    Activity {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        weeks: Vec::new(),
        freshness: Vec::new(),
    }
}

/// How many accounts were lost for one reason (by one rep, in `by_rep`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReason {
    pub rep: Option<String>,
    /// The name people read for `rep`.
    pub display_name: Option<String>,
    pub reason: Option<String>,
    pub accounts: u64,
}

/// Why accounts were lost, in the selection and per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReasons {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    /// Lost accounts in the selection.
    pub accounts: u64,
    pub reasons: Vec<LostReason>,
    pub by_rep: Vec<LostReason>,
    pub freshness: Vec<Freshness>,
}

impl Tables for LostReasons {
    const TABLES: &'static [&'static str] = &["reasons", "by_rep", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "reasons" => Some(csv_of(&self.reasons)),
            "by_rep" => Some(csv_of(&self.by_rep)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the lost-reason distribution of the lost accounts among those the caller may see.
pub fn lost_reasons(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> LostReasons {
    let mut counts: HashMap<(Label, Label), u64> = HashMap::new();
    let selected = select(index, teams, filters, true, tz, Purpose::Analysis);
    let lost_label = index.labels.find("lost");
    let mut lost = 0;
    for &i in &selected {
        let slot = index.slot(i);
        if Some(slot.status) != lost_label {
            continue;
        }
        lost += 1;
        for rep in [NONE, slot.owner] {
            *counts.entry((rep, slot.lost_reason)).or_default() += 1;
        }
    }
    let (mut reasons, mut by_rep) = (Vec::new(), Vec::new());
    for ((rep, reason), accounts) in counts {
        let entry = LostReason {
            rep: optional(index, rep),
            display_name: optional(index, rep).map(|r| filters.shown(&r)),
            reason: optional(index, reason),
            accounts,
        };
        if rep == NONE {
            reasons.push(entry);
        } else {
            by_rep.push(entry);
        }
    }
    for entries in [&mut reasons, &mut by_rep] {
        entries.sort_by(|a, b| (&a.rep, &a.reason).cmp(&(&b.rep, &b.reason)));
    }
    LostReasons {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts: lost,
        reasons,
        by_rep,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// How many accounts have one value of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub value: Option<String>,
    pub accounts: u64,
}

/// The profile of won customers: by industry, size and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WonProfile {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    /// Won accounts in the selection.
    pub accounts: u64,
    pub by_industry: Vec<Count>,
    pub by_size: Vec<Count>,
    pub by_source: Vec<Count>,
    pub freshness: Vec<Freshness>,
}

impl Tables for WonProfile {
    const TABLES: &'static [&'static str] = &["by_industry", "by_size", "by_source", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "by_industry" => Some(csv_of(&self.by_industry)),
            "by_size" => Some(csv_of(&self.by_size)),
            "by_source" => Some(csv_of(&self.by_source)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the won-customer profile of the accounts the caller may see.
pub fn won_profile(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> WonProfile {
    let selected = select(index, teams, filters, true, tz, Purpose::Analysis);
    let won_label = index.labels.find("won");
    let won: Vec<&Slot> = selected
        .iter()
        .map(|&i| index.slot(i))
        .filter(|slot| Some(slot.status) == won_label)
        .collect();
    let count_by = |field: fn(&Slot) -> Label| {
        let mut counts = vec![0u64; index.labels.len()];
        for slot in &won {
            counts[field(slot) as usize] += 1;
        }
        let mut out: Vec<Count> = counts
            .into_iter()
            .enumerate()
            .filter(|(_, accounts)| *accounts > 0)
            .map(|(label, accounts)| Count {
                value: optional(index, label as Label),
                accounts,
            })
            .collect();
        out.sort_by(|a, b| a.value.cmp(&b.value));
        out
    };
    WonProfile {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts: won.len() as u64,
        by_industry: count_by(|slot| slot.industry),
        by_size: count_by(|slot| slot.size),
        by_source: count_by(|slot| slot.source),
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// One account of a group of suspected duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateAccount {
    pub account: DocId,
    pub name: String,
    pub rep: String,
    pub display_name: String,
}

/// Accounts that share a match key (normalised name, phone or email): probably one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    pub key: String,
    pub accounts: Vec<DuplicateAccount>,
}

/// A group's account as one CSV line.
#[derive(Debug, Serialize)]
struct DuplicateLine<'a> {
    key: &'a str,
    account: DocId,
    name: &'a str,
    rep: &'a str,
}

/// Suspected duplicates: accounts in the selection (of one rep or several) that share a
/// match key. A group with the same accounts as an earlier one (another shared key) is left
/// out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicates {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    /// How many groups there are; `groups` lists the first of them, by key.
    pub groups_total: u64,
    pub groups: Vec<DuplicateGroup>,
    pub freshness: Vec<Freshness>,
}

impl Tables for Duplicates {
    const TABLES: &'static [&'static str] = &["groups", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "groups" => {
                let lines: Vec<DuplicateLine<'_>> = self
                    .groups
                    .iter()
                    .flat_map(|group| {
                        group.accounts.iter().map(|a| DuplicateLine {
                            key: &group.key,
                            account: a.account,
                            name: &a.name,
                            rep: &a.rep,
                        })
                    })
                    .collect();
                Some(csv_of(&lines))
            }
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the suspected duplicates among the accounts the caller may see.
pub fn duplicates(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Duplicates {
    let selected = select(index, teams, filters, true, tz, Purpose::Working);
    // How many selected accounts carry each key; then (key, account) for the keys shared,
    // sorted so that each key's accounts are one run.
    let mut counts = vec![0u32; index.keys.len()];
    for &i in &selected {
        for &key in index.match_keys(index.slot(i)) {
            counts[key as usize] += 1;
        }
    }
    let mut pairs: Vec<(Label, u32)> = Vec::new();
    for &i in &selected {
        for &key in index.match_keys(index.slot(i)) {
            if counts[key as usize] > 1 {
                pairs.push((key, u32::try_from(i).expect("fewer than 2^32 accounts")));
            }
        }
    }
    pairs.sort_unstable();
    let members: Vec<u32> = pairs.iter().map(|(_, i)| *i).collect();
    let key_name = |key: Label| index.keys.name(key).unwrap_or_default();
    // One group per set of accounts, under the first of its keys by name.
    let mut sets: HashMap<&[u32], Label> = HashMap::new();
    let mut start = 0;
    while start < pairs.len() {
        let key = pairs[start].0;
        let end = start + pairs[start..].iter().take_while(|(k, _)| *k == key).count();
        let kept = sets.entry(&members[start..end]).or_insert(key);
        if key_name(key) < key_name(*kept) {
            *kept = key;
        }
        start = end;
    }
    let groups_total = sets.len() as u64;
    let mut firsts: Vec<(&str, &[u32])> = sets
        .into_iter()
        .map(|(accounts, key)| (key_name(key), accounts))
        .collect();
    let limit = filters.limit().min(firsts.len());
    if limit < firsts.len() {
        firsts.select_nth_unstable(limit);
        firsts.truncate(limit);
    }
    firsts.sort_unstable();
    let groups = firsts
        .into_iter()
        .map(|(key, accounts)| {
            let mut accounts: Vec<DuplicateAccount> = accounts
                .iter()
                .map(|&i| {
                    let (account, name) = index.account(i as usize);
                    DuplicateAccount {
                        account,
                        name: name.to_owned(),
                        rep: self::name(index, index.slot(i as usize).owner),
                        display_name: filters
                            .shown(&self::name(index, index.slot(i as usize).owner)),
                    }
                })
                .collect();
            accounts.sort_by_key(|a| a.account);
            DuplicateGroup {
                key: key.to_owned(),
                accounts,
            }
        })
        .collect();
    Duplicates {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        groups_total,
        groups,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// One archived account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedAccount {
    pub account: DocId,
    pub name: String,
    pub rep: String,
    pub display_name: String,
    pub status: String,
    pub lost_reason: Option<String>,
    /// The login of the manager or admin who archived it, and the name people read.
    pub archived_by: Option<String>,
    pub archived_by_name: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The archive: lost accounts taken out of the working views (latest archived first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archive {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    /// How many accounts are archived; `accounts` lists the latest of them.
    pub accounts_total: u64,
    pub accounts: Vec<ArchivedAccount>,
    pub freshness: Vec<Freshness>,
}

impl Tables for Archive {
    const TABLES: &'static [&'static str] = &["accounts", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "accounts" => Some(csv_of(&self.accounts)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the archive of the accounts the caller may see.
pub fn archive(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Archive {
    let selected = select(index, teams, filters, true, tz, Purpose::Archive);
    let mut order: Vec<(std::cmp::Reverse<i64>, DocId, usize)> = selected
        .iter()
        .map(|&i| {
            let ms = index.slot(i).archived_ms;
            (std::cmp::Reverse(ms), index.account(i).0, i)
        })
        .collect();
    order.sort_unstable();
    let accounts_total = order.len() as u64;
    order.truncate(filters.limit());
    let accounts = order
        .into_iter()
        .map(|(_, account, i)| {
            let slot = index.slot(i);
            let by = optional(index, slot.archived_by);
            ArchivedAccount {
                account,
                name: index.account(i).1.to_owned(),
                rep: name(index, slot.owner),
                display_name: filters.shown(&name(index, slot.owner)),
                status: name(index, slot.status),
                lost_reason: optional(index, slot.lost_reason),
                archived_by_name: by.as_deref().map(|b| filters.shown(b)),
                archived_by: by,
                archived_at: time_of(slot.archived_ms),
            }
        })
        .collect();
    Archive {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts_total,
        accounts,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// How long a potential customer may go without a follow-up before it counts as dead.
pub const STALE_MONTHS: u32 = 6;

/// What the monthly clean-up finds wrong with one account, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneRow {
    /// `no_contact_info` (no contact has a phone or email), `stale` (a potential customer
    /// without a follow-up for [`STALE_MONTHS`] months), `lost_without_reason`, or
    /// `duplicate` (shares a match key with another account).
    pub problem: String,
    /// What applies: `archive` (a lost account), `merge` (a duplicate) or `open` (the record
    /// needs a person: add a contact, log a follow-up or mark it lost, record a reason).
    pub action: String,
    pub account: DocId,
    pub name: String,
    pub rep: String,
    pub display_name: String,
    pub status: String,
    /// When the latest follow-up happened (none: never).
    pub last_follow_up: Option<DateTime<Utc>>,
    /// For a duplicate: the match key it shares with the others of its group.
    pub key: Option<String>,
}

/// How many rows of each problem the hygiene view found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HygieneCounts {
    pub no_contact_info: u64,
    pub stale: u64,
    pub lost_without_reason: u64,
    pub duplicate: u64,
}

/// Data hygiene (the monthly clean-up): dead records, lost customers without a reason and
/// suspected duplicates among the working accounts, each with its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hygiene {
    pub computed_at: DateTime<Utc>,
    /// The IANA time zone the view's days and weeks are counted in.
    pub time_zone: String,
    pub counts: HygieneCounts,
    /// How many rows there are; `rows` lists the first of them.
    pub rows_total: u64,
    pub rows: Vec<HygieneRow>,
    pub freshness: Vec<Freshness>,
}

impl Tables for Hygiene {
    const TABLES: &'static [&'static str] = &["rows", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "rows" => Some(csv_of(&self.rows)),
            "freshness" => Some(csv_of(&self.freshness)),
            _ => None,
        }
    }
}

/// Builds the hygiene view of the accounts the caller may see, as of `now`.
pub fn hygiene(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
    tz: Tz,
) -> Hygiene {
    let selected = select(index, teams, filters, true, tz, Purpose::Working);
    let (lost, potential) = (index.labels.find("lost"), index.labels.find("potential"));
    let stale_before = now
        .checked_sub_months(chrono::Months::new(STALE_MONTHS))
        .map_or(i64::MIN, |t| t.timestamp_millis());
    let mut counts = HygieneCounts::default();
    let mut found: Vec<(u8, usize, Option<String>)> = Vec::new();
    for &i in &selected {
        let slot = index.slot(i);
        let is_lost = Some(slot.status) == lost;
        if !slot.contact_info {
            counts.no_contact_info += 1;
            found.push((0, i, None));
        }
        // Without a follow-up ever, the six months count from when it was entered.
        let last_contact = slot.last_activity_ms.max(slot.created_ms);
        if Some(slot.status) == potential && last_contact < stale_before {
            counts.stale += 1;
            found.push((1, i, None));
        }
        if is_lost
            && index
                .labels
                .name(slot.lost_reason)
                .is_none_or(|r| r.trim().is_empty())
        {
            counts.lost_without_reason += 1;
            found.push((2, i, None));
        }
    }
    let all = Filters {
        limit: Some(usize::MAX),
        format: Format::Json,
        ..filters.clone()
    };
    let groups = duplicates(index, teams, &all, last_syncs, now, tz).groups;
    let positions: HashMap<DocId, usize> =
        selected.iter().map(|&i| (index.account(i).0, i)).collect();
    for group in groups {
        for member in &group.accounts {
            if let Some(&i) = positions.get(&member.account) {
                counts.duplicate += 1;
                found.push((3, i, Some(group.key.clone())));
            }
        }
    }
    let rows_total = found.len() as u64;
    found.sort_by(|a, b| {
        (a.0, index.account(a.1).1, index.account(a.1).0, &a.2).cmp(&(
            b.0,
            index.account(b.1).1,
            index.account(b.1).0,
            &b.2,
        ))
    });
    found.truncate(filters.limit());
    let rows = found
        .into_iter()
        .map(|(problem, i, key)| {
            let slot = index.slot(i);
            let (account, account_name) = index.account(i);
            let action = match problem {
                3 => "merge",
                0 if Some(slot.status) == lost => "archive",
                _ => "open",
            };
            HygieneRow {
                problem: [
                    "no_contact_info",
                    "stale",
                    "lost_without_reason",
                    "duplicate",
                ][usize::from(problem)]
                .to_owned(),
                action: action.to_owned(),
                account,
                name: account_name.to_owned(),
                rep: name(index, slot.owner),
                display_name: filters.shown(&name(index, slot.owner)),
                status: name(index, slot.status),
                last_follow_up: time_of(slot.last_activity_ms),
                key,
            }
        })
        .collect();
    Hygiene {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        counts,
        rows_total,
        rows,
        freshness: freshness(index, &selected, last_syncs, filters),
    }
}

/// The positions of the accounts in the caller's teams (`None`: all) that pass the filters
/// (`dated`: including the creation-date range) for a view's `purpose`; accounts merged into
/// another are left out.
fn select(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    dated: bool,
    tz: Tz,
    purpose: Purpose,
) -> Vec<usize> {
    let Some(selection) = Selection::of(index, teams, filters, dated, tz, purpose) else {
        return Vec::new();
    };
    index
        .slots()
        .iter()
        .enumerate()
        .filter(|(_, slot)| selection.keeps(slot))
        .map(|(i, _)| i)
        .collect()
}

/// The freshness of every rep owning one of `selected`.
fn freshness(
    index: &Index,
    selected: &[usize],
    last_syncs: &LastSyncs,
    filters: &Filters,
) -> Vec<Freshness> {
    let mut newest: HashMap<Label, i64> = HashMap::new();
    for &i in selected {
        let slot = index.slot(i);
        let seen = newest.entry(slot.owner).or_insert(i64::MIN);
        *seen = (*seen).max(slot.last_activity_ms);
    }
    let mut reps: Vec<Freshness> = newest
        .into_iter()
        .map(|(owner, ms)| {
            let rep = name(index, owner);
            Freshness {
                last_sync: last_syncs.get(&rep).copied(),
                newest_follow_up: time_of(ms),
                display_name: filters.shown(&rep),
                rep,
            }
        })
        .collect();
    reps.sort_by(|a, b| a.rep.cmp(&b.rep));
    reps
}

/// The name of a label every account has (an owner, a stage).
fn name(index: &Index, label: Label) -> String {
    index.labels.name(label).unwrap_or_default().to_owned()
}

/// The name of an optional label.
fn optional(index: &Index, label: Label) -> Option<String> {
    index.labels.name(label).map(str::to_owned)
}
