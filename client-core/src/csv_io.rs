//! Accounts in and out of the sheets people keep: CSV in any encoding Chinese or Western
//! Excel saves (UTF-8 with or without a BOM, UTF-16 with a BOM, GB18030/GBK), `.xlsx`
//! workbooks, a template in the reader's language, a column mapping for existing customer
//! lists, headers and values in Chinese or as codes, every error of every row in one pass, a
//! duplicate check against the store and within the file, an owner check against the
//! server's users, and a dry run. A file with any bad row imports nothing. Exports are UTF-8
//! CSV with a BOM (so Excel opens them as UTF-8) or `.xlsx`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use outpost_protocol::DocId;
use serde::Serialize;

use crate::account::{self, AccountEdit, AccountSummary, NewAccount};
use crate::duplicates;
use crate::error::{EditError, LookupError, StoreError};
use crate::model::{AccountDoc, Contact, Day, Kind, Lang, Needs};
use crate::rules;
use crate::store::Store;
use crate::words;

/// The columns of the template, in order. Admin-defined fields are `custom.<name>` columns.
pub const COLUMNS: &[&str] = &[
    "name",
    "owner",
    "kind",
    "industry",
    "size",
    "region",
    "source",
    "first_contact",
    "level",
    "priority",
    "contact_name",
    "contact_title",
    "contact_role",
    "contact_phone",
    "contact_email",
    "budget_min",
    "budget_max",
    "purchase_period",
];

/// The Chinese header of each template column (the first is the template's), then other
/// headers people give that column. Matched after NFKC folding, ignoring spaces.
const CHINESE_HEADERS: &[(&str, &[&str])] = &[
    (
        "name",
        &["客户名称", "公司名称", "企业名称", "客户", "名称"],
    ),
    (
        "owner",
        &["负责人", "销售", "业务员", "所属销售", "客户经理"],
    ),
    ("kind", &["类型", "客户类型"]),
    ("industry", &["行业", "所属行业"]),
    ("size", &["规模", "企业规模", "公司规模"]),
    ("region", &["区域", "地区", "所在地区"]),
    ("source", &["来源", "客户来源", "线索来源"]),
    (
        "first_contact",
        &["首次接触日期", "首次接触", "首次联系日期"],
    ),
    ("level", &["客户级别", "级别", "客户等级"]),
    ("priority", &["优先级"]),
    ("contact_name", &["联系人", "联系人姓名"]),
    ("contact_title", &["职务", "职位", "联系人职务"]),
    ("contact_role", &["角色", "联系人角色", "决策角色"]),
    (
        "contact_phone",
        &["电话", "联系电话", "手机", "手机号", "电话号码"],
    ),
    ("contact_email", &["邮箱", "电子邮箱", "电子邮件", "邮件"]),
    ("budget_min", &["预算下限", "最低预算"]),
    ("budget_max", &["预算上限", "预算", "最高预算"]),
    ("purchase_period", &["采购周期", "采购时间", "预计采购时间"]),
];

/// Columns an export adds after the template's, which an import skips: where the account
/// stands (status, lost reason, its latest follow-up) is made by the edits that record it,
/// and a new account gets its own code and id.
const EXPORT_ONLY: &[&str] = &["status", "lost_reason", "last_follow_up", "code", "id"];

/// The prefix of an admin-defined field's column.
pub const CUSTOM_PREFIX: &str = "custom.";

/// The Chinese prefix of an admin-defined field's column (`自定义.wechat`).
const CUSTOM_PREFIX_ZH: &str = "自定义.";

/// Accounts written per durable transaction during an import.
const IMPORT_BATCH: usize = 500;

/// The header a person reads for a template column in `lang`.
pub fn header_label(column: &str, lang: Lang) -> &str {
    match lang {
        Lang::En => column,
        Lang::Zh => CHINESE_HEADERS
            .iter()
            .find(|(c, _)| *c == column)
            .map_or(column, |(_, labels)| labels[0]),
    }
}

