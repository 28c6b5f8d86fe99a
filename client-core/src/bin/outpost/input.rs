//! Reading what a rep types: times, days, amounts, currencies, custom fields, and the short
//! ids of contacts, plans and opportunities.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use outpost_client::facts::{DUE_TIME, from_local};
use outpost_client::model::Day;

/// A time as typed: an exact instant (RFC 3339, with its offset) or a wall-clock time, read
/// in the rep's time zone once it is known ([`TypedTime::at`]); clap parses the arguments
/// before `--tz` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedTime {
    Exact(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl TypedTime {
    /// The instant it names in `tz`.
    pub(crate) fn at(self, tz: Tz) -> DateTime<Utc> {
        match self {
            TypedTime::Exact(t) => t,
            TypedTime::Local(local) => from_local(local, tz),
        }
    }
}

/// Reads `--at`: "YYYY-MM-DD HH:MM" in the rep's time zone, or RFC 3339.
pub(crate) fn parse_time(text: &str) -> Result<TypedTime, String> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| TypedTime::Exact(t.with_timezone(&Utc)))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map(TypedTime::Local))
        .map_err(|_| t!("parse-time"))
}

/// Reads `--due`: a time as [`parse_time`] reads it, or a day (09:00 local time).
pub(crate) fn parse_due(text: &str) -> Result<TypedTime, String> {
    parse_time(text).or_else(
        |e| match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
            Ok(day) => Ok(TypedTime::Local(day.and_time(DUE_TIME))),
            Err(_) => Err(t!("parse-due", time = e)),
        },
    )
}

/// Reads `--tz`: an IANA time-zone name such as Asia/Shanghai.
pub(crate) fn parse_zone(text: &str) -> Result<Tz, String> {
    outpost_client::facts::zone(text).map_err(|e| t!("error-unknown-zone", zone = e.0))
}

/// Reads a day, `YYYY-MM-DD`.
pub(crate) fn parse_day(text: &str) -> Result<Day, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Day)
        .map_err(|_| t!("parse-day", text = text))
}

/// Reads an amount typed as decimal text (`1234`, `1234.5`, `1234.56`) into integer minor
/// units, exactly: the digits are read as text, never through a float.
pub(crate) fn parse_amount(text: &str) -> Result<i64, String> {
    let typed = text.trim();
    let (whole, fraction) = typed.split_once('.').unwrap_or((typed, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed =
        !whole.is_empty() && digits(whole) && digits(fraction) && !(typed.ends_with('.'));
    if !well_formed {
        return Err(t!("parse-amount", text = text));
    }
    if fraction.len() > 2 {
        return Err(t!("parse-amount-decimals", text = text));
    }
    let cents: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| t!("parse-amount-short", text = text))?;
    whole
        .parse::<i64>()
        .ok()
        .and_then(|units| units.checked_mul(100))
        .and_then(|minor| minor.checked_add(cents))
        .ok_or_else(|| t!("parse-amount-large", text = text))
}

/// Reads a currency code; `eur` is taken as `EUR`.
pub(crate) fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(t!("parse-currency", text = text))
    }
}

/// Reads `FIELD=VALUE` for a custom field; an empty value removes the field.
pub(crate) fn parse_custom(text: &str) -> Result<(String, Option<String>), String> {
    let (field, value) = text
        .split_once('=')
        .ok_or_else(|| t!("parse-custom", text = text))?;
    let field = field.trim();
    if field.is_empty() {
        return Err(t!("parse-custom-no-name", text = text));
    }
    Ok((
        field.to_owned(),
        (!value.is_empty()).then(|| value.to_owned()),
    ))
}

/// What an entry id names inside an account.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry {
    Contact,
    Plan,
    Opportunity,
}

impl Entry {
    /// Its word in the rep's language.
    fn word(self) -> String {
        match self {
            Entry::Contact => t!("entry-contact"),
            Entry::Plan => t!("entry-plan"),
            Entry::Opportunity => t!("entry-opportunity"),
        }
    }
}

/// The full id of the contact, plan or opportunity (`field`) that `typed` names: the id
/// itself, or its first few characters (at least 4) if only one id starts with them.
pub(crate) fn entry_id<T>(
    entries: &BTreeMap<String, T>,
    field: Entry,
    typed: &str,
) -> Result<String> {
    let field = field.word();
    let typed = typed.trim().to_lowercase();
    if entries.contains_key(&typed) {
        return Ok(typed);
    }
    let matching: Vec<&String> = entries.keys().filter(|k| k.starts_with(&typed)).collect();
    match matching.as_slice() {
        [] => bail!(t!("entry-none", entry = &field, typed = &typed)),
        _ if typed.len() < 4 => {
            bail!(t!("entry-too-short", entry = &field, typed = &typed))
        }
        [one] => Ok((*one).clone()),
        _ => bail!(t!(
            "entry-ambiguous",
            entry = &field,
            typed = &typed,
            count = matching.len()
        )),
    }
}
