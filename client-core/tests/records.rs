//! Guards issue 3's device-side record rules, derived facts, lifecycle moves, duplicate warnings
//! and schema evolution, all through the public `Store` API: bad input is refused with the field
//! named and nothing written, facts follow the team's cadence rules, and documents written by an
//! older or a newer version load and keep what this version does not know.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use outpost_client::facts::{self, Facts};
use outpost_client::model::{
    Contact, Day, Deal, Kind, Level, Money, Needs, Payment, Priority, Role, Service, Stage, Status,
};
use outpost_client::{
    Account, AccountEdit, ContactMethod, EditError, InvalidField, NewAccount, NewFollowUp,
    NewOpportunity, Store, SyncSession,
};
use outpost_protocol::{DocId, DocUpdate, Head, Seq, SyncReply, SyncRequest, decode, encode};

mod common;
use common::observe;

// Fixtures.

/// A whole-second instant, `minute` minutes into the test's day (2025-06-15 15:06:40 UTC).
fn at(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + minute * 60, 0).unwrap()
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn day(y: i32, m: u32, d: u32) -> Day {
    Day(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn money(minor: i64, currency: &str) -> Money {
    Money {
        minor,
        currency: currency.into(),
    }
}

fn customer(name: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        owner: "dana".into(),
        ..NewAccount::default()
    }
}

fn lead(name: &str) -> NewAccount {
    NewAccount {
        kind: Kind::Lead,
        ..customer(name)
    }
}

fn contact(name: &str) -> Contact {
    Contact {
        name: name.into(),
        ..Contact::default()
    }
}

fn follow_up(occurred_at: DateTime<Utc>, summary: &str) -> AccountEdit {
    AccountEdit::LogFollowUp(NewFollowUp::new(occurred_at, ContactMethod::Phone, summary))
}

fn plan(due: DateTime<Utc>) -> AccountEdit {
    AccountEdit::PlanFollowUp {
        due,
        method: ContactMethod::Visit,
        goal: "confirm budget".into(),
        owner: None,
    }
}

fn new_opportunity(stage: Stage, probability: Option<u8>) -> NewOpportunity {
    NewOpportunity {
        name: "2025 equipment purchase".into(),
        stage,
        probability,
        amount: None,
        expected_close: None,
        owner: "dana".into(),
    }
}

/// Moves an opportunity to `stage`, with what that stage needs (amount and signing date for
/// `won`, a reason for `lost`), so only the probability is under test.
fn move_to(id: &str, stage: Stage, probability: Option<u8>) -> AccountEdit {
    let won = stage == Stage::Won;
    let lost = stage == Stage::Lost;
    AccountEdit::MoveOpportunity {
        id: id.into(),
        stage,
        probability,
        amount: won.then(|| money(120_000_000, "EUR")),
        signed_on: won.then(|| day(2025, 6, 14)),
        lost_reason: lost.then(|| "budget cut".into()),
    }
}

/// Every stage with its probability range, from DOMAIN.md.
fn stages() -> Vec<(Stage, u8, u8)> {
    vec![
        (Stage::Potential, 10, 30),
        (Stage::NeedsConfirmed, 30, 50),
        (Stage::SolutionAccepted, 50, 80),
        (Stage::Negotiation, 80, 95),
        (Stage::Won, 100, 100),
        (Stage::Lost, 0, 0),
    ]
}

/// Whether an invalid-field path matches `pattern`: `*` stands for one segment (the random id
/// of an entry, as in `contacts/*/phone`), and `a|b` accepts either path.
fn field_matches(pattern: &str, field: &str) -> bool {
    pattern.split('|').any(|pattern| {
        let want: Vec<&str> = pattern.split('/').collect();
        let got: Vec<&str> = field.split('/').collect();
        want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| w == g || (*w == "*" && !g.is_empty()))
    })
}

// Rules: bad input is refused, the field named, nothing written.

/// A store holding a customer (with a contact, an opportunity in `potential` and a follow-up)
/// and a lead still to follow.
struct Fixture {
    store: Store,
    customer: DocId,
    lead: DocId,
    opportunity: String,
    contact: String,
}

fn fixture() -> Fixture {
    let store = Store::in_memory().unwrap();
    let acme = NewAccount {
        region: Some("North".into()),
        priority: Some(Priority::B),
        contact: Some(Contact {
            name: "Li Wei".into(),
            title: Some("Purchasing manager".into()),
            role: Some(Role::DecisionMaker),
            phone: Some("+86 10 6552 1234".into()),
            email: Some("li.wei@acme.example".into()),
        }),
        ..customer("Acme Hardware")
    };
    let customer = store.create_account(&acme, at(0)).unwrap();
    let contact = store
        .account(customer)
        .unwrap()
        .record
        .contacts
        .keys()
        .next()
        .unwrap()
        .clone();
    let opportunity = store
        .edit_account(
            customer,
            &AccountEdit::AddOpportunity(new_opportunity(Stage::Potential, None)),
            at(1),
        )
        .unwrap()
        .expect("adding an opportunity returns its id");
    store
        .edit_account(customer, &follow_up(at(2), "intro call"), at(2))
        .unwrap();
    let lead = store.create_account(&lead("Birch Supply"), at(3)).unwrap();
    Fixture {
        store,
        customer,
        lead,
        opportunity,
        contact,
    }
}

/// Something a rep tries to write.
#[derive(Debug, Clone)]
enum Attempt {
    Create(Box<NewAccount>),
    /// Edits applied together to the fixture's customer.
    Customer(Vec<AccountEdit>),
    /// Edits applied together to the fixture's lead.
    Lead(Vec<AccountEdit>),
}

fn attempt(f: &Fixture, attempt: &Attempt) -> Result<Vec<Option<String>>, EditError> {
    match attempt {
        Attempt::Create(new) => f.store.create_account(new, at(10)).map(|_| Vec::new()),
        Attempt::Customer(edits) => f.store.edit_account_all(f.customer, edits, at(10)),
        Attempt::Lead(edits) => f.store.edit_account_all(f.lead, edits, at(10)),
    }
}

/// Checks that `what` is refused as an invalid field matching `field` and that the store is
/// exactly as before.
fn check_rejected(f: &Fixture, what: &str, tried: Attempt, field: &str) {
    let before = observe(&f.store);
    match attempt(f, &tried) {
        Err(EditError::Invalid(InvalidField { field: got, reason })) => assert!(
            field_matches(field, &got),
            "{what}: expected invalid {field}, got invalid {got} ({reason})"
        ),
        other => panic!("{what}: expected invalid {field}, got {other:?} for {tried:?}"),
    }
    assert_eq!(observe(&f.store), before, "{what}: the store changed");
}

/// Checks that `what` is accepted on a fresh fixture; returns the account it edited and the
/// ids of the entries it added.
fn check_accepted(
    what: &str,
    make: impl Fn(&Fixture) -> Attempt,
) -> (Account, Vec<Option<String>>) {
    let f = fixture();
    let tried = make(&f);
    let added = attempt(&f, &tried)
        .unwrap_or_else(|e| panic!("{what}: expected it accepted, got {e:?} for {tried:?}"));
    let account = match tried {
        Attempt::Lead(_) => f.store.account(f.lead).unwrap(),
        _ => f.store.account(f.customer).unwrap(),
    };
    (account, added)
}

#[test]
fn probabilities_outside_the_stage_range_are_rejected() {
    let f = fixture();
    let opp = &f.opportunity;
    for (stage, low, high) in stages() {
        let mut wrong = vec![high.saturating_add(1), 101, u8::MAX];
        if low > 0 {
            wrong.push(low - 1);
        }
        if low > 1 {
            wrong.push(0);
        }
        for p in wrong.into_iter().filter(|p| !(low..=high).contains(p)) {
            let field = format!("opportunities/{opp}/probability");
            let moved = Attempt::Customer(vec![move_to(opp, stage.clone(), Some(p))]);
            check_rejected(&f, &format!("move to {stage} at {p} %"), moved, &field);
            if !matches!(stage, Stage::Won | Stage::Lost) {
                let added = Attempt::Customer(vec![AccountEdit::AddOpportunity(new_opportunity(
                    stage.clone(),
                    Some(p),
                ))]);
                let what = format!("add at {stage} with {p} %");
                check_rejected(&f, &what, added, "opportunities/*/probability");
            }
        }
    }
}

