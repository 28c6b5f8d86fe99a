//! Any Unicode text, on every path that writes it.
//!
//! The bug this guards against: `outpost set ID --notes "王总是决策人"` failed with "index 3 is
//! out of bounds" (and `Müller GmbH`, `a王b` too) because the notes were written with
//! autosurgeon's `Text`, whose splice positions are UTF-8 byte offsets, into automerge text,
//! whose positions are Unicode code points. The property test sets arbitrary Unicode strings
//! (CJK, accents, combining marks, emoji, any printable character) into every text field, and
//! inserts into and deletes from the notes, concurrently on two devices of the same rep, through
//! the real server: every edit is kept and both devices converge on the server's heads. Server-
//! authored text (a manager's review comment, a merge of notes) goes the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use outpost_client::model::{Contact, Needs, Stage};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp, NewOpportunity};
use outpost_protocol::DocId;
use outpost_tests::{Device, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use unicode_segmentation::UnicodeSegmentation;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

/// Text as people type it in any script, trimmed (every path trims) and never empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\p{Han}]{1,12}",
        "[\\p{Han}\\p{Latin}\\p{Greek}\\p{Cyrillic}\\p{Arabic}\\p{Hiragana}\\p{Hangul}0-9（），。、·— ]{1,20}",
        // Letters followed by combining marks (é as e + U+0301, Vietnamese stacks).
        "([a-zA-Z\\p{Han}][\\p{Mn}]{0,3}){1,10}",
        // Emoji outside the Basic Multilingual Plane.
        "[\u{1F600}-\u{1F64F}\u{1F680}-\u{1F6FF}\u{1F900}-\u{1F9FF}a-z]{1,10}",
        // Any printable character at all.
        "\\PC{1,24}",
    ]
    .prop_map(|s| s.trim().to_owned())
    .prop_filter("a field's value is not empty", |s| !s.is_empty())
}

/// One round: what each of the two devices does to the same account while offline.
#[derive(Debug, Clone)]
struct Round {
    name: String,
    notes: String,
    /// Device A inserts this into the notes at grapheme position `insert_at` (a fraction).
    insert: String,
    insert_at: f64,
    /// Device B deletes the graphemes between these fractions of the notes.
    delete: (f64, f64),
    /// Device A's fields.
    region: String,
    size: String,
    needs: [String; 3],
    contact: [String; 2],
    summary: String,
    next_action: String,
    /// Device B's fields.
    custom: String,
    goal: String,
    opportunity: String,
    other_summary: String,
}

fn round() -> impl Strategy<Value = Round> {
    (
        (
            text(),
            text(),
            text(),
            0.0..=1.0f64,
            0.0..=1.0f64,
            0.0..=1.0f64,
        ),
        (text(), text(), [text(), text(), text()], [text(), text()]),
        (text(), text(), text(), text(), text(), text()),
    )
        .prop_map(
            |(
                (name, notes, insert, insert_at, d0, d1),
                (region, size, needs, contact),
                (summary, next_action, custom, goal, opportunity, other_summary),
            )| Round {
                name,
                notes,
                insert,
                insert_at,
                delete: (d0.min(d1), d0.max(d1)),
                region,
                size,
                needs,
                contact,
                summary,
                next_action,
                custom,
                goal,
                opportunity,
                other_summary,
            },
        )
}

fn graphemes(s: &str) -> Vec<&str> {
    s.graphemes(true).collect()
}

fn position(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len)
}

/// The notes after A's insertion and B's deletion, and whether the expectation is exact: an
/// insertion whose characters join the graphemes around it (a leading combining mark, a
/// trailing zero-width joiner) is diffed as a replacement of those graphemes, which is still
/// kept but merges differently.
fn expected_notes(round: &Round) -> (String, String, String, bool) {
    let old = graphemes(&round.notes);
    let at = position(round.insert_at, old.len());
    let (d0, d1) = (
        position(round.delete.0, old.len()),
        position(round.delete.1, old.len()),
    );
    let inserted = format!(
        "{}{}{}",
        old[..at].concat(),
        round.insert,
        old[at..].concat()
    );
    let deleted = format!("{}{}", old[..d0].concat(), old[d1..].concat());
    let stable =
        graphemes(&inserted) == [&old[..at], &graphemes(&round.insert)[..], &old[at..]].concat();
    let merged = if at <= d0 {
        [
            old[..at].concat(),
            round.insert.clone(),
            old[at..d0].concat(),
            old[d1..].concat(),
        ]
    } else if at >= d1 {
        [
            old[..d0].concat(),
            old[d1..at].concat(),
            round.insert.clone(),
            old[at..].concat(),
        ]
    } else {
        [
            old[..d0].concat(),
            round.insert.clone(),
            old[d1..].concat(),
            String::new(),
        ]
    }
    .concat();
    (inserted, deleted, merged, stable)
}

