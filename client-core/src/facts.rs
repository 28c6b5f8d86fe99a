//! Facts derived from an account, never stored: when the next contact is due (by plan or by
//! the priority/level cadence), whether it is overdue, which follow-ups were logged late, and
//! how long a lead took to convert.
//!
//! Instants are UTC; days are the days of a time zone given as an argument (the rep's on a
//! device, the team's on the server). The library never reads the clock or the zone itself.

use chrono::{
    DateTime, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::model::{AccountDoc, Kind, Level, Priority, Status};

/// A follow-up logged more than this long after it happened is late.
pub const LATE_AFTER: Duration = Duration::hours(24);

/// The time of day an agreed next-contact day or a wake-up day is due, in local time.
pub const DUE_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a time"),
};

/// A time-zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}`: give an IANA name such as Asia/Shanghai, Europe/Berlin or UTC")]
pub struct UnknownZone(pub String);

/// Reads an IANA time-zone name (`Asia/Shanghai`).
pub fn zone(name: &str) -> Result<Tz, UnknownZone> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| UnknownZone(name.to_owned()))
}

/// The day `at` falls on in `tz`.
pub fn local_day(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant a local wall-clock time stands for in `tz`. In the hour a clock goes back it
/// is the earlier of the two; in the hour it skips, the time an hour later (as a clock set
/// forward reads).
pub fn from_local(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => tz
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The instant local `day` begins in `tz`.
pub fn start_of_day(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    from_local(day.and_time(NaiveTime::MIN), tz)
}

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

/// What the next contact's due time is made of, before a time zone is chosen: the earliest
/// of an instant (an open plan, a new lead's first day), a day (agreed in the latest
/// follow-up, or a dormant lead's wake-up day: due at [`DUE_TIME`] local) and the cadence
/// (local calendar days after the last contact, so it falls at the same wall-clock time
/// across a daylight-saving change). Kept in this form in summary rows, so a row reads the
/// same in any zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    pub at: Option<DateTime<Utc>>,
    pub on: Option<NaiveDate>,
    /// The last contact (or entry) and the cadence days after it.
    pub cadence: Option<(DateTime<Utc>, u16)>,
}

impl Due {
    /// When it is due in `tz`; `None` only if it holds nothing.
    pub fn resolve(&self, tz: Tz) -> Option<DateTime<Utc>> {
        let on = self.on.map(|day| from_local(day.and_time(DUE_TIME), tz));
        let cadence = self.cadence.map(|(from, days)| {
            let local = from.with_timezone(&tz).naive_local();
            local
                .checked_add_days(Days::new(u64::from(days)))
                .map_or(from + Duration::days(i64::from(days)), |l| {
                    from_local(l, tz)
                })
        });
        [self.at, on, cadence].into_iter().flatten().min()
    }
}

/// The parts of the account's next due time (see [`Due`]); `None` for lost accounts and a
/// dormant lead without a wake-up day.
pub fn due(doc: &AccountDoc) -> Option<Due> {
    match doc.status {
        Status::Lost => return None,
        Status::Dormant => {
            return doc.wake_up_on.map(|d| Due {
                at: None,
                on: Some(d.0),
                cadence: None,
            });
        }
        _ => {}
    }
    let latest = doc.follow_ups.values().max_by_key(|f| f.occurred_at);
    let planned = doc
        .plans
        .values()
        .filter(|p| !p.done)
        .map(|p| p.due.0)
        .min();
    let days = u16::try_from(cadence(doc.priority.as_ref(), doc.level.as_ref()).num_days())
        .unwrap_or(u16::MAX);
    let last_contact = doc.follow_ups.values().map(|f| f.occurred_at.0).max();
    let (first_day, cadence) = match last_contact {
        Some(last) => (None, Some((last, days))),
        None if doc.kind == Kind::Lead => (Some(doc.created_at.0 + Duration::hours(24)), None),
        None => (None, Some((doc.created_at.0, days))),
    };
    Some(Due {
        at: [planned, first_day].into_iter().flatten().min(),
        on: latest.and_then(|f| f.next_due).map(|d| d.0),
        cadence,
    })
}

/// When the next contact is due in `tz` (see [`due`]).
pub fn next_due(doc: &AccountDoc, tz: Tz) -> Option<DateTime<Utc>> {
    due(doc).and_then(|d| d.resolve(tz))
}

/// What the account's record says at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    pub cadence_days: i64,
    pub next_due: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Follow-ups recorded more than 24 h after they happened, by id.
    pub late_follow_ups: Vec<String>,
    /// Days from first contact (or the local day of entry) to conversion, for converted leads.
    pub conversion_days: Option<i64>,
}