#[test]
fn probabilities_at_the_ends_of_the_stage_range_are_accepted() {
    for (stage, low, high) in stages() {
        for p in [low, high] {
            let what = format!("move to {stage} at {p} %");
            let (account, _) = check_accepted(&what, |f| {
                Attempt::Customer(vec![move_to(&f.opportunity, stage.clone(), Some(p))])
            });
            let moved = account.record.opportunities.values().next().unwrap();
            assert_eq!((&moved.stage, moved.probability), (&stage, p), "{what}");
        }
    }
}

#[test]
fn a_stage_without_a_probability_takes_a_default_within_its_range() {
    for (stage, low, high) in stages() {
        // The fixture's opportunity was added without a probability, at `potential`.
        let what = format!("move to {stage}");
        let (account, _) = check_accepted(&what, |f| {
            Attempt::Customer(vec![move_to(&f.opportunity, stage.clone(), None)])
        });
        let moved = account.record.opportunities.values().next().unwrap();
        assert_eq!(moved.stage, stage, "{what}");
        assert!(
            (low..=high).contains(&moved.probability),
            "{what}: {} %",
            moved.probability
        );
        if matches!(stage, Stage::Won | Stage::Lost) {
            assert_eq!(moved.probability, low, "{what}");
            continue;
        }
        let what = format!("add at {stage}");
        let (account, added) = check_accepted(&what, |_| {
            Attempt::Customer(vec![AccountEdit::AddOpportunity(new_opportunity(
                stage.clone(),
                None,
            ))])
        });
        let id = added[0]
            .clone()
            .expect("adding an opportunity returns its id");
        let new = &account.record.opportunities[&id];
        assert_eq!(new.stage, stage, "{what}");
        assert!(
            (low..=high).contains(&new.probability),
            "{what}: {} %",
            new.probability
        );
    }
}

#[test]
fn won_and_lost_opportunities_need_what_closes_them() {
    let f = fixture();
    let opp = &f.opportunity;
    let moved = |amount: Option<Money>, signed_on: Option<Day>, reason: Option<&str>, stage| {
        Attempt::Customer(vec![AccountEdit::MoveOpportunity {
            id: opp.clone(),
            stage,
            probability: None,
            amount,
            signed_on,
            lost_reason: reason.map(Into::into),
        }])
    };
    let path = |field: &str| format!("opportunities/{opp}/{field}");
    let signed = Some(day(2025, 6, 14));
    let amount = Some(money(5_000_000, "CNY"));
    let cases = [
        (
            "won without an amount",
            moved(None, signed, None, Stage::Won),
            path("amount"),
        ),
        (
            "won without a signing date",
            moved(amount.clone(), None, None, Stage::Won),
            path("signed_on"),
        ),
        (
            "won with neither",
            moved(None, None, None, Stage::Won),
            path("amount|") + &path("signed_on"),
        ),
        (
            "lost without a reason",
            moved(None, None, None, Stage::Lost),
            path("lost_reason"),
        ),
        (
            "lost with an empty reason",
            moved(None, None, Some(""), Stage::Lost),
            path("lost_reason"),
        ),
        (
            "lost with a blank reason",
            moved(None, None, Some("  \t"), Stage::Lost),
            path("lost_reason"),
        ),
    ];
    for (what, tried, field) in cases {
        check_rejected(&f, what, tried, &field);
    }
    // A new opportunity cannot skip the closing details either.
    let added = |stage| {
        Attempt::Customer(vec![AccountEdit::AddOpportunity(NewOpportunity {
            amount: Some(money(100, "EUR")),
            ..new_opportunity(stage, None)
        })])
    };
    check_rejected(
        &f,
        "added as won",
        added(Stage::Won),
        "opportunities/*/signed_on",
    );
    check_rejected(
        &f,
        "added as lost",
        added(Stage::Lost),
        "opportunities/*/lost_reason",
    );

    // An amount already on the opportunity counts.
    let (account, _) = check_accepted("won with the amount given earlier", |f| {
        let opp = f.opportunity.clone();
        Attempt::Customer(vec![
            AccountEdit::MoveOpportunity {
                id: opp.clone(),
                stage: Stage::Negotiation,
                probability: None,
                amount: Some(money(5_000_000, "CNY")),
                signed_on: None,
                lost_reason: None,
            },
            AccountEdit::MoveOpportunity {
                id: opp,
                stage: Stage::Won,
                probability: None,
                amount: None,
                signed_on: Some(day(2025, 6, 14)),
                lost_reason: None,
            },
        ])
    });
    let won = account.record.opportunities.values().next().unwrap();
    assert_eq!(won.stage, Stage::Won);
    assert_eq!(won.amount, Some(money(5_000_000, "CNY")));
    assert_eq!(won.signed_on, Some(day(2025, 6, 14)));
}

#[test]
fn lifecycle_moves_need_what_the_status_needs() {
    let f = fixture();
    let customer = |edit| Attempt::Customer(vec![edit]);
    let lead = |edit| Attempt::Lead(vec![edit]);
    let lost = |reason: &str| AccountEdit::MarkLost {
        reason: reason.into(),
    };
    let dormant = AccountEdit::MarkDormant {
        wake_up_on: day(2025, 9, 1),
    };
    let cases = [
        (
            "customer lost with an empty reason",
            customer(lost("")),
            "lost_reason",
        ),
        (
            "customer lost with a blank reason",
            customer(lost(" \n ")),
            "lost_reason",
        ),
        (
            "lead lost with an empty reason",
            lead(lost("")),
            "lost_reason",
        ),
        (
            "customer lost without a reason",
            customer(AccountEdit::SetStatus(Status::Lost)),
            "status|lost_reason",
        ),
        (
            "a customer cannot be dormant",
            customer(dormant.clone()),
            "status",
        ),
        // The only way to a dormant lead is the edit that takes the wake-up date.
        (
            "lead dormant without a wake-up date",
            lead(AccountEdit::SetStatus(Status::Dormant)),
            "status|wake_up_on",
        ),
        (
            "won is no lead status",
            lead(AccountEdit::SetStatus(Status::Won)),
            "status",
        ),
        (
            "intent is no lead status",
            lead(AccountEdit::SetStatus(Status::Intent)),
            "status",
        ),
        (
            "potential is no lead status",
            lead(AccountEdit::SetStatus(Status::Potential)),
            "status",
        ),
        (
            "to_follow is no customer status",
            customer(AccountEdit::SetStatus(Status::ToFollow)),
            "status",
        ),
        (
            "following is no customer status",
            customer(AccountEdit::SetStatus(Status::Following)),
            "status",
        ),
        (
            "a customer cannot be converted",
            customer(AccountEdit::ConvertLead {
                on: day(2025, 6, 1),
            }),
            "kind",
        ),
    ];
    for (what, tried, field) in cases {
        check_rejected(&f, what, tried, field);
    }

    let (account, _) = check_accepted("dormant lead with a wake-up date", |_| {
        Attempt::Lead(vec![dormant.clone()])
    });
    assert_eq!(account.record.status, Status::Dormant);
    assert_eq!(account.record.wake_up_on, Some(day(2025, 9, 1)));
    let (account, _) = check_accepted("lost with a reason", |_| {
        Attempt::Customer(vec![lost("  went with a competitor  ")])
    });
    assert_eq!(account.record.status, Status::Lost);
    assert_eq!(
        account.record.lost_reason.as_deref(),
        Some("went with a competitor")
    );
}

