//! The record rules a sales team works by, checked on the device before anything is written.
//!
//! [`check`] compares an account before and after an edit and checks what changed, so a rule
//! added in a later version never locks a rep out of an older record. Every failure names
//! the field (a path such as `opportunities/3f2a…/probability`) and nothing is written.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, Utc};

use crate::model::{AccountDoc, Contact, Kind, Money, Needs, Opportunity, Stage, Status};

/// The longest free text any field takes.
pub const MAX_TEXT: usize = 2_000;

/// A field value that breaks a record rule; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The probability range of a stage, in percent.
pub fn stage_range(stage: &Stage) -> Option<RangeInclusive<u8>> {
    Some(match stage {
        Stage::Potential => 10..=30,
        Stage::NeedsConfirmed => 30..=50,
        Stage::SolutionAccepted => 50..=80,
        Stage::Negotiation => 80..=95,
        Stage::Won => 100..=100,
        Stage::Lost => 0..=0,
        Stage::Other(_) => return None,
    })
}

/// The probability an opportunity takes when it enters a stage and none is given.
pub fn default_probability(stage: &Stage) -> u8 {
    match stage {
        Stage::Potential => 20,
        Stage::NeedsConfirmed => 40,
        Stage::SolutionAccepted => 65,
        Stage::Negotiation => 90,
        Stage::Won => 100,
        Stage::Lost | Stage::Other(_) => 0,
    }
}

/// How far past `now` a follow-up may be dated: clocks differ by a little, and a rep who
/// logs a call as it ends may type the minute it ends. Anything later is a typing mistake (a
/// follow-up records what happened; what will happen is a plan).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);

/// Checks the times of what `after` changed relative to `before` as of `now` (the device's
/// clock when the rep edits, the server's receive time for a push, so an edit made offline
/// and synced later is in the past either way): no follow-up dated more than
/// [`FUTURE_TOLERANCE`] after `now`.
pub fn check_times(
    before: Option<&AccountDoc>,
    after: &AccountDoc,
    now: DateTime<Utc>,
) -> Result<(), InvalidField> {
    for (id, follow_up) in changed_entries(before.map(|b| &b.follow_ups), &after.follow_ups) {
        let at = follow_up.occurred_at.0;
        if at > now + FUTURE_TOLERANCE {
            return Err(invalid(
                format!("follow_ups/{id}/occurred_at"),
                format!(
                    "{} UTC is in the future (now {} UTC); a follow-up records a contact that \
                     happened: plan one to come with `outpost plan` / 跟进记录只能记已发生的联系，\
                     未来的联系请用计划",
                    at.format("%Y-%m-%d %H:%M"),
                    now.format("%Y-%m-%d %H:%M")
                ),
            ));
        }
    }
    Ok(())
}

/// Checks everything `after` changed relative to `before` (all of it for a new account).
pub fn check(before: Option<&AccountDoc>, after: &AccountDoc) -> Result<(), InvalidField> {
    if before.is_none_or(|b| b.name != after.name) {
        text("name", &after.name)?;
    }
    if before.is_none_or(|b| b.owner != after.owner) {
        text("owner", &after.owner)?;
    }
    if before.is_none_or(|b| b.industry != after.industry)
        && let Some(industry) = &after.industry
        && crate::industry::Industry::from_words(industry).map(|i| i.to_string())
            != Some(industry.clone())
    {
        return Err(invalid(
            "industry",
            crate::industry::unknown_industry(industry),
        ));
    }
    for (field, value) in [
        ("region", &after.region),
        ("size", &after.size),
        ("lost_reason", &after.lost_reason),
    ] {
        optional_text(field, value)?;
    }
    if before.is_none_or(|b| {
        (&b.kind, &b.status, &b.lost_reason, b.wake_up_on)
            != (
                &after.kind,
                &after.status,
                &after.lost_reason,
                after.wake_up_on,
            )
    }) {
        lifecycle(after)?;
    }
    if before.is_none_or(|b| b.needs != after.needs) {
        needs(&after.needs)?;
    }
    for (key, value) in &after.custom {
        let well_formed = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(invalid(
                format!("custom/{key}"),
                "field names are 1-64 of a-z, 0-9 and _",
            ));
        }
        optional_text(&format!("custom/{key}"), &Some(value.clone()))?;
    }
    if before.is_none_or(|b| b.notes != after.notes) {
        controls("notes", after.notes.as_str(), Lines::Many)?;
    }
    for (id, comment) in changed_entries(before.map(|b| &b.comments), &after.comments) {
        controls(&format!("comments/{id}/text"), &comment.text, Lines::Many)?;
    }
    for (id, contact) in changed_entries(before.map(|b| &b.contacts), &after.contacts) {
        self::contact(&format!("contacts/{id}"), contact)?;
    }
    for (id, follow_up) in changed_entries(before.map(|b| &b.follow_ups), &after.follow_ups) {
        prose(&format!("follow_ups/{id}/summary"), &follow_up.summary)?;
        optional_text(
            &format!("follow_ups/{id}/next_action"),
            &follow_up.next_action,
        )?;
    }
    for (id, plan) in changed_entries(before.map(|b| &b.plans), &after.plans) {
        text(&format!("plans/{id}/goal"), &plan.goal)?;
        text(&format!("plans/{id}/owner"), &plan.owner)?;
    }
    for (id, opportunity) in changed_entries(before.map(|b| &b.opportunities), &after.opportunities)
    {
        self::opportunity(&format!("opportunities/{id}"), opportunity)?;
    }
    for (id, deal) in changed_entries(before.map(|b| &b.deals), &after.deals) {
        let path = format!("deals/{id}");
        money(&format!("{path}/amount"), &deal.amount)?;
        text(&format!("{path}/products"), &deal.products)?;
        optional_prose(&format!("{path}/notes"), &deal.notes)?;
    }
    for (id, service) in changed_entries(before.map(|b| &b.services), &after.services) {
        let path = format!("services/{id}");
        prose(&format!("{path}/work"), &service.work)?;
        prose(&format!("{path}/result"), &service.result)?;
        if service.satisfaction.is_some_and(|s| !(1..=5).contains(&s)) {
            return Err(invalid(format!("{path}/satisfaction"), "must be 1 to 5"));
        }
    }
    Ok(())
}