/// The template column a file's header names: a column code in any case (`Contact Name`,
/// `contact-name`), one of its Chinese headers, or `custom.<field>` / `自定义.<field>`.
pub fn column_for(header: &str) -> Option<String> {
    let folded: String = crate::text::fold(header)
        .trim()
        .trim_start_matches('*')
        .trim_end_matches('*')
        .trim()
        .to_owned();
    for prefix in [CUSTOM_PREFIX, CUSTOM_PREFIX_ZH] {
        if let Some(field) = folded.strip_prefix(prefix) {
            return Some(format!("{CUSTOM_PREFIX}{field}"));
        }
    }
    let code = folded.to_lowercase().replace(['-', ' '], "_");
    if COLUMNS.contains(&code.as_str()) {
        return Some(code);
    }
    let spaceless: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
    CHINESE_HEADERS
        .iter()
        .find(|(_, labels)| labels.contains(&spaceless.as_str()))
        .map(|(column, _)| (*column).to_owned())
}

/// The template in `lang`: the header and one example row, as CSV text (the CLI adds the BOM
/// when it writes a file).
pub fn template(lang: Lang) -> String {
    let example: [&str; 18] = match lang {
        Lang::Zh => [
            "深圳市华强电子科技有限公司",
            "zhangwei",
            "客户",
            "制造业",
            "100-500人",
            "华南",
            "展会",
            "2026/3/15",
            "重点客户",
            "A",
            "李晨",
            "采购经理",
            "决策人",
            "138 0013 8000",
            "li.chen@huaqiang.example",
            "30万",
            "50万",
            "2027年Q1",
        ],
        Lang::En => [
            "Harbor Foods Ltd",
            "ana",
            "customer",
            "Manufacturing",
            "100-500",
            "North",
            "trade_show",
            "2026-03-15",
            "key",
            "a",
            "Lee Chen",
            "Purchasing manager",
            "decision_maker",
            "+49 30 1234567",
            "lee.chen@harborfoods.example",
            "300000",
            "500000",
            "2027-Q1",
        ],
    };
    let header: Vec<&str> = COLUMNS.iter().map(|c| header_label(c, lang)).collect();
    format!(
        "{}\n{}\n",
        header
            .iter()
            .map(|h| quote(h))
            .collect::<Vec<_>>()
            .join(","),
        example.map(quote).join(",")
    )
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Which template column each column of a file feeds: `Company=name,Rep=owner`. Columns
/// named like a template column need no mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping(BTreeMap<String, String>);

impl FromStr for Mapping {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut map = BTreeMap::new();
        for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (from, to) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not COLUMN=field"))?;
            let to = column_for(to)
                .ok_or_else(|| format!("`{}` is not a template column", to.trim()))?;
            map.insert(from.trim().to_owned(), to);
        }
        Ok(Mapping(map))
    }
}

/// Why one row cannot be imported: one entry per refused field, every field of the row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line in the file (the header is line 1); for a workbook, the sheet's row.
    pub line: usize,
    /// The template column.
    pub field: String,
    /// The column's header as the file names it (`电话` for `contact_phone`).
    pub column: String,
    pub reason: String,
}

/// A row that looks like an account already in the store or earlier in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateRow {
    pub line: usize,
    pub name: String,
    /// What it matches: existing account ids, or `line N` of this file.
    pub matches: Vec<String>,
}

/// A file read and checked, ready to import.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    rows: Vec<(usize, NewAccount, Needs)>,
    pub errors: Vec<RowError>,
    pub duplicates: Vec<DuplicateRow>,
    /// How many rows had errors (a row may have several).
    pub bad_rows: usize,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub rows: usize,
    /// Accounts created (a dry run creates none).
    pub created: usize,
    /// Rows that would be created.
    pub importable: usize,
    pub duplicates: Vec<DuplicateRow>,
    pub errors: Vec<RowError>,
    /// Rows with at least one error.
    pub bad_rows: usize,
    pub dry_run: bool,
}

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Utf8,
    /// UTF-16 (only with a BOM: Excel's "Unicode text").
    Utf16,
    /// GB18030, which contains GBK and GB2312: what Chinese Excel saves as "CSV".
    Gb18030,
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gb18030" | "gbk" | "gb2312" | "cp936" => Ok(Encoding::Gb18030),
            _ => Err(format!("`{s}` is not an encoding: utf-8, gb18030 or gbk")),
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16 => "UTF-16",
            Encoding::Gb18030 => "GB18030",
        })
    }
}

