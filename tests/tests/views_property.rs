//! Property test of the team views: for any generated team (accounts of several reps in two
//! teams, with statuses, sources, industries, regions, sizes, lost reasons, conversions,
//! follow-ups in different weeks, opportunities, and names and phones that collide), every
//! view built from the projection rows equals a brute-force recomputation straight from the
//! account documents, under any filter, for a manager's or the admin's scope, and with days
//! and weeks counted in any of several time zones (east and west of UTC, with and without
//! daylight saving). Follow-ups count for the rep who logged them (accounts are handed over
//! after the work), the funnel counts stages reached (accounts lost after intent, won by a
//! deal), archived accounts are out of the working views and in the analysis views by the
//! `archived` filter, and the archive and hygiene views list what the documents say.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use outpost_client::model::{
    Archived, At, Contact, Day, Deal, Money, Payment, Source, Stage, Status,
};
use outpost_client::{AccountDoc, AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_client::{NewOpportunity, Store};
use outpost_protocol::DocId;
use outpost_server::index::Index;
use outpost_server::projection::Projection;
use outpost_server::views::{self, ArchivedFilter, Filters, LastSyncs};
use proptest::prelude::*;

const REPS: [(&str, &str); 4] = [
    ("ana", "field"),
    ("ben", "field"),
    ("cai", "field"),
    ("sol", "south"),
];
const SOURCES: [Source; 3] = [Source::Referral, Source::TradeShow, Source::ColdVisit];
const INDUSTRIES: [&str; 2] = ["C", "F"];
const REGIONS: [&str; 2] = ["North", "East"];
const NAMES: [&str; 4] = [
    "Acme Tools Ltd",
    "ACME tools",
    "Birch Foods",
    "Cobalt Mining",
];

/// One generated account: indexes into the tables above, and what happened to it.
#[derive(Debug, Clone)]
struct Spec {
    rep: usize,
    name: usize,
    phone: Option<u8>,
    source: Option<usize>,
    industry: Option<usize>,
    region: Option<usize>,
    size: Option<usize>,
    /// 0 potential, 1 intent, 2 won, 3 lost (reason 0 or 1; 2: an older document with no
    /// reason), 4 a lead converted, 5 intent then lost, 6 a dormant lead, 7 won by a deal
    /// (an opportunity moved to won and a deal recorded).
    fate: (u8, u8),
    created_days_ago: i64,
    follow_ups: Vec<i64>,
    opportunities: Vec<(u8, i64)>,
    /// Handed over to this rep after the work was done.
    handed_to: Option<usize>,
    /// Archived (when lost).
    archived: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (0..REPS.len(), 0..NAMES.len(), proptest::option::of(0u8..3)),
        (
            proptest::option::of(0..SOURCES.len()),
            proptest::option::of(0..INDUSTRIES.len()),
            proptest::option::of(0..REGIONS.len()),
            proptest::option::of(0..2usize),
        ),
        ((0u8..8, 0u8..3), 1i64..300),
        proptest::collection::vec(0i64..100, 0..4),
        proptest::collection::vec((0u8..4, 1_000i64..900_000), 0..3),
        (proptest::option::of(0..REPS.len()), any::<bool>()),
    )
        .prop_map(
            |(
                (rep, name, phone),
                (source, industry, region, size),
                (fate, created),
                f,
                o,
                (handed_to, archived),
            )| Spec {
                rep,
                name,
                phone,
                source,
                industry,
                region,
                size,
                fate,
                created_days_ago: created,
                follow_ups: f,
                opportunities: o,
                handed_to,
                archived,
            },
        )
}

