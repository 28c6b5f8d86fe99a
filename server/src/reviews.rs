//! The weekly review (the process form's last step): a rep submits a week's records, the
//! manager of the rep's team reads what is incomplete, writes an opinion and marks the week
//! reviewed or returns it; reviewed weeks are filed by customer name and first-contact date.
//!
//! What is incomplete is computed here from the stored documents of the rep's accounts with
//! records in the week, never taken from the device. Reviews live in their own table,
//! `reviews` `(rep login, week's Monday as YYYY-MM-DD) → Stored` (postcard), written by short
//! transactions of their own like the directory's.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Json;
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use outpost_client::facts::{LATE_AFTER, local_day, start_of_day, week_of};
use outpost_client::model::{AccountDoc, Lang};
use outpost_client::rules::{Lines, controls, stage_range};
use outpost_protocol::DocId;
use outpost_protocol::api::{
    ArchivedReview, FiledAccount, IncompleteItem, ReviewDecision, ReviewOpinion, ReviewRound,
    ReviewStatus, ReviewSubmission, Role, WeekReview,
};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::directory::{DirectoryError, Principal, shown_name};
use crate::http::AppError;
use crate::storage::{Storage, StorageError};

/// `(rep login, Monday as YYYY-MM-DD) → Stored` (postcard).
pub(crate) const REVIEWS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("reviews");

/// The longest review opinion, in characters (as long as a review comment).
pub const MAX_OPINION_CHARS: usize = 4000;

/// One week's review as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    time_zone: String,
    status: ReviewStatus,
    rounds: Vec<ReviewRound>,
    /// The week's accounts as of the last submission or decision (filed when reviewed).
    accounts: Vec<FiledAccount>,
}

/// Why a review request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("stored review of {rep} for {week} is damaged: {reason}")]
    Corrupt {
        rep: String,
        week: String,
        reason: String,
    },
}

impl From<redb::Error> for ReviewError {
    fn from(e: redb::Error) -> Self {
        ReviewError::Storage(StorageError::Redb(e))
    }
}

macro_rules! redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for ReviewError {
            fn from(e: $ty) -> Self {
                ReviewError::Storage(StorageError::Redb(e.into()))
            }
        }
    )*};
}
redb_errors!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> AppError {
        match e {
            ReviewError::Invalid(m) => AppError::Invalid(m),
            ReviewError::Forbidden(m) => AppError::Forbidden(m),
            ReviewError::NotFound(m) => AppError::NotFound(m),
            ReviewError::Conflict(m) => AppError::Directory(DirectoryError::Conflict(m)),
            ReviewError::Storage(e) => AppError::Storage(e),
            ReviewError::Directory(e) => AppError::Directory(e),
            e @ ReviewError::Corrupt { .. } => {
                tracing::error!(error = %e, "review unreadable");
                AppError::Storage(StorageError::Corrupt {
                    doc: DocId::from_u128(0),
                    reason: "a stored review is damaged".into(),
                })
            }
        }
    }
}

/// The instants a week (Monday `week`) starts and ends in `tz`.
fn week_bounds(week: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = week.checked_add_days(Days::new(7)).unwrap_or(week);
    (start_of_day(week, tz), start_of_day(next, tz))
}

fn in_range(at: DateTime<Utc>, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    start <= at && at < end
}

