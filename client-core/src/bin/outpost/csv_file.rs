//! Accounts in and out as CSV: the template, import with a progress bar, and export.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use outpost_client::Store;

use crate::args::{ExportArgs, ImportArgs};
use crate::format::print_json;

/// Prints the CSV import template: the columns and one example row.
pub(crate) fn template() {
    out!("{}", outpost_client::csv_io::template().trim_end());
}

pub(crate) fn import(store: &Store, args: ImportArgs, now: DateTime<Utc>) -> Result<()> {
    use outpost_client::csv_io;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let checked = csv_io::check(store, std::io::BufReader::new(file), &args.map, now)?;
    let total = checked.importable();
    let mut bar = ProgressBar::new(total, !args.output.json && !args.dry_run);
    let report = csv_io::import(store, checked, args.dry_run, now, &mut |done| {
        bar.show(done)
    })?;
    bar.finish();
    if args.output.json {
        print_json(&report)?;
    } else {
        for e in &report.errors {
            out!("line {}: {}: {}", e.line, e.field, e.reason);
        }
        for d in &report.duplicates {
            out!(
                "line {}: skipped, looks like {}: {}",
                d.line,
                d.matches.join(", "),
                d.name
            );
        }
        let verb = if report.dry_run {
            "would import"
        } else {
            "imported"
        };
        let imported = if report.dry_run {
            report.importable
        } else {
            report.created
        };
        out!(
            "{} rows: {verb} {imported}, {} duplicate(s) skipped, {} bad row(s){}",
            report.rows,
            report.duplicates.len(),
            report.errors.len(),
            if report.errors.is_empty() {
                ""
            } else {
                "; nothing was imported, fix the rows above"
            }
        );
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} bad row(s) in {}",
            report.errors.len(),
            args.file.display()
        )
    }
}

pub(crate) fn export(store: &Store, args: ExportArgs) -> Result<()> {
    use outpost_client::csv_io;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let count = csv_io::export(store, std::io::BufWriter::new(file))?;
            eprintln!("exported {count} account(s) to {}", path.display());
        }
        None => {
            csv_io::export(store, std::io::stdout().lock())?;
        }
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
            eprintln!();
        }
    }
}
