//! Team views for managers, computed from the projection rows (never from documents) and
//! scoped to the caller: a manager sees the teams they lead, an admin every team; a rep
//! opens none. Every view says when it was computed and, per rep, when their devices last
//! synced and when their newest follow-up happened, because reps work offline and a number
//! is only as fresh as their last sync. Every table of every view also comes as CSV.
//!
//! The rows are scanned per request (they are in memory, see [`crate::storage::Storage`]);
//! aggregation keys borrow from the rows, so a scan allocates per group, not per row.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use outpost_protocol::DocId;
use serde::{Deserialize, Serialize};

use crate::projection::{Projection, Rows};

/// When each user's devices last synced, by login.
pub type LastSyncs = HashMap<String, DateTime<Utc>>;

/// How a view is built: from the rows, the teams the caller sees (`None`: all), the
/// query, each rep's last sync, and the time.
pub type Build<T> = fn(&Rows, Option<&[String]>, &Filters, &LastSyncs, DateTime<Utc>) -> T;

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
    /// Output: `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Format,
    /// Output: which table of the view a CSV holds (the first one when not given).
    pub table: Option<String>,
    /// Output: how many entries the long lists (overdue accounts, duplicate groups) carry in
    /// JSON, first ones first; [`DEFAULT_LIMIT`] when not given. CSV carries them all.
    pub limit: Option<usize>,
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
    /// How many entries of a long list to send.
    fn limit(&self) -> usize {
        match self.format {
            Format::Csv => usize::MAX,
            Format::Json => self.limit.unwrap_or(DEFAULT_LIMIT),
        }
    }

    /// Whether `row` passes the filters; `dated`: whether `from`/`to` apply to its creation.
    fn keeps(&self, row: &Projection, dated: bool) -> bool {
        let is = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        let day = row.created_at.date_naive();
        is(&self.team, row.team.as_deref())
            && is(&self.rep, Some(&row.owner))
            && is(&self.source, row.source.as_deref())
            && is(&self.industry, row.industry.as_deref())
            && is(&self.region, row.region.as_deref())
            && is(&self.status, Some(&row.status))
            && (!dated || self.from.is_none_or(|from| day >= from))
            && (!dated || self.to.is_none_or(|to| day <= to))
    }
}

/// A view's tables as CSV.
pub trait Tables {
    /// The names of the view's tables; the first is the default.
    const TABLES: &'static [&'static str];

    /// The table `name` as CSV, or `None` if the view has no such table.
    fn csv(&self, name: &str) -> Option<String>;
}

/// `rows` as CSV with a header of their field names.
fn csv_of<T: Serialize>(rows: &[T]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.serialize(row).expect("view rows are flat records");
    }
    let bytes = out.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
}

/// One cell of the pipeline: the opportunities of one rep (or the whole selection, `rep:
/// None`) in one stage and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTotal {
    pub rep: Option<String>,
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
    pub last_sync: Option<DateTime<Utc>>,
    pub newest_follow_up: Option<DateTime<Utc>>,
}

/// The pipeline by stage, per rep and for the whole selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub computed_at: DateTime<Utc>,
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

/// Builds the pipeline of the `rows` the caller may see (`teams`: `None` for every team).
pub fn pipeline(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> Pipeline {
    type Key<'r> = (Option<&'r str>, &'r str, Option<&'r str>);
    let mut cells: BTreeMap<Key<'_>, (u64, i64, i64)> = BTreeMap::new();
    let selected = select(rows, teams, filters, true);
    for (_, row) in &selected {
        for opportunity in &row.opportunities {
            let weighted = opportunity
                .amount_minor
                .saturating_mul(i64::from(opportunity.probability))
                / 100;
            for rep in [Some(row.owner.as_str()), None] {
                let key = (
                    rep,
                    opportunity.stage.as_str(),
                    opportunity.currency.as_deref(),
                );
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
            rep: rep.map(str::to_owned),
            stage: stage.to_owned(),
            currency: currency.map(str::to_owned),
            count,
            total_minor,
            weighted_minor,
        };
        if rep.is_some() {
            by_rep.push(cell);
        } else {
            total.push(cell);
        }
    }
    Pipeline {
        computed_at: now,
        accounts: selected.len() as u64,
        by_rep,
        total,
        freshness: freshness(&selected, last_syncs),
    }
}

/// One account whose next contact is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    pub account: DocId,
    pub name: String,
    pub rep: String,
    pub priority: Option<String>,
    pub next_due: DateTime<Utc>,
}

