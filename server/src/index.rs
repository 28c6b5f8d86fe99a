//! The projection rows in memory, laid out for scanning: the views run over every account a
//! manager sees on each request, so what a scan reads is inline and contiguous.
//!
//! Each row's labels (owner, team, status, source, industry, region, size, priority, lost
//! reason) are interned as small numbers ([`Label`]) in one [`Slot`] per account, with its
//! dates and counts; a scan walks the slots without following a pointer. What only some views
//! need — opportunities, follow-ups per quarter hour, match keys — sits in flat side tables, each
//! slot owning one range of each. A slot's ranges are replaced when its row is, and the side
//! tables are compacted once half of them is stale. Beside each slot: the account's id and
//! name, for what a view shows of single accounts.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use outpost_client::facts::Due;
use outpost_protocol::DocId;

use crate::projection::Projection;

/// An interned string; [`NONE`] stands for a missing value.
pub type Label = u32;

/// The label of a missing value.
pub const NONE: Label = 0;

/// Strings and their labels.
#[derive(Debug)]
pub struct Labels {
    ids: HashMap<String, Label>,
    names: Vec<String>,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            ids: HashMap::new(),
            names: vec![String::new()],
        }
    }
}

impl Labels {
    fn intern(&mut self, name: Option<&str>) -> Label {
        let Some(name) = name else {
            return NONE;
        };
        if let Some(&label) = self.ids.get(name) {
            return label;
        }
        let label = Label::try_from(self.names.len()).expect("fewer than 2^32 labels");
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), label);
        label
    }

    /// The label of `name`, if any row has it.
    pub fn find(&self, name: &str) -> Option<Label> {
        self.ids.get(name).copied()
    }

    /// The string of `label` (`None` for [`NONE`]).
    pub fn name(&self, label: Label) -> Option<&str> {
        (label != NONE).then(|| self.names[label as usize].as_str())
    }

    /// How many labels there are (an upper bound for arrays indexed by label).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.len() == 1
    }
}

/// One opportunity, as the pipeline adds it up.
#[derive(Debug, Clone, Copy)]
pub struct Opportunity {
    pub stage: Label,
    pub currency: Label,
    pub probability: u8,
    pub amount_minor: i64,
}

/// What the scans read of one account.
#[derive(Debug, Clone)]
pub struct Slot {
    pub owner: Label,
    pub team: Label,
    pub status: Label,
    pub source: Label,
    pub industry: Label,
    pub region: Label,
    pub size: Label,
    pub priority: Label,
    pub lost_reason: Label,
    /// When the account was entered, Unix ms.
    pub created_ms: i64,
    /// When the next contact is due, before a time zone is chosen; `None` when nothing is.
    pub next_due: Option<Due>,
    /// Unix ms; `i64::MIN` when no follow-up happened.
    pub last_activity_ms: i64,
    pub conversion_days: Option<i64>,
    pub follow_ups: u32,
    pub late_follow_ups: u32,
    pub merged: bool,
    pub archived: bool,
    /// Who archived it ([`NONE`] when not archived) and when (Unix ms; `i64::MIN` when not).
    pub archived_by: Label,
    pub archived_ms: i64,
    pub reached_intent: bool,
    pub reached_won: bool,
    /// Some contact has a phone or an email.
    pub contact_info: bool,
    opportunities: Range<u32>,
    quarters: Range<u32>,
    keys: Range<u32>,
}

/// A flat table of entries, each slot owning one range of it.
#[derive(Debug)]
struct Side<T> {
    entries: Vec<T>,
    stale: usize,
}

impl<T> Default for Side<T> {
    fn default() -> Self {
        Side {
            entries: Vec::new(),
            stale: 0,
        }
    }
}

impl<T: Copy> Side<T> {
    fn append(&mut self, items: impl IntoIterator<Item = T>, replacing: Range<u32>) -> Range<u32> {
        self.stale += replacing.len();
        let start = self.entries.len();
        self.entries.extend(items);
        to_range(start..self.entries.len())
    }

    fn get(&self, range: &Range<u32>) -> &[T] {
        &self.entries[range.start as usize..range.end as usize]
    }
}

fn to_range(range: Range<usize>) -> Range<u32> {
    let start = u32::try_from(range.start).expect("fewer than 2^32 entries");
    let end = u32::try_from(range.end).expect("fewer than 2^32 entries");
    start..end
}

/// Every account's projection row, in memory.
#[derive(Debug, Default)]
pub struct Index {
    /// Owners, teams, statuses, sources, industries, regions, sizes, priorities, lost
    /// reasons, stages, currencies.
    pub labels: Labels,
    /// Match keys of suspected duplicates (their own table: there are as many as accounts).
    pub keys: Labels,
    slots: Vec<Slot>,
    /// Each account's id and name, by position.
    names: Vec<(DocId, String)>,
    by_doc: HashMap<DocId, usize>,
    opportunities: Side<Opportunity>,
    /// (quarter hour, logging rep, follow-ups).
    quarters: Side<(i32, Label, u32)>,
    match_keys: Side<Label>,
    /// The earliest and latest quarter hour any row has had a follow-up in.
    quarter_span: Option<(i32, i32)>,
}