/// A file that could not be read or written as a sheet at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The CSV structure is broken (the text itself decoded).
    #[error("the file is not valid CSV: {0}")]
    Csv(csv::Error),
    #[error("the file is not valid {encoding} text ({position}); {hint}")]
    Decode {
        encoding: Encoding,
        /// Where the first bad byte is, as `line N, byte M`.
        position: String,
        hint: &'static str,
    },
    #[error("the workbook cannot be read: {0}")]
    Workbook(String),
    #[error("cannot write the workbook: {0}")]
    WriteWorkbook(String),
    #[error("the workbook has no sheet")]
    NoSheet,
    #[error("column `{0}` is not a template column; map it with COLUMN=field")]
    UnknownColumn(String),
    #[error("columns `{0}` and `{1}` both fill `{2}`")]
    DuplicateColumn(String, String, String),
    #[error("the file has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("cannot write the file: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

// Not `#[from]`: a source would print the CSV error a second time in an error chain.
impl From<csv::Error> for CsvError {
    fn from(e: csv::Error) -> Self {
        CsvError::Csv(e)
    }
}

/// A sheet read from a file: its header and its rows, every cell as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    /// Each row with its line in the file.
    pub rows: Vec<(usize, Vec<String>)>,
    /// The encoding a CSV file was read in (`None` for a workbook).
    pub encoding: Option<Encoding>,
}

/// Whether `bytes` are a zip archive, as every `.xlsx` workbook is.
pub fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Reads a sheet: a workbook if the bytes are a zip archive, else CSV in `encoding` or, if
/// not given, the one the bytes show (see [`decode`]).
pub fn read_table(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, CsvError> {
    if is_workbook(bytes) && encoding.is_none() {
        read_workbook(bytes)
    } else {
        read_csv(bytes, encoding)
    }
}

/// Decodes a CSV file's text. Without `forced`: a BOM decides (UTF-8 or UTF-16), else text
/// that is valid UTF-8 is UTF-8, else it is GB18030 (which covers GBK, what Chinese Excel
/// writes). The decoding is encoding_rs's; a malformed byte is an error that names the
/// encoding, where, and what to do.
pub fn decode(bytes: &[u8], forced: Option<Encoding>) -> Result<(String, Encoding), CsvError> {
    let bom = encoding_rs::Encoding::for_bom(bytes);
    let (encoding, decoder, body) = match (forced, bom) {
        // A UTF-8 BOM is dropped whether or not UTF-8 was asked for.
        (None | Some(Encoding::Utf8), Some((e, len))) if e == encoding_rs::UTF_8 => {
            (Encoding::Utf8, encoding_rs::UTF_8, &bytes[len..])
        }
        (Some(Encoding::Gb18030), _) => (Encoding::Gb18030, encoding_rs::GB18030, bytes),
        (Some(_), _) => (Encoding::Utf8, encoding_rs::UTF_8, bytes),
        // UTF-16, little- or big-endian as the BOM says.
        (None, Some((e, len))) => (Encoding::Utf16, e, &bytes[len..]),
        (None, None) if std::str::from_utf8(bytes).is_ok() => {
            (Encoding::Utf8, encoding_rs::UTF_8, bytes)
        }
        (None, None) => (Encoding::Gb18030, encoding_rs::GB18030, bytes),
    };
    if let Some(text) = decoder.decode_without_bom_handling_and_without_replacement(body) {
        return Ok((text.into_owned(), encoding));
    }
    let hint = match (forced, encoding) {
        (Some(_), Encoding::Utf8) => {
            "if it was saved by Chinese Excel as plain CSV, read it with --encoding gb18030"
        }
        (Some(_), _) => "if it was saved as \"CSV UTF-8\", read it with --encoding utf-8",
        (None, Encoding::Gb18030) => {
            "it is neither UTF-8 nor GB18030/GBK; save it from Excel as \"CSV UTF-8\" or .xlsx, \
             or name its encoding with --encoding"
        }
        (None, _) => "save it again from Excel as \"CSV UTF-8\" or .xlsx",
    };
    Err(CsvError::Decode {
        encoding,
        position: first_bad_byte(decoder, body),
        hint,
    })
}

/// Where the first byte `decoder` cannot read is: `line N, byte M`.
fn first_bad_byte(decoder: &'static encoding_rs::Encoding, bytes: &[u8]) -> String {
    let mut decoder = decoder.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 4);
    let mut out = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    let at = match result {
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read - usize::from(bad) - usize::from(after)
        }
        _ => read,
    };
    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
    format!("line {line}, byte {}", at + 1)
}