#[test]
fn money_and_needs_are_checked() {
    let f = fixture();
    let needs = |min: Option<Money>, max: Option<Money>, period: Option<&str>| {
        Attempt::Customer(vec![AccountEdit::SetNeeds(Needs {
            explicit: Some("20 CNC machines".into()),
            budget_min: min,
            budget_max: max,
            purchase_period: period.map(Into::into),
            ..Needs::default()
        })])
    };
    let min = |m: Money| needs(Some(m), None, None);
    let max = |m: Money| needs(None, Some(m), None);
    let deal = |amount: Money| {
        Attempt::Customer(vec![AccountEdit::RecordDeal(Deal {
            closed_on: day(2025, 6, 14),
            amount,
            products: "CNC machines".into(),
            payment: Payment::Instalments,
            notes: None,
        })])
    };
    let opportunity = |amount: Money| {
        Attempt::Customer(vec![AccountEdit::AddOpportunity(NewOpportunity {
            amount: Some(amount),
            ..new_opportunity(Stage::NeedsConfirmed, None)
        })])
    };
    let opp = &f.opportunity;
    let moved = |amount: Money| {
        Attempt::Customer(vec![AccountEdit::MoveOpportunity {
            id: opp.clone(),
            stage: Stage::Negotiation,
            probability: None,
            amount: Some(amount),
            signed_on: None,
            lost_reason: None,
        }])
    };
    let mut cases = vec![
        (
            "lower-case currency",
            min(money(100, "eur")),
            "needs/budget_min".to_owned(),
        ),
        (
            "four-letter currency",
            min(money(100, "EURO")),
            "needs/budget_min".to_owned(),
        ),
        (
            "symbol for a currency",
            min(money(100, "€")),
            "needs/budget_min".to_owned(),
        ),
        (
            "no currency",
            max(money(100, "")),
            "needs/budget_max".to_owned(),
        ),
        (
            "negative minimum",
            min(money(-1, "EUR")),
            "needs/budget_min".to_owned(),
        ),
        (
            "negative maximum",
            max(money(-5_000, "EUR")),
            "needs/budget_max".to_owned(),
        ),
        (
            "minimum above maximum",
            needs(Some(money(50_000, "EUR")), Some(money(10_000, "EUR")), None),
            "needs/budget_min|needs/budget_max".to_owned(),
        ),
        (
            "range in two currencies",
            needs(Some(money(10_000, "EUR")), Some(money(50_000, "USD")), None),
            "needs/budget_min|needs/budget_max".to_owned(),
        ),
        (
            "deal in lower case",
            deal(money(100, "eur")),
            "deals/*/amount".to_owned(),
        ),
        (
            "negative deal",
            deal(money(-100, "EUR")),
            "deals/*/amount".to_owned(),
        ),
        (
            "new opportunity in EURO",
            opportunity(money(100, "EURO")),
            "opportunities/*/amount".to_owned(),
        ),
        (
            "moved opportunity at a negative amount",
            moved(money(-1, "EUR")),
            format!("opportunities/{opp}/amount"),
        ),
    ];
    for period in [
        "soon",
        "2025-13",
        "2025-00",
        "2025-3",
        "25-03",
        "2025-Q5",
        "2025-Q0",
        "Q2-2025",
        "2025-q2",
        "next quarter",
        "",
    ] {
        cases.push((
            "purchase period",
            needs(None, None, Some(period)),
            "needs/purchase_period".to_owned(),
        ));
    }
    for (what, tried, field) in cases {
        check_rejected(&f, what, tried, &field);
    }

    for period in ["2025-03", "2025-Q2", "2026-12", "2025-Q4"] {
        let (account, _) = check_accepted(&format!("purchase period {period}"), |_| {
            needs(None, None, Some(period))
        });
        assert_eq!(
            account.record.needs.purchase_period.as_deref(),
            Some(period)
        );
    }
    for (low, high) in [(10_000, 50_000), (50_000, 50_000), (0, 0)] {
        let (account, _) = check_accepted(&format!("budget {low}..{high}"), |_| {
            needs(Some(money(low, "EUR")), Some(money(high, "EUR")), None)
        });
        assert_eq!(account.record.needs.budget_min, Some(money(low, "EUR")));
        assert_eq!(account.record.needs.budget_max, Some(money(high, "EUR")));
    }
}

#[test]
fn contacts_hold_work_details_only() {
    let f = fixture();
    let ids = [
        ("18 digits", "110101199003078515"),
        ("17 digits and X", "11010119900307851X"),
        ("17 digits and x", "11010119900307851x"),
        ("an SSN", "123-45-6789"),
        ("an ID inside text", "ID 110101199003078515, keep safe"),
        ("an SSN inside text", "SSN: 123-45-6789"),
    ];
    let homes = [
        ("an English marker", "home address: 12 Elm St"),
        ("an upper-case marker", "Home Address 12 Elm St"),
        ("a Chinese marker", "住址：北京市朝阳区建国路88号"),
    ];
    let with = |field: &str, value: &str| {
        let mut c = Contact {
            name: "Zhang Min".into(),
            title: Some("Engineer".into()),
            role: Some(Role::Influencer),
            phone: Some("+86 21 5555 0100".into()),
            email: Some("zhang.min@cedar.example".into()),
        };
        match field {
            "name" => c.name = value.into(),
            "title" => c.title = Some(value.into()),
            "phone" => c.phone = Some(value.into()),
            "email" => c.email = Some(value.into()),
            other => unreachable!("{other}"),
        }
        c
    };
    let mut cases: Vec<(String, &str, String)> = Vec::new();
    for (what, value) in ids.iter().chain(&homes) {
        for field in ["name", "title", "phone", "email"] {
            cases.push((format!("{what} in the {field}"), field, (*value).to_owned()));
        }
    }
    for bad in [
        "call me",
        "12345",
        "1234567890123456",
        "+86 138 0013 8000 ext. 12",
        "138;0013;8000",
    ] {
        cases.push((format!("phone `{bad}`"), "phone", bad.to_owned()));
    }
    for bad in [
        "dana",
        "dana@example",
        "@example.com",
        "dana lee@example.com",
        "dana@ example.com",
    ] {
        cases.push((format!("email `{bad}`"), "email", bad.to_owned()));
    }
    cases.push(("an empty name".into(), "name", String::new()));
    cases.push(("a blank title".into(), "title", "   ".into()));

    for (what, field, value) in &cases {
        let bad = with(field, value);
        let expected = format!("contacts/*/{field}");
        let added = Attempt::Customer(vec![AccountEdit::AddContact(bad.clone())]);
        check_rejected(&f, &format!("added: {what}"), added, &expected);
        let edited = Attempt::Customer(vec![AccountEdit::EditContact {
            id: f.contact.clone(),
            contact: bad.clone(),
        }]);
        let expected_edit = format!("contacts/{}/{field}", f.contact);
        check_rejected(&f, &format!("edited: {what}"), edited, &expected_edit);
        let created = Attempt::Create(Box::new(NewAccount {
            contact: Some(bad),
            ..customer("Cedar Works")
        }));
        check_rejected(&f, &format!("created with: {what}"), created, &expected);
    }

    // Ordinary work details pass.
    for (phone, email) in [
        ("+86 138 0013 8000", "zhang.min@cedar.example"),
        ("(021) 5555-0100", "Zhang.Min@Cedar.Example"),
        ("+1 212 555 0100 x12", "z@c.io"),
    ] {
        let good = Contact {
            phone: Some(phone.into()),
            email: Some(email.into()),
            ..with("title", "Head of purchasing")
        };
        let (account, _) = check_accepted(&format!("{phone} / {email}"), |_| {
            Attempt::Customer(vec![AccountEdit::AddContact(good.clone())])
        });
        assert!(
            account.record.contacts.values().any(|c| *c == good),
            "{phone} / {email}"
        );
    }
}