impl Index {
    /// An index of `rows`.
    pub fn of(rows: impl IntoIterator<Item = (DocId, Projection)>) -> Index {
        let mut index = Index::default();
        for (doc, row) in rows {
            index.upsert(doc, row);
        }
        index
    }

    /// Adds the row of `doc`, or replaces it.
    pub fn upsert(&mut self, doc: DocId, row: Projection) {
        let at = self.by_doc.get(&doc).copied();
        let old = at.map(|i| {
            let slot = &self.slots[i];
            (
                slot.opportunities.clone(),
                slot.quarters.clone(),
                slot.keys.clone(),
            )
        });
        let (old_opportunities, old_quarters, old_keys) = old.unwrap_or((0..0, 0..0, 0..0));
        let labels = &mut self.labels;
        let opportunities: Vec<Opportunity> = row
            .opportunities
            .iter()
            .map(|o| Opportunity {
                stage: labels.intern(Some(&o.stage)),
                currency: labels.intern(o.currency.as_deref()),
                probability: o.probability,
                amount_minor: o.amount_minor,
            })
            .collect();
        let quarters: Vec<(i32, Label, u32)> = row
            .activity
            .iter()
            .map(|(quarter, rep, n)| (*quarter, labels.intern(Some(rep)), *n))
            .collect();
        let keys: Vec<Label> = row
            .match_keys
            .iter()
            .map(|k| self.keys.intern(Some(k)))
            .collect();
        let slot = Slot {
            owner: self.labels.intern(Some(&row.owner)),
            team: self.labels.intern(row.team.as_deref()),
            status: self.labels.intern(Some(&row.status)),
            source: self.labels.intern(row.source.as_deref()),
            industry: self.labels.intern(row.industry.as_deref()),
            region: self.labels.intern(row.region.as_deref()),
            size: self.labels.intern(row.size.as_deref()),
            priority: self.labels.intern(row.priority.as_deref()),
            lost_reason: self.labels.intern(row.lost_reason.as_deref()),
            created_ms: row.created_at.timestamp_millis(),
            next_due: row.next_due,
            last_activity_ms: row.last_activity.map_or(i64::MIN, |t| t.timestamp_millis()),
            conversion_days: row.conversion_days,
            follow_ups: row.follow_ups,
            late_follow_ups: row.late_follow_ups,
            merged: row.merged,
            archived: row.archived,
            archived_by: self.labels.intern(row.archived_by.as_deref()),
            archived_ms: row.archived_at.map_or(i64::MIN, |t| t.timestamp_millis()),
            reached_intent: row.reached_intent,
            reached_won: row.reached_won,
            contact_info: row.contact_info,
            opportunities: self.opportunities.append(opportunities, old_opportunities),
            quarters: self.quarters.append(quarters, old_quarters),
            keys: self.match_keys.append(keys, old_keys),
        };
        for &(quarter, _, _) in self.quarters.get(&slot.quarters) {
            let (low, high) = self.quarter_span.unwrap_or((quarter, quarter));
            self.quarter_span = Some((low.min(quarter), high.max(quarter)));
        }
        match at {
            Some(i) => {
                self.slots[i] = slot;
                self.names[i] = (doc, row.name);
            }
            None => {
                self.by_doc.insert(doc, self.slots.len());
                self.slots.push(slot);
                self.names.push((doc, row.name));
            }
        }
        self.compact_if_stale();
    }

    /// Rewrites the side tables without stale entries once half of one is stale.
    fn compact_if_stale(&mut self) {
        let stale = |len: usize, stale: usize| stale > 1024 && stale * 2 > len;
        if !(stale(self.opportunities.entries.len(), self.opportunities.stale)
            || stale(self.quarters.entries.len(), self.quarters.stale)
            || stale(self.match_keys.entries.len(), self.match_keys.stale))
        {
            return;
        }
        let (mut opportunities, mut quarters, mut keys) =
            (Side::default(), Side::default(), Side::default());
        for slot in &mut self.slots {
            let o = self.opportunities.get(&slot.opportunities).to_vec();
            slot.opportunities = opportunities.append(o, 0..0);
            let q = self.quarters.get(&slot.quarters).to_vec();
            slot.quarters = quarters.append(q, 0..0);
            let k = self.match_keys.get(&slot.keys).to_vec();
            slot.keys = keys.append(k, 0..0);
        }
        (self.opportunities, self.quarters, self.match_keys) = (opportunities, quarters, keys);
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Account `i`'s slot.
    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// Account `i`'s id and name.
    pub fn account(&self, i: usize) -> (DocId, &str) {
        let (doc, name) = &self.names[i];
        (*doc, name)
    }

    /// Every account's slot, by position.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn opportunities(&self, slot: &Slot) -> &[Opportunity] {
        self.opportunities.get(&slot.opportunities)
    }

