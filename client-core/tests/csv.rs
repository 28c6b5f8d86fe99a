//! CSV import and export: a 10,000-row file imports in one call and exports back to the same
//! data; a file with malformed rows reports each by line and field and imports nothing;
//! duplicates (in the store or earlier in the file) are skipped and reported; a dry run writes
//! nothing; a column mapping reads files with their own headers; GBK, UTF-8 with a BOM and
//! `.xlsx` files with Chinese headers and values read alike; every error of every row is
//! reported in one pass.

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

/// The columns `row` fills: the profile and contact columns, then a custom field.
fn header() -> Vec<&'static str> {
    COLUMNS[..15]
        .iter()
        .copied()
        .chain(["custom.social"])
        .collect()
}

/// Reads a CSV export into maps of column → value, keyed by name.
fn exported(store: &Store) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = Vec::new();
    csv_io::export(store, &mut out).unwrap();
    // Read as import reads it: a cell neutralised against spreadsheet formulas (`'+49 …`)
    // comes back as it was stored.
    let table = csv_io::read_table(&out, None).unwrap();
    table
        .rows
        .into_iter()
        .map(|(_, row)| {
            let record: BTreeMap<String, String> = table.header.iter().cloned().zip(row).collect();
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

/// A sheet in Chinese: headers, enumeration labels, dates, money and periods as people write
/// them.
fn chinese_sheet() -> String {
    "客户名称,负责人,类型,行业,来源,首次接触日期,客户级别,优先级,联系人,角色,电话,预算下限,预算上限,采购周期\n\
     深圳市华强电子科技有限公司,ana,客户,制造业,展会,2026/11/3,重点客户,A,王总,决策人,138 0013 8000,30万,\"￥500,000\",2027年Q1\n\
     北京中关村软件有限公司,ben,线索,信息技术,转介绍,2026年11月4日,普通,b,李工,执行人,010-6275 1234,,1000元,2027年1月\n"
        .to_owned()
}

fn check_bytes(store: &Store, bytes: &[u8]) -> csv_io::Checked {
    csv_io::check(store, bytes, &Mapping::default(), now()).unwrap()
}

#[test]
fn gbk_bom_utf8_and_workbooks_with_chinese_headers_read_alike() {
    let text = chinese_sheet();
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&gbk).is_err());
    let with_bom = [csv_io::BOM.as_bytes(), text.as_bytes()].concat();
    let table = csv_io::read_table(&gbk, None).unwrap();
    assert_eq!(table.encoding, Some(csv_io::Encoding::Gb18030));
    assert_eq!(
        csv_io::read_table(&with_bom, None).unwrap().encoding,
        Some(csv_io::Encoding::Utf8)
    );
    assert_eq!(table.header[0], "客户名称");
    assert_eq!(
        table,
        csv_io::Table {
            encoding: Some(csv_io::Encoding::Gb18030),
            ..csv_io::read_table(text.as_bytes(), None).unwrap()
        }
    );

    // The same sheet as a workbook.
    let rows: Vec<Vec<String>> = table.rows.iter().map(|(_, r)| r.clone()).collect();
    let book = csv_io::workbook("客户", &table.header, &rows).unwrap();
    assert!(csv_io::is_workbook(&book));
    let from_book = csv_io::read_table(&book, None).unwrap();
    assert_eq!(
        (from_book.header.clone(), from_book.encoding),
        (table.header.clone(), None)
    );
    assert_eq!(from_book.rows, table.rows);

    for bytes in [
        gbk.as_ref(),
        with_bom.as_slice(),
        text.as_bytes(),
        book.as_slice(),
    ] {
        let store = Store::in_memory().unwrap();
        let checked = check_bytes(&store, bytes);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let report = csv_io::import(&store, checked, false, now(), &mut |_| {}).unwrap();
        assert_eq!(report.created, 2);
        let first = exported(&store);
        let huaqiang = &first["深圳市华强电子科技有限公司"];
        for (column, value) in [
            ("kind", "customer"),
            ("industry", "C"),
            ("source", "trade_show"),
            ("first_contact", "2026-11-03"),
            ("level", "key"),
            ("priority", "a"),
            ("contact_role", "decision_maker"),
            ("budget_min", "300000.00 CNY"),
            ("budget_max", "500000.00 CNY"),
            ("purchase_period", "2027-Q1"),
        ] {
            assert_eq!(huaqiang[column], value, "{column}");
        }
        let zgc = &first["北京中关村软件有限公司"];
        assert_eq!(
            (
                &*zgc["kind"],
                &*zgc["first_contact"],
                &*zgc["budget_max"],
                &*zgc["purchase_period"]
            ),
            ("lead", "2026-11-04", "1000.00 CNY", "2027-01")
        );
        assert_eq!(zgc["budget_min"], "");
        // The export is UTF-8 with a BOM and reads back as the same accounts.
        let mut out = Vec::new();
        csv_io::export(&store, &mut out).unwrap();
        assert!(out.starts_with(csv_io::BOM.as_bytes()));
        let again = Store::in_memory().unwrap();
        let checked = check_bytes(&again, &out);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        csv_io::import(&again, checked, false, now(), &mut |_| {}).unwrap();
        let back = exported(&again);
        for (name, row) in &first {
            for (column, value) in row {
                if column != "code" && column != "id" {
                    assert_eq!(&back[name][column], value, "{column} of {name}");
                }
            }
        }
    }
}