#[test]
fn custom_fields_and_service_records_are_checked() {
    let f = fixture();
    let custom = |field: &str| {
        Attempt::Customer(vec![AccountEdit::SetCustom {
            field: field.into(),
            value: Some("acme_official".into()),
        }])
    };
    let service = |satisfaction: Option<u8>| {
        Attempt::Customer(vec![AccountEdit::RecordService(Service {
            on: day(2025, 6, 10),
            work: "replaced a spindle".into(),
            result: "machine running".into(),
            satisfaction,
            next_step: None,
        })])
    };
    let cases = [
        ("capital letters", custom("WeChat"), "custom/WeChat"),
        ("a space", custom("social media"), "custom/social media"),
        ("a dash", custom("social-media"), "custom/social-media"),
        ("no name", custom(""), "custom/"),
        (
            "a value that is blank",
            Attempt::Customer(vec![AccountEdit::SetCustom {
                field: "wechat".into(),
                value: Some("  ".into()),
            }]),
            "custom/wechat",
        ),
        (
            "satisfaction 0",
            service(Some(0)),
            "services/*/satisfaction",
        ),
        (
            "satisfaction 6",
            service(Some(6)),
            "services/*/satisfaction",
        ),
    ];
    for (what, tried, field) in cases {
        check_rejected(&f, what, tried, field);
    }

    let (account, _) = check_accepted("a well-formed custom field", |_| custom("wechat_id_2"));
    assert_eq!(
        account.record.custom.get("wechat_id_2").map(String::as_str),
        Some("acme_official")
    );
    for satisfaction in [None, Some(1), Some(5)] {
        let (account, _) = check_accepted(&format!("satisfaction {satisfaction:?}"), |_| {
            service(satisfaction)
        });
        let recorded = account.record.services.values().next().unwrap();
        assert_eq!(recorded.satisfaction, satisfaction);
    }
}

#[test]
fn a_batch_with_one_broken_rule_writes_nothing() {
    let f = fixture();
    let opp = f.opportunity.clone();
    let batch = Attempt::Customer(vec![
        follow_up(at(5), "site visit: demo went well"),
        AccountEdit::AddContact(contact("Sam Roe")),
        AccountEdit::SetPriority(Priority::A),
        move_to(&opp, Stage::Negotiation, Some(50)),
    ]);
    check_rejected(
        &f,
        "a valid batch ending in a bad move",
        batch,
        &format!("opportunities/{opp}/probability"),
    );
}

// Derived facts.

/// An account's story: how it was created, then edits, each with the device time it was
/// recorded at.
struct Story {
    new: NewAccount,
    created: DateTime<Utc>,
    steps: Vec<(DateTime<Utc>, AccountEdit)>,
}

impl Story {
    fn of(new: NewAccount) -> Story {
        Story {
            new,
            created: at(0),
            steps: Vec::new(),
        }
    }

    fn then(mut self, recorded: DateTime<Utc>, edit: AccountEdit) -> Story {
        self.steps.push((recorded, edit));
        self
    }
}

/// What the facts should say; `None` leaves a fact unchecked.
#[derive(Debug, Default)]
struct Expect {
    cadence_days: Option<i64>,
    next_due: Option<Option<DateTime<Utc>>>,
    overdue: Option<bool>,
    /// Indices into the story's steps of the follow-ups that are late.
    late: Option<Vec<usize>>,
    conversion_days: Option<Option<i64>>,
}

/// Plays `story` into a store and checks the account's facts at `now`; the stored summary's
/// next due date agrees with them.
fn check_facts(what: &str, story: Story, now: DateTime<Utc>, expect: Expect) -> Facts {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&story.new, story.created).unwrap();
    let mut added = Vec::new();
    for (recorded, edit) in &story.steps {
        let entry = store
            .edit_account(id, edit, *recorded)
            .unwrap_or_else(|e| panic!("{what}: {edit:?}: {e}"));
        added.push(entry);
    }
    let account = store.account(id).unwrap();
    let got = facts::facts(&account.record, now, Tz::UTC);
    if let Some(days) = expect.cadence_days {
        assert_eq!(got.cadence_days, days, "{what}: cadence");
    }
    if let Some(due) = expect.next_due {
        assert_eq!(got.next_due, due, "{what}: next due");
    }
    if let Some(overdue) = expect.overdue {
        assert_eq!(
            got.overdue, overdue,
            "{what}: overdue at {now} (due {:?})",
            got.next_due
        );
    }
    if let Some(late) = &expect.late {
        let want: BTreeSet<String> = late.iter().map(|&i| added[i].clone().unwrap()).collect();
        let have: BTreeSet<String> = got.late_follow_ups.iter().cloned().collect();
        assert_eq!(have, want, "{what}: late follow-ups");
    }
    if let Some(conversion) = expect.conversion_days {
        assert_eq!(got.conversion_days, conversion, "{what}: conversion cycle");
    }
    let summary = store
        .accounts()
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert_eq!(
        summary.next_due.and_then(|d| d.resolve(Tz::UTC)),
        got.next_due,
        "{what}: summary and facts disagree"
    );
    got
}

#[test]
fn cadence_follows_priority_and_level_and_the_stricter_wins() {
    use Level::{Growth, Key, Normal};
    use Priority::{A, B, C, D};
    let cases: [(Option<Priority>, Option<Level>, i64); 20] = [
        (None, None, 14),
        (Some(A), None, 7),
        (Some(B), None, 14),
        (Some(C), None, 30),
        (Some(D), None, 90),
        (None, Some(Key), 7),
        (None, Some(Normal), 14),
        (None, Some(Growth), 30),
        (Some(A), Some(Growth), 7),
        (Some(B), Some(Key), 7),
        (Some(B), Some(Growth), 14),
        (Some(C), Some(Normal), 14),
        (Some(C), Some(Key), 7),
        (Some(C), Some(Growth), 30),
        (Some(D), Some(Key), 7),
        (Some(D), Some(Normal), 14),
        (Some(D), Some(Growth), 30),
        (Some(A), Some(Key), 7),
        (Some(A), Some(Normal), 7),
        (Some(B), Some(Normal), 14),
    ];
    for (priority, level, cadence) in cases {
        let what = format!("priority {priority:?}, level {level:?}");
        let last = at(60);
        // Set at creation.
        let story = Story::of(NewAccount {
            priority: priority.clone(),
            level: level.clone(),
            ..customer("Acme Hardware")
        })
        .then(last, follow_up(last, "call"));
        let expect = Expect {
            cadence_days: Some(cadence),
            next_due: Some(Some(last + days(cadence))),
            ..Expect::default()
        };
        check_facts(&format!("{what} at creation"), story, last, expect);
        // Set by later edits.
        let mut story = Story::of(customer("Acme Hardware")).then(last, follow_up(last, "call"));
        if let Some(p) = &priority {
            story = story.then(at(61), AccountEdit::SetPriority(p.clone()));
        }
        if let Some(l) = &level {
            story = story.then(at(62), AccountEdit::SetLevel(l.clone()));
        }
        let expect = Expect {
            cadence_days: Some(cadence),
            next_due: Some(Some(last + days(cadence))),
            ..Expect::default()
        };
        check_facts(&format!("{what} by edits"), story, last, expect);
    }
}

