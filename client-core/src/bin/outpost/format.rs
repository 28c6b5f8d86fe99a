//! Writing to the terminal: lines on stdout that survive a closed pipe, tables, short ids and
//! JSON.

use anyhow::Result;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use outpost_client::industry::Industry;
use outpost_client::model::Lang;
use outpost_client::text;
use outpost_protocol::DocId;
use serde::Serialize;

/// Prints a line on stdout like `println!`, but ends the command quietly when the reader has
/// gone (`outpost list | head -3`) instead of panicking.
macro_rules! out {
    () => {
        $crate::format::emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::format::emit(format_args!($($arg)*))
    };
}

pub(crate) fn emit(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// The first 8 hex digits of an id: enough to tell a rep's accounts apart, and to type.
pub(crate) fn short(id: DocId) -> String {
    id.to_string()[..8].to_owned()
}

/// The first 8 characters of a contact, plan or opportunity id.
pub(crate) fn short_entry(id: &str) -> String {
    id.chars().take(8).collect()
}

pub(crate) fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// The rep's time zone, set once in `main` (from `--tz`, `OUTPOST_TZ` or the system) before
/// any command runs, as the clock is read once there; everything printed is in it.
static ZONE: OnceLock<Tz> = OnceLock::new();

/// Sets the zone times are shown in; the first call wins.
pub(crate) fn set_zone(tz: Tz) {
    let _ = ZONE.set(tz);
}

/// The zone times are shown and typed in (UTC until `main` set it).
pub(crate) fn zone() -> Tz {
    ZONE.get().copied().unwrap_or(Tz::UTC)
}

/// A time as the rep reads it: local, to the minute, with the zone's abbreviation or offset
/// (`2026-11-27 10:00 CST`).
pub(crate) fn minutes(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone())
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// Lines of a table with columns padded to their widest cell (the last column is not padded).
pub(crate) fn table(headers: Option<&[&str]>, rows: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if let Some(headers) = headers {
        all.push(headers.iter().map(|h| (*h).to_owned()).collect());
    }
    all.extend(rows);
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            all.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| text::width(cell))
                .max()
                .unwrap_or(0)
        })
        .collect();
    all.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c + 1 == row.len() {
                        cell.clone()
                    } else {
                        // Padded by terminal columns: a CJK character takes two.
                        let pad = widths[c].saturating_sub(text::width(cell));
                        format!("{cell}{}", " ".repeat(pad))
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// The language the rep reads, from the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`, the first
/// that is set): `zh_CN.UTF-8` gives Chinese, anything else English.
pub(crate) fn lang() -> Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map_or(Lang::En, |locale| Lang::from_locale(&locale))
}

/// An industry as a person reads it: its code and label (`C 制造业`); text that is not a
/// classified industry (written by an older version) as it is.
pub(crate) fn industry(stored: &str) -> String {
    match Industry::from_words(stored) {
        Some(industry) => format!("{industry} {}", industry.label(lang())),
        None => stored.to_owned(),
    }
}

pub(crate) fn print_json(value: &impl Serialize) -> Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