fn changed_entries<'a, T: PartialEq>(
    before: Option<&'a BTreeMap<String, T>>,
    after: &'a BTreeMap<String, T>,
) -> impl Iterator<Item = (&'a String, &'a T)> {
    after
        .iter()
        .filter(move |(id, value)| before.and_then(|b| b.get(*id)) != Some(*value))
}

/// Whether a field's text may run over several lines (notes, needs, what was done) or is one
/// line (a name, a phone number, a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

fn text(field: &str, value: &str) -> Result<(), InvalidField> {
    filled(field, value, Lines::One)
}

fn optional_text(field: &str, value: &Option<String>) -> Result<(), InvalidField> {
    value.as_deref().map_or(Ok(()), |v| text(field, v))
}

/// [`text`] of a field that may hold line breaks and tabs.
fn prose(field: &str, value: &str) -> Result<(), InvalidField> {
    filled(field, value, Lines::Many)
}

/// Text that is not blank, at most [`MAX_TEXT`] characters, without control characters.
fn filled(field: &str, value: &str, lines: Lines) -> Result<(), InvalidField> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(invalid(field, format!("longer than {MAX_TEXT} characters")));
    }
    controls(field, value, lines)
}

fn optional_prose(field: &str, value: &Option<String>) -> Result<(), InvalidField> {
    value.as_deref().map_or(Ok(()), |v| prose(field, v))
}

/// Refuses control characters (Unicode's `Cc`: C0, DEL, C1) in text: nobody types them, and
/// a terminal or spreadsheet runs them (`ESC ]0;…` retitles a terminal, `ESC [2J` clears it).
/// A multi-line field keeps line breaks and tabs. Any other character, in any script, is
/// text.
pub fn controls(field: &str, value: &str, lines: Lines) -> Result<(), InvalidField> {
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    match value.chars().find(|c| c.is_control() && !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(invalid(
            field,
            format!(
                "holds the control character U+{:04X}{}; control characters are not text / \
                 不能包含控制字符",
                u32::from(c),
                if lines == Lines::One {
                    " (this field is one line)"
                } else {
                    ""
                }
            ),
        )),
    }
}

fn lifecycle(doc: &AccountDoc) -> Result<(), InvalidField> {
    let allowed: &[Status] = match doc.kind {
        Kind::Lead => &[
            Status::ToFollow,
            Status::Following,
            Status::Dormant,
            Status::Lost,
        ],
        Kind::Customer => &[Status::Potential, Status::Intent, Status::Won, Status::Lost],
        Kind::Other(_) => return Ok(()),
    };
    if !allowed.contains(&doc.status) && !matches!(doc.status, Status::Other(_)) {
        let names: Vec<&str> = allowed.iter().map(Status::as_str).collect();
        return Err(invalid(
            "status",
            format!(
                "a {} is one of {}, not {}",
                doc.kind,
                names.join(", "),
                doc.status
            ),
        ));
    }
    if doc.status == Status::Lost && doc.lost_reason.is_none() {
        return Err(invalid("lost_reason", "a lost account needs a reason"));
    }
    if doc.status == Status::Dormant && doc.wake_up_on.is_none() {
        return Err(invalid("wake_up_on", "a dormant lead needs a wake-up date"));
    }
    Ok(())
}