/// Follow-up discipline of one rep for accounts of one priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discipline {
    pub rep: String,
    pub priority: Option<String>,
    pub accounts: u64,
    /// Accounts whose next contact is not overdue: followed up within their cadence.
    pub within_cadence: u64,
}

/// Follow-ups logged more than 24 h after they happened, per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateLogging {
    pub rep: String,
    pub follow_ups: u64,
    pub late: u64,
}

/// The follow-up view: discipline per rep and priority, the overdue list (most overdue
/// first), late logging per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUps {
    pub computed_at: DateTime<Utc>,
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

/// Builds the follow-up view of the `rows` the caller may see, as of `now`.
pub fn follow_ups(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> FollowUps {
    let mut discipline: BTreeMap<(&str, Option<&str>), (u64, u64)> = BTreeMap::new();
    let mut late: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut overdue = Vec::new();
    let selected = select(rows, teams, filters, true);
    for (doc, row) in &selected {
        let is_overdue = row.next_due.is_some_and(|due| due < now);
        let cell = discipline
            .entry((&row.owner, row.priority.as_deref()))
            .or_default();
        cell.0 += 1;
        cell.1 += u64::from(!is_overdue);
        let logged = late.entry(&row.owner).or_default();
        logged.0 += u64::from(row.follow_ups);
        logged.1 += u64::from(row.late_follow_ups);
        if let (true, Some(next_due)) = (is_overdue, row.next_due) {
            overdue.push((next_due, **doc, *row));
        }
    }
    overdue.sort_unstable_by_key(|(due, doc, _)| (*due, *doc));
    let overdue_total = overdue.len() as u64;
    overdue.truncate(filters.limit());
    FollowUps {
        computed_at: now,
        accounts: selected.len() as u64,
        discipline: discipline
            .into_iter()
            .map(|((rep, priority), (accounts, within_cadence))| Discipline {
                rep: rep.to_owned(),
                priority: priority.map(str::to_owned),
                accounts,
                within_cadence,
            })
            .collect(),
        overdue_total,
        overdue: overdue
            .into_iter()
            .map(|(next_due, account, row)| Overdue {
                account,
                name: row.name.clone(),
                rep: row.owner.clone(),
                priority: row.priority.clone(),
                next_due,
            })
            .collect(),
        late: late
            .into_iter()
            .map(|(rep, (follow_ups, late))| LateLogging {
                rep: rep.to_owned(),
                follow_ups,
                late,
            })
            .collect(),
        freshness: freshness(&selected, last_syncs),
    }
}

/// The funnel of one group of accounts: how many entered, reached intent, were won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelRow {
    /// What the accounts are grouped by: `all`, `rep`, `source`, `industry` or `region`.
    pub dimension: String,
    /// The group's value (`None`: not recorded; always `None` for `all`).
    pub value: Option<String>,
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

/// The funnel dimensions, in the order the rows come.
const DIMENSIONS: [&str; 5] = ["all", "rep", "source", "industry", "region"];

/// Builds the funnel of the `rows` the caller may see.
pub fn funnel(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> Funnel {
    #[derive(Default)]
    struct Cell {
        accounts: u64,
        intent: u64,
        won: u64,
        converted: u64,
        cycle_days: i64,
    }
    let mut cells: BTreeMap<(usize, Option<&str>), Cell> = BTreeMap::new();
    let selected = select(rows, teams, filters, true);
    for (_, row) in &selected {
        let values = [
            None,
            Some(row.owner.as_str()),
            row.source.as_deref(),
            row.industry.as_deref(),
            row.region.as_deref(),
        ];
        for (dimension, value) in values.into_iter().enumerate() {
            let cell = cells.entry((dimension, value)).or_default();
            cell.accounts += 1;
            cell.intent += u64::from(row.status == "intent" || row.status == "won");
            cell.won += u64::from(row.status == "won");
            if let Some(days) = row.conversion_days {
                cell.converted += 1;
                cell.cycle_days += days;
            }
        }
    }
    Funnel {
        computed_at: now,
        rows: cells
            .into_iter()
            .map(|((dimension, value), cell)| FunnelRow {
                dimension: DIMENSIONS[dimension].to_owned(),
                value: value.map(str::to_owned),
                accounts: cell.accounts,
                intent: cell.intent,
                won: cell.won,
                converted: cell.converted,
                cycle_days_avg: (cell.converted > 0)
                    .then(|| cell.cycle_days as f64 / cell.converted as f64),
            })
            .collect(),
        freshness: freshness(&selected, last_syncs),
    }
}

/// Follow-ups one rep's accounts had in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekActivity {
    pub rep: String,
    /// The Monday the week starts.
    pub week: NaiveDate,
    pub follow_ups: u64,
}

/// Activity per rep per week: follow-ups on each rep's accounts, by when they happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub computed_at: DateTime<Utc>,
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

/// Builds the activity of the `rows` the caller may see; `from`/`to` select weeks (a week
/// counts when its Monday is in the range).
pub fn activity(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> Activity {
    let mut weeks: BTreeMap<(&str, NaiveDate), u64> = BTreeMap::new();
    let selected = select(rows, teams, filters, false);
    for (_, row) in &selected {
        for (week, count) in &row.weeks {
            if filters
                .from
                .is_none_or(|from| *week >= crate::projection::week_of(from))
                && filters.to.is_none_or(|to| *week <= to)
            {
                *weeks.entry((&row.owner, *week)).or_default() += u64::from(*count);
            }
        }
    }
    Activity {
        computed_at: now,
        weeks: weeks
            .into_iter()
            .map(|((rep, week), follow_ups)| WeekActivity {
                rep: rep.to_owned(),
                week,
                follow_ups,
            })
            .collect(),
        freshness: freshness(&selected, last_syncs),
    }
}

/// How many accounts were lost for one reason (by one rep, in `by_rep`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReason {
    pub rep: Option<String>,
    pub reason: Option<String>,
    pub accounts: u64,
}

/// Why accounts were lost, in the selection and per rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostReasons {
    pub computed_at: DateTime<Utc>,
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

/// Builds the lost-reason distribution of the lost accounts among the `rows` the caller may
/// see.
pub fn lost_reasons(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> LostReasons {
    let mut counts: BTreeMap<(Option<&str>, Option<&str>), u64> = BTreeMap::new();
    let selected = select(rows, teams, filters, true);
    let lost: Vec<_> = selected
        .iter()
        .filter(|(_, row)| row.status == "lost")
        .collect();
    for (_, row) in &lost {
        for rep in [None, Some(row.owner.as_str())] {
            *counts.entry((rep, row.lost_reason.as_deref())).or_default() += 1;
        }
    }
    let (mut reasons, mut by_rep) = (Vec::new(), Vec::new());
    for ((rep, reason), accounts) in counts {
        let entry = LostReason {
            rep: rep.map(str::to_owned),
            reason: reason.map(str::to_owned),
            accounts,
        };
        if rep.is_some() {
            by_rep.push(entry);
        } else {
            reasons.push(entry);
        }
    }
    LostReasons {
        computed_at: now,
        accounts: lost.len() as u64,
        reasons,
        by_rep,
        freshness: freshness(&selected, last_syncs),
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

/// Builds the won-customer profile of the `rows` the caller may see.
pub fn won_profile(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> WonProfile {
    let selected = select(rows, teams, filters, true);
    let won: Vec<&Projection> = selected
        .iter()
        .map(|(_, row)| *row)
        .filter(|row| row.status == "won")
        .collect();
    let count_by = |field: fn(&Projection) -> Option<&str>| {
        let mut counts: BTreeMap<Option<&str>, u64> = BTreeMap::new();
        for row in &won {
            *counts.entry(field(row)).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(value, accounts)| Count {
                value: value.map(str::to_owned),
                accounts,
            })
            .collect()
    };
    WonProfile {
        computed_at: now,
        accounts: won.len() as u64,
        by_industry: count_by(|row| row.industry.as_deref()),
        by_size: count_by(|row| row.size.as_deref()),
        by_source: count_by(|row| row.source.as_deref()),
        freshness: freshness(&selected, last_syncs),
    }
}

/// One account of a group of suspected duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateAccount {
    pub account: DocId,
    pub name: String,
    pub rep: String,
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

/// Builds the suspected duplicates among the `rows` the caller may see.
pub fn duplicates(
    rows: &Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &LastSyncs,
    now: DateTime<Utc>,
) -> Duplicates {
    let selected = select(rows, teams, filters, true);
    let mut by_key: BTreeMap<&str, Vec<(&DocId, &Projection)>> = BTreeMap::new();
    for (doc, row) in &selected {
        for key in &row.match_keys {
            by_key.entry(key).or_default().push((doc, row));
        }
    }
    let mut seen: BTreeSet<Vec<DocId>> = BTreeSet::new();
    let mut groups = Vec::new();
    let mut groups_total = 0;
    for (key, mut accounts) in by_key {
        if accounts.len() < 2 {
            continue;
        }
        accounts.sort_by_key(|(doc, _)| **doc);
        let ids: Vec<DocId> = accounts.iter().map(|(doc, _)| **doc).collect();
        if !seen.insert(ids) {
            continue;
        }
        groups_total += 1;
        if groups.len() >= filters.limit() {
            continue;
        }
        groups.push(DuplicateGroup {
            key: key.to_owned(),
            accounts: accounts
                .into_iter()
                .map(|(doc, row)| DuplicateAccount {
                    account: *doc,
                    name: row.name.clone(),
                    rep: row.owner.clone(),
                })
                .collect(),
        });
    }
    Duplicates {
        computed_at: now,
        groups_total,
        groups,
        freshness: freshness(&selected, last_syncs),
    }
}

/// The rows in the caller's teams (`None`: all) that pass the filters (`dated`: including
/// the creation-date range); accounts merged into another are left out.
fn select<'r>(
    rows: &'r Rows,
    teams: Option<&[String]>,
    filters: &Filters,
    dated: bool,
) -> Vec<(&'r DocId, &'r Projection)> {
    rows.iter()
        .filter(|(_, row)| {
            !row.merged
                && teams.is_none_or(|teams| row.team.as_ref().is_some_and(|t| teams.contains(t)))
                && filters.keeps(row, dated)
        })
        .collect()
}

/// The freshness of every rep owning one of `selected`.
fn freshness(selected: &[(&DocId, &Projection)], last_syncs: &LastSyncs) -> Vec<Freshness> {
    let mut newest: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
    for (_, row) in selected {
        let slot = newest.entry(&row.owner).or_default();
        *slot = (*slot).max(row.last_activity);
    }
    newest
        .into_iter()
        .map(|(rep, newest_follow_up)| Freshness {
            rep: rep.to_owned(),
            last_sync: last_syncs.get(rep).copied(),
            newest_follow_up,
        })
        .collect()
}
