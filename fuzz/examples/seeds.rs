//! Writes the seed corpus of the `sync_message` target: sync requests a real device makes,
//! so the fuzzer starts from messages that reach the writer with real automerge changes and
//! mutates those, rather than having to discover the format and the model from nothing.
//!
//! ```sh
//! cargo run --example seeds -- seeds/sync_message      # from fuzz/
//! cargo fuzz run sync_message -s none corpus/sync_message seeds/sync_message
//! ```
//!
//! The target speaks for rep `ana` of team `field`: accounts here are hers, but for one made
//! out to another rep.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use outpost_client::account::NewAccount;
use outpost_client::model::Contact;
use outpost_client::{AccountEdit, ContactMethod, NewFollowUp, Store, SyncSession};

type Edits = Vec<AccountEdit>;

/// One request body: what a fresh device holding `accounts` (each created, then edited)
/// sends first.
fn first_request(accounts: &[(NewAccount, Edits)]) -> anyhow::Result<Vec<u8>> {
    let store = Store::in_memory()?;
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    for (new, edits) in accounts {
        let id = store.create_account(new, now)?;
        for edit in edits {
            store.edit_account(id, edit, now)?;
        }
    }
    SyncSession::new()
        .next_request(&store)?
        .ok_or_else(|| anyhow::anyhow!("a fresh session always sends a first request"))
}

fn account(name: &str, owner: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    }
}

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "seeds/sync_message".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let visit = NewFollowUp::new(
        Utc.with_ymd_and_hms(2026, 11, 29, 15, 0, 0).unwrap(),
        ContactMethod::Visit,
        "Walked the floor with the buyer",
    );
    let busy = vec![
        AccountEdit::SetRegion("North".into()),
        AccountEdit::SetNotes("Prefers calls before ten.\nPays on 30 days.".into()),
        AccountEdit::AddContact(Contact {
            name: "Jo Baker".into(),
            title: Some("Buyer".into()),
            role: None,
            phone: Some("+44 20 7946 0000".into()),
            email: Some("jo@example.com".into()),
        }),
        AccountEdit::LogFollowUp(visit),
        AccountEdit::PlanFollowUp {
            due: Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
            method: ContactMethod::Phone,
            goal: "Send the quote".into(),
            owner: None,
        },
    ];
    let seeds: [(&str, Vec<(NewAccount, Edits)>); 6] = [
        ("nothing-to-send", vec![]),
        (
            "one-account",
            vec![(account("Harbor Foods", "ana"), vec![])],
        ),
        (
            "busy-account",
            vec![(account("Mill Lane Bakery", "ana"), busy)],
        ),
        (
            "five-accounts",
            (0..5)
                .map(|i| (account(&format!("Depot {i}"), "ana"), vec![]))
                .collect(),
        ),
        (
            "another-reps-account",
            vec![(account("Quay Stores", "ben"), vec![])],
        ),
        (
            "lost-account",
            vec![(
                account("Vale Farm", "ana"),
                vec![AccountEdit::MarkLost {
                    reason: "price".into(),
                }],
            )],
        ),
    ];
    for (name, accounts) in seeds {
        let body = first_request(&accounts)?;
        std::fs::write(dir.join(name), &body)?;
        println!("{name}: {} bytes", body.len());
    }
    Ok(())
}
