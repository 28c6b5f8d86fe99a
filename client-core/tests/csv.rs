//! CSV import and export: a 10,000-row file imports in one call and exports back to the same
//! data; a file with malformed rows reports each by line and field and imports nothing;
//! duplicates (in the store or earlier in the file) are skipped and reported; a dry run writes
//! nothing; a column mapping reads files with their own headers.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use outpost_client::Store;
use outpost_client::csv_io::{self, COLUMNS, Mapping};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 4, 9, 0, 0).unwrap()
}

/// Row `i` of the generated file, as template columns.
fn row(i: usize) -> Vec<String> {
    // Industries as stored: GB/T 4754-2017 sections and divisions.
    let industries = ["C", "I", "C14", "G"];
    let sources = [
        "trade_show",
        "referral",
        "online_campaign",
        "inbound",
        "cold_visit",
    ];
    let levels = ["key", "normal", "growth"];
    let priorities = ["a", "b", "c", "d"];
    vec![
        format!("Customer {i:05}, \"Quoted\" GmbH"),
        format!("rep{}", i % 50),
        if i.is_multiple_of(7) {
            "lead"
        } else {
            "customer"
        }
        .to_owned(),
        industries[i % industries.len()].to_owned(),
        format!("{}-{}", (i % 10) * 50, (i % 10) * 50 + 49),
        format!("Region {}", i % 12),
        sources[i % sources.len()].to_owned(),
        format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
        levels[i % levels.len()].to_owned(),
        priorities[i % priorities.len()].to_owned(),
        format!("Contact {i}"),
        if i.is_multiple_of(3) {
            String::new()
        } else {
            "Buyer".to_owned()
        },
        "decision_maker".to_owned(),
        format!("+49 30 {:07}", i),
        format!("contact{i}@customer{i}.example"),
        format!("@handle{i}"),
    ]
}

fn file(rows: impl IntoIterator<Item = Vec<String>>, header: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.into_inner().unwrap()
}

fn header() -> Vec<&'static str> {
    COLUMNS.iter().copied().chain(["custom.social"]).collect()
}

/// Reads a CSV export into maps of column → value, keyed by name.
fn exported(store: &Store) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = Vec::new();
    csv_io::export(store, &mut out).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let columns: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            let record: BTreeMap<String, String> = columns
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect();
            (record["name"].clone(), record)
        })
        .collect()
}

#[test]
fn ten_thousand_rows_import_in_one_call_and_export_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.redb")).unwrap();
    let rows: Vec<Vec<String>> = (0..10_000).map(row).collect();
    let input = file(rows.clone(), &header());
    let checked = csv_io::check(&store, input.as_slice(), &Mapping::default(), now()).unwrap();
    assert!(
        checked.errors.is_empty(),
        "{:?}",
        &checked.errors[..3.min(checked.errors.len())]
    );
    let mut progress = Vec::new();
    let report = csv_io::import(&store, checked, false, now(), &mut |n| progress.push(n)).unwrap();
    assert_eq!((report.rows, report.created), (10_000, 10_000));
    assert!(report.duplicates.is_empty() && report.errors.is_empty());
    assert_eq!(progress.last(), Some(&10_000));
    assert!(
        progress.len() > 1 && progress.windows(2).all(|w| w[0] < w[1]),
        "{progress:?}"
    );

    let exported = exported(&store);
    assert_eq!(exported.len(), 10_000);
    for original in &rows {
        let back = &exported[&original[0]];
        for (column, value) in header().iter().zip(original) {
            assert_eq!(&back[*column], value, "column {column} of {}", original[0]);
        }
        assert!(!back["code"].is_empty() && back["id"].len() == 32);
    }

    // Importing the same file again finds every row already there and writes nothing.
    let again = csv_io::check(&store, input.as_slice(), &Mapping::default(), now()).unwrap();
    assert_eq!(again.importable(), 0);
    assert_eq!(again.duplicates.len(), 10_000);
}