/// The first `n` characters of `s`, with an ellipsis when cut.
fn excerpt(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// What the records of `doc` touched in the week lack: each follow-up that happened in the
/// week (summary, next action and its date, logged within 24 h), every open plan (an owner)
/// and every opportunity (a probability inside its stage's range). A follow-up's missing
/// next action or date is settled by a plan of the account due after the follow-up, since
/// a plan is a next action with owner and date.
pub fn incomplete(
    id: DocId,
    doc: &AccountDoc,
    week: (DateTime<Utc>, DateTime<Utc>),
    tz: Tz,
) -> Vec<IncompleteItem> {
    let mut items = Vec::new();
    let mut item = |record: String, record_label: String, code: &str, zh: String, en: String| {
        items.push(IncompleteItem {
            account: id,
            account_name: doc.name.clone(),
            record,
            record_label,
            code: code.to_owned(),
            label_zh: zh,
            label_en: en,
        });
    };
    for (fid, f) in &doc.follow_ups {
        let at = f.occurred_at.0;
        if !in_range(at, week) {
            continue;
        }
        let record = format!("follow_ups/{fid}");
        let label = format!(
            "{} {}",
            at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            excerpt(&f.summary, 30)
        );
        let planned = doc
            .plans
            .values()
            .any(|p| p.due.0 >= at && !p.owner.trim().is_empty());
        if f.summary.trim().is_empty() {
            item(
                record.clone(),
                label.clone(),
                "follow_up_no_summary",
                "跟进记录缺少摘要".into(),
                "follow-up without a summary".into(),
            );
        }
        if blank(f.next_action.as_deref()) && !planned {
            item(
                record.clone(),
                label.clone(),
                "follow_up_no_next_action",
                "跟进记录缺少下一步行动".into(),
                "follow-up without a next action".into(),
            );
        } else if f.next_due.is_none() && !planned {
            item(
                record.clone(),
                label.clone(),
                "next_action_no_date",
                "下一步行动缺少日期".into(),
                "next action without a due date".into(),
            );
        }
        if f.recorded_at.0 - at > LATE_AFTER {
            item(
                record,
                label,
                "logged_late",
                "超过24小时才记录".into(),
                "logged more than 24 h after the contact".into(),
            );
        }
    }
    for (pid, p) in &doc.plans {
        if !p.done && p.owner.trim().is_empty() {
            item(
                format!("plans/{pid}"),
                excerpt(&p.goal, 30),
                "next_action_no_owner",
                "下一步行动缺少负责人".into(),
                "next action without an owner".into(),
            );
        }
    }
    for (oid, o) in &doc.opportunities {
        if let Some(range) = stage_range(&o.stage)
            && !range.contains(&o.probability)
        {
            let (lo, hi, p) = (range.start(), range.end(), o.probability);
            item(
                format!("opportunities/{oid}"),
                format!("{} · {}", excerpt(&o.name, 30), o.stage.label(Lang::Zh)),
                "probability_outside_stage",
                format!(
                    "赢单概率 {p}% 不在{}阶段的 {lo}–{hi}% 内",
                    o.stage.label(Lang::Zh)
                ),
                format!(
                    "probability {p} % is outside the {} stage's {lo}–{hi} %",
                    o.stage.label(Lang::En)
                ),
            );
        }
    }
    items
}

/// How an account is filed: `NAME_YYYYMMDD`, by first contact (else the day it was entered).
fn filed(id: DocId, doc: &AccountDoc, tz: Tz) -> FiledAccount {
    let day = doc
        .first_contact
        .map_or_else(|| local_day(doc.created_at.0, tz), |d| d.0);
    FiledAccount {
        account: id,
        name: doc.name.clone(),
        first_contact: doc.first_contact.map(|d| d.0),
        filed_as: format!("{}_{}", doc.name.trim(), day.format("%Y%m%d")),
    }
}

/// The rep's accounts with records in the week: owned by the rep (merged duplicates left
/// out), with a follow-up that happened in it, a plan due in it, or a commit the rep made
/// in it (an opportunity moved, a profile changed).
fn week_accounts(
    storage: &Storage,
    rep: &str,
    week: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(DocId, AccountDoc)>, ReviewError> {
    let tables = storage.read()?;
    let mut out = Vec::new();
    for id in storage.owned_by(rep)? {
        let Some(document) = tables.document(id)? else {
            continue;
        };
        let doc =
            outpost_client::account::hydrate(&document, id).map_err(|e| StorageError::Corrupt {
                doc: id,
                reason: e.to_string(),
            })?;
        if doc.merged_into.is_some() {
            continue;
        }
        let touched = doc
            .follow_ups
            .values()
            .any(|f| in_range(f.occurred_at.0, week))
            || doc.plans.values().any(|p| in_range(p.due.0, week))
            || tables.history(id)?.iter().any(|(_, h)| {
                h.user == rep
                    && DateTime::from_timestamp_millis(h.received_at_ms)
                        .is_some_and(|at| in_range(at, week))
            });
        if touched {
            out.push((id, doc));
        }
    }
    out.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    Ok(out)
}

/// The week's accounts as filed and what they lack now.
fn assess(
    storage: &Storage,
    rep: &str,
    week: NaiveDate,
    tz: Tz,
) -> Result<(Vec<FiledAccount>, Vec<IncompleteItem>), ReviewError> {
    let bounds = week_bounds(week, tz);
    let accounts = week_accounts(storage, rep, bounds)?;
    let items = accounts
        .iter()
        .flat_map(|(id, doc)| incomplete(*id, doc, bounds, tz))
        .collect();
    let filed = accounts
        .iter()
        .map(|(id, doc)| filed(*id, doc, tz))
        .collect();
    Ok((filed, items))
}

fn key(week: NaiveDate) -> String {
    week.format("%Y-%m-%d").to_string()
}

fn decode(rep: &str, week: &str, bytes: &[u8]) -> Result<Stored, ReviewError> {
    postcard::from_bytes(bytes).map_err(|e| ReviewError::Corrupt {
        rep: rep.to_owned(),
        week: week.to_owned(),
        reason: e.to_string(),
    })
}

fn encode(stored: &Stored) -> Vec<u8> {
    postcard::to_allocvec(stored).expect("a review always encodes")
}

fn zone_of(stored: &Stored) -> Tz {
    outpost_client::facts::zone(&stored.time_zone).unwrap_or(Tz::UTC)
}

/// Every stored review, by (rep, week).
fn all(storage: &Storage) -> Result<Vec<(String, NaiveDate, Stored)>, ReviewError> {
    let txn = storage.begin_read()?;
    let table = match txn.open_table(REVIEWS) {
        Ok(table) => table,
        // A store from before reviews that was opened read-only (a backup being checked).
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        let (rep, week) = k.value();
        let day =
            NaiveDate::parse_from_str(week, "%Y-%m-%d").map_err(|e| ReviewError::Corrupt {
                rep: rep.to_owned(),
                week: week.to_owned(),
                reason: e.to_string(),
            })?;
        out.push((rep.to_owned(), day, decode(rep, week, v.value())?));
    }
    Ok(out)
}

/// The API's view of a stored week; `live` items (what is incomplete now) while it waits.
fn view(
    rep: &str,
    team: Option<String>,
    week: NaiveDate,
    stored: Stored,
    names: &HashMap<String, String>,
    live: Option<Vec<IncompleteItem>>,
) -> WeekReview {
    let last = stored.rounds.last();
    let opinion = last.and_then(|r| r.opinion.clone());
    let incomplete = live.unwrap_or_else(|| last.map(|r| r.incomplete.clone()).unwrap_or_default());
    WeekReview {
        rep: rep.to_owned(),
        rep_name: shown_name(names, rep),
        team,
        week,
        time_zone: stored.time_zone.clone(),
        status: stored.status,
        submitted_at: last.map(|r| r.submitted_at).unwrap_or_default(),
        opinion,
        incomplete,
        accounts: stored.accounts,
        rounds: stored.rounds,
    }
}

/// A rep submits (or submits again, after a return) a week's records.
pub fn submit(
    storage: &Storage,
    who: &Principal,
    submission: &ReviewSubmission,
    now: DateTime<Utc>,
) -> Result<(WeekReview, bool), ReviewError> {
    let Some(team) = who.team.clone() else {
        return Err(ReviewError::Forbidden(
            "the weekly review is for reps of a team, and you are in none".into(),
        ));
    };
    let tz = outpost_client::facts::zone(&submission.time_zone)
        .map_err(|e| ReviewError::Invalid(e.to_string()))?;
    let week = submission.week;
    if week_of(week) != week {
        return Err(ReviewError::Invalid(format!(
            "week {week} is not a Monday; give the Monday the week starts on"
        )));
    }
    if week > week_of(local_day(now, tz)) {
        return Err(ReviewError::Invalid(format!(
            "week {week} has not begun yet; submit a week once it has records"
        )));
    }
    let (accounts, items) = assess(storage, &who.login, week, tz)?;
    let names = storage.display_names()?;
    let txn = storage.begin_write()?;
    let (stored, created) = {
        let mut table = txn.open_table(REVIEWS)?;
        let k = key(week);
        let old = table
            .get((who.login.as_str(), k.as_str()))?
            .map(|v| decode(&who.login, &k, v.value()))
            .transpose()?;
        let round = ReviewRound {
            submitted_at: now,
            opinion: None,
            incomplete: Vec::new(),
        };
        let (stored, created) = match old {
            None => (
                Stored {
                    time_zone: tz.name().to_owned(),
                    status: ReviewStatus::Submitted,
                    rounds: vec![round],
                    accounts,
                },
                true,
            ),
            Some(old) if old.status == ReviewStatus::Reviewed => {
                return Err(ReviewError::Conflict(format!(
                    "week {week} was already reviewed; it is filed and cannot be submitted again"
                )));
            }
            Some(mut old) => {
                let created = old.status == ReviewStatus::Returned;
                if created {
                    // A new round: the returned one keeps its opinion.
                    old.rounds.push(round);
                } else if let Some(last) = old.rounds.last_mut() {
                    // Submitted again while waiting: the same round, its time moved.
                    last.submitted_at = now;
                }
                old.status = ReviewStatus::Submitted;
                old.time_zone = tz.name().to_owned();
                old.accounts = accounts;
                (old, created)
            }
        };
        table.insert((who.login.as_str(), k.as_str()), encode(&stored).as_slice())?;
        (stored, created)
    };
    txn.commit()?;
    Ok((
        view(&who.login, Some(team), week, stored, &names, Some(items)),
        created,
    ))
}

/// The caller's own weeks, newest first; those waiting show what is incomplete now.
pub fn mine(storage: &Storage, who: &Principal) -> Result<Vec<WeekReview>, ReviewError> {
    let names = storage.display_names()?;
    let mut out = Vec::new();
    for (rep, week, stored) in all(storage)? {
        if rep != who.login {
            continue;
        }
        let live = match stored.status {
            ReviewStatus::Submitted => Some(assess(storage, &rep, week, zone_of(&stored))?.1),
            _ => None,
        };
        out.push(view(&rep, who.team.clone(), week, stored, &names, live));
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.week));
    Ok(out)
}

/// The team of each rep the caller reviews: reps of the teams they lead (every rep of a
/// team for an admin).
fn reviewed_reps(
    storage: &Storage,
    who: &Principal,
) -> Result<HashMap<String, String>, ReviewError> {
    Ok(storage
        .users()?
        .into_iter()
        .filter_map(|u| {
            let team = u.team?;
            (who.role == Role::Admin || who.leads.contains(&team)).then_some((u.login, team))
        })
        .collect())
}

/// The submitted weeks of the reps the caller reviews, oldest first, with what is
/// incomplete in each now.
pub fn queue(storage: &Storage, who: &Principal) -> Result<Vec<WeekReview>, ReviewError> {
    let reps = reviewed_reps(storage, who)?;
    let names = storage.display_names()?;
    let mut out = Vec::new();
    for (rep, week, stored) in all(storage)? {
        let Some(team) = reps.get(&rep) else {
            continue;
        };
        if stored.status != ReviewStatus::Submitted {
            continue;
        }
        let (accounts, items) = assess(storage, &rep, week, zone_of(&stored))?;
        let mut review = view(&rep, Some(team.clone()), week, stored, &names, Some(items));
        review.accounts = accounts;
        out.push(review);
    }
    out.sort_by(|a, b| (a.submitted_at, &a.rep).cmp(&(b.submitted_at, &b.rep)));
    Ok(out)
}

/// The manager's verdict on a submitted week: the opinion is signed with the reviewer's
/// name and the date, and the incomplete items as they stand are kept with the round.
pub fn decide(
    storage: &Storage,
    who: &Principal,
    rep: &str,
    week: NaiveDate,
    decision: &ReviewDecision,
    now: DateTime<Utc>,
) -> Result<WeekReview, ReviewError> {
    let not_found =
        || ReviewError::NotFound(format!("no submitted week {week} of {rep} to review"));
    let reps = reviewed_reps(storage, who)?;
    let team = reps.get(rep).cloned().ok_or_else(not_found)?;
    if decision.decision == ReviewStatus::Submitted {
        return Err(ReviewError::Invalid(
            "a decision is `reviewed` or `returned`".into(),
        ));
    }
    let text = decision.opinion.as_deref().unwrap_or("").trim().to_owned();
    if decision.decision == ReviewStatus::Returned && text.is_empty() {
        return Err(ReviewError::Invalid(
            "returning a week needs an opinion saying what to fix / 退回需要填写审阅意见".into(),
        ));
    }
    if text.chars().count() > MAX_OPINION_CHARS {
        return Err(ReviewError::Invalid(format!(
            "an opinion has at most {MAX_OPINION_CHARS} characters"
        )));
    }
    controls("opinion", &text, Lines::Many).map_err(|e| ReviewError::Invalid(e.to_string()))?;
    let names = storage.display_names()?;
    let k = key(week);
    let current = {
        let txn = storage.begin_read()?;
        let table = txn.open_table(REVIEWS)?;
        let value = table.get((rep, k.as_str()))?;
        value.map(|v| decode(rep, &k, v.value())).transpose()?
    };
    let current = current.ok_or_else(not_found)?;
    let (accounts, items) = assess(storage, rep, week, zone_of(&current))?;
    let txn = storage.begin_write()?;
    let stored = {
        let mut table = txn.open_table(REVIEWS)?;
        let mut stored = table
            .get((rep, k.as_str()))?
            .map(|v| decode(rep, &k, v.value()))
            .transpose()?
            .ok_or_else(not_found)?;
        if stored.status != ReviewStatus::Submitted {
            return Err(ReviewError::Conflict(format!(
                "week {week} of {rep} is {}, not waiting for review",
                stored.status
            )));
        }
        let opinion = ReviewOpinion {
            decision: decision.decision,
            text,
            reviewer: who.login.clone(),
            reviewer_name: names
                .get(&who.login)
                .cloned()
                .unwrap_or_else(|| who.login.clone()),
            at: now,
        };
        if let Some(round) = stored.rounds.last_mut() {
            round.opinion = Some(opinion);
            round.incomplete = items;
        }
        stored.status = decision.decision;
        stored.accounts = accounts;
        table.insert((rep, k.as_str()), encode(&stored).as_slice())?;
        stored
    };
    txn.commit()?;
    Ok(view(rep, Some(team), week, stored, &names, None))
}

/// The archive's search: part of a customer's name (or of how it is filed), and the day of
/// first contact (`2024-03-15` or `20240315`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub first_contact: Option<String>,
}

