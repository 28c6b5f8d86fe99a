//! CSV import and export of accounts: a template, a column mapping for existing customer
//! lists, row-level errors that name the row and the field, a duplicate check against the
//! store and within the file, and a dry run. A file with any bad row imports nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use outpost_protocol::DocId;
use serde::Serialize;

use crate::account::{self, AccountSummary, NewAccount};
use crate::duplicates;
use crate::error::{EditError, LookupError, StoreError};
use crate::model::{Contact, Day, Kind};
use crate::rules;
use crate::store::Store;

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
];

/// The prefix of an admin-defined field's column.
pub const CUSTOM_PREFIX: &str = "custom.";

/// Accounts written per durable transaction during an import.
const IMPORT_BATCH: usize = 500;

/// The template: the header and one example row.
pub fn template() -> String {
    let example = [
        "Harbor Foods Ltd",
        "ana",
        "customer",
        "Food & Beverage",
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
    ];
    format!("{}\n{}\n", COLUMNS.join(","), example.map(quote).join(","))
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
            let to = to.trim();
            if !COLUMNS.contains(&to) && !to.starts_with(CUSTOM_PREFIX) {
                return Err(format!("`{to}` is not a template column"));
            }
            map.insert(from.trim().to_owned(), to.to_owned());
        }
        Ok(Mapping(map))
    }
}

/// Why one row cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub field: String,
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
    rows: Vec<(usize, NewAccount)>,
    pub errors: Vec<RowError>,
    pub duplicates: Vec<DuplicateRow>,
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
    pub dry_run: bool,
}

/// A file that could not be read as CSV at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("column `{0}` is not a template column; map it with COLUMN=field")]
    UnknownColumn(String),
    #[error("the file has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("cannot write the CSV file: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// Reads a CSV file and checks every row against the record rules, the store's accounts and
/// the rows before it.
pub fn check(
    store: &Store,
    input: impl Read,
    mapping: &Mapping,
    now: DateTime<Utc>,
) -> Result<Checked, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let columns: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| {
            let field = mapping.0.get(h).map_or(h, String::as_str);
            if COLUMNS.contains(&field) || field.starts_with(CUSTOM_PREFIX) {
                Ok(field.to_owned())
            } else {
                Err(CsvError::UnknownColumn(h.to_owned()))
            }
        })
        .collect::<Result<_, _>>()?;
    for required in ["name", "owner"] {
        if !columns.iter().any(|c| c == required) {
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
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record?;
        let fields: HashMap<&str, &str> = columns
            .iter()
            .map(String::as_str)
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let new = match parse_row(&fields).and_then(|new| validate(new, now)) {
            Ok(new) => new,
            Err((field, reason)) => {
                checked.errors.push(RowError {
                    line,
                    field,
                    reason,
                });
                continue;
            }
        };
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
            checked.rows.push((line, new));
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

fn parse_row(fields: &HashMap<&str, &str>) -> Result<NewAccount, FieldError> {
    fn parse<T: FromStr>(
        fields: &HashMap<&str, &str>,
        column: &str,
    ) -> Result<Option<T>, FieldError>
    where
        T::Err: ToString,
    {
        fields
            .get(column)
            .map(|v| {
                v.parse()
                    .map_err(|e: T::Err| (column.to_owned(), e.to_string()))
            })
            .transpose()
    }
    let text = |column: &str| fields.get(column).map(|v| (*v).to_owned());
    let first_contact = fields
        .get("first_contact")
        .map(|v| {
            v.parse().map(Day).map_err(|_| {
                (
                    "first_contact".to_owned(),
                    format!("`{v}` is not a YYYY-MM-DD date"),
                )
            })
        })
        .transpose()?;
    let contact = text("contact_name").map(|name| Contact {
        name,
        title: text("contact_title"),
        role: None,
        phone: text("contact_phone"),
        email: text("contact_email"),
    });
    let contact = match contact {
        Some(mut c) => {
            c.role = parse(fields, "contact_role")?;
            Some(c)
        }
        None if [
            "contact_title",
            "contact_role",
            "contact_phone",
            "contact_email",
        ]
        .iter()
        .any(|c| fields.contains_key(c)) =>
        {
            return Err(("contact_name".into(), "a contact needs a name".into()));
        }
        None => None,
    };
    let custom = fields
        .iter()
        .filter_map(|(column, value)| {
            column
                .strip_prefix(CUSTOM_PREFIX)
                .map(|field| (field.to_owned(), (*value).to_owned()))
        })
        .collect();
    Ok(NewAccount {
        name: text("name").unwrap_or_default(),
        owner: text("owner").unwrap_or_default(),
        kind: parse(fields, "kind")?.unwrap_or(Kind::Customer),
        region: text("region"),
        industry: text("industry"),
        size: text("size"),
        source: parse(fields, "source")?,
        first_contact,
        level: parse(fields, "level")?,
        priority: parse(fields, "priority")?,
        contact,
        custom,
    })
}

/// Runs the record rules on the account the row would create.
fn validate(new: NewAccount, now: DateTime<Utc>) -> Result<NewAccount, FieldError> {
    let doc = account::preview(&new, now);
    rules::check(None, &doc).map_err(|e| {
        // Entry ids are random; a row has at most one contact, so name its columns instead.
        let field = e
            .field
            .split('/')
            .next_back()
            .map_or(e.field.clone(), |last| {
                if e.field.starts_with("contacts/") {
                    format!("contact_{last}")
                } else {
                    e.field.clone()
                }
            });
        (field.replace("custom/", CUSTOM_PREFIX), e.reason)
    })?;
    Ok(new)
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
        rows: checked.rows.len() + checked.errors.len() + checked.duplicates.len(),
        importable: checked.rows.len(),
        duplicates: checked.duplicates,
        errors: checked.errors,
        dry_run,
        created: 0,
    };
    if dry_run || !report.errors.is_empty() {
        return Ok(report);
    }
    let accounts: Vec<NewAccount> = checked.rows.into_iter().map(|(_, new)| new).collect();
    report.created = store
        .create_accounts(&accounts, now, IMPORT_BATCH, progress)?
        .len();
    Ok(report)
}

/// Writes every account as CSV, in the template's columns plus `code` and `id` and one
/// `custom.<name>` column per admin-defined field in use. The first contact (by name) fills
/// the contact columns.
pub fn export(store: &Store, output: impl Write) -> Result<usize, CsvError> {
    let summaries: Vec<AccountSummary> = store.accounts()?;
    let mut records = Vec::with_capacity(summaries.len());
    let mut custom_fields = BTreeSet::new();
    for summary in &summaries {
        let account = store.account(summary.id)?;
        custom_fields.extend(account.record.custom.keys().cloned());
        records.push((summary.id, account.record));
    }
    let mut writer = csv::Writer::from_writer(output);
    let header: Vec<String> = COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(custom_fields.iter().map(|f| format!("{CUSTOM_PREFIX}{f}")))
        .chain(["code".to_owned(), "id".to_owned()])
        .collect();
    writer.write_record(&header)?;
    for (id, doc) in &records {
        let contact = doc.contacts.values().min_by(|a, b| a.name.cmp(&b.name));
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let text = |v: Option<String>| v.unwrap_or_default();
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
        ];
        row.extend(
            custom_fields
                .iter()
                .map(|f| doc.custom.get(f).cloned().unwrap_or_default()),
        );
        row.push(opt(&doc.code));
        row.push(DocId::to_string(id));
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(records.len())
}