#[test]
fn malformed_rows_are_reported_by_line_and_field_and_nothing_is_imported() {
    let store = Store::in_memory().unwrap();
    let set = |i: usize, column: &str, value: &str| {
        let mut r = row(i);
        let at = header().iter().position(|c| *c == column).unwrap();
        r[at] = value.to_owned();
        r
    };
    let rows = vec![
        row(1),
        set(2, "name", ""),
        set(3, "priority", "z"),
        set(4, "first_contact", "last spring"),
        set(5, "contact_phone", "call me"),
        set(6, "contact_email", "home address: 1 Elm St"),
        set(7, "source", "billboard"),
        set(8, "custom.social", &"x".repeat(2_001)),
        row(9),
    ];
    let checked = csv_io::check(
        &store,
        file(rows, &header()).as_slice(),
        &Mapping::default(),
        now(),
    )
    .unwrap();
    let found: Vec<(usize, &str)> = checked
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (3, "name"),
            (4, "priority"),
            (5, "first_contact"),
            (6, "contact_phone"),
            (7, "contact_email"),
            (8, "source"),
            (9, "custom.social"),
        ]
    );
    assert!(checked.errors.iter().all(|e| !e.reason.is_empty()));
    let report = csv_io::import(&store, checked, false, now(), &mut |_| {}).unwrap();
    assert_eq!(report.created, 0, "a file with bad rows imports nothing");
    assert!(store.accounts().unwrap().is_empty());
}

#[test]
fn duplicates_dry_runs_and_column_mappings() {
    let store = Store::in_memory().unwrap();
    let first = file([row(1)], &header());
    let checked = csv_io::check(&store, first.as_slice(), &Mapping::default(), now()).unwrap();
    csv_io::import(&store, checked, false, now(), &mut |_| {}).unwrap();
    let existing = store.accounts().unwrap()[0].id.to_string();

    // Their own headers, mapped; row 1 is already in the store, row 2 twice in the file.
    let theirs = ["Company", "Sales rep", "Phone", "Mail"];
    let pick = |r: Vec<String>| vec![r[0].clone(), r[1].clone(), String::new(), r[14].clone()];
    let mut again = pick(row(2));
    again[0] = "Another name entirely".into();
    let input = file([pick(row(1)), pick(row(2)), again, pick(row(3))], &theirs);
    let mapping: Mapping = "Company=name,Sales rep=owner,Phone=contact_phone,Mail=contact_email"
        .parse()
        .unwrap();
    // Contact details without a contact name are refused, so name one via the mapping too.
    let checked = csv_io::check(&store, input.as_slice(), &mapping, now());
    let errors = checked.unwrap().errors;
    assert!(
        errors.iter().all(|e| e.field == "contact_name"),
        "{errors:?}"
    );

    let theirs = ["Company", "Sales rep", "Person", "Mail"];
    let pick = |r: Vec<String>| vec![r[0].clone(), r[1].clone(), r[10].clone(), r[14].clone()];
    let mut again = pick(row(2));
    again[0] = "Another name entirely".into();
    let input = file([pick(row(1)), pick(row(2)), again, pick(row(3))], &theirs);
    let mapping: Mapping = "Company=name,Sales rep=owner,Person=contact_name,Mail=contact_email"
        .parse()
        .unwrap();
    let dry = csv_io::check(&store, input.as_slice(), &mapping, now()).unwrap();
    let dry = csv_io::import(&store, dry, true, now(), &mut |_| {}).unwrap();
    assert_eq!((dry.rows, dry.importable, dry.created), (4, 2, 0));
    assert_eq!(dry.duplicates.len(), 2);
    assert_eq!(dry.duplicates[0].matches, [existing]);
    assert_eq!(dry.duplicates[1].matches, ["line 3"]);
    assert_eq!(
        store.accounts().unwrap().len(),
        1,
        "a dry run writes nothing"
    );

    let checked = csv_io::check(&store, input.as_slice(), &mapping, now()).unwrap();
    let report = csv_io::import(&store, checked, false, now(), &mut |_| {}).unwrap();
    assert_eq!(report.created, 2);
    assert_eq!(store.accounts().unwrap().len(), 3);

    // An unmapped unknown column is refused up front.
    let bad = file([vec!["x".into()]], &["Customer name"]);
    let error = csv_io::check(&store, bad.as_slice(), &Mapping::default(), now()).unwrap_err();
    assert!(error.to_string().contains("Customer name"), "{error}");
}