async fn play(server: &TestServer, a: &Device, b: &Device, round: &Round) -> Result<(), String> {
    let new = NewAccount {
        name: round.name.clone(),
        owner: "yan".into(),
        ..NewAccount::default()
    };
    let id = a
        .store
        .create_account_anyway(&new, at(0))
        .map_err(|e| format!("create {:?}: {e}", round.name))?;
    let edit = |device: &Device, edit: AccountEdit| {
        device
            .store
            .edit_account(id, &edit, at(1))
            .map_err(|e| format!("{edit:?}: {e}"))
    };
    edit(a, AccountEdit::SetNotes(round.notes.clone()))?;
    a.sync().await;
    b.sync().await;

    let (inserted, deleted, merged, stable) = expected_notes(round);
    // Offline on A: the notes get the insertion, and every profile text field a value.
    edit(a, AccountEdit::SetNotes(inserted.clone()))?;
    edit(a, AccountEdit::SetRegion(round.region.clone()))?;
    edit(a, AccountEdit::SetSize(round.size.clone()))?;
    let [explicit, latent, pain] = round.needs.clone();
    let needs = Needs {
        explicit: Some(explicit),
        latent: Some(latent),
        pain_points: Some(pain),
        ..Needs::default()
    };
    edit(a, AccountEdit::SetNeeds(needs.clone()))?;
    let contact = Contact {
        name: round.contact[0].clone(),
        title: Some(round.contact[1].clone()),
        ..Contact::default()
    };
    edit(a, AccountEdit::AddContact(contact.clone()))?;
    let follow_up = NewFollowUp {
        next_action: Some(round.next_action.clone()),
        ..NewFollowUp::new(at(-30), ContactMethod::Messaging, &round.summary)
    };
    edit(a, AccountEdit::LogFollowUp(follow_up))?;
    // Offline on B: the deletion from the notes, and other fields.
    edit(b, AccountEdit::SetNotes(deleted.clone()))?;
    edit(
        b,
        AccountEdit::SetCustom {
            field: "wechat".into(),
            value: Some(round.custom.clone()),
        },
    )?;
    edit(
        b,
        AccountEdit::PlanFollowUp {
            due: at(60 * 24),
            method: ContactMethod::Visit,
            goal: round.goal.clone(),
            owner: None,
        },
    )?;
    edit(
        b,
        AccountEdit::AddOpportunity(NewOpportunity {
            name: round.opportunity.clone(),
            stage: Stage::Potential,
            probability: None,
            amount: None,
            expected_close: None,
            owner: "yan".into(),
        }),
    )?;
    edit(
        b,
        AccountEdit::LogFollowUp(NewFollowUp::new(
            at(-20),
            ContactMethod::Conference,
            &round.other_summary,
        )),
    )?;

    for device in [a, b, a] {
        device.try_sync().await.map_err(|e| format!("sync: {e}"))?;
    }
    let [ra, rb] = [a, b].map(|d| d.store.account(id).unwrap().record);
    if ra != rb {
        return Err(format!("the devices differ:\n{ra:?}\n{rb:?}"));
    }
    let heads = server.storage().heads(id).map_err(|e| e.to_string())?;
    for device in [a, b] {
        if device.store.heads(id).map_err(|e| e.to_string())? != heads {
            return Err("a device does not hold the server's heads".into());
        }
    }
    let notes = ra.notes.as_str();
    if !notes.contains(&round.insert) {
        return Err(format!(
            "A's insertion {:?} is missing from {notes:?}",
            round.insert
        ));
    }
    if stable && notes != merged {
        return Err(format!("notes {notes:?}, expected {merged:?}"));
    }
    let expect = |what: &str, got: Option<&String>, wanted: &String| {
        if got != Some(wanted) {
            return Err(format!("{what}: {got:?}, expected {wanted:?}"));
        }
        Ok(())
    };
    expect("name", Some(&ra.name), &round.name)?;
    expect("region", ra.region.as_ref(), &round.region)?;
    expect("size", ra.size.as_ref(), &round.size)?;
    if ra.needs != needs {
        return Err(format!("needs {:?}, expected {needs:?}", ra.needs));
    }
    if !ra.contacts.values().any(|c| *c == contact) {
        return Err(format!("contact {contact:?} missing: {:?}", ra.contacts));
    }
    let summaries: BTreeMap<&str, Option<&String>> = ra
        .follow_ups
        .values()
        .map(|f| (f.summary.as_str(), f.next_action.as_ref()))
        .collect();
    expect(
        "A's next action",
        summaries.get(round.summary.as_str()).copied().flatten(),
        &round.next_action,
    )?;
    if !summaries.contains_key(round.other_summary.as_str()) {
        return Err(format!("B's follow-up {:?} missing", round.other_summary));
    }
    expect("custom", ra.custom.get("wechat"), &round.custom)?;
    if !ra.plans.values().any(|p| p.goal == round.goal) {
        return Err(format!("plan {:?} missing", round.goal));
    }
    if !ra
        .opportunities
        .values()
        .any(|o| o.name == round.opportunity)
    {
        return Err(format!("opportunity {:?} missing", round.opportunity));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_unicode_text_in_every_field_survives_concurrent_edits_through_the_server() {
    let server = TestServer::start().await;
    server.add_team("unicode", &["yan".into()]);
    let a = server.device_of("yan").await;
    let b = server.device_of("yan").await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&round(), |round| {
        tokio::task::block_in_place(|| handle.block_on(play(&server, &a, &b, &round)))
            .map_err(TestCaseError::fail)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// The inputs of the original report, edited again and again on one device.
#[tokio::test]
async fn the_reported_strings_save_and_edit() {
    let server = TestServer::start().await;
    let device = server.device().await;
    let new = NewAccount {
        name: "Müller GmbH".into(),
        owner: "root".into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, at(0)).unwrap();
    for notes in [
        "王总是决策人",
        "王总",
        "a王b",
        "Müller GmbH",
        "王总是决策人，周三回电 ☎️",
        "总",
    ] {
        device
            .store
            .edit_account(id, &AccountEdit::SetNotes(notes.into()), at(1))
            .unwrap_or_else(|e| panic!("notes {notes:?}: {e}"));
        assert_eq!(
            device.store.account(id).unwrap().record.notes.as_str(),
            notes
        );
    }
    device.sync().await;
    let other = server.device().await;
    other.sync().await;
    assert_eq!(other.store.account(id).unwrap().record.notes.as_str(), "总");
}

/// Server-authored changes carry any text too: a manager's comment, and a merge that joins
/// the duplicate's notes into the survivor's.
#[tokio::test]
async fn server_authored_text_keeps_every_character() {
    let server = TestServer::start().await;
    let admin = server.device().await;
    let create = |name: &str, notes: &str| -> DocId {
        let new = NewAccount {
            name: name.into(),
            owner: "root".into(),
            ..NewAccount::default()
        };
        let id = admin.store.create_account_anyway(&new, at(0)).unwrap();
        admin
            .store
            .edit_account(id, &AccountEdit::SetNotes(notes.into()), at(1))
            .unwrap();
        id
    };
    let survivor = create("深圳市华强电子科技有限公司", "王总是决策人");
    let duplicate = create("华强电子", "赵主管：预算50万 👍");
    let report = admin.sync().await;
    assert!(
        report.rejected.is_empty() && report.refused.is_empty(),
        "{report:?}"
    );

    let client = reqwest::Client::new();
    let comment = "请补充下一步行动（日期、负责人）— Müller ✅";
    for (path, body) in [
        (
            format!("/v1/accounts/{survivor}/comments"),
            json!({ "text": comment }),
        ),
        (
            format!("/v1/accounts/{survivor}/merge"),
            json!({ "from": duplicate.to_string() }),
        ),
    ] {
        let response = client
            .post(format!("{}{path}", server.url()))
            .bearer_auth(admin.token())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.text().await.unwrap()
        );
    }
    admin.sync().await;
    let record = admin.store.account(survivor).unwrap().record;
    assert!(
        record.comments.values().any(|c| c.text == comment),
        "{:?}",
        record.comments
    );
    let notes = record.notes.as_str();
    assert!(
        notes.starts_with("王总是决策人") && notes.contains("赵主管：预算50万 👍"),
        "{notes:?}"
    );
}