/// Reads CSV (see [`decode`] for the encoding). The delimiter is a comma, or a tab when the
/// header has tabs and no commas (Excel's "Unicode text").
pub fn read_csv(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, CsvError> {
    let (text, encoding) = decode(bytes, encoding)?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let line = record
            .position()
            .map_or(rows.len() + 2, |p| p.line() as usize);
        rows.push((
            line,
            record.iter().map(restore_cell).map(str::to_owned).collect(),
        ));
    }
    Ok(Table {
        header,
        rows,
        encoding: Some(encoding),
    })
}

/// Reads the first sheet of an `.xlsx` workbook. Numbers read as Excel shows them in a
/// General cell (`13800138000`, not `1.38e10`), dates as `YYYY-MM-DD`.
#[cfg(feature = "xlsx")]
pub fn read_workbook(bytes: &[u8]) -> Result<Table, CsvError> {
    use calamine::{Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| CsvError::Workbook(e.to_string()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or(CsvError::NoSheet)?
        .map_err(|e| CsvError::Workbook(e.to_string()))?;
    let first_line = range.start().map_or(1, |(row, _)| row as usize + 1);
    let cell = |data: &Data| -> String {
        match data {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
            Data::Int(i) => i.to_string(),
            // Whole numbers as integers: phone numbers and amounts typed into number cells.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => match d.as_datetime() {
                Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
                Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                None => d.as_f64().to_string(),
            },
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let mut rows = range.rows();
    let header = rows
        .next()
        .map(|r| r.iter().map(cell).collect())
        .unwrap_or_default();
    let rows = rows
        .enumerate()
        .map(|(i, r)| (first_line + 1 + i, r.iter().map(cell).collect()))
        .collect();
    Ok(Table {
        header,
        rows,
        encoding: None,
    })
}

/// Without the `xlsx` feature a workbook is refused by name.
#[cfg(not(feature = "xlsx"))]
pub fn read_workbook(_bytes: &[u8]) -> Result<Table, CsvError> {
    Err(CsvError::Workbook(
        "this build reads CSV only (the `xlsx` feature is off)".into(),
    ))
}

/// Reads a CSV file or workbook and checks every row against the record rules, the store's
/// accounts and the rows before it.
pub fn check(
    store: &Store,
    mut input: impl Read,
    mapping: &Mapping,
    now: DateTime<Utc>,
) -> Result<Checked, CsvError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    check_table(store, &read_table(&bytes, None)?, mapping, None, now)
}

/// Checks every row of a sheet: each field's value as people write it, the record rules, the
/// owner against `users` (the server's logins, when known), and duplicates of the store's
/// accounts and earlier rows. Every error of every row is reported.
pub fn check_table(
    store: &Store,
    table: &Table,
    mapping: &Mapping,
    users: Option<&BTreeSet<String>>,
    now: DateTime<Utc>,
) -> Result<Checked, CsvError> {
    // Each file column's template column (`None`: an empty header over an empty column).
    let mut columns: Vec<Option<String>> = Vec::with_capacity(table.header.len());
    let mut headers: HashMap<String, String> = HashMap::new();
    for (index, h) in table.header.iter().enumerate() {
        let field = match mapping.0.get(h.trim()) {
            Some(field) => Some(field.clone()),
            None if h.trim().is_empty() => {
                if table
                    .rows
                    .iter()
                    .any(|(_, r)| r.get(index).is_some_and(|v| !v.is_empty()))
                {
                    return Err(CsvError::UnknownColumn(format!(
                        "(column {} without a header)",
                        index + 1
                    )));
                }
                None
            }
            // What only an export writes: a new account gets its own code and id.
            None if EXPORT_ONLY.contains(&h.trim()) => None,
            None => Some(column_for(h).ok_or_else(|| CsvError::UnknownColumn(h.clone()))?),
        };
        if let Some(field) = &field
            && let Some(earlier) = headers.insert(field.clone(), h.clone())
        {
            return Err(CsvError::DuplicateColumn(earlier, h.clone(), field.clone()));
        }
        columns.push(field);
    }
    for required in ["name", "owner"] {
        if !headers.contains_key(required) {
            return Err(CsvError::MissingColumn(required));
        }
    }
    let mut existing: HashMap<String, Vec<String>> = HashMap::new();
    for summary in store.accounts()? {
        for key in summary.match_keys {
            existing
                .entry(key)
                .or_default()
                .push(summary.id.to_string());
        }
    }
    let mut checked = Checked::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, record) in &table.rows {
        let line = *line;
        let fields: HashMap<&str, &str> = columns
            .iter()
            .zip(record.iter())
            .filter_map(|(c, v)| Some((c.as_deref()?, v.trim())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if fields.is_empty() {
            // Excel keeps formatted but empty rows in a sheet's range.
            continue;
        }
        let (new, needs, mut errors) = parse_row(&fields);
        if let Some(users) = users
            && !new.owner.is_empty()
            && !users.contains(new.owner.trim())
        {
            errors.push((
                "owner".into(),
                format!("`{}` is not a user on the server", new.owner.trim()),
            ));
        }
        errors.extend(validate(&new, &needs, now));
        if !errors.is_empty() {
            checked.bad_rows += 1;
            errors.sort_by_key(|(field, _)| {
                COLUMNS
                    .iter()
                    .position(|c| c == field)
                    .unwrap_or(COLUMNS.len())
            });
            for (field, reason) in errors {
                let column = headers
                    .get(&field)
                    .cloned()
                    .unwrap_or_else(|| field.clone());
                checked.errors.push(RowError {
                    line,
                    field,
                    column,
                    reason,
                });
            }
            continue;
        }
        let keys = duplicates::match_keys(&new.name, new.contact.iter());
        let mut matches: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| existing.get(k))
            .flatten()
            .cloned()
            .collect();
        matches.extend(
            keys.iter()
                .filter_map(|k| seen.get(k))
                .map(|l| format!("line {l}")),
        );
        if matches.is_empty() {
            for key in keys {
                seen.insert(key, line);
            }
            checked.rows.push((line, new, needs));
        } else {
            let matches = matches.into_iter().collect();
            checked.duplicates.push(DuplicateRow {
                line,
                name: new.name,
                matches,
            });
        }
    }
    Ok(checked)
}

type FieldError = (String, String);

/// Reads one row's fields into the account (and its needs) it describes, with an error for
/// every field whose value cannot be read; such fields are left out.
fn parse_row(fields: &HashMap<&str, &str>) -> (NewAccount, Needs, Vec<FieldError>) {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut read = |column: &str, parse: &dyn Fn(&str) -> Result<(), String>| {
        if let Some(value) = fields.get(column)
            && let Err(reason) = parse(value)
        {
            errors.push((column.to_owned(), reason));
        }
    };
    // Checks each typed column once, collecting every error; the values are read below.
    fn ok<T, E: ToString>(r: Result<T, E>) -> Result<(), String> {
        r.map(|_| ()).map_err(|e| e.to_string())
    }
    read("kind", &|v| ok(v.parse::<Kind>()));
    read("source", &|v| ok(v.parse::<crate::model::Source>()));
    read("level", &|v| ok(v.parse::<crate::model::Level>()));
    read("priority", &|v| ok(v.parse::<crate::model::Priority>()));
    read("contact_role", &|v| ok(v.parse::<crate::model::Role>()));
    read("first_contact", &|v| ok(words::parse_day(v)));
    read("budget_min", &|v| ok(words::parse_money(v)));
    read("budget_max", &|v| ok(words::parse_money(v)));
    read("purchase_period", &|v| ok(words::parse_period(v)));
    read("industry", &|v| {
        crate::industry::Industry::from_words(v)
            .map(|_| ())
            .ok_or_else(|| crate::industry::unknown_industry(v))
    });
    fn value<T: FromStr>(fields: &HashMap<&str, &str>, column: &str) -> Option<T> {
        fields.get(column).and_then(|v| v.parse().ok())
    }
    let text = |column: &str| fields.get(column).map(|v| (*v).to_owned());
    let contact = text("contact_name").map(|name| Contact {
        name,
        title: text("contact_title"),
        role: value(fields, "contact_role"),
        phone: text("contact_phone"),
        email: text("contact_email"),
    });
    if contact.is_none()
        && [
            "contact_title",
            "contact_role",
            "contact_phone",
            "contact_email",
        ]
        .iter()
        .any(|c| fields.contains_key(c))
    {
        errors.push(("contact_name".into(), "a contact needs a name".into()));
    }
    let custom = fields
        .iter()
        .filter_map(|(column, value)| {
            column
                .strip_prefix(CUSTOM_PREFIX)
                .map(|field| (field.to_owned(), (*value).to_owned()))
        })
        .collect();
    let new = NewAccount {
        name: text("name").unwrap_or_default(),
        owner: text("owner").unwrap_or_default(),
        kind: value(fields, "kind").unwrap_or(Kind::Customer),
        region: text("region"),
        industry: fields
            .get("industry")
            .and_then(|v| crate::industry::Industry::from_words(v))
            .map(|i| i.to_string()),
        size: text("size"),
        source: value(fields, "source"),
        first_contact: fields
            .get("first_contact")
            .and_then(|v| words::parse_day(v).ok())
            .map(Day),
        level: value(fields, "level"),
        priority: value(fields, "priority"),
        contact,
        custom,
    };
    let needs = Needs {
        budget_min: fields
            .get("budget_min")
            .and_then(|v| words::parse_money(v).ok()),
        budget_max: fields
            .get("budget_max")
            .and_then(|v| words::parse_money(v).ok()),
        purchase_period: fields
            .get("purchase_period")
            .and_then(|v| words::parse_period(v).ok()),
        ..Needs::default()
    };
    (new, needs, errors)
}

/// Runs the record rules on the account the row would create and returns every field they
/// refuse: the rules stop at the first bad field, so each refused field is set aside in the
/// preview and the rules run again, until they pass.
fn validate(new: &NewAccount, needs: &Needs, now: DateTime<Utc>) -> Vec<FieldError> {
    let mut doc = account::preview(new, now);
    doc.needs = needs.clone();
    let mut errors = Vec::new();
    // Every pass sets one field aside, so there are at most as many passes as fields.
    for _ in 0..64 {
        let Err(e) = rules::check(None, &doc) else {
            break;
        };
        let column = column_of_rule_field(&e.field);
        errors.push((column, e.reason));
        if !set_aside(&mut doc, &e.field) {
            break;
        }
    }
    errors
}

/// The template column of a field the rules name: entry ids are random and a row has at most
/// one contact, so `contacts/ID/phone` is `contact_phone`.
fn column_of_rule_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("contacts/") {
        let last = rest.rsplit('/').next().unwrap_or("name");
        let last = if rest.contains('/') { last } else { "name" };
        return format!("contact_{last}");
    }
    if let Some(custom) = field.strip_prefix("custom/") {
        return format!("{CUSTOM_PREFIX}{custom}");
    }
    field.strip_prefix("needs/").unwrap_or(field).to_owned()
}

/// Replaces the field the rules refused with a value they accept, so the next pass reaches
/// the next field. Returns whether anything changed.
fn set_aside(doc: &mut AccountDoc, field: &str) -> bool {
    const PLACEHOLDER: &str = "-";
    match field {
        "name" => doc.name = PLACEHOLDER.into(),
        "owner" => doc.owner = PLACEHOLDER.into(),
        "industry" => return doc.industry.take().is_some(),
        "region" => return doc.region.take().is_some(),
        "size" => return doc.size.take().is_some(),
        "needs/budget_min" => return doc.needs.budget_min.take().is_some(),
        "needs/budget_max" => {
            return doc.needs.budget_max.take().is_some();
        }
        "needs/purchase_period" => return doc.needs.purchase_period.take().is_some(),
        _ => {
            if let Some(key) = field.strip_prefix("custom/") {
                return doc.custom.remove(key).is_some();
            }
            let Some(rest) = field.strip_prefix("contacts/") else {
                return false;
            };
            let (id, part) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(contact) = doc.contacts.get_mut(id) else {
                return false;
            };
            match part {
                "name" => contact.name = PLACEHOLDER.into(),
                "title" => return contact.title.take().is_some(),
                "phone" => return contact.phone.take().is_some(),
                "email" => return contact.email.take().is_some(),
                _ => return doc.contacts.remove(id).is_some(),
            }
        }
    }
    true
}

impl Checked {
    /// Rows that would be created.
    pub fn importable(&self) -> usize {
        self.rows.len()
    }
}

/// Imports a checked file. With any row error nothing is written; duplicates are skipped and
/// reported. `progress` is called with the number of accounts written so far.
pub fn import(
    store: &Store,
    checked: Checked,
    dry_run: bool,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(usize),
) -> Result<ImportReport, EditError> {
    let mut report = ImportReport {
        rows: checked.rows.len() + checked.bad_rows + checked.duplicates.len(),
        importable: checked.rows.len(),
        duplicates: checked.duplicates,
        errors: checked.errors,
        bad_rows: checked.bad_rows,
        dry_run,
        created: 0,
    };
    if dry_run || !report.errors.is_empty() {
        return Ok(report);
    }
    let (accounts, needs): (Vec<NewAccount>, Vec<Needs>) = checked
        .rows
        .into_iter()
        .map(|(_, new, needs)| (new, needs))
        .unzip();
    let ids = store.create_accounts(&accounts, now, IMPORT_BATCH, progress)?;
    // A new account starts without needs; rows that name a budget or period set them after.
    for (id, needs) in ids.iter().zip(needs) {
        if needs != Needs::default() {
            store.edit_account(*id, &AccountEdit::SetNeeds(needs), now)?;
        }
    }
    report.created = ids.len();
    Ok(report)
}

/// The first characters that make a spreadsheet read a cell as a formula (`=HYPERLINK(…)`,
/// `+cmd|…`, `@SUM(…)`), a tab or carriage return it strips before doing the same, and their
/// full-width forms, which a Chinese input method types and Excel reads alike.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// A cell as Outpost writes it to a CSV file: text a spreadsheet would run as a formula gets
/// a leading apostrophe, which Excel and LibreOffice read as "this is text" and which keeps
/// the value readable (`'=HYPERLINK(…)`, `'+86 138 0013 8000`). A plain number (`-5`, `+2.5`)
/// is left alone: it is data, not a formula. Import takes the apostrophe off again (see
/// [`restore_cell`]), so an export reads back as it was.
pub fn neutralise_cell(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as import reads it: the apostrophe [`neutralise_cell`] put before a formula-like
/// start is taken off.
fn restore_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// `csv` with every cell neutralised (see [`neutralise_cell`]): for CSV written by serde from
/// rows whose fields it does not see one by one, such as the server's view tables.
pub fn neutralise_csv(csv: &str) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(csv.len()));
    for record in reader.records() {
        let record = record.expect("CSV written by the csv crate reads back");
        writer
            .write_record(record.iter().map(|cell| neutralise_cell(cell).into_owned()))
            .expect("writing to memory cannot fail");
    }
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8")
}

