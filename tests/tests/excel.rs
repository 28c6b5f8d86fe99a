//! Excel in and out through the real `outpost` binary and a real server: a GBK CSV as Chinese
//! Excel saves it, a UTF-8 CSV with a BOM and an `.xlsx` workbook, with Chinese headers and
//! values, import and round-trip through export (CSV with a BOM, and `.xlsx`); a file with
//! many bad rows reports every error at once and imports nothing; a dry run checks owners
//! against the server's users, and says so when it cannot; a view's CSV from the server
//! starts with a BOM; a decoding error names the encoding and the fix, once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use outpost_tests::TestServer;
use outpost_tests::cli::Rep;
use rust_xlsxwriter::{Format, Workbook};
use tempfile::TempDir;

const BOM: &[u8] = b"\xEF\xBB\xBF";

const HEADER: [&str; 15] = [
    "客户名称",
    "负责人",
    "类型",
    "行业",
    "来源",
    "首次接触日期",
    "客户级别",
    "优先级",
    "联系人",
    "职务",
    "角色",
    "电话",
    "邮箱",
    "预算上限",
    "采购周期",
];

/// Rows as a Chinese team writes them: labels, not codes; dates, money and periods in their
/// own forms. Phones and emails count from `first`, so files of different companies do not
/// look like each other.
fn rows(names: &[&str], first: usize) -> Vec<[String; 15]> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            [
                (*name).to_owned(),
                "ana".into(),
                if i % 2 == 0 { "客户" } else { "线索" }.into(),
                ["制造业", "信息技术", "批发和零售业"][i % 3].into(),
                ["展会", "转介绍", "陌生拜访"][i % 3].into(),
                ["2026/11/3", "2026年11月3日", "2026-11-03"][i % 3].into(),
                ["重点客户", "普通", "潜力客户"][i % 3].into(),
                ["A", "b", "Ｃ"][i % 3].into(),
                format!("王{}", ["总", "经理", "工"][i % 3]),
                "采购经理".into(),
                ["决策人", "执行人", "影响者"][i % 3].into(),
                format!("138 0013 {:04}", 8000 + first + i),
                format!("wang{}@example.cn", first + i),
                ["50万", "￥500,000", "1,000元"][i % 3].into(),
                ["2027年1月", "2027年Q1", "2027-Q2"][i % 3].into(),
            ]
        })
        .collect()
}

fn csv_text(rows: &[[String; 15]]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// What the stored rows must read as, by name, in the export's columns.
fn expected(rows: &[[String; 15]]) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let kind = if i % 2 == 0 { "customer" } else { "lead" };
            let values = BTreeMap::from([
                ("owner", "ana".to_owned()),
                ("kind", kind.into()),
                ("industry", ["C", "I", "F"][i % 3].into()),
                (
                    "source",
                    ["trade_show", "referral", "cold_visit"][i % 3].into(),
                ),
                ("first_contact", "2026-11-03".into()),
                ("level", ["key", "normal", "growth"][i % 3].into()),
                ("priority", ["a", "b", "c"][i % 3].into()),
                ("contact_name", row[8].clone()),
                ("contact_title", "采购经理".into()),
                (
                    "contact_role",
                    ["decision_maker", "executor", "influencer"][i % 3].into(),
                ),
                ("contact_phone", row[11].clone()),
                (
                    "budget_max",
                    ["500000.00 CNY", "500000.00 CNY", "1000.00 CNY"][i % 3].into(),
                ),
                (
                    "purchase_period",
                    ["2027-01", "2027-Q1", "2027-Q2"][i % 3].into(),
                ),
            ]);
            (row[0].clone(), values)
        })
        .collect()
}

/// Rows of a CSV (BOM and all) as maps of column → value, keyed by name.
fn read_export(bytes: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "name", "the BOM is not part of the first header");
    reader
        .records()
        .map(|r| {
            let row: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect();
            (row["name"].clone(), row)
        })
        .collect()
}

fn read_workbook(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    rows.map(|r| {
        let row: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(r.iter().map(|c| c.to_string()))
            .collect();
        (row["name"].clone(), row)
    })
    .collect()
}

fn assert_holds(
    exported: &BTreeMap<String, BTreeMap<String, String>>,
    expected: &BTreeMap<String, BTreeMap<&'static str, String>>,
) {
    for (name, values) in expected {
        let row = exported
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {:?}", exported.keys()));
        for (column, value) in values {
            assert_eq!(&row[*column], value, "{column} of {name}");
        }
    }
}