fn needs(needs: &Needs) -> Result<(), InvalidField> {
    for (field, value) in [
        ("needs/explicit", &needs.explicit),
        ("needs/latent", &needs.latent),
        ("needs/pain_points", &needs.pain_points),
    ] {
        optional_prose(field, value)?;
    }
    if let Some(min) = &needs.budget_min {
        money("needs/budget_min", min)?;
    }
    if let Some(max) = &needs.budget_max {
        money("needs/budget_max", max)?;
    }
    if let (Some(min), Some(max)) = (&needs.budget_min, &needs.budget_max) {
        if min.currency != max.currency {
            return Err(invalid(
                "needs/budget_max",
                "must be in the same currency as the minimum",
            ));
        }
        if min.minor > max.minor {
            return Err(invalid("needs/budget_max", "is below the minimum"));
        }
    }
    if let Some(period) = &needs.purchase_period
        && !is_period(period)
    {
        return Err(invalid(
            "needs/purchase_period",
            format!("`{period}` is not a month (2025-03) or a quarter (2025-Q2)"),
        ));
    }
    Ok(())
}

/// `YYYY-MM` or `YYYY-Qn`.
fn is_period(period: &str) -> bool {
    let Some((year, part)) = period.split_once('-') else {
        return false;
    };
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    let month_ok = part.len() == 2 && part.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m));
    let quarter_ok = matches!(part, "Q1" | "Q2" | "Q3" | "Q4");
    year_ok && (month_ok || quarter_ok)
}

fn money(field: &str, money: &Money) -> Result<(), InvalidField> {
    if money.currency.len() != 3 || !money.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            field,
            format!("`{}` is not a currency code such as EUR", money.currency),
        ));
    }
    if money.minor < 0 {
        return Err(invalid(field, "must not be negative"));
    }
    Ok(())
}

fn opportunity(path: &str, o: &Opportunity) -> Result<(), InvalidField> {
    text(&format!("{path}/name"), &o.name)?;
    text(&format!("{path}/owner"), &o.owner)?;
    if let Some(range) = stage_range(&o.stage)
        && !range.contains(&o.probability)
    {
        return Err(invalid(
            format!("{path}/probability"),
            format!(
                "{} % is outside {}'s {}-{} %",
                o.probability,
                o.stage,
                range.start(),
                range.end()
            ),
        ));
    }
    if let Some(amount) = &o.amount {
        money(&format!("{path}/amount"), amount)?;
    }
    if o.stage == Stage::Won {
        if o.amount.is_none() {
            return Err(invalid(
                format!("{path}/amount"),
                "a won opportunity needs the contract amount",
            ));
        }
        if o.signed_on.is_none() {
            return Err(invalid(
                format!("{path}/signed_on"),
                "a won opportunity needs the signing date",
            ));
        }
    }
    if o.stage == Stage::Lost && o.lost_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(invalid(
            format!("{path}/lost_reason"),
            "a lost opportunity needs a reason",
        ));
    }
    Ok(())
}

fn contact(path: &str, c: &Contact) -> Result<(), InvalidField> {
    text(&format!("{path}/name"), &c.name)?;
    let fields = [
        ("name", Some(&c.name)),
        ("title", c.title.as_ref()),
        ("phone", c.phone.as_ref()),
        ("email", c.email.as_ref()),
    ];
    for (field, value) in fields {
        let Some(value) = value else { continue };
        let field = format!("{path}/{field}");
        text(&field, value)?;
        if looks_like_national_id(value) {
            return Err(invalid(
                field,
                "looks like a national ID number; record only work contact details",
            ));
        }
        if looks_like_home_address(value) {
            return Err(invalid(
                field,
                "looks like a home address; record only work contact details",
            ));
        }
    }
    if let Some(phone) = &c.phone {
        let digits = phone.bytes().filter(u8::is_ascii_digit).count();
        let allowed = phone.bytes().all(|b| {
            b.is_ascii_digit()
                || b" +-()./".contains(&b)
                || b.is_ascii_alphabetic() && b.eq_ignore_ascii_case(&b'x')
        });
        if !allowed || !(6..=15).contains(&digits) {
            return Err(invalid(
                format!("{path}/phone"),
                format!("`{phone}` is not a phone number"),
            ));
        }
    }
    if let Some(email) = &c.email {
        let valid = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        });
        if !valid {
            return Err(invalid(
                format!("{path}/email"),
                format!("`{email}` is not an email address"),
            ));
        }
    }
    Ok(())
}

/// An 18-character PRC resident ID (17 digits and a digit or X) or a US social security
/// number (`123-45-6789`), anywhere in the text.
fn looks_like_national_id(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let is_digit = |c: &char| c.is_ascii_digit();
    let ssn = chars.windows(11).any(|w| {
        w.iter().enumerate().all(|(i, c)| {
            if i == 3 || i == 6 {
                *c == '-'
            } else {
                is_digit(c)
            }
        })
    });
    let mut run = 0;
    let mut longest = 0;
    let mut prc = false;
    for c in &chars {
        if is_digit(c) {
            run += 1;
        } else {
            if run == 17 && (*c == 'X' || *c == 'x') {
                prc = true;
            }
            run = 0;
        }
        longest = longest.max(run);
    }
    ssn || prc || longest == 18
}

/// Words that mark a private residence rather than a workplace.
fn looks_like_home_address(value: &str) -> bool {
    let lower = value.to_lowercase();
    [
        "home address",
        "home addr",
        "residence",
        "lives at",
        "住址",
        "家庭地址",
        "家庭住址",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}