/// The UTF-8 byte order mark: Excel reads a CSV file as UTF-8 only when it starts with one
/// (without it, Chinese Excel reads GBK and shows mojibake).
pub const BOM: &str = "\u{feff}";

/// Every live account as rows: the template's columns plus one `custom.<name>` column per
/// admin-defined field in use, then `status`, `lost_reason`, `last_follow_up` (UTC, RFC
/// 3339), `code` and `id`. The first contact (by name) fills the contact columns. Values are
/// the stored codes, which import reads back. An account merged into another is left out:
/// the survivor holds its customer.
pub fn export_table(store: &Store) -> Result<(Vec<String>, Vec<Vec<String>>), CsvError> {
    let summaries: Vec<AccountSummary> = store.accounts()?;
    let mut records = Vec::with_capacity(summaries.len());
    let mut custom_fields = BTreeSet::new();
    for summary in &summaries {
        let account = store.account(summary.id)?;
        if account.record.merged_into.is_some() {
            continue;
        }
        custom_fields.extend(account.record.custom.keys().cloned());
        records.push((summary.id, account.record));
    }
    let header: Vec<String> = COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(custom_fields.iter().map(|f| format!("{CUSTOM_PREFIX}{f}")))
        .chain(EXPORT_ONLY.iter().map(|c| (*c).to_owned()))
        .collect();
    let mut rows = Vec::with_capacity(records.len());
    for (id, doc) in &records {
        let contact = doc.contacts.values().min_by(|a, b| a.name.cmp(&b.name));
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let text = |v: Option<String>| v.unwrap_or_default();
        let money = |m: &Option<crate::model::Money>| m.as_ref().map(words::money_text);
        let mut row = vec![
            doc.name.clone(),
            doc.owner.clone(),
            doc.kind.to_string(),
            opt(&doc.industry),
            opt(&doc.size),
            opt(&doc.region),
            text(doc.source.as_ref().map(ToString::to_string)),
            text(doc.first_contact.map(|d| d.to_string())),
            text(doc.level.as_ref().map(ToString::to_string)),
            text(doc.priority.as_ref().map(ToString::to_string)),
            text(contact.map(|c| c.name.clone())),
            text(contact.and_then(|c| c.title.clone())),
            text(contact.and_then(|c| c.role.as_ref().map(ToString::to_string))),
            text(contact.and_then(|c| c.phone.clone())),
            text(contact.and_then(|c| c.email.clone())),
            text(money(&doc.needs.budget_min)),
            text(money(&doc.needs.budget_max)),
            opt(&doc.needs.purchase_period),
        ];
        row.extend(
            custom_fields
                .iter()
                .map(|f| doc.custom.get(f).cloned().unwrap_or_default()),
        );
        row.push(doc.status.to_string());
        row.push(opt(&doc.lost_reason));
        row.push(text(
            doc.follow_ups
                .values()
                .map(|f| f.occurred_at.0)
                .max()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ));
        row.push(opt(&doc.code));
        row.push(DocId::to_string(id));
        rows.push(row);
    }
    Ok((header, rows))
}