/// Derives the facts of an account at `now`, with days counted in `tz`.
pub fn facts(doc: &AccountDoc, now: DateTime<Utc>, tz: Tz) -> Facts {
    let next_due = next_due(doc, tz);
    let start = doc
        .first_contact
        .map_or(local_day(doc.created_at.0, tz), |d| d.0);
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

/// The Monday of the week `day` falls in.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Tz;

    use super::*;
    use crate::model::{ContactMethod, Day};
    use crate::{AccountEdit, NewAccount, NewFollowUp, Store};

    const SHANGHAI: Tz = Tz::Asia__Shanghai;
    const BERLIN: Tz = Tz::Europe__Berlin;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn day(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    /// An account entered at `created` with `edits` made a day later, as the store wrote it.
    fn account(new: NewAccount, created: DateTime<Utc>, edits: &[AccountEdit]) -> AccountDoc {
        let store = Store::in_memory().unwrap();
        let id = store.create_account_anyway(&new, created).unwrap();
        store
            .edit_account_all(id, edits, created + Duration::days(1))
            .unwrap();
        store.account(id).unwrap().record
    }

    fn customer() -> NewAccount {
        NewAccount {
            name: "华强电子".into(),
            owner: "ana".into(),
            ..NewAccount::default()
        }
    }

    #[test]
    fn zones_are_read_by_iana_name_and_an_unknown_one_says_what_to_give() {
        assert_eq!(zone("Asia/Shanghai"), Ok(SHANGHAI));
        assert_eq!(zone(" Europe/Berlin "), Ok(BERLIN));
        let e = zone("Beijing").unwrap_err().to_string();
        assert!(
            e.contains("`Beijing`") && e.contains("Asia/Shanghai"),
            "{e}"
        );
    }

    #[test]
    fn local_times_name_the_instants_of_their_zone_and_a_skipped_hour_moves_forward() {
        let local = day(2026, 11, 27).and_hms_opt(10, 0, 0).unwrap();
        assert_eq!(from_local(local, SHANGHAI), utc(2026, 11, 27, 2, 0));
        assert_eq!(from_local(local, BERLIN), utc(2026, 11, 27, 9, 0));
        // 02:30 does not exist in Berlin on 2026-03-29 (clocks go 02:00 → 03:00): 03:30 CEST.
        let skipped = day(2026, 3, 29).and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(from_local(skipped, BERLIN), utc(2026, 3, 29, 1, 30));
        // 02:30 happens twice on 2026-10-25: the first (CEST).
        let twice = day(2026, 10, 25).and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(from_local(twice, BERLIN), utc(2026, 10, 25, 0, 30));
        assert_eq!(
            start_of_day(day(2026, 11, 30), SHANGHAI),
            utc(2026, 11, 29, 16, 0)
        );
        // Sunday 15:30 UTC is Sunday 23:30 in Shanghai; 16:30 UTC is already Monday there.
        assert_eq!(
            local_day(utc(2026, 11, 29, 15, 30), SHANGHAI),
            day(2026, 11, 29)
        );
        assert_eq!(
            local_day(utc(2026, 11, 29, 16, 30), SHANGHAI),
            day(2026, 11, 30)
        );
        assert_eq!(
            local_day(utc(2026, 11, 29, 16, 30), BERLIN),
            day(2026, 11, 29)
        );
        assert_eq!(week_of(day(2026, 11, 29)), day(2026, 11, 23));
        assert_eq!(week_of(day(2026, 11, 30)), day(2026, 11, 30));
    }

    #[test]
    fn an_agreed_day_is_due_at_nine_local_time_and_overdue_by_the_zones_clock() {
        let visit = utc(2026, 11, 26, 2, 0);
        let doc = account(
            customer(),
            visit - Duration::hours(1),
            &[AccountEdit::LogFollowUp(NewFollowUp {
                next_due: Some(Day(day(2026, 11, 30))),
                ..NewFollowUp::new(visit, ContactMethod::Visit, "看样品")
            })],
        );
        assert_eq!(next_due(&doc, SHANGHAI), Some(utc(2026, 11, 30, 1, 0)));
        assert_eq!(next_due(&doc, BERLIN), Some(utc(2026, 11, 30, 8, 0)));
        // At 05:00 UTC it is 13:00 in Shanghai (past 09:00) and 06:00 in Berlin (not yet).
        let now = utc(2026, 11, 30, 5, 0);
        assert!(facts(&doc, now, SHANGHAI).overdue);
        assert!(!facts(&doc, now, BERLIN).overdue);
        // The summary row keeps the parts, and reads the same in every zone as the facts.
        let parts = due(&doc).unwrap();
        for tz in [SHANGHAI, BERLIN, Tz::UTC] {
            assert_eq!(parts.resolve(tz), facts(&doc, now, tz).next_due);
        }
    }

    #[test]
    fn cadence_counts_local_calendar_days_across_a_daylight_saving_change() {
        // Weekly (priority A); last contact Tuesday 2026-03-24 23:30 in Berlin (CET, 22:30 UTC).
        let contact = utc(2026, 3, 24, 22, 30);
        let doc = account(
            NewAccount {
                priority: Some(crate::model::Priority::A),
                ..customer()
            },
            contact - Duration::hours(1),
            &[AccountEdit::LogFollowUp(NewFollowUp::new(
                contact,
                ContactMethod::Phone,
                "call",
            ))],
        );
        // Due the next Tuesday at 23:30 Berlin time, now CEST (21:30 UTC): still Tuesday
        // there, where 7 × 24 h would have been Wednesday 00:30.
        let due = next_due(&doc, BERLIN).unwrap();
        assert_eq!(due, utc(2026, 3, 31, 21, 30));
        assert_eq!(local_day(due, BERLIN), day(2026, 3, 31));
        // Shanghai has no daylight saving: exactly a week.
        assert_eq!(next_due(&doc, SHANGHAI), Some(contact + Duration::days(7)));
    }

    #[test]
    fn a_wake_up_day_and_the_conversion_cycle_follow_the_local_day() {
        // A lead entered Sunday 20:00 UTC: Monday 04:00 in Shanghai.
        let created = utc(2026, 11, 29, 20, 0);
        let lead = NewAccount {
            kind: crate::model::Kind::Lead,
            ..customer()
        };
        let dormant = account(
            lead.clone(),
            created,
            &[AccountEdit::MarkDormant {
                wake_up_on: Day(day(2027, 1, 4)),
            }],
        );
        assert_eq!(next_due(&dormant, SHANGHAI), Some(utc(2027, 1, 4, 1, 0)));
        assert_eq!(next_due(&dormant, BERLIN), Some(utc(2027, 1, 4, 8, 0)));
        let converted = account(
            lead,
            created,
            &[AccountEdit::ConvertLead {
                on: Day(day(2026, 12, 7)),
            }],
        );
        let now = utc(2026, 12, 8, 0, 0);
        assert_eq!(facts(&converted, now, Tz::UTC).conversion_days, Some(8));
        assert_eq!(facts(&converted, now, SHANGHAI).conversion_days, Some(7));
    }
}
