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
        self.display_names
            .get(login)
            .map_or_else(|| login.to_owned(), Clone::clone)
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
}

impl Selection {
    /// The selection, or `None` when a filter names a value no account has.
    fn of(
        index: &Index,
        teams: Option<&[String]>,
        filters: &Filters,
        dated: bool,
        tz: Tz,
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
            && !slot.archived
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
    pub freshness: Vec<Freshness>,
}

impl Tables for Pipeline {
    const TABLES: &'static [&'static str] = &["by_rep", "total", "freshness"];

    fn csv(&self, name: &str) -> Option<String> {
        match name {
            "by_rep" => Some(csv_of(&self.by_rep)),
            "total" => Some(csv_of(&self.total)),
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
    let selected = select(index, teams, filters, true, tz);
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
    Pipeline {
        computed_at: now,
        time_zone: tz.name().to_owned(),
        accounts: selected.len() as u64,
        by_rep,
        total,
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
    let selected = select(index, teams, filters, true, tz);
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

/// The funnel of one group of accounts: how many entered, reached intent, were won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelRow {
    /// What the accounts are grouped by: `all`, `rep`, `source`, `industry` or `region`.
    pub dimension: String,
    /// The group's value (`None`: not recorded; always `None` for `all`).
    pub value: Option<String>,
    /// The name people read for a rep's row (`dimension` `rep`).
    pub display_name: Option<String>,
    pub accounts: u64,
    /// Accounts at intent or won now.
    pub intent: u64,
    pub won: u64,
    /// Leads converted to customers.
    pub converted: u64,
    /// Mean days from first contact to conversion, over the converted leads.
    pub cycle_days_avg: Option<f64>,
}

/// Funnel conversion (entered → intent → won) and conversion cycle, for the selection and by
/// rep, source, industry and region. Counts are by each account's current status.
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
        converted: u64,
        cycle_days: i64,
    }
    let (intent, won) = (index.labels.find("intent"), index.labels.find("won"));
    // One array of cells per dimension, indexed by label: no hashing per account.
    let mut cells: Vec<Vec<Cell>> = (0..DIMENSIONS.len())
        .map(|_| (0..index.labels.len()).map(|_| Cell::default()).collect())
        .collect();
    let selected = select(index, teams, filters, true, tz);
    for &i in &selected {
        let slot = index.slot(i);
        let values = [NONE, slot.owner, slot.source, slot.industry, slot.region];
        let (is_intent, is_won) = (Some(slot.status) == intent, Some(slot.status) == won);
        for (dimension, value) in values.into_iter().enumerate() {
            let cell = &mut cells[dimension][value as usize];
            cell.accounts += 1;
            cell.intent += u64::from(is_intent || is_won);
            cell.won += u64::from(is_won);
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

/// Follow-ups one rep's accounts had in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekActivity {
    pub rep: String,
    pub display_name: String,
    /// The Monday the week starts.
    pub week: NaiveDate,
    pub follow_ups: u64,
}

/// Activity per rep per week: follow-ups on each rep's accounts, by when they happened.
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
    let selected = select(index, teams, filters, false, tz);
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
                let row = slot.owner as usize * span;
                for &(quarter, count) in index.quarters(slot) {
                    let week = week(quarter);
                    if kept(week) {
                        counts[row + (week - low) as usize] += u64::from(count);
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
                for &(quarter, count) in index.quarters(slot) {
                    let week = week(quarter);
                    if kept(week) {
                        *weeks.entry((slot.owner, week)).or_default() += u64::from(count);
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
        freshness: freshness(index, &selected, last_syncs, filters),
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
    let selected = select(index, teams, filters, true, tz);
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
    let selected = select(index, teams, filters, true, tz);
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
    let selected = select(index, teams, filters, true, tz);
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

/// The positions of the accounts in the caller's teams (`None`: all) that pass the filters
/// (`dated`: including the creation-date range); accounts merged into another are left out.
fn select(
    index: &Index,
    teams: Option<&[String]>,
    filters: &Filters,
    dated: bool,
    tz: Tz,
) -> Vec<usize> {
    let Some(selection) = Selection::of(index, teams, filters, dated, tz) else {
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