fn path(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gbk_bom_and_xlsx_files_in_chinese_import_and_round_trip_through_export() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let dir = TempDir::new().unwrap();

    // GBK, as Chinese Excel saves "CSV (逗号分隔)": not UTF-8 at all.
    let gbk_rows = rows(
        &[
            "深圳市华强电子科技有限公司",
            "北京中关村软件园有限公司",
            "广州天河贸易商行",
        ],
        0,
    );
    let text = csv_text(&gbk_rows);
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&gbk).is_err());
    let gbk_file = path(&dir, "gbk.csv");
    std::fs::write(&gbk_file, &gbk).unwrap();
    let gbk_file = gbk_file.to_str().unwrap();
    let printed = ana.check(&["import", gbk_file]).await;
    assert!(
        printed.contains("read as GB18030") && printed.contains("imported 3"),
        "{printed}"
    );

    // UTF-8 with a BOM, as Excel saves "CSV UTF-8".
    let bom_rows = rows(
        &[
            "上海浦东新材料股份有限公司",
            "杭州西湖茶叶合作社",
            "Müller GmbH 北京代表处",
        ],
        10,
    );
    let bom_file = path(&dir, "bom.csv");
    std::fs::write(&bom_file, [BOM, csv_text(&bom_rows).as_bytes()].concat()).unwrap();
    let printed = ana.check(&["import", bom_file.to_str().unwrap()]).await;
    assert!(printed.contains("imported 3"), "{printed}");

    // A workbook: the date a real date cell, a phone a number cell.
    let xlsx_rows = rows(&["成都高新区云计算中心", "武汉光谷激光科技有限公司"], 20);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy/m/d");
    for (col, title) in HEADER.iter().enumerate() {
        sheet.write_string(0, col as u16, *title).unwrap();
    }
    for (r, row) in xlsx_rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, value) in row.iter().enumerate() {
            sheet.write_string(r, col as u16, value).unwrap();
        }
        // 2026-11-03 is Excel day 46329.
        sheet
            .write_number_with_format(r, 5, 46329.0, &date)
            .unwrap();
    }
    // The second row's phone as a number, as Excel keeps one typed into a General cell.
    sheet.write_number(2, 11, 13_900_139_021.0).unwrap();
    let xlsx_file = path(&dir, "book.xlsx");
    book.save(&xlsx_file).unwrap();
    let printed = ana.check(&["import", xlsx_file.to_str().unwrap()]).await;
    assert!(printed.contains("imported 2"), "{printed}");
    assert_eq!(ana.accounts().await, 8);

    let mut all = expected(&gbk_rows);
    all.extend(expected(&bom_rows));
    let mut from_book = expected(&xlsx_rows);
    from_book
        .get_mut("武汉光谷激光科技有限公司")
        .unwrap()
        .insert("contact_phone", "13900139021".into());
    all.extend(from_book);

    // The server takes them all: the owner is a user and the rules hold.
    ana.check(&["sync"]).await;
    let rejected: serde_json::Value =
        serde_json::from_str(&ana.check(&["rejected", "--json"]).await).unwrap();
    assert_eq!(
        rejected,
        serde_json::json!([]),
        "the server refused nothing"
    );

    // Export as CSV: UTF-8 with a BOM, and every value as stored.
    let csv_out = path(&dir, "out.csv");
    ana.check(&["export", "-o", csv_out.to_str().unwrap()])
        .await;
    let bytes = std::fs::read(&csv_out).unwrap();
    assert!(bytes.starts_with(BOM), "the export starts with a BOM");
    let exported = read_export(&bytes);
    assert_eq!(exported.len(), 8);
    assert_holds(&exported, &all);

    // Export as a workbook: the same table.
    let xlsx_out = path(&dir, "out.xlsx");
    ana.check(&["export", "-o", xlsx_out.to_str().unwrap()])
        .await;
    assert_eq!(read_workbook(&xlsx_out), exported);

    // The exported CSV imports on another device into the same accounts.
    let other = Rep::new(&server, "ana").await;
    let printed = other.check(&["import", csv_out.to_str().unwrap()]).await;
    assert!(printed.contains("imported 8"), "{printed}");
    let other_out = path(&dir, "again.csv");
    other
        .check(&["export", "-o", other_out.to_str().unwrap()])
        .await;
    let again = read_export(&std::fs::read(&other_out).unwrap());
    for (name, row) in &exported {
        for (column, value) in row {
            if column != "code" && column != "id" {
                assert_eq!(&again[name][column], value, "{column} of {name}");
            }
        }
    }

    // A view's CSV from the server starts with a BOM too.
    let mia = server.device_of("mia").await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/views/pipeline?format=csv", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with(BOM), "{:?}", &body[..body.len().min(20)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_of_every_row_is_reported_at_once_and_nothing_is_imported() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let dir = TempDir::new().unwrap();
    let mut bad = rows(
        &[
            "好公司一",
            "坏公司二",
            "坏公司三",
            "坏公司四",
            "好公司五",
            "坏公司六",
        ],
        0,
    );
    // Line 3: three bad fields.
    bad[1][4] = "广告牌".into();
    bad[1][5] = "明年春天".into();
    bad[1][13] = "很多钱".into();
    // Line 4: a bad level and phone.
    bad[2][6] = "超级重要".into();
    bad[2][11] = "打我电话".into();
    // Line 5: no name, a bad industry, a bad period.
    bad[3][0] = String::new();
    bad[3][3] = "火星采矿".into();
    bad[3][14] = "尽快".into();
    // Line 7: a bad role and email.
    bad[5][10] = "老板娘".into();
    bad[5][12] = "不告诉你".into();
    let file = path(&dir, "bad.csv");
    std::fs::write(&file, csv_text(&bad)).unwrap();
    let (stdout, stderr) = ana
        .fails_with_output(&["import", file.to_str().unwrap()])
        .await;
    for expected in [
        "line 3: source (来源)",
        "line 3: first_contact (首次接触日期)",
        "line 3: budget_max (预算上限)",
        "line 4: level (客户级别)",
        "line 4: contact_phone (电话)",
        "line 5: name (客户名称)",
        "line 5: industry (行业)",
        "line 5: purchase_period (采购周期)",
        "line 7: contact_role (角色)",
        "line 7: contact_email (邮箱)",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("line ").count(), 10, "{stdout}");
    assert!(stdout.contains("4 bad rows with 10 errors"), "{stdout}");
    assert!(stderr.contains("4 bad rows"), "{stderr}");
    assert_eq!(
        ana.accounts().await,
        0,
        "a file with bad rows imports nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_checks_owners_against_the_server_and_says_when_it_cannot() {
    let server = TestServer::start().await;
    let mut ana = Rep::new(&server, "ana").await;
    let dir = TempDir::new().unwrap();
    let mut sheet = rows(&["深圳市华强电子科技有限公司", "深圳市南山区某某商行"], 0);
    sheet[1][1] = "zhangwei".into();
    let file = path(&dir, "owners.csv");
    std::fs::write(&file, csv_text(&sheet)).unwrap();
    let file = file.to_str().unwrap();

    let (stdout, _) = ana.fails_with_output(&["import", file, "--dry-run"]).await;
    assert!(
        stdout.contains("line 3: owner (负责人): `zhangwei` is not a user on the server"),
        "{stdout}"
    );
    assert!(!stdout.contains("line 2"), "{stdout}");

    // Unreachable: the dry run still checks everything else and says owners went unchecked.
    ana.server = "http://127.0.0.1:9".into();
    let output = ana.run(&["import", file, "--dry-run"]).await;
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("owners were not checked"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("would import 2"));
    assert_eq!(ana.accounts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoding_error_names_the_encoding_and_the_fix_once() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let dir = TempDir::new().unwrap();
    let text = csv_text(&rows(&["深圳市华强电子科技有限公司"], 0));
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let file = path(&dir, "gbk.csv");
    std::fs::write(&file, &gbk).unwrap();
    let file = file.to_str().unwrap();
    let (_, stderr) = ana
        .fails_with_output(&["import", file, "--encoding", "utf-8"])
        .await;
    assert!(stderr.contains("not valid UTF-8 text (line 1"), "{stderr}");
    assert!(stderr.contains("--encoding gb18030"), "{stderr}");
    assert_eq!(
        stderr.matches("not valid").count(),
        1,
        "said once: {stderr}"
    );
    // Forced the right way, it reads.
    let printed = ana
        .check(&["import", file, "--encoding", "gbk", "--dry-run"])
        .await;
    assert!(printed.contains("would import 1"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_speaks_the_locale_and_both_header_sets_import() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let dir = TempDir::new().unwrap();
    let english = ana.check(&["template"]).await;
    assert!(english.starts_with("name,owner,kind"), "{english}");
    let mut zh = ana.command(&["template", "-o"]);
    let zh_file = path(&dir, "模板.csv");
    zh.arg(&zh_file).env("LANG", "zh_CN.UTF-8");
    assert!(zh.output().unwrap().status.success());
    let bytes = std::fs::read(&zh_file).unwrap();
    assert!(bytes.starts_with(BOM));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("客户名称,负责人,类型"), "{text}");
    // The example rows of both templates are valid rows (owners aside: checked on sync).
    let en_file = path(&dir, "template.csv");
    std::fs::write(&en_file, &english).unwrap();
    for file in [&en_file, &zh_file] {
        let printed = ana.check(&["import", file.to_str().unwrap()]).await;
        assert!(printed.contains("imported 1"), "{printed}");
    }
    // And as a workbook.
    let xlsx = path(&dir, "模板.xlsx");
    let mut zh = ana.command(&["template", "-o"]);
    zh.arg(&xlsx).env("LANG", "zh_CN.UTF-8");
    assert!(zh.output().unwrap().status.success());
    let book = read_workbook_rows(&xlsx);
    assert_eq!(book[0][0], "客户名称");
    assert_eq!(book[1][0], "深圳市华强电子科技有限公司");
}

fn read_workbook_rows(path: &Path) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}
