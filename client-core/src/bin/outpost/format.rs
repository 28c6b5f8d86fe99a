//! Writing to the terminal: lines on stdout that survive a closed pipe, tables, short ids and
//! JSON.

use std::borrow::Cow;
use std::sync::OnceLock;

use anyhow::Result;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use outpost_client::industry::Industry;
use outpost_client::model::{self, Lang};
use outpost_client::text;
use outpost_protocol::DocId;
use serde::Serialize;

/// Prints a line on stdout like `println!`, but ends the command quietly when the reader has
/// gone (`outpost list | head -3`) instead of panicking. Control characters in it are shown
/// escaped ([`visible_lines`]).
macro_rules! out {
    () => {
        $crate::format::emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::format::emit(format_args!($($arg)*))
    };
}

/// Prints a line on stderr like `eprintln!`, with control characters escaped.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::format::emit_err(format_args!($($arg)*))
    };
}

pub(crate) fn emit(line: std::fmt::Arguments<'_>) {
    write_stdout(&visible_lines(&line.to_string()));
}

/// Writes a line to stdout as it is; for JSON, which escapes on its own terms.
fn write_stdout(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("{}", t!("cannot-write-stdout", error = e.to_string()));
        std::process::exit(1);
    }
}

pub(crate) fn emit_err(line: std::fmt::Arguments<'_>) {
    eprintln!("{}", visible_lines(&line.to_string()));
}

/// Whether a character must not reach the terminal as it is: C0 and C1 controls, ESC and
/// DEL (`char::is_control`), and the bidirectional overrides and isolates, which reorder
/// what follows them on the screen (a name could make `10 EUR` read `RUE 01`).
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character written visibly as `\u{1b}`, so stored text (an
/// account named `\x1b]0;pwned\x07`) cannot retitle, clear or redraw the terminal. Newlines
/// and tabs are escaped too: this is for one-line values such as names and table cells.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    escape(text, hidden)
}

/// [`visible`] for text of several lines (notes, a whole printed line): newlines and tabs
/// are kept, as they are meant there.
pub(crate) fn visible_lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| hidden(c) && c != '\n' && c != '\t')
}

fn escape(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            shown.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
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
/// Cells are escaped ([`visible`]) first, so widths count what the terminal shows.
pub(crate) fn table(headers: Option<&[String]>, rows: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if let Some(headers) = headers {
        all.push(headers.to_vec());
    }
    all.extend(rows.into_iter().map(|row| {
        row.into_iter()
            .map(|cell| visible(&cell).into_owned())
            .collect()
    }));
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
/// that is set): `zh_CN.UTF-8` gives Chinese, anything else English. Read once, so every
/// line of a command is in one language.
pub(crate) fn lang() -> Lang {
    static LANG: OnceLock<Lang> = OnceLock::new();
    *LANG.get_or_init(|| {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .map_or(Lang::En, |locale| Lang::from_locale(&locale))
    })
}

/// A stored enumeration value (a status, a kind, a priority read from a summary) as the rep
/// reads it: its label in their language, or the stored text when this version does not
/// know it.
pub(crate) fn label<T: std::str::FromStr + Labelled>(stored: &str) -> String {
    match stored.parse::<T>() {
        Ok(value) => value.label_in(lang()),
        Err(_) => stored.to_owned(),
    }
}

/// The enumerations that have a label per language.
pub(crate) trait Labelled {
    fn label_in(&self, lang: Lang) -> String;
}

macro_rules! labelled {
    ($($ty:ty),*) => {$(
        impl Labelled for $ty {
            fn label_in(&self, lang: Lang) -> String {
                self.label(lang).into_owned()
            }
        }
    )*};
}
labelled!(
    model::Kind,
    model::Status,
    model::Stage,
    model::ContactMethod,
    model::Role,
    model::Attitude,
    model::Level,
    model::Priority,
    model::Source,
    model::Payment
);

/// An enumeration value in the rep's language.
pub(crate) fn say(value: &impl Labelled) -> String {
    value.label_in(lang())
}

/// An industry as a person reads it: its code and label (`C 制造业`); text that is not a
/// classified industry (written by an older version) as it is.
pub(crate) fn industry(stored: &str) -> String {
    match Industry::from_words(stored) {
        Some(industry) => format!("{industry} {}", industry.label(lang())),
        None => stored.to_owned(),
    }
}

/// Prints JSON for scripts: valid JSON, holding the stored values, yet safe on a terminal.
/// serde_json escapes C0 controls itself; DEL, C1 and the bidi controls it leaves raw are
/// written as JSON `\uXXXX` escapes here, which read back as the same strings.
pub(crate) fn print_json(value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if hidden(c) && c != '\n' {
            // Every such character is in the Basic Multilingual Plane: one \uXXXX.
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            escaped.push(c);
        }
    }
    write_stdout(&escaped);
    Ok(())
}

/// `text` padded with spaces to `width` terminal columns (a CJK character takes two).
pub(crate) fn pad(text: &str, width: usize) -> String {
    let shown = visible(text);
    let fill = width.saturating_sub(text::width(&shown));
    format!("{shown}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped_and_tables_count_the_escaped_form() {
        let name = "\u{1b}]0;pwned\u{7}Evil\u{1b}[2J\u{9b}\u{7f}\u{202e}RUE 01\u{2066}";
        assert_eq!(
            visible(name),
            "\\u{1b}]0;pwned\\u{7}Evil\\u{1b}[2J\\u{9b}\\u{7f}\\u{202e}RUE 01\\u{2066}"
        );
        assert_eq!(visible("a\tb\nc"), "a\\u{9}b\\u{a}c");
        assert_eq!(visible_lines("a\tb\nc\u{1b}"), "a\tb\nc\\u{1b}");
        assert!(matches!(visible("华强 café"), Cow::Borrowed(_)));
        let lines = table(
            Some(&["NAME".to_owned(), "OWNER".to_owned()]),
            vec![
                vec!["\u{1b}[2J".to_owned(), "ana".to_owned()],
                vec!["华强".to_owned(), "ben".to_owned()],
            ],
        );
        assert_eq!(
            lines,
            ["NAME       OWNER", "\\u{1b}[2J  ana", "华强       ben"]
        );
    }
}