/// Writes every account as CSV (see [`export_table`]), UTF-8 with a BOM so Excel, Chinese
/// or not, opens it as UTF-8. Returns how many accounts it wrote.
pub fn export(store: &Store, output: impl Write) -> Result<usize, CsvError> {
    export_csv(store, output, true)
}

/// Writes every account as UTF-8 CSV, with a BOM or (for text on a screen or in a pipe)
/// without.
pub fn export_csv(store: &Store, mut output: impl Write, bom: bool) -> Result<usize, CsvError> {
    let (header, rows) = export_table(store)?;
    if bom {
        output.write_all(BOM.as_bytes())?;
    }
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(&header)?;
    for row in &rows {
        writer.write_record(row.iter().map(|cell| neutralise_cell(cell).into_owned()))?;
    }
    writer.flush()?;
    Ok(rows.len())
}

/// `header` and `rows` as one sheet of an `.xlsx` workbook, every cell as text (codes, ids
/// and phone numbers must not turn into numbers), the header bold and frozen.
#[cfg(feature = "xlsx")]
pub fn workbook(sheet: &str, header: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, CsvError> {
    use rust_xlsxwriter::{Format, Workbook};
    let failed = |e: rust_xlsxwriter::XlsxError| CsvError::WriteWorkbook(e.to_string());
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let page = book.add_worksheet();
    page.set_name(sheet).map_err(failed)?;
    for (col, title) in header.iter().enumerate() {
        let col =
            u16::try_from(col).map_err(|_| CsvError::WriteWorkbook("too many columns".into()))?;
        page.write_string_with_format(0, col, title, &bold)
            .map_err(failed)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r =
            u32::try_from(r + 1).map_err(|_| CsvError::WriteWorkbook("too many rows".into()))?;
        for (col, value) in row.iter().enumerate() {
            if !value.is_empty() {
                page.write_string(r, col as u16, value).map_err(failed)?;
            }
        }
    }
    page.set_freeze_panes(1, 0).map_err(failed)?;
    book.save_to_buffer().map_err(failed)
}

/// Writes every account as an `.xlsx` workbook (see [`export_table`]). Returns how many
/// accounts it wrote.
#[cfg(feature = "xlsx")]
pub fn export_workbook(store: &Store, mut output: impl Write) -> Result<usize, CsvError> {
    let (header, rows) = export_table(store)?;
    output.write_all(&workbook("accounts", &header, &rows)?)?;
    output.flush()?;
    Ok(rows.len())
}
