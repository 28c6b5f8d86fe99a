//! Stored text that would attack the person reading it, through the real server and store:
//! - cells beginning with `=`, `+`, `-`, `@` were written as they are to every CSV (the
//!   device's export, every view's CSV), so `=HYPERLINK(…)` ran when a manager opened the
//!   file; they are now neutralised with a leading apostrophe, read back as they were, and
//!   written to `.xlsx` as text, never as a formula;
//! - control characters (ESC/OSC sequences that retitle or clear a terminal) were accepted in
//!   every text field; the record rules now refuse them on the device and on the server (line
//!   breaks and tabs stay allowed where a field is multi-line), and so does a review comment.

use chrono::Utc;
use outpost_client::csv_io;
use outpost_client::model::Contact;
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_protocol::{DocPush, PushOutcome};
use outpost_tests::{TestServer, put_change};
use serde_json::json;

const LINK: &str = "=HYPERLINK(\"http://evil.example/steal\",\"点我查看\")";
const CMD: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const PHONE: &str = "+86 138 0013 8000";

/// Every cell of `csv` (after its BOM): none may start a formula, unless it is a plain number.
fn assert_no_formula(csv: &str, what: &str) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let formula =
                cell.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']);
            assert!(
                !formula || cell.parse::<f64>().is_ok(),
                "{what}: the cell `{cell}` would run as a formula"
            );
        }
    }
}

