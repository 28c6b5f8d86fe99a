//! Readable record codes (`IT2024-007-K7Q2MX`, `EXPO-20240315-001-K7Q2MX`) that many devices
//! mint offline without ever handing out the same one twice.
//!
//! A code is a label for people: the record's identity stays its opaque [`DocId`]. The code
//! says what the sales sheets always said (industry or source, when, which one) and adds the
//! tag of the device that minted it, which is what keeps offline devices apart.
//!
//! # Format
//! - Customer: `{PREFIX}{YYYY}-{SEQ}-{TAG}`, e.g. `IT2024-007-K7Q2MX`: industry prefix and
//!   year run together as in the sheets' `IT2024001`, then the sequence and the device tag.
//! - Lead: `{PREFIX}-{YYYYMMDD}-{SEQ}-{TAG}`, e.g. `EXPO-20240315-001-K7Q2MX`: the sheets'
//!   `SOURCE-DATE-SEQ`, then the device tag.
//!
//! The parts:
//! - `PREFIX`: 2 to 6 uppercase ASCII letters, from the industry or source text (below).
//! - `YYYY`, `YYYYMMDD`: the year, or the calendar date, in years 0 to 9999.
//! - `SEQ`: the device's sequence number in decimal, zero-padded to 3 digits; past 999 it
//!   simply grows (`1000`, `65536`, up to `u32::MAX`). Only the padding may be a zero in
//!   front, so every number has exactly one spelling.
//! - `TAG`: 6 characters of Crockford base32 (`0-9`, `A-Z` without `I`, `L`, `O`, `U`): the
//!   [`device_tag`] of the minting device.
//!
//! The two kinds never look alike: a customer code has three dash-separated parts, a lead
//! code four. [`Code`]'s `Display` is this canonical form; parsing also accepts what a person
//! types back from paper: any letter case, and in the tag Crockford's look-alikes (`O` for
//! `0`, `I` and `L` for `1`).
//!
//! # Prefixes
//! The prefix is readable decoration, not part of what makes a code unique. An industry of
//! the national classification gives its section's abbreviation
//! ([`crate::industry::Section::abbreviation`]: `I` → `IT`, `C` → `MF`). From free text:
//! 1. If the text is a classification path (`Manufacturing / New-energy vehicles`), only its
//!    first level counts.
//! 2. Words are the runs of letters and digits; punctuation and spaces separate them. A word
//!    with any non-ASCII character is skipped (there is no faithful transliteration without
//!    a table), digits are dropped, and the connectives `and`, `or`, `of`, `the`, `for` are
//!    skipped while other words remain.
//! 3. Several words give their initials, at most 6 (`Information Technology` → `IT`,
//!    `Food & Beverage` → `FB`); one word gives its first 4 letters (`Expo` → `EXPO`,
//!    `Manufacturing` → `MANU`).
//! 4. Fewer than 2 letters (no text, a single letter, only non-ASCII words such as `制造业`)
//!    falls back to [`CUSTOMER_FALLBACK`] (`CU`) or [`LEAD_FALLBACK`] (`LD`).
//!
//! # Why codes never collide
//! The caller passes the device's next sequence number and persists the counter; one counter
//! per device for each kind of record is enough. Two codes minted by the same device differ
//! in their sequence (or in prefix or period, if the caller keeps a counter per prefix and
//! period). Two codes minted by different devices differ in their tags, unless the two
//! devices' tags are equal.
//!
//! That is the one way codes can repeat, and it is a matter of odds: a tag is 30 bits of a
//! hash of the 128-bit random device id, so among `n` devices some two share a tag with
//! probability about `n² / 2³¹`: 1 in 217,000 for 100 devices, 1 in 2,150 for 1,000, 1 in
//! 22 for 10,000. Even then two codes repeat only if the two devices also mint the same
//! prefix, period and sequence. A shared tag is visible before it does harm: the server sees
//! every device id when a device registers, so it can compute [`device_tag`] and flag (or
//! refuse) a device whose tag another device already holds.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use outpost_protocol::DeviceId;
#[cfg(doc)]
use outpost_protocol::DocId;

/// The customer prefix when the industry gives fewer than 2 usable letters.
pub const CUSTOMER_FALLBACK: &str = "CU";