#[test]
fn next_due_comes_from_the_last_contact_or_the_earliest_open_plan() {
    let b = || NewAccount {
        priority: Some(Priority::B),
        ..customer("Acme Hardware")
    };
    let (early, late) = (at(60), at(600));
    // Logged out of order: the later contact is recorded first.
    let contacts = || {
        Story::of(b())
            .then(at(700), follow_up(late, "visit"))
            .then(at(701), follow_up(early, "call"))
    };
    let cadence_due = late + days(14);
    let cases: Vec<(&str, Story, Option<DateTime<Utc>>)> = vec![
        (
            "last contact by when it happened",
            contacts(),
            Some(cadence_due),
        ),
        (
            "an open plan before the cadence",
            contacts().then(at(702), plan(late + days(3))),
            Some(late + days(3)),
        ),
        (
            "an open plan after the cadence",
            contacts().then(at(702), plan(late + days(20))),
            Some(cadence_due),
        ),
        (
            "the earliest of several plans",
            contacts()
                .then(at(702), plan(late + days(9)))
                .then(at(703), plan(late + days(5))),
            Some(late + days(5)),
        ),
        (
            "a plan already past is still the next due",
            contacts().then(at(702), plan(late - days(1))),
            Some(late - days(1)),
        ),
        (
            "a next contact agreed in the latest follow-up",
            contacts().then(at(702), {
                let mut agreed =
                    NewFollowUp::new(late + Duration::minutes(1), ContactMethod::Visit, "demo");
                agreed.next_due = Some(Day((late + days(2)).date_naive()));
                AccountEdit::LogFollowUp(agreed)
            }),
            Some(
                (late + days(2))
                    .date_naive()
                    .and_hms_opt(9, 0, 0)
                    .unwrap()
                    .and_utc(),
            ),
        ),
        (
            "a new customer: one cadence after entry",
            Story::of(b()),
            Some(at(0) + days(14)),
        ),
        (
            "a new lead: within 24 h of entry",
            Story::of(lead("Birch Supply")),
            Some(at(0) + hours(24)),
        ),
        (
            "a lead after its first contact",
            Story::of(lead("Birch Supply")).then(at(90), follow_up(at(90), "call")),
            Some(at(90) + days(14)),
        ),
        (
            "a lost customer is due never",
            contacts().then(
                at(702),
                AccountEdit::MarkLost {
                    reason: "budget cut".into(),
                },
            ),
            None,
        ),
    ];
    for (what, story, due) in cases {
        let expect = Expect {
            next_due: Some(due),
            ..Expect::default()
        };
        check_facts(what, story, at(800), expect);
    }

    // A completed plan no longer counts.
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&b(), at(0)).unwrap();
    store
        .edit_account(id, &follow_up(late, "visit"), late)
        .unwrap();
    let planned = store
        .edit_account(id, &plan(late + days(2)), late)
        .unwrap()
        .unwrap();
    let due =
        |store: &Store| facts::facts(&store.account(id).unwrap().record, late, Tz::UTC).next_due;
    assert_eq!(due(&store), Some(late + days(2)));
    store
        .edit_account(id, &AccountEdit::CompletePlan(planned), late + days(2))
        .unwrap();
    assert_eq!(
        due(&store),
        Some(cadence_due),
        "the completed plan is ignored"
    );

    // A dormant lead comes back on its wake-up day.
    let wake = day(2025, 9, 1);
    let story = Story::of(lead("Birch Supply"))
        .then(at(10), follow_up(at(10), "no budget this year"))
        .then(at(11), AccountEdit::MarkDormant { wake_up_on: wake });
    let got = check_facts("dormant lead", story, at(20), Expect::default());
    assert_eq!(
        got.next_due.map(|d| d.date_naive()),
        Some(wake.0),
        "dormant lead"
    );
    assert!(
        !got.overdue,
        "a dormant lead is not overdue before it wakes"
    );
}

#[test]
fn an_account_past_its_next_due_is_overdue() {
    let last = at(0);
    let a = || {
        Story::of(NewAccount {
            priority: Some(Priority::A),
            ..customer("Acme Hardware")
        })
        .then(last, follow_up(last, "call"))
    };
    let due = last + days(7);
    let lead_due = at(0) + hours(24);
    let cases: Vec<(&str, Story, DateTime<Utc>, bool)> = vec![
        ("a day after contact", a(), last + days(1), false),
        (
            "a minute before due",
            a(),
            due - Duration::minutes(1),
            false,
        ),
        ("a minute after due", a(), due + Duration::minutes(1), true),
        ("a month later", a(), due + days(30), true),
        (
            "a new lead within 24 h",
            Story::of(lead("Birch Supply")),
            lead_due - Duration::minutes(1),
            false,
        ),
        (
            "a new lead after 24 h",
            Story::of(lead("Birch Supply")),
            lead_due + Duration::minutes(1),
            true,
        ),
        (
            "a plan overdue before the cadence",
            a().then(last, plan(last + days(2))),
            last + days(3),
            true,
        ),
        (
            "a lost customer is never overdue",
            a().then(
                last,
                AccountEdit::MarkLost {
                    reason: "went with a competitor".into(),
                },
            ),
            due + days(365),
            false,
        ),
        (
            "a new contact clears it",
            a().then(due + days(1), follow_up(due + days(1), "call")),
            due + days(2),
            false,
        ),
    ];
    for (what, story, now, overdue) in cases {
        let expect = Expect {
            overdue: Some(overdue),
            ..Expect::default()
        };
        check_facts(what, story, now, expect);
    }
}

#[test]
fn a_follow_up_recorded_more_than_a_day_after_it_happened_is_late() {
    let happened = at(0);
    let logged = |after: Duration| (happened + after, follow_up(happened, "visit"));
    let cases: [(&str, Duration, bool); 6] = [
        ("at once", Duration::zero(), false),
        ("the same evening", hours(6), false),
        ("exactly 24 h later", hours(24), false),
        (
            "24 h and a minute later",
            hours(24) + Duration::minutes(1),
            true,
        ),
        ("two days later", hours(48), true),
        ("a week later", days(7), true),
    ];
    for (what, after, late) in cases {
        let (recorded, edit) = logged(after);
        let story = Story::of(customer("Acme Hardware")).then(recorded, edit);
        let expect = Expect {
            late: Some(if late { vec![0] } else { vec![] }),
            ..Expect::default()
        };
        check_facts(what, story, recorded, expect);
    }
    // Only the late ones are flagged, by id.
    let story = Story::of(customer("Acme Hardware"))
        .then(at(10), follow_up(at(5), "call"))
        .then(at(10) + days(3), follow_up(at(10), "visit"))
        .then(at(10) + days(3), follow_up(at(10) + days(3), "email"))
        .then(at(10) + days(5), follow_up(at(10) + days(1), "video"));
    let expect = Expect {
        late: Some(vec![1, 3]),
        ..Expect::default()
    };
    check_facts("a mixed record", story, at(10) + days(5), expect);
}

#[test]
fn the_conversion_cycle_counts_days_from_first_contact_to_conversion() {
    let first = day(2025, 3, 1);
    let with_first_contact = || NewAccount {
        first_contact: Some(first),
        ..lead("Birch Supply")
    };
    let convert = |on: Day| AccountEdit::ConvertLead { on };
    let entered = at(0).date_naive();
    let cases: Vec<(&str, Story, Option<i64>)> = vec![
        (
            "a lead not yet converted",
            Story::of(with_first_contact()),
            None,
        ),
        (
            "a customer never a lead",
            Story::of(customer("Acme Hardware")),
            None,
        ),
        (
            "converted after 30 days",
            Story::of(with_first_contact()).then(at(1), convert(day(2025, 3, 31))),
            Some(30),
        ),
        (
            "converted the same day",
            Story::of(with_first_contact()).then(at(1), convert(first)),
            Some(0),
        ),
        (
            "across a year end",
            Story::of(NewAccount {
                first_contact: Some(day(2024, 12, 20)),
                ..lead("Birch Supply")
            })
            .then(at(1), convert(day(2025, 1, 10))),
            Some(21),
        ),
        (
            "first contact set later",
            Story::of(lead("Birch Supply"))
                .then(at(1), AccountEdit::SetFirstContact(day(2025, 5, 1)))
                .then(at(2), convert(day(2025, 6, 10))),
            Some(40),
        ),
        (
            "without a first contact: from entry",
            Story::of(lead("Birch Supply")).then(at(1), convert(Day(entered + days(12)))),
            Some(12),
        ),
    ];
    for (what, story, cycle) in cases {
        let expect = Expect {
            conversion_days: Some(cycle),
            ..Expect::default()
        };
        check_facts(what, story, at(10), expect);
    }
}

// Lifecycle moves.

/// Plays `edits` on a new account and checks its kind and status afterwards.
fn check_lifecycle(
    what: &str,
    new: NewAccount,
    edits: &[AccountEdit],
    kind: Kind,
    status: Status,
) -> Account {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&new, at(0)).unwrap();
    for (i, edit) in edits.iter().enumerate() {
        store
            .edit_account(id, edit, at(1 + i64::try_from(i).unwrap()))
            .unwrap_or_else(|e| panic!("{what}: {edit:?}: {e}"));
    }
    let account = store.account(id).unwrap();
    assert_eq!(
        (&account.record.kind, &account.record.status),
        (&kind, &status),
        "{what}"
    );
    let summary = store
        .accounts()
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert_eq!(
        (summary.kind.as_str(), summary.status.as_str()),
        (kind.as_str(), status.as_str()),
        "{what}: summary"
    );
    account
}