fn cells(csv: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(csv)
        .unwrap()
        .trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formulas_in_stored_text_never_run_in_a_spreadsheet_and_read_back_as_they_were() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let now = Utc::now();
    let new = NewAccount {
        name: LINK.into(),
        owner: "ana".into(),
        contact: Some(Contact {
            name: "-王总".into(),
            phone: Some(PHONE.into()),
            ..Contact::default()
        }),
        ..NewAccount::default()
    };
    let link = ana.store.create_account_anyway(&new, now).unwrap();
    let visit = NewFollowUp::new(now, ContactMethod::Visit, "=1+1 拜访");
    ana.store
        .edit_account(link, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();
    ana.store
        .edit_account(link, &AccountEdit::MarkLost { reason: CMD.into() }, now)
        .unwrap();
    let number = NewAccount {
        name: "-5".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    ana.store.create_account_anyway(&number, now).unwrap();
    ana.sync().await;

    // Every table of every view the dashboard downloads.
    let mia = server.device_of("mia").await;
    let views = [
        ("pipeline", &["by_rep", "freshness"][..]),
        (
            "follow-ups",
            &["discipline", "overdue", "late", "freshness"],
        ),
        ("funnel", &["rows", "freshness"]),
        ("activity", &["weeks", "freshness"]),
        ("lost-reasons", &["reasons", "by_rep", "freshness"]),
        ("won-profile", &["by_industry", "freshness"]),
        ("duplicates", &["groups", "freshness"]),
    ];
    let client = reqwest::Client::new();
    let mut lost_reasons = String::new();
    for (view, tables) in views {
        for table in tables {
            let response = client
                .get(format!(
                    "{}/v1/views/{view}?format=csv&table={table}",
                    server.url()
                ))
                .bearer_auth(mia.token())
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{view}/{table}");
            let csv = response.text().await.unwrap();
            assert_no_formula(&csv, &format!("{view}/{table}"));
            if (view, *table) == ("lost-reasons", "reasons") {
                lost_reasons = csv;
            }
        }
    }
    // The reason is there, readable, behind the apostrophe.
    let reasons = cells(lost_reasons.as_bytes());
    assert!(
        reasons
            .iter()
            .flatten()
            .any(|cell| *cell == format!("'{CMD}")),
        "{reasons:?}"
    );

    // The device's export: neutralised, a plain number left alone, and import reads back
    // exactly what the store holds.
    let mut exported = Vec::new();
    csv_io::export(&ana.store, &mut exported).unwrap();
    let text = String::from_utf8(exported.clone()).unwrap();
    assert_no_formula(&text, "export");
    let rows = cells(&exported);
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = rows
        .iter()
        .find(|r| r[column("name")].contains("HYPERLINK"))
        .unwrap();
    assert_eq!(row[column("name")], format!("'{LINK}"));
    assert_eq!(row[column("contact_phone")], format!("'{PHONE}"));
    assert_eq!(row[column("contact_name")], "'-王总");
    assert!(rows.iter().any(|r| r[column("name")] == "-5"), "{rows:?}");
    let (_, stored) = csv_io::export_table(&ana.store).unwrap();
    let read = csv_io::read_table(&exported, None).unwrap();
    let read_rows: Vec<Vec<String>> = read.rows.into_iter().map(|(_, row)| row).collect();
    assert_eq!(read_rows, stored, "an export reads back as it was stored");

    // The workbook holds them as text cells, with no formula anywhere.
    let mut book = Vec::new();
    csv_io::export_workbook(&ana.store, &mut book).unwrap();
    use calamine::{Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(book)).unwrap();
    let sheet = workbook.sheet_names()[0].clone();
    let formulas = workbook.worksheet_formula(&sheet).unwrap();
    assert!(
        formulas.cells().all(|(_, _, f)| f.is_empty()),
        "a workbook cell is a formula"
    );
    let range = workbook.worksheet_range(&sheet).unwrap();
    assert!(
        range
            .cells()
            .any(|(_, _, cell)| *cell == Data::String(LINK.to_owned())),
        "the name is a text cell as typed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_in_text_and_kept_out_of_the_server() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let now = Utc::now();
    let hostile = [
        "Acme\u{1b}]0;pwned\u{7}",
        "Acme\u{1b}[2J",
        "Acme\u{9b}31m",
        "Acme\u{7f}",
    ];
    for name in hostile {
        let new = NewAccount {
            name: name.into(),
            owner: "ana".into(),
            ..NewAccount::default()
        };
        let error = ana.store.create_account_anyway(&new, now).unwrap_err();
        assert!(error.to_string().contains("control character"), "{error}");
    }
    // A one-line field refuses a line break; a multi-line one keeps it, and its tabs.
    let new = NewAccount {
        name: "华强电子".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    let id = ana.store.create_account_anyway(&new, now).unwrap();
    let rename = AccountEdit::SetName("华强\n电子".into());
    let error = ana.store.edit_account(id, &rename, now).unwrap_err();
    assert!(error.to_string().contains("one line"), "{error}");
    let visit = NewFollowUp::new(now, ContactMethod::Visit, "见了王总\n\t报价已发");
    ana.store
        .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();
    let visit = NewFollowUp::new(now, ContactMethod::Visit, "见了王总\u{1b}[2J");
    let error = ana
        .store
        .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
        .unwrap_err();
    assert!(error.to_string().contains("U+001B"), "{error}");
    assert_eq!(ana.store.account(id).unwrap().record.name, "华强电子");
    ana.sync().await;

    // A device that skips the rules is refused by the server, which keeps what it had.
    let before = server.storage().heads(id).unwrap();
    let stored = server.storage().document(id).unwrap().unwrap();
    let actor = ana.store.device().to_bytes();
    let (change, _) = put_change(&stored, &actor, "name", "Acme\u{1b}]0;pwned\u{7}");
    let push = DocPush {
        doc: id,
        changes: vec![change],
    };
    let (status, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(status, 200);
    match &reply.unwrap().pushed[0].outcome {
        PushOutcome::Rejected { reason } => {
            assert!(reason.contains("control character"), "{reason}")
        }
        other => panic!("a name with an escape sequence was {other:?}"),
    }
    assert_eq!(server.storage().heads(id).unwrap(), before);

    // A manager's review comment: an escape sequence is a 422, a line break is fine.
    let mia = server.device_of("mia").await;
    let comment = |text: &str| {
        reqwest::Client::new()
            .post(format!("{}/v1/accounts/{id}/comments", server.url()))
            .bearer_auth(mia.token())
            .json(&json!({ "text": text }))
            .send()
    };
    let refused = comment("请跟进\u{1b}]0;pwned\u{7}").await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(
        refused.text().await.unwrap().contains("control character"),
        "the refusal says why"
    );
    let taken = comment("请跟进\n下周报价").await.unwrap();
    assert_eq!(taken.status(), 201);
}