/// The lead prefix when the source gives fewer than 2 usable letters.
pub const LEAD_FALLBACK: &str = "LD";

/// Characters in a device tag.
pub const TAG_LEN: usize = 6;

const PREFIX_LEN: std::ops::RangeInclusive<usize> = 2..=6;
const SINGLE_WORD_LEN: usize = 4;
const SEQ_WIDTH: usize = 3;
const CONNECTIVES: [&str; 5] = ["and", "or", "of", "the", "for"];
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A readable record code in canonical form (see the [module docs](self) for the format).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

/// Which record a code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    Customer,
    Lead,
}

/// A string that is not a well-formed code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid code: {problem}")]
pub struct ParseCodeError {
    input: String,
    problem: CodeProblem,
}

impl ParseCodeError {
    /// What is wrong with the input.
    pub fn problem(&self) -> &CodeProblem {
        &self.problem
    }
}

/// What is wrong with a string that should be a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeProblem {
    #[error(
        "expected `PREFIXYYYY-SEQ-TAG` (customer) or `PREFIX-YYYYMMDD-SEQ-TAG` (lead), \
         e.g. `IT2024-007-K7Q2MX`"
    )]
    Shape,
    #[error("prefix `{0}` is not 2 to 6 letters A-Z")]
    Prefix(String),
    #[error("year `{0}` is not 4 digits")]
    Year(String),
    #[error("date `{0}` is not a calendar date written YYYYMMDD")]
    Date(String),
    #[error(
        "sequence `{0}` is not a number of at least 3 digits, zero-padded only to 3, \
         at most 4294967295"
    )]
    Sequence(String),
    #[error("device tag `{0}` is not 6 Crockford base32 characters")]
    Tag(String),
}

/// The code of a customer: industry prefix and year, the device's sequence number, its tag.
///
/// # Panics
/// If `year` is outside 0 to 9999, which the format cannot write in 4 digits.
pub fn customer_code(industry: Option<&str>, year: i32, seq: u32, device: DeviceId) -> Code {
    assert!(
        (0..=9999).contains(&year),
        "customer code year {year} is outside 0 to 9999"
    );
    let classified = industry.and_then(crate::industry::Industry::from_words);
    let prefix = match classified {
        Some(industry) => industry.section().abbreviation.to_owned(),
        None => prefix(industry.unwrap_or(""), CUSTOMER_FALLBACK),
    };
    Code(format!(
        "{prefix}{year:04}-{seq:0SEQ_WIDTH$}-{}",
        device_tag(device)
    ))
}

/// The code of a lead: source prefix, date, the device's sequence number, its tag.
///
/// # Panics
/// If `date` falls outside the years 0 to 9999, which the format cannot write in 8 digits.
pub fn lead_code(source: &str, date: NaiveDate, seq: u32, device: DeviceId) -> Code {
    let year = date.year();
    assert!(
        (0..=9999).contains(&year),
        "lead code date {date} is outside the years 0 to 9999"
    );
    let prefix = prefix(source, LEAD_FALLBACK);
    Code(format!(
        "{prefix}-{year:04}{:02}{:02}-{seq:0SEQ_WIDTH$}-{}",
        date.month(),
        date.day(),
        device_tag(device)
    ))
}

/// The device's 6-character tag: 30 bits of a fixed hash of its id, in Crockford base32.
///
/// The hash is SplitMix64's finaliser over the id's high half, XOR the low half, finalised
/// again; the tag is the top 30 bits. Hashing rather than taking raw bits makes tags as good
/// as random even for ids that are not (sequential ids in tests, ids with a fixed field).
/// Minted codes carry the tag, so this function must never change.
pub fn device_tag(device: DeviceId) -> String {
    let id = device.as_u128();
    let high = (id >> 64) as u64;
    let low = id as u64;
    let bits = splitmix64_finalise(splitmix64_finalise(high) ^ low) >> (64 - 5 * TAG_LEN);
    (0..TAG_LEN)
        .rev()
        .map(|i| char::from(CROCKFORD[((bits >> (5 * i)) & 0x1f) as usize]))
        .collect()
}