    /// Follow-ups per quarter hour ([`crate::projection::quarter_of`]) and logging rep.
    pub fn quarters(&self, slot: &Slot) -> &[(i32, Label, u32)] {
        self.quarters.get(&slot.quarters)
    }

    /// The earliest and latest quarter hour of any row's follow-ups (`None`: no follow-ups
    /// anywhere).
    pub fn quarter_span(&self) -> Option<(i32, i32)> {
        self.quarter_span
    }

    pub fn match_keys(&self, slot: &Slot) -> &[Label] {
        self.match_keys.get(&slot.keys)
    }
}

/// `ms` as a time.
pub fn time_of(ms: i64) -> Option<DateTime<Utc>> {
    (ms != i64::MAX && ms != i64::MIN)
        .then(|| DateTime::from_timestamp_millis(ms))
        .flatten()
}

/// The number of the week starting on `monday`: consecutive weeks have consecutive numbers
/// (week 0 starts on Monday 0001-01-01).
pub fn week_number(monday: NaiveDate) -> i32 {
    (monday.num_days_from_ce() - 1).div_euclid(7)
}

/// The Monday starting week `number`.
pub fn monday_of(number: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(number.checked_mul(7)?.checked_add(1)?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::projection::OpportunityRow;

    fn row(n: u32) -> Projection {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        Projection {
            name: format!("account {n}"),
            owner: format!("rep-{}", n % 3),
            team: Some("field".into()),
            kind: "customer".into(),
            status: ["potential", "won"][n as usize % 2].into(),
            source: None,
            industry: Some(format!("industry {}", n % 4)),
            region: None,
            size: None,
            priority: None,
            lost_reason: None,
            created_at: at,
            converted_on: None,
            conversion_days: None,
            next_due: Some(Due {
                at: Some(at),
                on: None,
                cadence: None,
            }),
            last_activity: None,
            follow_ups: n,
            late_follow_ups: 0,
            opportunities: (0..n % 4)
                .map(|k| OpportunityRow {
                    stage: "negotiation".into(),
                    probability: 90,
                    amount_minor: i64::from(n * 100 + k),
                    currency: Some("EUR".into()),
                    owner: "rep-0".into(),
                })
                .collect(),
            activity: (0..n % 5)
                .map(|k| {
                    let when = at + chrono::Duration::days(7 * i64::from(k));
                    (
                        crate::projection::quarter_of(when),
                        "rep-1".to_owned(),
                        k + 1,
                    )
                })
                .collect(),
            match_keys: vec![format!("name:account{}", n % 7)],
            merged: false,
            archived: false,
            archived_by: None,
            archived_at: None,
            reached_intent: false,
            reached_won: false,
            contact_info: false,
        }
    }

    /// What the side tables hold for one account: opportunity amounts, quarters, match keys.
    type Facts = (Vec<i64>, Vec<(i32, String, u32)>, Vec<String>);

    /// What the side tables hold for account `i`, in plain values.
    fn facts(index: &Index, i: usize) -> Facts {
        let slot = index.slot(i);
        (
            index
                .opportunities(slot)
                .iter()
                .map(|o| o.amount_minor)
                .collect(),
            // Labels are numbered in the order each index met them: compare the names.
            index
                .quarters(slot)
                .iter()
                .map(|&(q, rep, n)| (q, index.labels.name(rep).unwrap_or_default().to_owned(), n))
                .collect(),
            index
                .match_keys(slot)
                .iter()
                .map(|k| index.keys.name(*k).unwrap_or_default().to_owned())
                .collect(),
        )
    }

    #[test]
    fn rows_replaced_many_times_read_as_a_fresh_index_of_the_last_rows() {
        let docs: Vec<DocId> = (1..=50).map(DocId::from_u128).collect();
        let mut index = Index::default();
        let mut last = HashMap::new();
        // Enough replacements for the side tables to be compacted several times.
        for round in 0..200u32 {
            for (k, doc) in docs.iter().enumerate() {
                let n = round * 7 + k as u32;
                index.upsert(*doc, row(n));
                last.insert(*doc, row(n));
            }
        }
        assert!(index.opportunities.entries.len() < 2 * 50 * 3 + 1024);
        let fresh = Index::of(docs.iter().map(|doc| (*doc, last[doc].clone())));
        assert_eq!(index.len(), fresh.len());
        for i in 0..index.len() {
            assert_eq!(index.account(i), fresh.account(i));
            let (a, b) = (facts(&index, i), facts(&fresh, i));
            assert_eq!(a, b);
            assert_eq!(index.slot(i).follow_ups, fresh.slot(i).follow_ups);
        }
    }
}