#[test]
fn logging_contact_moves_a_lead_to_following_and_nothing_else() {
    let call = || follow_up(at(1), "first call: interested");
    let cases: Vec<(&str, NewAccount, Vec<AccountEdit>, Kind, Status)> = vec![
        (
            "a new lead",
            lead("Birch Supply"),
            vec![],
            Kind::Lead,
            Status::ToFollow,
        ),
        (
            "a new customer",
            customer("Acme Hardware"),
            vec![],
            Kind::Customer,
            Status::Potential,
        ),
        (
            "a lead after a call",
            lead("Birch Supply"),
            vec![call()],
            Kind::Lead,
            Status::Following,
        ),
        (
            "a lead after two calls",
            lead("Birch Supply"),
            vec![call(), call()],
            Kind::Lead,
            Status::Following,
        ),
        (
            "a customer after a call",
            customer("Acme Hardware"),
            vec![call()],
            Kind::Customer,
            Status::Potential,
        ),
        (
            "an intent customer after a call",
            customer("Acme Hardware"),
            vec![AccountEdit::SetStatus(Status::Intent), call()],
            Kind::Customer,
            Status::Intent,
        ),
        (
            "a planned contact is no contact",
            lead("Birch Supply"),
            vec![plan(at(60))],
            Kind::Lead,
            Status::ToFollow,
        ),
    ];
    for (what, new, edits, kind, status) in cases {
        check_lifecycle(what, new, &edits, kind, status);
    }
}

#[test]
fn converting_a_lead_makes_an_intent_customer_and_keeps_its_history() {
    let store = Store::in_memory().unwrap();
    let new = NewAccount {
        first_contact: Some(day(2025, 6, 1)),
        contact: Some(Contact {
            phone: Some("+86 755 8888 0001".into()),
            ..contact("Chen Jie")
        }),
        ..lead("Birch Supply")
    };
    let id = store.create_account(&new, at(0)).unwrap();
    let edits = [
        follow_up(at(1), "call: needs 20 machines"),
        follow_up(at(2), "visit: met purchasing"),
        plan(at(3) + days(2)),
        AccountEdit::ConvertLead {
            on: day(2025, 6, 15),
        },
    ];
    let added = store.edit_account_all(id, &edits, at(5)).unwrap();
    let before: BTreeSet<String> = added[..2].iter().map(|a| a.clone().unwrap()).collect();

    let account = store.account(id).unwrap();
    assert_eq!(account.record.kind, Kind::Customer);
    assert_eq!(account.record.status, Status::Intent);
    assert_eq!(account.record.converted_on, Some(day(2025, 6, 15)));
    let kept: BTreeSet<String> = account.record.follow_ups.keys().cloned().collect();
    assert_eq!(kept, before, "the lead's follow-ups are kept");
    let summaries: Vec<&str> = account
        .follow_ups()
        .iter()
        .map(|(_, f)| &*f.summary)
        .collect();
    assert_eq!(
        summaries,
        ["call: needs 20 machines", "visit: met purchasing"]
    );
    assert_eq!(account.record.plans.len(), 1, "its plans too");
    assert_eq!(
        account.record.contacts.values().next().unwrap().name,
        "Chen Jie"
    );
    assert_eq!(account.record.first_contact, Some(day(2025, 6, 1)));
    assert_eq!(
        facts::facts(&account.record, at(10), Tz::UTC).conversion_days,
        Some(14)
    );

    // From now on it moves as a customer.
    let before = observe(&store);
    match store.edit_account(id, &AccountEdit::SetStatus(Status::Following), at(6)) {
        Err(EditError::Invalid(e)) => assert_eq!(e.field, "status"),
        other => panic!("following is no customer status: {other:?}"),
    }
    match store.edit_account(
        id,
        &AccountEdit::ConvertLead {
            on: day(2025, 6, 16),
        },
        at(6),
    ) {
        Err(EditError::Invalid(e)) => assert_eq!(e.field, "kind"),
        other => panic!("converted twice: {other:?}"),
    }
    assert_eq!(observe(&store), before);
    store
        .edit_account(id, &AccountEdit::SetStatus(Status::Won), at(7))
        .unwrap();
    assert_eq!(store.account(id).unwrap().record.status, Status::Won);
}

// Duplicates.

/// The account already in the store for duplicate checks.
fn acme_tools() -> NewAccount {
    NewAccount {
        contact: Some(Contact {
            phone: Some("+86 138-0013-8000".into()),
            email: Some("Dana.Lee@Acme-Tools.example".into()),
            ..contact("Dana Lee")
        }),
        ..customer("ACME Tools, Ltd.")
    }
}

/// Checks that creating `new` next to [`acme_tools`] is refused as a duplicate listing it (and
/// writes nothing, and `create_account_anyway` then creates it), or, if `duplicate` is false,
/// that it is created at once.
fn check_duplicate(what: &str, new: NewAccount, duplicate: bool) {
    let store = Store::in_memory().unwrap();
    let existing = store.create_account(&acme_tools(), at(0)).unwrap();
    let before = observe(&store);
    let result = store.create_account(&new, at(1));
    if !duplicate {
        let id = result.unwrap_or_else(|e| panic!("{what}: expected it created, got {e:?}"));
        assert_eq!(store.accounts().unwrap().len(), 2, "{what}");
        assert_eq!(
            store.account(id).unwrap().record.name,
            new.name.trim(),
            "{what}"
        );
        return;
    }
    match result {
        Err(EditError::Duplicate { existing: found }) => {
            let ids: Vec<DocId> = found.iter().map(|s| s.id).collect();
            assert_eq!(
                ids,
                vec![existing],
                "{what}: the existing account is offered"
            );
            assert_eq!(found[0].name, "ACME Tools, Ltd.", "{what}");
        }
        other => panic!("{what}: expected a duplicate warning, got {other:?}"),
    }
    assert_eq!(observe(&store), before, "{what}: the store changed");
    let id = store.create_account_anyway(&new, at(2)).unwrap();
    assert_ne!(id, existing);
    let ids: BTreeSet<DocId> = store.accounts().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        BTreeSet::from([existing, id]),
        "{what}: created anyway"
    );
    assert_eq!(store.status().unwrap().unsynced.len(), 2, "{what}");
}

#[test]
fn an_account_like_an_existing_one_is_offered_instead_of_created() {
    let with_contact = |name: &str, phone: Option<&str>, email: Option<&str>| NewAccount {
        contact: Some(Contact {
            phone: phone.map(Into::into),
            email: email.map(Into::into),
            ..contact("Someone Else")
        }),
        ..customer(name)
    };
    let cases = [
        ("the same name in other case", customer("acme tools"), true),
        (
            "the same name without the legal form",
            customer("Acme Tools"),
            true,
        ),
        ("another legal form", customer("ACME TOOLS LIMITED"), true),
        ("co., ltd", customer("Acme Tools Co., Ltd"), true),
        ("extra spaces and a dot", customer("  acme   tools. "), true),
        (
            "another lead by the same name",
            NewAccount {
                kind: Kind::Lead,
                ..customer("Acme Tools Inc.")
            },
            true,
        ),
        (
            "the same phone, other formatting",
            with_contact("Birch Supply", Some("13800138000"), None),
            true,
        ),
        (
            "the same phone with the country code",
            with_contact("Birch Supply", Some("(+86) 138 0013 8000"), None),
            true,
        ),
        (
            "the same email in other case",
            with_contact("Birch Supply", None, Some("dana.lee@acme-tools.example")),
            true,
        ),
        (
            "the same email in upper case",
            with_contact("Birch Supply", None, Some("DANA.LEE@ACME-TOOLS.EXAMPLE")),
            true,
        ),
        (
            "another name and contact",
            with_contact(
                "Birch Supply",
                Some("13900139000"),
                Some("li@birch.example"),
            ),
            false,
        ),
        (
            "a name that only starts alike",
            customer("Acme Toolworks"),
            false,
        ),
        ("no contact, another name", customer("Cedar Works"), false),
    ];
    for (what, new, duplicate) in cases {
        check_duplicate(what, new, duplicate);
    }
}

