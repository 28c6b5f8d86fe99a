//! The weekly review from the rep's side: submitting a week's records (online only: the
//! device syncs first so the server judges the records it holds), and the weeks with their
//! status and the manager's opinions as `outpost sync` last fetched them (offline too).

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use outpost_client::facts::{local_day, week_of};
use outpost_client::model::Lang;
use outpost_client::{HttpClient, Store};
use outpost_protocol::api::{IncompleteItem, ReviewStatus, WeekReview};

use crate::args::{ReviewArgs, ReviewCommand};
use crate::format::{lang, minutes, print_json, short, visible, zone};
use crate::sync::{Remote, runtime};

pub(crate) fn review(
    store: &Store,
    remote: &dyn Fn() -> Result<Remote>,
    args: ReviewArgs,
    now: DateTime<Utc>,
) -> Result<()> {
    match args.command {
        Some(ReviewCommand::Submit { week, output }) => {
            let day = week.map_or_else(|| local_day(now, zone()), |d| d.0);
            submit(store, &remote()?, week_of(day), output.json)
        }
        None => list(store, args.output.json),
    }
}

/// The week's status in the rep's language.
fn status(status: ReviewStatus) -> String {
    match status {
        ReviewStatus::Submitted => t!("review-status-submitted"),
        ReviewStatus::Returned => t!("review-status-returned"),
        ReviewStatus::Reviewed => t!("review-status-reviewed"),
    }
}

fn item_label(item: &IncompleteItem) -> &str {
    match lang() {
        Lang::Zh => &item.label_zh,
        Lang::En => &item.label_en,
    }
}

fn print_items(items: &[IncompleteItem]) {
    for item in items {
        out!(
            "    {} {}: {} ({})",
            short(item.account),
            visible(&item.account_name),
            item_label(item),
            visible(&item.record_label)
        );
    }
}

fn submit(store: &Store, remote: &Remote, week: NaiveDate, json: bool) -> Result<()> {
    let server = remote.url();
    let client = remote.client();
    let review = runtime()?
        .block_on(async {
            // The server judges the records it holds: send this device's first.
            client.sync(store).await?;
            let review = client.submit_review(store, week, zone().name()).await?;
            let all = client.reviews(store).await?;
            store.set_reviews(&all, Utc::now())?;
            Ok::<_, outpost_client::SyncError>(review)
        })
        .with_context(|| t!("review-submit-failed", server = server))?;
    if json {
        return print_json(&review);
    }
    out!(
        "{}",
        t!(
            "review-submitted",
            week = week.to_string(),
            accounts = review.accounts.len(),
            items = review.incomplete.len()
        )
    );
    print_items(&review.incomplete);
    Ok(())
}

fn list(store: &Store, json: bool) -> Result<()> {
    let fetched = store.reviews()?;
    if json {
        let (at, reviews) = fetched.map_or((None, Vec::new()), |(at, r)| (Some(at), r));
        return print_json(&serde_json::json!({ "fetched_at": at, "reviews": reviews }));
    }
    let Some((at, reviews)) = fetched else {
        out!("{}", t!("review-never-fetched"));
        return Ok(());
    };
    out!("{}", t!("review-fetched", at = minutes(at)));
    if reviews.is_empty() {
        out!("{}", t!("review-none"));
    }
    for review in &reviews {
        out!(
            "{}  {}  {}",
            review.week,
            status(review.status),
            t!("review-submitted-at", at = minutes(review.submitted_at))
        );
        // Newest opinion first; an earlier return's opinion stays listed after a resubmission.
        for round in review.rounds.iter().rev() {
            if let Some(opinion) = &round.opinion {
                out!(
                    "  {}",
                    t!(
                        "review-opinion",
                        decision = status(opinion.decision).as_str(),
                        name = opinion.reviewer_name.as_str(),
                        at = minutes(opinion.at).as_str(),
                        text = opinion.text.as_str()
                    )
                );
            }
        }
        if review.status != ReviewStatus::Reviewed && !review.incomplete.is_empty() {
            out!(
                "  {}",
                t!("review-incomplete", count = review.incomplete.len())
            );
            print_items(&review.incomplete);
        }
    }
    Ok(())
}

