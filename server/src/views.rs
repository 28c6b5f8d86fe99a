//! Team views for managers, computed from the projection rows (never from documents) and
//! scoped to the caller: a manager sees the teams they lead, an admin every team; a rep
//! opens none. Every view says when it was computed and when each rep last synced, because
//! reps work offline and a number is only as fresh as their last sync.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use outpost_protocol::DocId;
use serde::{Deserialize, Serialize};

use crate::projection::Projection;

/// How a view is built: from the rows, the teams the caller sees (`None`: all), the
/// filters, each rep's last sync, and the time.
pub type Build<T> =
    fn(&[(DocId, Projection)], Option<&[String]>, &Filters, &[Freshness], DateTime<Utc>) -> T;

/// Filters every view takes (query parameters); all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub team: Option<String>,
    pub rep: Option<String>,
    pub source: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    /// Accounts created on or after this day.
    pub from: Option<NaiveDate>,
    /// Accounts created on or before this day.
    pub to: Option<NaiveDate>,
}

impl Filters {
    fn keeps(&self, row: &Projection) -> bool {
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
            && self.from.is_none_or(|from| day >= from)
            && self.to.is_none_or(|to| day <= to)
    }
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

/// When a rep's devices last synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub rep: String,
    pub last_sync: Option<DateTime<Utc>>,
}

/// The pipeline by stage, per rep and for the whole selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub computed_at: DateTime<Utc>,
    pub accounts: u64,
    pub by_rep: Vec<StageTotal>,
    pub total: Vec<StageTotal>,
    /// Each rep in the selection, with when their data last reached the server.
    pub freshness: Vec<Freshness>,
}

/// Builds the pipeline of the `rows` the caller may see (`teams`: `None` for every team).
pub fn pipeline(
    rows: &[(DocId, Projection)],
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &[Freshness],
    now: DateTime<Utc>,
) -> Pipeline {
    type Key = (Option<String>, String, Option<String>);
    let mut cells: BTreeMap<Key, (u64, i64, i64)> = BTreeMap::new();
    let selected = select(rows, teams, filters);
    for (_, row) in &selected {
        for opportunity in &row.opportunities {
            let weighted = opportunity
                .amount_minor
                .saturating_mul(i64::from(opportunity.probability))
                / 100;
            for rep in [Some(row.owner.clone()), None] {
                let key = (rep, opportunity.stage.clone(), opportunity.currency.clone());
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
            rep: rep.clone(),
            stage,
            currency,
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
    pub overdue: Vec<Overdue>,
    pub late: Vec<LateLogging>,
    pub freshness: Vec<Freshness>,
}

/// Builds the follow-up view of the `rows` the caller may see, as of `now`.
pub fn follow_ups(
    rows: &[(DocId, Projection)],
    teams: Option<&[String]>,
    filters: &Filters,
    last_syncs: &[Freshness],
    now: DateTime<Utc>,
) -> FollowUps {
    let mut discipline: BTreeMap<(String, Option<String>), (u64, u64)> = BTreeMap::new();
    let mut late: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut overdue = Vec::new();
    let selected = select(rows, teams, filters);
    for (doc, row) in &selected {
        let is_overdue = row.next_due.is_some_and(|due| due < now);
        let cell = discipline
            .entry((row.owner.clone(), row.priority.clone()))
            .or_default();
        cell.0 += 1;
        cell.1 += u64::from(!is_overdue);
        let logged = late.entry(row.owner.clone()).or_default();
        logged.0 += u64::from(row.follow_ups);
        logged.1 += u64::from(row.late_follow_ups);
        if let (true, Some(next_due)) = (is_overdue, row.next_due) {
            overdue.push(Overdue {
                account: *doc,
                name: row.name.clone(),
                rep: row.owner.clone(),
                priority: row.priority.clone(),
                next_due,
            });
        }
    }
    overdue.sort_by_key(|o| (o.next_due, o.account));
    FollowUps {
        computed_at: now,
        accounts: selected.len() as u64,
        discipline: discipline
            .into_iter()
            .map(|((rep, priority), (accounts, within_cadence))| Discipline {
                rep,
                priority,
                accounts,
                within_cadence,
            })
            .collect(),
        overdue,
        late: late
            .into_iter()
            .map(|(rep, (follow_ups, late))| LateLogging {
                rep,
                follow_ups,
                late,
            })
            .collect(),
        freshness: freshness(&selected, last_syncs),
    }
}

/// The rows in the caller's teams (`None`: all) that pass the filters.
fn select<'r>(
    rows: &'r [(DocId, Projection)],
    teams: Option<&[String]>,
    filters: &Filters,
) -> Vec<&'r (DocId, Projection)> {
    rows.iter()
        .filter(|(_, row)| {
            teams.is_none_or(|teams| row.team.as_ref().is_some_and(|t| teams.contains(t)))
                && filters.keeps(row)
        })
        .collect()
}

/// The last sync of every rep owning one of `selected`.
fn freshness(selected: &[&(DocId, Projection)], last_syncs: &[Freshness]) -> Vec<Freshness> {
    let reps: std::collections::BTreeSet<&str> =
        selected.iter().map(|(_, row)| row.owner.as_str()).collect();
    reps.into_iter()
        .map(|rep| Freshness {
            rep: rep.to_owned(),
            last_sync: last_syncs
                .iter()
                .find(|f| f.rep == rep)
                .and_then(|f| f.last_sync),
        })
        .collect()
}