#[test]
fn duplicates_are_found_by_contacts_added_later_and_by_chinese_legal_forms() {
    let store = Store::in_memory().unwrap();
    let id = store
        .create_account(&customer("深圳市艾克米工具有限公司"), at(0))
        .unwrap();
    store
        .edit_account(
            id,
            &AccountEdit::AddContact(Contact {
                email: Some("wang@aikemi.example".into()),
                ..contact("Wang Fang")
            }),
            at(1),
        )
        .unwrap();
    let before = observe(&store);
    let attempts = [
        ("another legal form", customer("深圳市艾克米工具公司")),
        (
            "the later contact's email",
            NewAccount {
                contact: Some(Contact {
                    email: Some("Wang@AIKEMI.example".into()),
                    ..contact("Wang Fang")
                }),
                ..customer("Aikemi Tools")
            },
        ),
    ];
    for (what, new) in attempts {
        match store.create_account(&new, at(2)) {
            Err(EditError::Duplicate { existing }) => {
                assert_eq!(
                    existing.iter().map(|s| s.id).collect::<Vec<_>>(),
                    vec![id],
                    "{what}"
                )
            }
            other => panic!("{what}: expected a duplicate warning, got {other:?}"),
        }
        assert_eq!(observe(&store), before, "{what}");
    }
}

// Schema evolution.

fn heads_of(doc: &Automerge) -> Vec<Head> {
    doc.get_heads().iter().map(|h| Head(h.0)).collect()
}

fn timestamp(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::Timestamp(t.timestamp_millis())
}

/// Hands `doc` to `store` as the server would: a sync reply with a snapshot.
fn deliver(store: &Store, id: DocId, doc: &Automerge, checkpoint: u64) {
    let reply = SyncReply {
        checkpoint: Seq(checkpoint),
        more: false,
        pushed: Vec::new(),
        updates: vec![DocUpdate {
            action: outpost_protocol::UpdateAction::Merge,
            doc: id,
            snapshot: Some(doc.save()),
            changes: Vec::new(),
            heads: heads_of(doc),
        }],
    };
    SyncSession::new()
        .handle_reply(store, &encode(&reply), at(0))
        .unwrap();
}

/// The changes `store` would push for `id` in its next sync.
fn pushed_changes(store: &Store, id: DocId) -> Vec<Change> {
    let body = SyncSession::new().next_request(store).unwrap().unwrap();
    let request: SyncRequest = decode(&body).unwrap();
    request
        .pushes
        .into_iter()
        .filter(|p| p.doc == id)
        .flat_map(|p| p.changes)
        .map(|c| Change::from_bytes(c).unwrap())
        .collect()
}

/// `doc` with the changes `store` pushes for `id` applied, as the server would hold it.
fn after_push(doc: &Automerge, store: &Store, id: DocId) -> Automerge {
    let mut merged = doc.fork();
    merged.apply_changes(pushed_changes(store, id)).unwrap();
    merged
}

/// The map at `path` (`follow_ups/<id>`) in a raw document.
fn map_at(doc: &Automerge, path: &[&str]) -> ObjId {
    let mut obj = ROOT;
    for part in path {
        match doc.get(&obj, *part).unwrap() {
            Some((Value::Object(ObjType::Map), child)) => obj = child,
            other => panic!("{path:?}: `{part}` is {other:?}, not a map"),
        }
    }
    obj
}

/// The scalar at `key` of the map at `path`, if any.
fn scalar(doc: &Automerge, path: &[&str], key: &str) -> Option<ScalarValue> {
    match doc.get(map_at(doc, path), key).unwrap()? {
        (Value::Scalar(s), _) => Some(s.into_owned()),
        (other, _) => panic!("{path:?}/{key} is {other:?}"),
    }
}

fn str_value(s: &str) -> Option<ScalarValue> {
    Some(ScalarValue::Str(s.into()))
}

const OLD_FOLLOW_UP: &str = "5d1f0c7a9b3e2f41";

/// An account as schema 1 wrote it: name, owner, optional region, creation time and a map of
/// follow-ups, nothing else.
fn schema_one(region: Option<&str>) -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(b"old-version-rep1".as_slice()));
    let mut tx = doc.transaction();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    tx.put(ROOT, "name", "Acme Hardware").unwrap();
    tx.put(ROOT, "owner", "dana").unwrap();
    if let Some(region) = region {
        tx.put(ROOT, "region", region).unwrap();
    }
    tx.put(ROOT, "created_at", timestamp(at(0))).unwrap();
    let follow_ups = tx.put_object(ROOT, "follow_ups", ObjType::Map).unwrap();
    let entry = tx
        .put_object(&follow_ups, OLD_FOLLOW_UP, ObjType::Map)
        .unwrap();
    tx.put(&entry, "occurred_at", timestamp(at(30))).unwrap();
    tx.put(&entry, "recorded_at", timestamp(at(45))).unwrap();
    tx.put(&entry, "method", "phone").unwrap();
    tx.put(&entry, "summary", "asked for a price list").unwrap();
    tx.put(&entry, "logged_by", "00000000000000000000000000000001")
        .unwrap();
    tx.commit_with(automerge::transaction::CommitOptions::default().with_time(at(0).timestamp()));
    doc
}

/// Loads a raw document into a fresh store and checks what it reads, for schema evolution.
fn check_loads(what: &str, doc: &Automerge, check: impl Fn(&Account)) -> (Store, DocId) {
    let store = Store::in_memory().unwrap();
    let id = DocId::from_u128(0x0a11_ce00_0000_0000_0000_0000_0000_0001);
    deliver(&store, id, doc, 1);
    let account = store
        .account(id)
        .unwrap_or_else(|e| panic!("{what}: does not load: {e:?}"));
    check(&account);
    let summaries = store.accounts().unwrap();
    assert_eq!(
        summaries.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![id],
        "{what}"
    );
    assert!(
        store.status().unwrap().unsynced.is_empty(),
        "{what}: nothing to push yet"
    );
    (store, id)
}

#[test]
fn a_schema_one_document_loads_and_can_be_edited() {
    for region in [Some("North"), None] {
        let what = format!("schema 1 with region {region:?}");
        let old = schema_one(region);
        let (store, id) = check_loads(&what, &old, |account| {
            let r = &account.record;
            assert_eq!(r.schema, 1, "{what}");
            assert_eq!(
                (r.name.as_str(), r.owner.as_str()),
                ("Acme Hardware", "dana"),
                "{what}"
            );
            assert_eq!(r.region.as_deref(), region, "{what}");
            assert_eq!(r.created_at.0, at(0), "{what}");
            assert_eq!(
                (&r.kind, &r.status),
                (&Kind::Customer, &Status::Potential),
                "{what}"
            );
            assert!(r.contacts.is_empty() && r.opportunities.is_empty() && r.custom.is_empty());
            let follow_ups = account.follow_ups();
            assert_eq!(follow_ups.len(), 1, "{what}");
            let (fid, f) = follow_ups[0];
            assert_eq!(fid, OLD_FOLLOW_UP);
            assert_eq!(
                (f.occurred_at.0, f.recorded_at.0),
                (at(30), at(45)),
                "{what}"
            );
            assert_eq!(f.method, ContactMethod::Phone, "{what}");
            assert_eq!(f.summary, "asked for a price list", "{what}");
            assert_eq!(f.attitude, None, "{what}");
            assert!(
                account.conflicts.is_empty(),
                "{what}: {:?}",
                account.conflicts
            );
        });
        // Facts work on it: due one cadence after its last contact.
        let record = store.account(id).unwrap().record;
        assert_eq!(
            facts::facts(&record, at(60), Tz::UTC).next_due,
            Some(at(30) + days(14)),
            "{what}"
        );

        // This version edits it, and the old parts stay as they were.
        let added = store
            .edit_account_all(
                id,
                &[
                    AccountEdit::SetPriority(Priority::A),
                    AccountEdit::AddContact(contact("Li Wei")),
                    follow_up(at(100), "visit: wants a quote"),
                ],
                at(100),
            )
            .unwrap();
        assert!(added[1].is_some(), "{what}: the contact's id");
        let account = store.account(id).unwrap();
        assert_eq!(account.record.priority, Some(Priority::A), "{what}");
        assert_eq!(account.record.follow_ups.len(), 2, "{what}");
        assert!(
            account.conflicts.is_empty(),
            "{what}: {:?}",
            account.conflicts
        );
        let raw = after_push(&old, &store, id);
        let fu = ["follow_ups", OLD_FOLLOW_UP];
        assert_eq!(
            scalar(&raw, &fu, "summary"),
            str_value("asked for a price list"),
            "{what}"
        );
        assert_eq!(
            scalar(&raw, &fu, "recorded_at"),
            Some(timestamp(at(45))),
            "{what}"
        );
        assert_eq!(
            scalar(&raw, &[], "created_at"),
            Some(timestamp(at(0))),
            "{what}"
        );
        assert_eq!(scalar(&raw, &[], "priority"), str_value("a"), "{what}");
    }
}

