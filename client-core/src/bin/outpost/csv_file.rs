//! Accounts in and out as CSV or Excel workbooks: the template in the rep's language, import
//! (any encoding Excel saves, `.xlsx`, owners checked against the server on a dry run) with
//! a progress bar, and export.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use outpost_client::Store;
use outpost_client::csv_io;
use outpost_client::model::Lang;

use crate::args::{ExportArgs, ImportArgs, SheetFormat, TemplateArgs};
use crate::format::{lang, print_json};
use crate::sync::Remote;

/// The format a file is written in: as asked, else `.xlsx` by its name, else CSV.
fn format_of(asked: Option<SheetFormat>, path: Option<&Path>) -> SheetFormat {
    asked.unwrap_or_else(|| {
        let xlsx = path
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        if xlsx {
            SheetFormat::Xlsx
        } else {
            SheetFormat::Csv
        }
    })
}

/// The import template in the rep's language, on the screen or to a file (CSV with a BOM,
/// or a workbook).
pub(crate) fn template(args: TemplateArgs) -> Result<()> {
    let lang = lang();
    let text = csv_io::template(lang);
    let Some(path) = &args.output else {
        out!("{}", text.trim_end());
        return Ok(());
    };
    let bytes = match format_of(args.format, Some(path)) {
        SheetFormat::Csv => format!("{}{text}", csv_io::BOM).into_bytes(),
        SheetFormat::Xlsx => {
            let table = csv_io::read_csv(text.as_bytes(), None)?;
            let rows: Vec<Vec<String>> = table.rows.into_iter().map(|(_, r)| r).collect();
            let sheet = match lang {
                Lang::Zh => "客户",
                Lang::En => "accounts",
            };
            csv_io::workbook(sheet, &table.header, &rows)?
        }
    };
    std::fs::write(path, bytes)
        .with_context(|| t!("cannot-write", path = path.display().to_string()))?;
    note!(
        "{}",
        t!("template-written", path = path.display().to_string())
    );
    Ok(())
}

/// The logins of the server's active users, or why they could not be had.
fn server_users(store: &Store, remote: &dyn Fn() -> Result<Remote>) -> Result<BTreeSet<String>> {
    if store.credentials()?.is_none() {
        bail!(t!("not-logged-in-short"));
    }
    let remote = remote()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .with_context(|| t!("cannot-start-runtime"))?;
    let people = runtime
        .block_on(remote.client().people(store))
        .with_context(|| t!("server-did-not-answer", server = remote.url()))?;
    Ok(people.into_iter().map(|p| p.login).collect())
}

pub(crate) fn import(
    store: &Store,
    args: ImportArgs,
    remote: &dyn Fn() -> Result<Remote>,
    now: DateTime<Utc>,
) -> Result<()> {
    let file = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).with_context(|| t!("cannot-read", path = &file))?;
    let table = csv_io::read_table(&bytes, args.encoding)
        .with_context(|| t!("cannot-read", path = &file))?;
    // A dry run asks the server who its users are, so an unknown owner shows now and not as a
    // refused sync later; an import on its own stays offline.
    let (users, owners_unchecked) = if args.dry_run {
        match server_users(store, remote) {
            Ok(users) => (Some(users), None),
            Err(e) => (None, Some(crate::i18n::error(&e))),
        }
    } else {
        (None, None)
    };
    let checked = csv_io::check_table(store, &table, &args.map, users.as_ref(), now)?;
    let total = checked.importable();
    let mut bar = ProgressBar::new(total, !args.output.json && !args.dry_run);
    let report = csv_io::import(store, checked, args.dry_run, now, &mut |done| {
        bar.show(done)
    })?;
    bar.finish();
    if args.output.json {
        let mut value = serde_json::to_value(&report)?;
        value["encoding"] = serde_json::to_value(table.encoding)?;
        value["owners_checked"] = serde_json::Value::Bool(users.is_some());
        print_json(&value)?;
    } else {
        if let Some(encoding) = table.encoding
            && encoding != csv_io::Encoding::Utf8
        {
            out!("{}", t!("import-read-as", encoding = encoding.to_string()));
        }
        for e in &report.errors {
            // The reason is the importer's (English, naming the value); the field and the
            // column as the file has it.
            let field = if e.column == e.field {
                e.field.clone()
            } else {
                format!("{} ({})", e.field, e.column)
            };
            out!(
                "{}",
                t!(
                    "import-error",
                    line = e.line,
                    field = field,
                    reason = &e.reason
                )
            );
        }
        for d in &report.duplicates {
            out!(
                "{}",
                t!(
                    "import-duplicate",
                    line = d.line,
                    matches = d.matches.join(", "),
                    name = &d.name
                )
            );
        }
        let imported = if report.dry_run {
            report.importable
        } else {
            report.created
        };
        let summary = t!(
            "import-summary",
            rows = report.rows,
            dry_run = if report.dry_run { "yes" } else { "no" },
            imported = imported,
            duplicates = report.duplicates.len(),
            bad_rows = report.bad_rows,
            errors = report.errors.len()
        );
        if report.errors.is_empty() {
            out!("{summary}");
        } else {
            out!("{summary}{}", t!("import-nothing-imported"));
        }
    }
    if let Some(why) = &owners_unchecked {
        note!("{}", t!("import-owners-unchecked", reason = why));
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        bail!(t!("import-bad-rows", count = report.bad_rows, path = &file))
    }
}

pub(crate) fn export(store: &Store, args: ExportArgs) -> Result<()> {
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| t!("cannot-create", path = path.display().to_string()))?;
            let file = std::io::BufWriter::new(file);
            let count = match format_of(args.format, Some(path)) {
                SheetFormat::Csv => csv_io::export(store, file)?,
                SheetFormat::Xlsx => csv_io::export_workbook(store, file)?,
            };
            note!(
                "{}",
                t!("exported", count = count, path = path.display().to_string())
            );
        }
        None => match format_of(args.format, None) {
            // Text on the screen or in a pipe has no BOM; `-o FILE` writes one for Excel.
            SheetFormat::Csv => {
                csv_io::export_csv(store, std::io::stdout().lock(), false)?;
            }
            SheetFormat::Xlsx => {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    bail!(t!("workbook-not-for-screen"));
                }
                csv_io::export_workbook(store, std::io::stdout().lock())?;
            }
        },
    }
    Ok(())
}
/// A one-line progress bar on stderr, for long imports.
struct ProgressBar {
    total: usize,
    shown: bool,
}

impl ProgressBar {
    fn new(total: usize, shown: bool) -> ProgressBar {
        ProgressBar {
            total,
            shown: shown && total >= 1000,
        }
    }

    fn show(&mut self, done: usize) {
        if self.shown {
            let width = 30;
            let filled = (done * width).checked_div(self.total).unwrap_or(width);
            // Written as it is: `\r` returns to the line's start to redraw the bar.
            eprint!(
                "\r[{}{}] {done}/{}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
        }
    }

    fn finish(&self) {
        if self.shown {
            note!("");
        }
    }
}
