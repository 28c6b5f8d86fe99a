//! The workload, generated deterministically from a seed: customer accounts with ~20
//! follow-ups, opportunities and a status each, and the follow-ups reps log during a day
//! offline.
//!
//! The content is deterministic; the ids are not, because the device store draws document
//! and follow-up ids itself. An account's follow-ups are logged in one edit, so its history
//! is two changes (a real account gathers one per visit; writing each durably would make
//! generating 10,000 accounts take many minutes).

use chrono::{DateTime, Duration, TimeZone, Utc};
use outpost_client::model::{Contact, Money, Priority, Source, Stage, Status};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp, NewOpportunity};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

/// Reps in the team; accounts are owned by one of them.
pub const REPS: usize = 50;

/// The login of rep `n`.
fn rep(n: usize) -> String {
    format!("rep-{n:02}")
}

/// Every rep's login: the server needs them as users, since accounts are owned by users.
pub fn reps() -> Vec<String> {
    (0..REPS).map(rep).collect()
}
/// Follow-ups logged on each generated account.
pub const FOLLOW_UPS: usize = 20;

/// A mature key account's two years: follow-ups, note edits and opportunities, each its own
/// change ([`Workload::mature_history`]).
pub const MATURE_FOLLOW_UPS: usize = 500;
pub const MATURE_NOTE_EDITS: usize = 50;
pub const MATURE_OPPORTUNITIES: usize = 20;

const METHODS: [ContactMethod; 5] = [
    ContactMethod::Phone,
    ContactMethod::Messaging,
    ContactMethod::Email,
    ContactMethod::Visit,
    ContactMethod::Video,
];
const PREFIXES: [&str; 12] = [
    "Harbor",
    "Summit",
    "Cedar",
    "Northgate",
    "Riverside",
    "Oak",
    "Bluewater",
    "Granite",
    "Sunrise",
    "Maple",
    "Ironwood",
    "Lakeside",
];
const KINDS: [&str; 10] = [
    "Foods", "Hardware", "Pharmacy", "Hotel", "Bakery", "Motors", "Clinic", "Market", "Supply",
    "Cafe",
];
const REGIONS: [&str; 6] = ["North", "South", "East", "West", "Central", "Coast"];
const INDUSTRIES: [&str; 6] = [
    // GB/T 4754-2017 sections and divisions, as devices store them.
    "F52", "H61", "Q84", "C34", "C36", "H62",
];
const SIZES: [&str; 4] = ["1-10", "10-50", "50-200", "200-1000"];
const SOURCES: [Source; 5] = [
    Source::TradeShow,
    Source::Referral,
    Source::OnlineCampaign,
    Source::Inbound,
    Source::ColdVisit,
];
const PRIORITIES: [Priority; 4] = [Priority::A, Priority::B, Priority::C, Priority::D];
/// Stages of open opportunities with a probability inside each stage's range.
const STAGES: [(Stage, u8); 4] = [
    (Stage::Potential, 20),
    (Stage::NeedsConfirmed, 40),
    (Stage::SolutionAccepted, 65),
    (Stage::Negotiation, 85),
];
const LOST_REASONS: [&str; 4] = ["price", "competitor", "budget cut", "no answer"];
const CONTACTS: [&str; 8] = [
    "the buyer",
    "the owner",
    "the store manager",
    "purchasing",
    "the head chef",
    "the pharmacist",
    "accounts payable",
    "the new manager",
];
const TOPICS: [&str; 10] = [
    "the spring order",
    "pricing for the new line",
    "a late delivery",
    "shelf placement",
    "the annual contract",
    "samples of the organic range",
    "an invoice dispute",
    "volume discounts",
    "the holiday promotion",
    "a product recall",
];
const OUTCOMES: [&str; 8] = [
    "will order 40 cases next week",
    "wants a quote by Friday",
    "asked to call back after the audit",
    "agreed to trial two products",
    "no decision yet, follow up in a month",
    "happy with service, renewal likely",
    "complained about lead times",
    "requested a visit from the regional manager",
];

/// One generated account: its creation fields and the edits that fill it in.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub new: NewAccount,
    pub edits: Vec<AccountEdit>,
}