/// A document schema 1 wrote, edited offline by two devices of this version, each adding a
/// contact and logging a follow-up: after they exchange changes both contacts and all
/// follow-ups are there, and nobody set a field concurrently, so there is no conflict.
#[test]
fn two_devices_editing_a_schema_one_document_offline_keep_each_others_entries() {
    let old = schema_one(Some("North"));
    let id = DocId::from_u128(0x0a11_ce00_0000_0000_0000_0000_0000_0002);
    let (alice, bob) = (Store::in_memory().unwrap(), Store::in_memory().unwrap());
    for store in [&alice, &bob] {
        deliver(store, id, &old, 1);
    }
    alice
        .edit_account_all(
            id,
            &[
                AccountEdit::AddContact(contact("Li Wei")),
                follow_up(at(100), "call"),
            ],
            at(100),
        )
        .unwrap();
    bob.edit_account_all(
        id,
        &[
            AccountEdit::AddContact(contact("Sam Roe")),
            follow_up(at(110), "visit"),
        ],
        at(110),
    )
    .unwrap();
    // What the server holds once both pushed.
    let mut server = after_push(&old, &alice, id);
    server.apply_changes(pushed_changes(&bob, id)).unwrap();
    for store in [&alice, &bob] {
        deliver(store, id, &server, 2);
    }
    let account = alice.account(id).unwrap();
    assert_eq!(bob.account(id).unwrap(), account, "the devices agree");
    let names: BTreeSet<&str> = account.record.contacts.values().map(|c| &*c.name).collect();
    let conflicted: Vec<&str> = account.conflicts.iter().map(|c| &*c.path).collect();
    assert_eq!(
        names,
        BTreeSet::from(["Li Wei", "Sam Roe"]),
        "both contacts are kept (conflicted fields: {conflicted:?})"
    );
    assert_eq!(
        account.record.follow_ups.len(),
        3,
        "every follow-up is kept"
    );
    assert!(
        conflicted.is_empty(),
        "no field was set concurrently, yet: {conflicted:?}"
    );
}

const NEWER_FOLLOW_UP_KEY: &str = "sentiment_score";
const NEWER_CONTACT_KEY: &str = "wechat";

/// An account written by a newer version: schema 3, a root field, a key inside a follow-up and
/// inside a contact this version does not know, and a status it does not know.
fn newer_document() -> (Automerge, String, String) {
    // Start from what this version writes, then let the newer one add to it.
    let writer = Store::in_memory().unwrap();
    let new = NewAccount {
        contact: Some(Contact {
            title: Some("Buyer".into()),
            ..contact("Li Wei")
        }),
        priority: Some(Priority::C),
        ..customer("Acme Hardware")
    };
    let id = writer.create_account(&new, at(0)).unwrap();
    let follow_up_id = writer
        .edit_account(id, &follow_up(at(5), "call: asked for references"), at(5))
        .unwrap()
        .unwrap();
    let contact_id = writer
        .account(id)
        .unwrap()
        .record
        .contacts
        .keys()
        .next()
        .unwrap()
        .clone();
    let mut doc = after_push(&Automerge::new(), &writer, id)
        .with_actor(ActorId::from(b"newer-version-01".as_slice()));
    let mut tx = doc.transaction();
    tx.put(ROOT, "schema", 3_u64).unwrap();
    tx.put(ROOT, "loyalty_tier", "gold").unwrap();
    tx.put(ROOT, "status", "on_hold").unwrap();
    let follow_ups = tx.get(ROOT, "follow_ups").unwrap().unwrap().1;
    let entry = tx
        .get(&follow_ups, follow_up_id.as_str())
        .unwrap()
        .unwrap()
        .1;
    tx.put(&entry, NEWER_FOLLOW_UP_KEY, 0.8_f64).unwrap();
    let contacts = tx.get(ROOT, "contacts").unwrap().unwrap().1;
    let person = tx.get(&contacts, contact_id.as_str()).unwrap().unwrap().1;
    tx.put(&person, NEWER_CONTACT_KEY, "liwei_acme").unwrap();
    tx.commit();
    (doc, follow_up_id, contact_id)
}

#[test]
fn fields_written_by_a_newer_version_survive_an_edit_here() {
    let (newer, follow_up_id, contact_id) = newer_document();
    let (store, id) = check_loads("newer document", &newer, |account| {
        assert_eq!(account.record.schema, 3);
        assert_eq!(account.record.status, Status::Other("on_hold".into()));
        assert_eq!(account.record.status.as_str(), "on_hold");
    });
    let edits = [
        AccountEdit::SetPriority(Priority::A),
        AccountEdit::SetName("Acme Hardware Group".into()),
        AccountEdit::EditContact {
            id: contact_id.clone(),
            contact: Contact {
                title: Some("Head of purchasing".into()),
                phone: Some("+86 10 6552 1234".into()),
                ..contact("Li Wei")
            },
        },
        follow_up(at(50), "visit: quote accepted in principle"),
    ];
    let added = store.edit_account_all(id, &edits, at(50)).unwrap();
    let new_follow_up = added[3].clone().unwrap();

    // This device still shows what it does not understand.
    let account = store.account(id).unwrap();
    assert_eq!(account.record.status, Status::Other("on_hold".into()));
    assert_eq!(
        account.record.schema, 3,
        "the schema version never goes down"
    );
    assert!(account.conflicts.is_empty(), "{:?}", account.conflicts);

    // And what it pushes leaves the newer fields as they were.
    let raw = after_push(&newer, &store, id);
    assert_eq!(scalar(&raw, &[], "loyalty_tier"), str_value("gold"));
    assert_eq!(scalar(&raw, &[], "status"), str_value("on_hold"));
    assert_eq!(scalar(&raw, &[], "schema"), Some(ScalarValue::Uint(3)));
    let fu = ["follow_ups", follow_up_id.as_str()];
    assert_eq!(
        scalar(&raw, &fu, NEWER_FOLLOW_UP_KEY),
        Some(ScalarValue::F64(0.8))
    );
    assert_eq!(
        scalar(&raw, &fu, "summary"),
        str_value("call: asked for references")
    );
    let person = ["contacts", contact_id.as_str()];
    assert_eq!(
        scalar(&raw, &person, NEWER_CONTACT_KEY),
        str_value("liwei_acme")
    );
    // The edits are there too.
    assert_eq!(scalar(&raw, &[], "name"), str_value("Acme Hardware Group"));
    assert_eq!(scalar(&raw, &[], "priority"), str_value("a"));
    assert_eq!(
        scalar(&raw, &person, "title"),
        str_value("Head of purchasing")
    );
    let added_fu = ["follow_ups", new_follow_up.as_str()];
    assert_eq!(
        scalar(&raw, &added_fu, "summary"),
        str_value("visit: quote accepted in principle")
    );
}

#[test]
fn a_newer_document_survives_a_restart_of_this_device() {
    let (newer, follow_up_id, _) = newer_document();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.redb");
    let id = DocId::from_u128(0x0a11_ce00_0000_0000_0000_0000_0000_0003);
    {
        let store = Store::open(&path).unwrap();
        deliver(&store, id, &newer, 1);
        store
            .edit_account(id, &AccountEdit::SetLevel(Level::Key), at(50))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let account = store.account(id).unwrap();
    assert_eq!(account.record.status, Status::Other("on_hold".into()));
    assert_eq!(account.record.level, Some(Level::Key));
    let raw = after_push(&newer, &store, id);
    assert_eq!(scalar(&raw, &[], "loyalty_tier"), str_value("gold"));
    let fu = ["follow_ups", follow_up_id.as_str()];
    assert_eq!(
        scalar(&raw, &fu, NEWER_FOLLOW_UP_KEY),
        Some(ScalarValue::F64(0.8))
    );
    assert_eq!(scalar(&raw, &[], "level"), str_value("key"));
}