impl Code {
    /// The canonical text of the code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code names a customer or a lead.
    pub fn kind(&self) -> CodeKind {
        if self.0.split('-').count() == 3 {
            CodeKind::Customer
        } else {
            CodeKind::Lead
        }
    }

    /// The device's sequence number the code was minted with.
    pub fn seq(&self) -> u32 {
        let seq = self
            .0
            .rsplit('-')
            .nth(1)
            .expect("a code has a sequence part");
        seq.parse().expect("a code's sequence fits a u32")
    }

    /// The tag of the device that minted the code.
    pub fn tag(&self) -> &str {
        &self.0[self.0.len() - TAG_LEN..]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Code {
    type Err = ParseCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        canonical(s).map(Code).map_err(|problem| ParseCodeError {
            input: s.to_owned(),
            problem,
        })
    }
}

/// Checks every part of a typed code and returns its canonical spelling.
fn canonical(input: &str) -> Result<String, CodeProblem> {
    let upper = input.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('-').collect();
    let (head, seq, tag) = match parts[..] {
        [prefix_year, seq, tag] => {
            let digits_at = prefix_year
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(prefix_year.len());
            let (prefix, year) = prefix_year.split_at(digits_at);
            check_prefix(prefix)?;
            if year.len() != 4 || !all_digits(year) {
                return Err(CodeProblem::Year(year.to_owned()));
            }
            (prefix_year.to_owned(), seq, tag)
        }
        [prefix, date, seq, tag] => {
            check_prefix(prefix)?;
            if date.len() != 8 || !all_digits(date) || calendar_date(date).is_none() {
                return Err(CodeProblem::Date(date.to_owned()));
            }
            (format!("{prefix}-{date}"), seq, tag)
        }
        _ => return Err(CodeProblem::Shape),
    };
    let canonical_seq = seq.len() == SEQ_WIDTH || !seq.starts_with('0');
    if seq.len() < SEQ_WIDTH || !all_digits(seq) || !canonical_seq || seq.parse::<u32>().is_err() {
        return Err(CodeProblem::Sequence(seq.to_owned()));
    }
    let tag = canonical_tag(tag).ok_or_else(|| CodeProblem::Tag(tag.to_owned()))?;
    Ok(format!("{head}-{seq}-{tag}"))
}

fn check_prefix(prefix: &str) -> Result<(), CodeProblem> {
    if PREFIX_LEN.contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(CodeProblem::Prefix(prefix.to_owned()))
    }
}

/// The date an 8-digit `YYYYMMDD` names, if it is one.
fn calendar_date(digits: &str) -> Option<NaiveDate> {
    let number = |range: std::ops::Range<usize>| digits[range].parse().ok();
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(4..6)?, number(6..8)?)
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// The tag with Crockford's look-alikes replaced, or `None` if it is not a tag.
fn canonical_tag(tag: &str) -> Option<String> {
    if tag.len() != TAG_LEN {
        return None;
    }
    tag.chars()
        .map(|c| match c {
            'O' => Some('0'),
            'I' | 'L' => Some('1'),
            c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The 2–6 letter prefix for free text, following the rules in the module docs.
fn prefix(text: &str, fallback: &str) -> String {
    let first_level = text.split('/').find(|level| !level.trim().is_empty());
    let words: Vec<String> = first_level
        .unwrap_or("")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.is_ascii())
        .map(|word| {
            word.chars()
                .filter(char::is_ascii_alphabetic)
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect();
    let is_connective = |word: &String| CONNECTIVES.iter().any(|c| c.eq_ignore_ascii_case(word));
    let content: Vec<&String> = if words.iter().all(is_connective) {
        words.iter().collect()
    } else {
        words.iter().filter(|word| !is_connective(word)).collect()
    };
    let prefix: String = match content[..] {
        [] => String::new(),
        [word] => word.chars().take(SINGLE_WORD_LEN).collect(),
        _ => content
            .iter()
            .filter_map(|word| word.chars().next())
            .take(*PREFIX_LEN.end())
            .collect(),
    };
    if prefix.len() < *PREFIX_LEN.start() {
        fallback.to_owned()
    } else {
        prefix
    }
}

/// SplitMix64's output function: a fixed bijection of `u64` that spreads every input bit.
fn splitmix64_finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