fn filters() -> impl Strategy<Value = Filters> {
    (
        proptest::option::of(prop_oneof![Just("field"), Just("south")]),
        proptest::option::of(0..REPS.len()),
        proptest::option::of(0..SOURCES.len()),
        proptest::option::of(0..INDUSTRIES.len()),
        proptest::option::of(prop_oneof![Just("won"), Just("lost"), Just("intent")]),
        proptest::option::of(0i64..120),
        proptest::option::of(prop_oneof![
            Just(ArchivedFilter::Include),
            Just(ArchivedFilter::Exclude),
            Just(ArchivedFilter::Only)
        ]),
    )
        .prop_map(
            |(team, rep, source, industry, status, from, archived)| Filters {
                team: team.map(str::to_owned),
                rep: rep.map(|r| REPS[r].0.to_owned()),
                source: source.map(|s| SOURCES[s].to_string()),
                industry: industry.map(|i| INDUSTRIES[i].to_owned()),
                status: status.map(str::to_owned),
                from: from.map(|days| (now() - Duration::days(days)).date_naive()),
                archived,
                ..Filters::default()
            },
        )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// The generated accounts: each spec's id and document, and which rep each device serves.
struct Built {
    docs: Vec<(DocId, AccountDoc)>,
    specs: HashMap<DocId, Spec>,
    devices: HashMap<String, String>,
}

/// Writes the accounts through the device library (so every record rule applies), each on
/// its rep's own device, and reads back the documents.
fn build(specs: &[Spec]) -> Built {
    let stores: Vec<Store> = REPS.iter().map(|_| Store::in_memory().unwrap()).collect();
    let devices = stores
        .iter()
        .zip(REPS)
        .map(|(store, (rep, _))| (store.device().to_string(), rep.to_owned()))
        .collect();
    let mut out = Vec::new();
    let mut by_id = HashMap::new();
    for (k, spec) in specs.iter().enumerate() {
        let store = &stores[spec.rep];
        let created = now() - Duration::days(spec.created_days_ago);
        let lead = matches!(spec.fate.0, 4 | 6);
        let new = NewAccount {
            name: NAMES[spec.name].into(),
            owner: REPS[spec.rep].0.into(),
            kind: if lead {
                outpost_client::model::Kind::Lead
            } else {
                outpost_client::model::Kind::Customer
            },
            source: spec.source.map(|s| SOURCES[s].clone()),
            industry: spec.industry.map(|i| INDUSTRIES[i].into()),
            region: spec.region.map(|r| REGIONS[r].into()),
            size: spec.size.map(|s| ["1-50", "100-500"][s].into()),
            contact: spec.phone.map(|p| Contact {
                name: "buyer".into(),
                phone: Some(format!("+86 138 0000 00{p:02}")),
                ..Contact::default()
            }),
            ..NewAccount::default()
        };
        let id = store.create_account_anyway(&new, created).unwrap();
        let mut edits = Vec::new();
        let lost = |reason: u8| AccountEdit::MarkLost {
            reason: ["price", "competitor", "budget"][usize::from(reason)].into(),
        };
        match spec.fate {
            (1, _) => edits.push(AccountEdit::SetStatus(Status::Intent)),
            (2, _) => edits.push(AccountEdit::SetStatus(Status::Won)),
            (3, reason) => edits.push(lost(reason)),
            (4, _) => edits.push(AccountEdit::ConvertLead {
                on: Day((created + Duration::days(spec.created_days_ago / 2)).date_naive()),
            }),
            (5, reason) => {
                edits.push(AccountEdit::SetStatus(Status::Intent));
                edits.push(lost(reason));
            }
            (6, _) => edits.push(AccountEdit::MarkDormant {
                wake_up_on: Day((now() + Duration::days(30)).date_naive()),
            }),
            _ => {}
        }
        for (k, days) in spec.follow_ups.iter().enumerate() {
            let occurred = created + Duration::hours(*days * 7);
            // The last follow-up of an account with a phone agrees a next-contact day (today
            // or up to two days ago): due at 09:00 local, so whether it is overdue at noon UTC
            // depends on the zone.
            let agreed = spec
                .phone
                .filter(|_| k + 1 == spec.follow_ups.len())
                .map(|p| Day((now() - Duration::days(i64::from(p))).date_naive()));
            edits.push(AccountEdit::LogFollowUp(NewFollowUp {
                next_due: agreed,
                ..NewFollowUp::new(occurred.min(now()), ContactMethod::Phone, "call")
            }));
        }
        for (stage, amount) in &spec.opportunities {
            let (stage, probability) = [
                (Stage::Potential, 20),
                (Stage::NeedsConfirmed, 40),
                (Stage::SolutionAccepted, 60),
                (Stage::Negotiation, 90),
            ][usize::from(*stage)]
            .clone();
            edits.push(AccountEdit::AddOpportunity(NewOpportunity {
                name: "deal".into(),
                stage,
                probability: Some(probability),
                amount: Some(Money {
                    minor: *amount,
                    currency: "EUR".into(),
                }),
                expected_close: None,
                owner: REPS[spec.rep].0.into(),
            }));
        }
        if spec.fate.0 == 7 {
            edits.push(AccountEdit::AddOpportunity(NewOpportunity {
                name: "signed".into(),
                stage: Stage::Negotiation,
                probability: None,
                amount: None,
                expected_close: None,
                owner: REPS[spec.rep].0.into(),
            }));
        }
        let added = store.edit_account_all(id, &edits, now()).unwrap();
        if spec.fate.0 == 7 {
            let opportunity = added.last().cloned().flatten().unwrap();
            let amount = Money {
                minor: 50_000_000,
                currency: "EUR".into(),
            };
            let signed = Day((now() - Duration::days(1)).date_naive());
            let win = [
                AccountEdit::MoveOpportunity {
                    id: opportunity,
                    stage: Stage::Won,
                    probability: None,
                    amount: Some(amount.clone()),
                    signed_on: Some(signed),
                    lost_reason: None,
                },
                AccountEdit::RecordDeal(Deal {
                    closed_on: signed,
                    amount,
                    products: "line".into(),
                    payment: Payment::Offline,
                    notes: None,
                }),
            ];
            // In either order: the edit that completes the pair wins the customer.
            let order: Vec<AccountEdit> = if k % 2 == 0 {
                win.to_vec()
            } else {
                win.into_iter().rev().collect()
            };
            for edit in order {
                store.edit_account(id, &edit, now()).unwrap();
            }
        }
        if let Some(to) = spec.handed_to {
            store
                .edit_account(id, &AccountEdit::SetOwner(REPS[to].0.into()), now())
                .unwrap();
        }
        let mut doc = store.account(id).unwrap().record;
        if spec.fate == (3, 2) {
            // A lost account from before reasons were required.
            doc.lost_reason = None;
        }
        if spec.archived && doc.status == Status::Lost {
            doc.archived = Some(Archived {
                by: "mia".into(),
                at: At(now() - Duration::minutes(k as i64)),
            });
        }
        out.push((id, doc));
        by_id.insert(id, spec.clone());
    }
    Built {
        docs: out,
        specs: by_id,
        devices,
    }
}

fn team_of(rep: &str) -> Option<String> {
    REPS.iter()
        .find(|(r, _)| *r == rep)
        .map(|(_, t)| (*t).to_owned())
}

/// Whether the brute force keeps `doc` for `filters` in `teams` (`dated`: by creation day in
/// `tz`; `working`: a working view, which never shows archived accounts).
fn kept(
    doc: &AccountDoc,
    teams: Option<&[String]>,
    f: &Filters,
    dated: bool,
    tz: Tz,
    working: bool,
) -> bool {
    let team = team_of(&doc.owner);
    let day = doc.created_at.0.with_timezone(&tz).date_naive();
    let archived = doc.archived.is_some();
    let by_archive = if working {
        !archived
    } else {
        match f.archived.unwrap_or_default() {
            ArchivedFilter::Include => true,
            ArchivedFilter::Exclude => !archived,
            ArchivedFilter::Only => archived,
        }
    };
    by_archive
        && teams.is_none_or(|t| team.as_ref().is_some_and(|team| t.contains(team)))
        && f.team.as_ref().is_none_or(|t| team.as_ref() == Some(t))
        && f.rep.as_ref().is_none_or(|r| *r == doc.owner)
        && f.source
            .as_ref()
            .is_none_or(|s| doc.source.as_ref().map(ToString::to_string).as_ref() == Some(s))
        && f.industry
            .as_ref()
            .is_none_or(|i| doc.industry.as_ref() == Some(i))
        && f.status
            .as_ref()
            .is_none_or(|s| doc.status.to_string() == *s)
        && (!dated || f.from.is_none_or(|from| day >= from))
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_view_matches_the_documents(
        specs in proptest::collection::vec(spec(), 1..24),
        filters in filters(),
        admin in any::<bool>(),
        tz in prop_oneof![
            Just(Tz::UTC),
            Just(Tz::Asia__Shanghai),
            Just(Tz::Europe__Berlin),
            Just(Tz::America__Los_Angeles),
            Just(Tz::Asia__Kathmandu),
        ],
    ) {
        let Built { docs, specs, devices } = build(&specs);
        let rows = Index::of(docs.iter().map(|(id, doc)| {
            (*id, Projection::of(doc, team_of(&doc.owner), |d| devices.get(d).cloned()))
        }));
        let leads = ["field".to_owned()];
        let teams = (!admin).then_some(&leads[..]);
        let syncs = LastSyncs::from([("ana".to_owned(), now())]);
        // The working views' accounts, and the analysis views'.
        let selected: Vec<&(DocId, AccountDoc)> =
            docs.iter().filter(|(_, d)| kept(d, teams, &filters, true, tz, true)).collect();
        let analysed: Vec<&(DocId, AccountDoc)> =
            docs.iter().filter(|(_, d)| kept(d, teams, &filters, true, tz, false)).collect();

        // Pipeline: (rep, stage) → (count, total, weighted).
        let pipeline = views::pipeline(&rows, teams, &filters, &syncs, now(), tz);
        let mut expected = BTreeMap::new();
        for (_, doc) in &selected {
            for o in doc.opportunities.values() {
                let amount = o.amount.as_ref().map_or(0, |m| m.minor);
                let cell = expected.entry((doc.owner.clone(), o.stage.to_string())).or_insert((0, 0, 0));
                cell.0 += 1;
                cell.1 += amount;
                cell.2 += amount * i64::from(o.probability) / 100;
            }
        }
        let got: BTreeMap<_, _> = pipeline
            .by_rep
            .iter()
            .map(|c| ((c.rep.clone().unwrap(), c.stage.clone()), (c.count, c.total_minor, c.weighted_minor)))
            .collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(pipeline.accounts, selected.len() as u64);
        // Open pipeline and won apart: (count, total) of the open stages, and of won.
        let (mut open, mut won) = ((0, 0), (0, 0));
        for (_, doc) in &selected {
            for o in doc.opportunities.values() {
                let amount = o.amount.as_ref().map_or(0, |m| m.minor);
                let into = match o.stage {
                    Stage::Won => &mut won,
                    Stage::Lost => continue,
                    _ => &mut open,
                };
                into.0 += 1;
                into.1 += amount;
            }
        }
        let sum = |t: &[views::MoneyTotal]| (t.iter().map(|m| m.count).sum::<u64>(), t.iter().map(|m| m.total_minor).sum::<i64>());
        prop_assert_eq!(sum(&pipeline.open), open);
        prop_assert_eq!(sum(&pipeline.won), won);

        // Funnel, overall and by rep: (accounts, reached intent, reached won, lost, dormant,
        // converted), the stages reached known from what was done to each account.
        let funnel = views::funnel(&rows, teams, &filters, &syncs, now(), tz);
        let mut expected = BTreeMap::new();
        for (id, doc) in &analysed {
            let fate = specs[id].fate.0;
            for key in [("all".to_owned(), None), ("rep".to_owned(), Some(doc.owner.clone()))] {
                let cell = expected.entry(key).or_insert((0, 0, 0, 0, 0, 0));
                cell.0 += 1;
                cell.1 += u64::from(matches!(fate, 1 | 2 | 4 | 5 | 7));
                cell.2 += u64::from(matches!(fate, 2 | 7));
                cell.3 += u64::from(matches!(fate, 3 | 5));
                cell.4 += u64::from(fate == 6);
                cell.5 += u64::from(doc.converted_on.is_some());
            }
        }
        let got: BTreeMap<_, _> = funnel
            .rows
            .iter()
            .filter(|r| r.dimension == "all" || r.dimension == "rep")
            .map(|r| ((r.dimension.clone(), r.value.clone()), (r.accounts, r.intent, r.won, r.lost, r.dormant, r.converted)))
            .collect();
        prop_assert_eq!(got, expected);
        for r in &funnel.rows {
            prop_assert_eq!(r.won_rate, (r.intent > 0).then(|| r.won as f64 / r.intent as f64));
        }

        // Activity: follow-ups per logging rep per week, weeks from `from` on; the rep filter
        // picks who logged them, whoever owns the account now.
        let activity = views::activity(&rows, teams, &filters, &syncs, now(), tz);
        let mut expected: BTreeMap<(String, NaiveDate), u64> = BTreeMap::new();
        let by_account = Filters { rep: None, ..filters.clone() };
        for (id, doc) in docs.iter().filter(|(_, d)| kept(d, teams, &by_account, false, tz, false)) {
            let logger = REPS[specs[id].rep].0.to_owned();
            if filters.rep.as_ref().is_some_and(|r| *r != logger) {
                continue;
            }
            for f in doc.follow_ups.values() {
                let week = monday(f.occurred_at.0.with_timezone(&tz).date_naive());
                if filters.from.is_none_or(|from| week >= monday(from)) {
                    *expected.entry((logger.clone(), week)).or_default() += 1;
                }
            }
        }
        let got: BTreeMap<_, _> = activity
            .weeks
            .iter()
            .map(|w| ((w.rep.clone(), w.week), w.follow_ups))
            .collect();
        prop_assert_eq!(got, expected);

        // Follow-ups: the overdue accounts, with their due times in the zone.
        let follow_ups = views::follow_ups(&rows, teams, &Filters { limit: Some(usize::MAX), ..filters.clone() }, &syncs, now(), tz);
        let expected: BTreeSet<(DocId, DateTime<Utc>)> = selected
            .iter()
            .filter_map(|(id, doc)| {
                let facts = outpost_client::facts::facts(doc, now(), tz);
                facts.overdue.then(|| (*id, facts.next_due.unwrap()))
            })
            .collect();
        let got: BTreeSet<_> = follow_ups.overdue.iter().map(|o| (o.account, o.next_due)).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(follow_ups.time_zone.as_str(), tz.name());

        // Lost reasons and the won profile by industry.
        let lost = views::lost_reasons(&rows, teams, &filters, &syncs, now(), tz);
        let mut expected: BTreeMap<Option<String>, u64> = BTreeMap::new();
        for (_, doc) in analysed.iter().filter(|(_, d)| d.status == Status::Lost) {
            *expected.entry(doc.lost_reason.clone()).or_default() += 1;
        }
        let got: BTreeMap<_, _> = lost.reasons.iter().map(|r| (r.reason.clone(), r.accounts)).collect();
        prop_assert_eq!(got, expected);
        let won = views::won_profile(&rows, teams, &filters, &syncs, now(), tz);
        let mut expected: BTreeMap<Option<String>, u64> = BTreeMap::new();
        for (_, doc) in analysed.iter().filter(|(_, d)| d.status == Status::Won) {
            *expected.entry(doc.industry.clone()).or_default() += 1;
        }
        let got: BTreeMap<_, _> = won.by_industry.iter().map(|c| (c.value.clone(), c.accounts)).collect();
        prop_assert_eq!(got, expected);

        // Duplicates: every pair of selected accounts with the same normalised name or phone
        // is in one group, and every group's accounts share its key.
        let duplicates = views::duplicates(&rows, teams, &filters, &syncs, now(), tz);
        let grouped: BTreeSet<(DocId, DocId)> = duplicates
            .groups
            .iter()
            .flat_map(|g| {
                g.accounts.iter().flat_map(|a| g.accounts.iter().map(move |b| (a.account, b.account)))
            })
            .filter(|(a, b)| a < b)
            .collect();
        let key = |doc: &AccountDoc| {
            let phone = doc.contacts.values().find_map(|c| c.phone.clone());
            (outpost_client::duplicates::normalise_name(&doc.name), phone)
        };
        for (i, (a, doc_a)) in selected.iter().enumerate() {
            for (b, doc_b) in &selected[i + 1..] {
                let (ka, kb) = (key(doc_a), key(doc_b));
                let same = ka.0 == kb.0 || (ka.1.is_some() && ka.1 == kb.1);
                prop_assert_eq!(same, grouped.contains(&((*a).min(*b), (*a).max(*b))), "{:?} {:?}", doc_a.name, doc_b.name);
            }
        }

        // The archive: the archived accounts in scope (never in the working views).
        let archive = views::archive(&rows, teams, &Filters { limit: Some(usize::MAX), ..filters.clone() }, &syncs, now(), tz);
        let expected: BTreeSet<DocId> = docs
            .iter()
            .filter(|(_, d)| d.archived.is_some() && kept(d, teams, &Filters { archived: None, ..filters.clone() }, true, tz, false))
            .map(|(id, _)| *id)
            .collect();
        let got: BTreeSet<DocId> = archive.accounts.iter().map(|a| a.account).collect();
        prop_assert_eq!(got, expected);
        prop_assert!(archive.accounts.iter().all(|a| a.archived_by.as_deref() == Some("mia") && a.status == "lost"));

        // Hygiene: (problem, account) for every dead record, lost account without a reason
        // and suspected duplicate among the working accounts.
        let hygiene = views::hygiene(&rows, teams, &Filters { limit: Some(usize::MAX), ..filters.clone() }, &syncs, now(), tz);
        let six_months_ago = now().checked_sub_months(chrono::Months::new(6)).unwrap();
        let mut expected: BTreeSet<(String, DocId)> = BTreeSet::new();
        for (id, doc) in &selected {
            if !doc.contacts.values().any(|c| c.phone.is_some() || c.email.is_some()) {
                expected.insert(("no_contact_info".into(), *id));
            }
            let last = doc.follow_ups.values().map(|f| f.occurred_at.0).max().unwrap_or(doc.created_at.0).max(doc.created_at.0);
            if doc.status == Status::Potential && last < six_months_ago {
                expected.insert(("stale".into(), *id));
            }
            if doc.status == Status::Lost && doc.lost_reason.is_none() {
                expected.insert(("lost_without_reason".into(), *id));
            }
        }
        for (a, b) in &grouped {
            expected.insert(("duplicate".into(), *a));
            expected.insert(("duplicate".into(), *b));
        }
        let got: BTreeSet<(String, DocId)> = hygiene.rows.iter().map(|r| (r.problem.clone(), r.account)).collect();
        prop_assert_eq!(got, expected);
        for r in &hygiene.rows {
            let want = match r.problem.as_str() {
                "duplicate" => "merge",
                "no_contact_info" if r.status == "lost" => "archive",
                _ => "open",
            };
            prop_assert_eq!(r.action.as_str(), want);
        }

        // Freshness names every selected rep, with the sync time known for ana only.
        let reps: BTreeSet<&str> = selected.iter().map(|(_, d)| d.owner.as_str()).collect();
        let fresh: BTreeSet<&str> = pipeline.freshness.iter().map(|f| f.rep.as_str()).collect();
        prop_assert_eq!(fresh, reps);
        for f in &pipeline.freshness {
            prop_assert_eq!(f.last_sync.is_some(), f.rep == "ana");
        }
    }
}