#[test]
fn undecodable_text_names_the_encoding_and_the_fix() {
    let (gbk, _, _) = encoding_rs::GBK.encode("客户名称,负责人\n华强,ana\n");
    let error = csv_io::read_table(&gbk, Some(csv_io::Encoding::Utf8))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("UTF-8") && error.contains("line 1") && error.contains("--encoding gb18030"),
        "{error}"
    );
    assert_eq!(
        csv_io::read_table(&gbk, Some("gbk".parse().unwrap()))
            .unwrap()
            .rows[0]
            .1[0],
        "华强"
    );
    // Neither UTF-8 nor GB18030: 0xFF never starts a GB18030 character.
    let error = csv_io::read_table(b"name,owner\n\xFF\xFF,ana\n", None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("GB18030") && error.contains("line 2"),
        "{error}"
    );
    // UTF-16 with a BOM, tab-separated: Excel's "Unicode text".
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "客户名称\t负责人\n华强\tana\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    let table = csv_io::read_table(&utf16, None).unwrap();
    assert_eq!(
        (table.header[0].as_str(), table.rows[0].1[1].as_str()),
        ("客户名称", "ana")
    );
}

#[test]
fn every_error_of_every_row_is_reported_in_one_pass() {
    let store = Store::in_memory().unwrap();
    let text = "客户名称,负责人,来源,首次接触日期,客户级别,联系人,电话,邮箱,预算下限,预算上限,采购周期,行业\n\
                好公司,ana,展会,2026/11/3,重点,王总,13800138000,a@b.cn,10万,20万,2027年Q1,制造业\n\
                ,,广告牌,明年,超级,王总,打电话,nope,很多,5万,尽快,火星采矿\n\
                坏公司,ana,展会,2026/11/3,重点,王总,13800138000,a@b.cn,30万,20万,2027年Q1,制造业\n";
    let checked = check_bytes(&store, text.as_bytes());
    let found: Vec<(usize, &str, &str)> = checked
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.column.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (3, "name", "客户名称"),
            (3, "owner", "负责人"),
            (3, "industry", "行业"),
            (3, "source", "来源"),
            (3, "first_contact", "首次接触日期"),
            (3, "level", "客户级别"),
            (3, "contact_phone", "电话"),
            (3, "contact_email", "邮箱"),
            (3, "budget_min", "预算下限"),
            (3, "purchase_period", "采购周期"),
            (4, "budget_max", "预算上限"),
        ]
    );
    assert_eq!(checked.bad_rows, 2);
    let report = csv_io::import(&store, checked, false, now(), &mut |_| {}).unwrap();
    assert_eq!((report.created, report.importable, report.rows), (0, 1, 3));
    assert!(store.accounts().unwrap().is_empty());
}

#[test]
fn owners_are_checked_against_the_servers_users_when_given() {
    let store = Store::in_memory().unwrap();
    let table = csv_io::read_table(
        "客户名称,负责人\n华强,ana\n中关村,zhangwei\n".as_bytes(),
        None,
    )
    .unwrap();
    let users = ["ana".to_owned(), "ben".to_owned()].into();
    let checked =
        csv_io::check_table(&store, &table, &Mapping::default(), Some(&users), now()).unwrap();
    assert_eq!(checked.errors.len(), 1);
    assert_eq!(
        (checked.errors[0].line, checked.errors[0].field.as_str()),
        (3, "owner")
    );
    assert!(checked.errors[0].reason.contains("zhangwei"));
    let unchecked = csv_io::check_table(&store, &table, &Mapping::default(), None, now()).unwrap();
    assert!(unchecked.errors.is_empty());
}

#[test]
fn templates_in_both_languages_import() {
    use outpost_client::model::Lang;
    for lang in [Lang::Zh, Lang::En] {
        let store = Store::in_memory().unwrap();
        let template = csv_io::template(lang);
        let checked = check_bytes(&store, template.as_bytes());
        assert!(checked.errors.is_empty(), "{lang:?}: {:?}", checked.errors);
        assert_eq!(checked.importable(), 1);
    }
    assert!(csv_io::template(Lang::Zh).starts_with("客户名称,负责人,类型,行业"));
    assert!(csv_io::template(Lang::En).starts_with("name,owner,kind,industry"));
}
