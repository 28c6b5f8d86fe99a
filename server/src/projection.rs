//! Projections: one summary row per account, written in the same transaction as each commit
//! of the account, so manager views read rows and never load automerge documents. A rebuild
//! recomputes every row from the documents; the two always agree (tested).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use outpost_client::AccountDoc;
use outpost_client::duplicates::match_keys;
use outpost_client::facts::{Due, due, facts};
use outpost_client::model::Status;
use serde::{Deserialize, Serialize};

/// The layout of [`Projection`] rows this build writes. A store whose rows were written by
/// another layout has them rebuilt from the documents when it opens.
pub const LAYOUT: u64 = 6;

/// What the team views need to know of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    pub name: String,
    pub owner: String,
    /// The owner's team when the row was written.
    pub team: Option<String>,
    pub kind: String,
    pub status: String,
    pub source: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub size: Option<String>,
    pub priority: Option<String>,
    pub lost_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub converted_on: Option<NaiveDate>,
    pub conversion_days: Option<i64>,
    /// When the next contact is due (planned, agreed, or by cadence), in parts a view
    /// resolves in its time zone.
    pub next_due: Option<Due>,
    /// When the latest follow-up happened.
    pub last_activity: Option<DateTime<Utc>>,
    pub follow_ups: u32,
    /// Follow-ups recorded more than 24 h after they happened.
    pub late_follow_ups: u32,
    pub opportunities: Vec<OpportunityRow>,
    /// Follow-ups per quarter hour ([`quarter_of`]) they happened in and rep who logged them
    /// (the user of the device in `logged_by`, resolved when the row is written; a device
    /// the server does not know counts for the owner): a view counts them into the days and
    /// weeks of any time zone (every zone in use is a whole number of quarter hours from UTC).
    /// At most one entry per follow-up.
    pub activity: Vec<(i32, String, u32)>,
    /// The account is or was at intent or won (by its status history).
    pub reached_intent: bool,
    /// The account is or was won.
    pub reached_won: bool,
    /// Some contact has a phone or an email.
    pub contact_info: bool,
    /// What two records of the same customer would share (normalised name, phone, email).
    pub match_keys: Vec<String>,
    /// Merged into another account as a duplicate: kept, but out of the views.
    pub merged: bool,
    /// Archived (a lost account): kept, out of the working views until restored.
    pub archived: bool,
    /// Who archived it (a login), and when.
    pub archived_by: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// One opportunity of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityRow {
    pub stage: String,
    pub probability: u8,
    /// Minor units of `currency`; zero when no amount is known.
    pub amount_minor: i64,
    pub currency: Option<String>,
    pub owner: String,
}

impl Projection {
    /// The row of `record`, owned by a member of `team`; `user_of` names the user of a
    /// device (`None`: unknown). Devices are never reassigned, so the row is a pure function
    /// of the stored document and directory: a rebuild writes the same row.
    pub fn of(
        record: &AccountDoc,
        team: Option<String>,
        user_of: impl FnMut(&str) -> Option<String>,
    ) -> Projection {
        // Conversion days count from the local day of entry only for leads without a first
        // contact; the row takes that day in UTC.
        let derived = facts(record, record.created_at.0, Tz::UTC);
        Projection {
            name: record.name.clone(),
            owner: record.owner.clone(),
            team,
            kind: record.kind.to_string(),
            status: record.status.to_string(),
            source: record.source.as_ref().map(ToString::to_string),
            industry: record.industry.clone(),
            region: record.region.clone(),
            size: record.size.clone(),
            priority: record.priority.as_ref().map(ToString::to_string),
            lost_reason: record.lost_reason.clone(),
            created_at: record.created_at.0,
            converted_on: record.converted_on.map(|d| d.0),
            conversion_days: derived.conversion_days,
            next_due: due(record),
            last_activity: record.follow_ups.values().map(|f| f.occurred_at.0).max(),
            follow_ups: u32::try_from(record.follow_ups.len()).unwrap_or(u32::MAX),
            late_follow_ups: u32::try_from(derived.late_follow_ups.len()).unwrap_or(u32::MAX),
            opportunities: record
                .opportunities
                .values()
                .map(|o| OpportunityRow {
                    stage: o.stage.to_string(),
                    probability: o.probability,
                    amount_minor: o.amount.as_ref().map_or(0, |m| m.minor),
                    currency: o.amount.as_ref().map(|m| m.currency.clone()),
                    owner: o.owner.clone(),
                })
                .collect(),
            activity: activity(record, user_of),
            reached_intent: record.reached(&Status::Intent) || record.reached(&Status::Won),
            reached_won: record.reached(&Status::Won),
            contact_info: record
                .contacts
                .values()
                .any(|c| has_text(&c.phone) || has_text(&c.email)),
            match_keys: match_keys(&record.name, record.contacts.values()),
            merged: record.merged_into.is_some(),
            archived: record.archived.is_some(),
            archived_by: record.archived.as_ref().map(|a| a.by.clone()),
            archived_at: record.archived.as_ref().map(|a| a.at.0),
        }
    }
}

/// The quarter hour since the Unix epoch `at` falls in.
pub fn quarter_of(at: DateTime<Utc>) -> i32 {
    i32::try_from(at.timestamp().div_euclid(15 * 60)).unwrap_or(if at.timestamp() < 0 {
        i32::MIN
    } else {
        i32::MAX
    })
}

/// The instant quarter hour `quarter` begins.
pub fn quarter_start(quarter: i32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(quarter) * 15 * 60, 0).unwrap_or_default()
}

fn has_text(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.trim().is_empty())
}

/// Follow-ups per (quarter hour, logging rep); each device is resolved once, and counting
/// borrows the reps' names (an account may hold years of follow-ups).
fn activity(
    record: &AccountDoc,
    mut user_of: impl FnMut(&str) -> Option<String>,
) -> Vec<(i32, String, u32)> {
    let mut reps: BTreeMap<&str, String> = BTreeMap::new();
    for follow_up in record.follow_ups.values() {
        let device = follow_up.logged_by.as_str();
        if !reps.contains_key(device) {
            let rep = user_of(device).unwrap_or_else(|| record.owner.clone());
            reps.insert(device, rep);
        }
    }
    let mut quarters: BTreeMap<(i32, &str), u32> = BTreeMap::new();
    for follow_up in record.follow_ups.values() {
        let rep = reps[follow_up.logged_by.as_str()].as_str();
        *quarters
            .entry((quarter_of(follow_up.occurred_at.0), rep))
            .or_default() += 1;
    }
    quarters
        .into_iter()
        .map(|((quarter, rep), n)| (quarter, rep.to_owned(), n))
        .collect()
}

/// The Monday of the week `day` falls in.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    outpost_client::facts::week_of(day)
}