fn parse_day(text: &str) -> Result<NaiveDate, ReviewError> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .map_err(|_| {
            ReviewError::Invalid(format!(
                "first_contact `{text}` is not a day such as 2024-03-15 or 20240315"
            ))
        })
}

/// Search text as it compares: NFKC-folded, lower case.
fn folded(s: &str) -> String {
    outpost_client::text::fold(s).to_lowercase()
}

/// The accounts of the reviewed weeks of the reps the caller reviews (their own, for a rep),
/// newest week first, filtered by name and first-contact day.
pub fn archive(
    storage: &Storage,
    who: &Principal,
    query: &ArchiveQuery,
) -> Result<Vec<ArchivedReview>, ReviewError> {
    let day = query.first_contact.as_deref().map(parse_day).transpose()?;
    let needle = query.q.as_deref().map(folded).filter(|q| !q.is_empty());
    let reps = reviewed_reps(storage, who)?;
    let names = storage.display_names()?;
    let mut out = Vec::new();
    for (rep, week, stored) in all(storage)? {
        let mine = who.role == Role::Rep && rep == who.login;
        if stored.status != ReviewStatus::Reviewed || !(mine || reps.contains_key(&rep)) {
            continue;
        }
        let opinion = stored.rounds.last().and_then(|r| r.opinion.clone());
        for account in stored.accounts {
            if day.is_some() && account.first_contact != day {
                continue;
            }
            if let Some(needle) = &needle
                && !folded(&account.name).contains(needle.as_str())
                && !folded(&account.filed_as).contains(needle.as_str())
            {
                continue;
            }
            out.push(ArchivedReview {
                filed: account,
                rep: rep.clone(),
                rep_name: shown_name(&names, &rep),
                week,
                opinion: opinion.clone(),
            });
        }
    }
    out.sort_by(|a, b| {
        (b.week, &a.filed.filed_as, &a.rep).cmp(&(a.week, &b.filed.filed_as, &b.rep))
    });
    Ok(out)
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    op: impl FnOnce(&Storage) -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, AppError> {
    let storage = state.storage.clone();
    Ok(tokio::task::spawn_blocking(move || op(&storage)).await??)
}

fn json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::BadJson(e.to_string()))
}

