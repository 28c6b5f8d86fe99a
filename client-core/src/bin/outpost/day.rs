//! The day's work: what is due today, logging a visit or call, planning the next contact.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Days, Utc};
use outpost_client::facts::{self, local_day, start_of_day};
use outpost_client::model::Status;
use outpost_client::{AccountEdit, NewFollowUp, Store};
use outpost_protocol::DocId;
use serde::Serialize;

use crate::args::{LogArgs, PlanArgs, PlanCommand, TodayArgs};
use crate::format::{label, minutes, or_dash, print_json, say, short, table, zone};
use crate::input::{Entry, entry_id};
use crate::records::add_entry;

/// One line of the day's agenda.
#[derive(Debug, Serialize)]
struct Due<'a> {
    id: DocId,
    code: Option<&'a str>,
    name: &'a str,
    owner: &'a str,
    status: &'a str,
    priority: Option<&'a str>,
    next_due: DateTime<Utc>,
    overdue: bool,
}

pub(crate) fn today(store: &Store, args: TodayArgs, now: DateTime<Utc>) -> Result<()> {
    let json = args.output.json;
    agenda(store, args, now)?;
    // On Friday, the weekly review's reminder, unless the week is already in (as last synced).
    let reviews = store.reviews()?.map(|(_, r)| r).unwrap_or_default();
    if !json && crate::review::offer_on_friday(now, zone(), &reviews) {
        out!("{}", t!("today-friday-review"));
    }
    Ok(())
}

fn agenda(store: &Store, args: TodayArgs, now: DateTime<Utc>) -> Result<()> {
    let tz = zone();
    // Today is the rep's local day: what is due before local midnight.
    let tomorrow = start_of_day(
        local_day(now, tz)
            .checked_add_days(Days::new(1))
            .with_context(|| t!("date-out-of-range"))?,
        tz,
    );
    let accounts = store.accounts()?;
    let mut due: Vec<Due<'_>> = accounts
        .iter()
        .filter(|a| args.owner.as_deref().is_none_or(|o| a.owner == o))
        .filter_map(|a| {
            let next_due = a
                .next_due
                .and_then(|due| due.resolve(tz))
                .filter(|d| *d < tomorrow)?;
            Some(Due {
                id: a.id,
                code: a.code.as_deref(),
                name: &a.name,
                owner: &a.owner,
                status: &a.status,
                priority: a.priority.as_deref(),
                next_due,
                overdue: next_due < now,
            })
        })
        .collect();
    // Longest overdue first; everything overdue is due before anything still due today.
    due.sort_by(|a, b| (a.next_due, a.name, a.id).cmp(&(b.next_due, b.name, b.id)));
    if args.output.json {
        return print_json(&due);
    }
    if due.is_empty() {
        out!("{}", t!("today-nothing"));
        return Ok(());
    }
    let headers = [
        t!("col-id"),
        t!("col-code"),
        t!("col-name"),
        t!("col-owner"),
        t!("col-status"),
        t!("col-priority"),
        t!("col-due"),
    ];
    for overdue in [true, false] {
        let rows: Vec<Vec<String>> = due
            .iter()
            .filter(|d| d.overdue == overdue)
            .map(|d| {
                let late = if overdue {
                    format!("  {}", t!("today-late", ago = ago(now - d.next_due)))
                } else {
                    String::new()
                };
                vec![
                    short(d.id),
                    or_dash(d.code),
                    d.name.to_owned(),
                    d.owner.to_owned(),
                    label::<Status>(d.status),
                    or_dash(d.priority).to_uppercase(),
                    format!("{}{late}", minutes(d.next_due)),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let title = if overdue {
            t!("today-overdue", count = rows.len())
        } else {
            t!("today-due", count = rows.len())
        };
        out!("{title}");
        for line in table(Some(&headers), rows) {
            out!("  {line}");
        }
    }
    Ok(())
}

/// A duration as a rep would say it: "3 days", "5 h", "20 min".
fn ago(elapsed: chrono::TimeDelta) -> String {
    match (
        elapsed.num_days(),
        elapsed.num_hours(),
        elapsed.num_minutes(),
    ) {
        (days, _, _) if days >= 1 => t!("days", count = days),
        (_, hours, _) if hours >= 1 => t!("hours", count = hours),
        (_, _, minutes) => t!("minutes", count = minutes),
    }
}

pub(crate) fn log(store: &Store, args: LogArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let occurred_at = args.at.map_or(now, |at| at.at(zone()));
    let follow_up = NewFollowUp {
        attitude: args.attitude,
        next_action: args.next,
        next_due: args.next_due,
        ..NewFollowUp::new(occurred_at, args.method.clone(), &args.summary.join(" "))
    };
    store.edit_account(id, &AccountEdit::LogFollowUp(follow_up), now)?;
    let name = store.account(id)?.record.name;
    let method = say(&args.method);
    if now - occurred_at > facts::LATE_AFTER {
        out!("{}", t!("logged-late", method = method, name = name));
    } else {
        out!("{}", t!("logged", method = method, name = name));
    }
    Ok(())
}

pub(crate) fn plan(store: &Store, args: PlanArgs, now: DateTime<Utc>) -> Result<()> {
    if let Some(PlanCommand::Done { id, plan }) = args.command {
        let id = store.resolve(&id)?;
        let account = store.account(id)?;
        let plan_id = entry_id(&account.record.plans, Entry::Plan, &plan)?;
        store.edit_account(id, &AccountEdit::CompletePlan(plan_id.clone()), now)?;
        let goal = &account.record.plans[&plan_id].goal;
        out!(
            "{}",
            t!("plan-done", goal = goal, name = &account.record.name)
        );
        return Ok(());
    }
    let (Some(id), Some(due)) = (args.id, args.due) else {
        bail!(t!("plan-usage"));
    };
    let id = store.resolve(&id)?;
    let edit = AccountEdit::PlanFollowUp {
        due: due.at(zone()),
        method: args.method,
        goal: args.goal.join(" "),
        owner: args.owner,
    };
    add_entry(store, id, &edit, now)?;
    Ok(())
}