/// The latest decision on a week, to tell a new one from one already seen.
fn decided(review: &WeekReview) -> Option<(usize, DateTime<Utc>)> {
    let opinion = review.opinion.as_ref()?;
    Some((review.rounds.len(), opinion.at))
}

/// After a sync: fetches the weekly reviews, keeps them in the store, and says which weeks
/// were returned or reviewed since they were last fetched. A server that cannot answer
/// leaves the stored ones as they were, with a warning; the sync itself succeeded.
pub(crate) fn after_sync(store: &Store, client: &HttpClient, json: bool) -> Result<()> {
    let fetched = runtime()?.block_on(client.reviews(store));
    let reviews = match fetched {
        Ok(reviews) => reviews,
        Err(e) => {
            note!(
                "{}",
                t!(
                    "review-fetch-failed",
                    reason = crate::i18n::error(&e.into())
                )
            );
            return Ok(());
        }
    };
    let before = store.reviews()?.map(|(_, r)| r).unwrap_or_default();
    store.set_reviews(&reviews, Utc::now())?;
    if json {
        return Ok(());
    }
    for review in &reviews {
        let seen = before
            .iter()
            .find(|b| b.week == review.week)
            .and_then(decided);
        let Some(opinion) = &review.opinion else {
            continue;
        };
        if decided(review) == seen || review.status == ReviewStatus::Submitted {
            continue;
        }
        let (week, name, text) = (
            review.week.to_string(),
            opinion.reviewer_name.as_str(),
            opinion.text.as_str(),
        );
        let line = if review.status == ReviewStatus::Returned {
            t!(
                "review-came-back-returned",
                week = week.as_str(),
                name = name,
                text = text
            )
        } else {
            t!(
                "review-came-back-reviewed",
                week = week.as_str(),
                name = name,
                text = text
            )
        };
        out!("{line}");
    }
    Ok(())
}

/// Whether `today` should offer this week's submission: on a Friday in the rep's zone, when
/// the week is neither waiting for review nor reviewed (as last fetched).
pub(crate) fn offer_on_friday(
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    reviews: &[WeekReview],
) -> bool {
    use chrono::Datelike;
    let day = local_day(now, tz);
    let week = week_of(day);
    day.weekday() == chrono::Weekday::Fri
        && !reviews
            .iter()
            .any(|r| r.week == week && r.status != ReviewStatus::Returned)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn review(week: NaiveDate, status: ReviewStatus) -> WeekReview {
        WeekReview {
            rep: "ana".into(),
            rep_name: "安娜".into(),
            team: None,
            week,
            time_zone: "Asia/Shanghai".into(),
            status,
            submitted_at: Utc::now(),
            opinion: None,
            rounds: Vec::new(),
            accounts: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    #[test]
    fn friday_offers_the_week_until_it_is_submitted() {
        let tz = chrono_tz::Asia::Shanghai;
        // Friday 2026-12-04 09:00 in Shanghai (01:00 UTC); Thursday 23:00 is not Friday there.
        let friday = Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap();
        let thursday = Utc.with_ymd_and_hms(2026, 12, 3, 14, 0, 0).unwrap();
        let week = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert!(offer_on_friday(friday, tz, &[]));
        assert!(!offer_on_friday(thursday, tz, &[]));
        let last_week = week - chrono::Days::new(7);
        assert!(offer_on_friday(
            friday,
            tz,
            &[review(last_week, ReviewStatus::Reviewed)]
        ));
        assert!(!offer_on_friday(
            friday,
            tz,
            &[review(week, ReviewStatus::Submitted)]
        ));
        assert!(!offer_on_friday(
            friday,
            tz,
            &[review(week, ReviewStatus::Reviewed)]
        ));
        // Returned: offered again, for the resubmission.
        assert!(offer_on_friday(
            friday,
            tz,
            &[review(week, ReviewStatus::Returned)]
        ));
    }
}
