//! CRM records merge by identity across devices: contacts and follow-ups added on two
//! offline devices are all kept, edits to the same contact meet field by field, and
//! concurrent stage moves surface as a conflict that, once settled, every device agrees on.

use chrono::{DateTime, TimeZone, Utc};
use outpost_client::model::{Contact, Money, Role, Stage};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp, NewOpportunity};
use outpost_tests::TestServer;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 3, hour, 0, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_to_contacts_follow_ups_and_stages_merge_by_identity() {
    let server = TestServer::start().await;
    let (ana, ben) = (server.device().await, server.device().await);
    let new = NewAccount {
        name: "Northwind Tools".into(),
        owner: "ana".into(),
        contact: Some(Contact {
            name: "Lee Chen".into(),
            title: Some("Buyer".into()),
            ..Contact::default()
        }),
        ..NewAccount::default()
    };
    let id = ana.store.create_account(&new, at(8)).unwrap();
    let opportunity = NewOpportunity {
        name: "2027 tooling".into(),
        stage: Stage::NeedsConfirmed,
        probability: None,
        amount: Some(Money {
            minor: 4_500_000,
            currency: "EUR".into(),
        }),
        expected_close: None,
        owner: "ana".into(),
    };
    let opp = ana
        .store
        .edit_account(id, &AccountEdit::AddOpportunity(opportunity), at(8))
        .unwrap()
        .unwrap();
    ana.sync().await;
    ben.sync().await;
    let lee = ben
        .store
        .account(id)
        .unwrap()
        .record
        .contacts
        .keys()
        .next()
        .unwrap()
        .clone();

    // Offline: both add a contact and a follow-up, both edit Lee (different fields), and both
    // move the opportunity to different stages.
    let add = |name: &str| {
        AccountEdit::AddContact(Contact {
            name: name.into(),
            ..Contact::default()
        })
    };
    ana.store
        .edit_account(id, &add("Sam Ortiz"), at(9))
        .unwrap();
    ben.store.edit_account(id, &add("Kim Park"), at(9)).unwrap();
    let mut lee_by_ana = ana.store.account(id).unwrap().record.contacts[&lee].clone();
    lee_by_ana.phone = Some("+49 30 1234567".into());
    ana.store
        .edit_account(
            id,
            &AccountEdit::EditContact {
                id: lee.clone(),
                contact: lee_by_ana,
            },
            at(9),
        )
        .unwrap();
    let mut lee_by_ben = ben.store.account(id).unwrap().record.contacts[&lee].clone();
    lee_by_ben.role = Some(Role::DecisionMaker);
    ben.store
        .edit_account(
            id,
            &AccountEdit::EditContact {
                id: lee.clone(),
                contact: lee_by_ben,
            },
            at(9),
        )
        .unwrap();
    for (device, summary) in [(&ana, "site visit"), (&ben, "call with IT")] {
        let log = AccountEdit::LogFollowUp(NewFollowUp::new(at(10), ContactMethod::Visit, summary));
        device.store.edit_account(id, &log, at(10)).unwrap();
    }
    let move_to = |stage: Stage| AccountEdit::MoveOpportunity {
        id: opp.clone(),
        stage,
        probability: None,
        amount: None,
        signed_on: None,
        lost_reason: None,
    };
    ana.store
        .edit_account(id, &move_to(Stage::SolutionAccepted), at(11))
        .unwrap();
    ben.store
        .edit_account(id, &move_to(Stage::Negotiation), at(11))
        .unwrap();

    for device in [&ana, &ben, &ana] {
        device.sync().await;
    }
    let merged = ana.store.account(id).unwrap();
    assert_eq!(merged, ben.store.account(id).unwrap());
    let mut names: Vec<&str> = merged
        .record
        .contacts
        .values()
        .map(|c| c.name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["Kim Park", "Lee Chen", "Sam Ortiz"]);
    let lee_merged = &merged.record.contacts[&lee];
    assert_eq!(lee_merged.phone.as_deref(), Some("+49 30 1234567"));
    assert_eq!(lee_merged.role, Some(Role::DecisionMaker));
    assert_eq!(lee_merged.title.as_deref(), Some("Buyer"));
    assert_eq!(merged.record.follow_ups.len(), 2);

    let stage_path = format!("opportunities/{opp}/stage");
    let conflict = merged
        .conflicts
        .iter()
        .find(|c| c.path == stage_path)
        .expect("stage conflict");
    let mut stages: Vec<&str> = conflict.values.iter().map(|v| v.value.as_str()).collect();
    stages.sort();
    assert_eq!(stages, ["negotiation", "solution_accepted"]);

    // Ben settles on the value Ana chose; after syncing, everyone agrees and no conflict is left.
    let ana_choice = conflict
        .values
        .iter()
        .position(|v| v.value == "solution_accepted")
        .unwrap();
    ben.store
        .settle(id, &stage_path, ana_choice, at(12))
        .unwrap();
    // The probability moved with each stage, so it is conflicted too: settle it to match.
    let probability_path = format!("opportunities/{opp}/probability");
    let settled = ben.store.account(id).unwrap();
    if let Some(p) = settled
        .conflicts
        .iter()
        .find(|c| c.path == probability_path)
    {
        let choice = p.values.iter().position(|v| v.value == "65").unwrap();
        ben.store
            .settle(id, &probability_path, choice, at(12))
            .unwrap();
    }
    for device in [&ben, &ana] {
        device.sync().await;
    }
    let (a, b) = (
        ana.store.account(id).unwrap(),
        ben.store.account(id).unwrap(),
    );
    assert_eq!(a, b);
    assert!(a.conflicts.is_empty(), "{:?}", a.conflicts);
    assert_eq!(a.record.opportunities[&opp].stage, Stage::SolutionAccepted);
    assert_eq!(a.record.opportunities[&opp].probability, 65);
    assert_eq!(
        server.storage().heads(id).unwrap(),
        ana.store.heads(id).unwrap()
    );

    // Settling something that is not in conflict is refused and writes nothing.
    let heads = ben.store.heads(id).unwrap();
    assert!(ben.store.settle(id, "name", 0, at(13)).is_err());
    assert_eq!(ben.store.heads(id).unwrap(), heads);
}