/// `POST /v1/reviews {"week": "2026-11-30", "time_zone": "Asia/Shanghai"}`: the caller (a
/// rep) submits the week; 201 for a new round, 200 when it was already waiting.
pub(crate) async fn submit_week(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<WeekReview>), AppError> {
    let submission: ReviewSubmission = json(&body)?;
    let login = who.login.clone();
    let (review, created) =
        blocking(&state, move |s| submit(s, &who, &submission, Utc::now())).await?;
    tracing::info!(rep = login, week = %review.week, "week submitted for review");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(review)))
}

/// `GET /v1/reviews`: the caller's own weeks.
pub(crate) async fn my_reviews(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Vec<WeekReview>>, AppError> {
    Ok(Json(blocking(&state, move |s| mine(s, &who)).await?))
}

/// `GET /v1/reviews/queue`: the submitted weeks a manager (or admin) reviews.
pub(crate) async fn review_queue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<WeekReview>>, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    Ok(Json(blocking(&state, move |s| queue(s, &who)).await?))
}

/// `POST /v1/reviews/{rep}/{week}/decision {"decision": "returned", "opinion": "…"}`.
pub(crate) async fn decide_week(
    State(state): State<AppState>,
    caller: Caller,
    Path((rep, week)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<WeekReview>, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let week = NaiveDate::parse_from_str(&week, "%Y-%m-%d")
        .map_err(|_| AppError::NotFound(format!("no week {week} of {rep} to review")))?;
    let decision: ReviewDecision = json(&body)?;
    let by = who.login.clone();
    let review = blocking(&state, move |s| {
        decide(s, &who, &rep, week, &decision, Utc::now())
    })
    .await?;
    tracing::info!(rep = review.rep, week = %review.week, status = %review.status, by, "week decided");
    Ok(Json(review))
}

/// `GET /v1/reviews/archive?q=ABC&first_contact=2024-03-15`: the reviewed weeks' accounts.
pub(crate) async fn review_archive(
    State(state): State<AppState>,
    Caller(who): Caller,
    query: Result<Query<ArchiveQuery>, QueryRejection>,
) -> Result<Json<Vec<ArchivedReview>>, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadQuery(e.body_text()))?;
    Ok(Json(
        blocking(&state, move |s| archive(s, &who, &query)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use outpost_client::model::{At, ContactMethod, Day, FollowUp, Opportunity, Plan, Stage};

    use super::*;

    fn doc() -> AccountDoc {
        let store = outpost_client::Store::in_memory().unwrap();
        let new = outpost_client::NewAccount {
            name: "华强电子".into(),
            owner: "ana".into(),
            ..Default::default()
        };
        let id = store.create_account_anyway(&new, at(1, 0)).unwrap();
        store.account(id).unwrap().record
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn follow_up(d: u32, summary: &str, next: Option<&str>, due: bool) -> FollowUp {
        FollowUp {
            occurred_at: At(at(d, 2)),
            recorded_at: At(at(d, 3)),
            method: ContactMethod::Phone,
            summary: summary.into(),
            logged_by: "dev".into(),
            attitude: None,
            next_action: next.map(Into::into),
            next_due: due.then(|| Day(NaiveDate::from_ymd_opt(2026, 12, 9).unwrap())),
        }
    }

    fn codes(doc: &AccountDoc) -> Vec<String> {
        let week = week_bounds(
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            Tz::Asia__Shanghai,
        );
        incomplete(DocId::from_u128(1), doc, week, Tz::Asia__Shanghai)
            .into_iter()
            .map(|i| format!("{} {}", i.record, i.code))
            .collect()
    }

    #[test]
    fn each_missing_piece_is_named_once_and_a_complete_week_has_none() {
        let mut d = doc();
        d.follow_ups
            .insert("ok".into(), follow_up(1, "报价", Some("回电"), true));
        // Outside the week (the next Monday in Shanghai): not this week's record.
        d.follow_ups
            .insert("later".into(), follow_up(7, "", None, false));
        assert!(codes(&d).is_empty(), "{:?}", codes(&d));

        d.follow_ups
            .insert("a".into(), follow_up(2, " ", None, false));
        d.follow_ups
            .insert("b".into(), follow_up(3, "演示", Some("再约"), false));
        let mut late = follow_up(4, "拜访", Some("报价"), true);
        late.recorded_at = At(at(5, 3));
        d.follow_ups.insert("c".into(), late);
        d.opportunities.insert(
            "o".into(),
            Opportunity {
                name: "设备采购".into(),
                stage: Stage::Potential,
                probability: 45,
                amount: None,
                expected_close: None,
                owner: "ana".into(),
                signed_on: None,
                lost_reason: None,
            },
        );
        d.plans.insert(
            "p".into(),
            Plan {
                due: At(at(1, 1)),
                owner: " ".into(),
                method: ContactMethod::Phone,
                goal: "确认预算".into(),
                done: false,
            },
        );
        assert_eq!(
            codes(&d),
            [
                "follow_ups/a follow_up_no_summary",
                "follow_ups/a follow_up_no_next_action",
                "follow_ups/b next_action_no_date",
                "follow_ups/c logged_late",
                "plans/p next_action_no_owner",
                "opportunities/o probability_outside_stage",
            ]
        );

        // A plan with an owner due after a follow-up is its next action, with owner and date.
        d.plans.insert(
            "q".into(),
            Plan {
                due: At(at(8, 1)),
                owner: "ana".into(),
                method: ContactMethod::Visit,
                goal: "演示".into(),
                done: false,
            },
        );
        assert_eq!(
            codes(&d),
            [
                "follow_ups/a follow_up_no_summary",
                "follow_ups/c logged_late",
                "plans/p next_action_no_owner",
                "opportunities/o probability_outside_stage",
            ]
        );
    }

    #[test]
    fn a_backup_copies_the_reviews() {
        let storage = Storage::in_memory().unwrap();
        let ana = Principal {
            login: "ana".into(),
            role: Role::Rep,
            team: Some("field".into()),
            leads: Vec::new(),
            device: outpost_protocol::DeviceId::from_u128(7),
        };
        let week = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let submission = ReviewSubmission {
            week,
            time_zone: "Asia/Shanghai".into(),
        };
        submit(&storage, &ana, &submission, at(2, 0)).unwrap();
        let copy = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        // Fails with `UnknownTable("reviews")` unless `visit_tables` lists the table.
        crate::storage::copy_store(&storage.begin_read().unwrap(), &copy).unwrap();
        let txn = redb::ReadableDatabase::begin_read(&copy).unwrap();
        let table = txn.open_table(REVIEWS).unwrap();
        assert!(table.get(("ana", "2026-11-30")).unwrap().is_some());
    }

    #[test]
    fn accounts_are_filed_by_name_and_first_contact() {
        let mut d = doc();
        d.first_contact = Some(Day(NaiveDate::from_ymd_opt(2024, 3, 15).unwrap()));
        d.name = "ABC公司".into();
        assert_eq!(
            filed(DocId::from_u128(1), &d, Tz::UTC).filed_as,
            "ABC公司_20240315"
        );
    }
}
