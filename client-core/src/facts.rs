//! Facts derived from an account, never stored: when the next contact is due (by plan or by
//! the priority/level cadence), whether it is overdue, which follow-ups were logged late, and
//! how long a lead took to convert.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::{AccountDoc, Kind, Level, Priority, Status};

/// A follow-up logged more than this long after it happened is late.
pub const LATE_AFTER: Duration = Duration::hours(24);

/// The longest gap between contacts the account's priority and level allow: A weekly, B every
/// two weeks, C monthly, D quarterly; key weekly, normal every two weeks, growth monthly. With
/// both set, the stricter wins; with neither, every two weeks.
pub fn cadence(priority: Option<&Priority>, level: Option<&Level>) -> Duration {
    let by_priority = priority.and_then(|p| match p {
        Priority::A => Some(7),
        Priority::B => Some(14),
        Priority::C => Some(30),
        Priority::D => Some(90),
        Priority::Other(_) => None,
    });
    let by_level = level.and_then(|l| match l {
        Level::Key => Some(7),
        Level::Normal => Some(14),
        Level::Growth => Some(30),
        Level::Other(_) => None,
    });
    let days = match (by_priority, by_level) {
        (Some(p), Some(l)) => p.min(l),
        (Some(d), None) | (None, Some(d)) => d,
        (None, None) => 14,
    };
    Duration::days(days)
}

/// When the next contact is due: the earliest open plan or next-contact date agreed in the
/// latest follow-up (at 09:00 UTC that day), or else the cadence after the last contact (a new
/// lead: within 24 h of entry). `None` for lost accounts; a dormant lead is due
/// on its wake-up day.
pub fn next_due(doc: &AccountDoc) -> Option<DateTime<Utc>> {
    match doc.status {
        Status::Lost => return None,
        Status::Dormant => {
            return doc
                .wake_up_on
                .and_then(|d| d.0.and_hms_opt(9, 0, 0))
                .map(|t| t.and_utc());
        }
        _ => {}
    }
    let latest = doc.follow_ups.values().max_by_key(|f| f.occurred_at);
    let agreed = latest
        .and_then(|f| f.next_due)
        .and_then(|d| d.0.and_hms_opt(9, 0, 0))
        .map(|t| t.and_utc());
    let planned = doc
        .plans
        .values()
        .filter(|p| !p.done)
        .map(|p| p.due.0)
        .chain(agreed)
        .min();
    let last_contact = doc.follow_ups.values().map(|f| f.occurred_at.0).max();
    let by_cadence = match last_contact {
        Some(last) => last + cadence(doc.priority.as_ref(), doc.level.as_ref()),
        None if doc.kind == Kind::Lead => doc.created_at.0 + Duration::hours(24),
        None => doc.created_at.0 + cadence(doc.priority.as_ref(), doc.level.as_ref()),
    };
    Some(planned.map_or(by_cadence, |p| p.min(by_cadence)))
}

/// What the account's record says at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    pub cadence_days: i64,
    pub next_due: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Follow-ups recorded more than 24 h after they happened, by id.
    pub late_follow_ups: Vec<String>,
    /// Days from first contact (or entry) to conversion, for converted leads.
    pub conversion_days: Option<i64>,
}

/// Derives the facts of an account at `now`.
pub fn facts(doc: &AccountDoc, now: DateTime<Utc>) -> Facts {
    let next_due = next_due(doc);
    let start = doc
        .first_contact
        .map_or(doc.created_at.0.date_naive(), |d| d.0);
    Facts {
        cadence_days: cadence(doc.priority.as_ref(), doc.level.as_ref()).num_days(),
        next_due,
        overdue: next_due.is_some_and(|due| due < now),
        late_follow_ups: doc
            .follow_ups
            .iter()
            .filter(|(_, f)| f.recorded_at.0 - f.occurred_at.0 > LATE_AFTER)
            .map(|(id, _)| id.clone())
            .collect(),
        conversion_days: doc.converted_on.map(|on| (on.0 - start).num_days()),
    }
}