/// The seeded generator.
#[derive(Debug)]
pub struct Workload {
    rng: StdRng,
    now: DateTime<Utc>,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        Workload {
            rng: StdRng::seed_from_u64(seed),
            now: Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap(),
        }
    }

    /// The device clock every generated edit is stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The one place the content of an account is decided; swap it as the CRM model grows.
    /// A customer with its industry, size, source, priority and one contact, ~20 logged
    /// follow-ups, up to three open opportunities, and a status (most potential, some at
    /// intent, won or lost with a reason).
    pub fn account(&mut self) -> AccountSpec {
        let owner = rep(self.rng.random_range(0..REPS));
        let new = NewAccount {
            name: format!(
                "{} {} #{}",
                self.pick(&PREFIXES),
                self.pick(&KINDS),
                self.rng.random_range(1..1000)
            ),
            owner: owner.clone(),
            region: Some((*self.pick(&REGIONS)).to_owned()),
            industry: Some((*self.pick(&INDUSTRIES)).to_owned()),
            size: Some((*self.pick(&SIZES)).to_owned()),
            source: Some(self.pick(&SOURCES).clone()),
            priority: Some(self.pick(&PRIORITIES).clone()),
            contact: Some(Contact {
                name: (*self.pick(&CONTACTS)).to_owned(),
                phone: Some(format!(
                    "+1 555 {:07}",
                    self.rng.random_range(0..10_000_000)
                )),
                ..Contact::default()
            }),
            ..NewAccount::default()
        };
        let mut edits: Vec<AccountEdit> = (0..FOLLOW_UPS)
            .map(|_| {
                let ago = Duration::minutes(self.rng.random_range(0..365 * 24 * 60));
                self.follow_up(self.now - ago)
            })
            .collect();
        for _ in 0..self.rng.random_range(0..=3) {
            edits.push(self.opportunity(&owner));
        }
        match self.rng.random_range(0..10) {
            0..=5 => {}
            6 | 7 => edits.push(AccountEdit::SetStatus(Status::Intent)),
            8 => edits.push(AccountEdit::SetStatus(Status::Won)),
            _ => edits.push(AccountEdit::MarkLost {
                reason: (*self.pick(&LOST_REASONS)).to_owned(),
            }),
        }
        AccountSpec { new, edits }
    }

    /// Two years of a key account's history after its creation, oldest first, each edit
    /// with the device time it was made at: [`MATURE_FOLLOW_UPS`] logged contacts,
    /// [`MATURE_NOTE_EDITS`] edits of the notes (each adding a line) and
    /// [`MATURE_OPPORTUNITIES`] opportunities, interleaved as a rep would make them.
    pub fn mature_history(&mut self, owner: &str) -> Vec<(DateTime<Utc>, AccountEdit)> {
        const KINDS: [u8; 3] = [0, 1, 2];
        let mut kinds: Vec<u8> = KINDS
            .iter()
            .zip([MATURE_FOLLOW_UPS, MATURE_NOTE_EDITS, MATURE_OPPORTUNITIES])
            .flat_map(|(&kind, n)| std::iter::repeat_n(kind, n))
            .collect();
        let mut minutes: Vec<i64> = (0..kinds.len())
            .map(|_| self.rng.random_range(1..2 * 365 * 24 * 60))
            .collect();
        minutes.sort_unstable_by(|a, b| b.cmp(a));
        rand::seq::SliceRandom::shuffle(kinds.as_mut_slice(), &mut self.rng);
        let mut notes = String::new();
        kinds
            .into_iter()
            .zip(minutes)
            .map(|(kind, ago)| {
                let at = self.now - Duration::minutes(ago);
                let edit = match kind {
                    0 => self.follow_up(at),
                    1 => {
                        notes.push_str(&format!(
                            "{}: {} {}\n",
                            at.format("%Y-%m-%d"),
                            self.pick(&CONTACTS),
                            self.pick(&OUTCOMES)
                        ));
                        AccountEdit::SetNotes(notes.clone())
                    }
                    _ => self.opportunity(owner),
                };
                (at, edit)
            })
            .collect()
    }

    fn opportunity(&mut self, owner: &str) -> AccountEdit {
        let (stage, probability) = self.pick(&STAGES).clone();
        AccountEdit::AddOpportunity(NewOpportunity {
            name: format!("{} order", self.pick(&TOPICS)),
            stage,
            probability: Some(probability),
            amount: Some(Money {
                minor: self.rng.random_range(50_000..5_000_000),
                currency: "USD".into(),
            }),
            expected_close: None,
            owner: owner.to_owned(),
        })
    }

    /// The edit a rep makes to one account during a day offline: a logged contact.
    pub fn day_edit(&mut self) -> AccountEdit {
        let ago = Duration::minutes(self.rng.random_range(0..8 * 60));
        self.follow_up(self.now - ago)
    }

    /// `k` distinct indices below `n`, in random order.
    pub fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        rand::seq::index::sample(&mut self.rng, n, k).into_vec()
    }

    fn follow_up(&mut self, occurred_at: DateTime<Utc>) -> AccountEdit {
        let summary = format!(
            "Talked to {} about {}; {}.",
            self.pick(&CONTACTS),
            self.pick(&TOPICS),
            self.pick(&OUTCOMES)
        );
        let method = self.pick(&METHODS).clone();
        AccountEdit::LogFollowUp(NewFollowUp::new(occurred_at, method, &summary))
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        items.choose(&mut self.rng).expect("non-empty list")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two years, oldest first, with exactly the mature account's follow-ups, note edits
    /// and opportunities; each note edit keeps the lines before it.
    #[test]
    fn mature_history_is_two_years_of_single_edits() {
        let mut workload = Workload::new(7);
        let history = workload.mature_history("rep-01");
        let count = |f: fn(&AccountEdit) -> bool| history.iter().filter(|(_, e)| f(e)).count();
        assert_eq!(
            count(|e| matches!(e, AccountEdit::LogFollowUp(_))),
            MATURE_FOLLOW_UPS
        );
        assert_eq!(
            count(|e| matches!(e, AccountEdit::SetNotes(_))),
            MATURE_NOTE_EDITS
        );
        assert_eq!(
            count(|e| matches!(e, AccountEdit::AddOpportunity(_))),
            MATURE_OPPORTUNITIES
        );
        assert!(history.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");
        let (first, last) = (history[0].0, history[history.len() - 1].0);
        assert!(
            workload.now() - first > Duration::days(700),
            "spans two years"
        );
        assert!(last < workload.now(), "nothing in the future");
        let notes: Vec<usize> = history
            .iter()
            .filter_map(|(_, e)| match e {
                AccountEdit::SetNotes(text) => Some(text.lines().count()),
                _ => None,
            })
            .collect();
        assert_eq!(notes, (1..=MATURE_NOTE_EDITS).collect::<Vec<_>>());
    }
}
