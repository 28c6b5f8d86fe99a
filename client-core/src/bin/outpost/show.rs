//! Reading accounts: one in full, every account, or those a search finds.

use anyhow::Result;
use chrono::{DateTime, Utc};
use outpost_client::account::AccountSummary;
use outpost_client::facts::{self, Facts};
use outpost_client::model::Status;
use outpost_client::{Account, Store};

use crate::args::{Output, SearchArgs};
use crate::conflicts::print_conflicts;
use crate::format::{self, minutes, or_dash, print_json, short, short_entry, table};

pub(crate) fn list(store: &Store, output: Output) -> Result<()> {
    let mut accounts = store.accounts()?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if output.json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        out!("No accounts yet. Add one with `outpost create --name NAME --owner OWNER`.");
        return Ok(());
    }
    print_accounts(&accounts);
    Ok(())
}

pub(crate) fn search(store: &Store, args: SearchArgs) -> Result<()> {
    let wanted = args.text.join(" ").trim().to_owned();
    let mut found: Vec<AccountSummary> = store
        .accounts()?
        .into_iter()
        .filter(|a| a.matches(&wanted))
        .collect();
    found.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if args.output.json {
        return print_json(&found);
    }
    if found.is_empty() {
        out!("No account's name, code, owner or contact contains `{wanted}`.");
        return Ok(());
    }
    print_accounts(&found);
    Ok(())
}

fn print_accounts(accounts: &[AccountSummary]) {
    let headers = [
        "ID",
        "CODE",
        "NAME",
        "OWNER",
        "STATUS",
        "FOLLOW-UPS",
        "LAST",
    ];
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                short(a.id),
                or_dash(a.code.as_deref()),
                a.name.clone(),
                a.owner.clone(),
                a.status.clone(),
                a.follow_ups.to_string(),
                a.last_follow_up.map_or_else(|| "-".to_owned(), minutes),
            ]
        })
        .collect();
    for line in table(Some(&headers), rows) {
        out!("{line}");
    }
}

pub(crate) fn show(store: &Store, id: &str, output: Output, now: DateTime<Utc>) -> Result<()> {
    let account = store.account(store.resolve(id)?)?;
    let facts = facts::facts(&account.record, now, format::zone());
    if output.json {
        let mut value = serde_json::to_value(&account)?;
        value["facts"] = serde_json::to_value(&facts)?;
        return print_json(&value);
    }
    print_account(&account, &facts);
    Ok(())
}

fn print_account(account: &Account, facts: &Facts) {
    let doc = &account.record;
    let id8 = short(account.id);
    match &doc.code {
        Some(code) => out!("{}  ({code})", doc.name),
        None => out!("{}", doc.name),
    }
    let field = |label: &str, value: &str| out!("  {label:<14} {value}");
    field("id", &account.id.to_string());
    let mut lifecycle = format!("{} · {}", doc.kind, doc.status);
    if let Some(reason) = doc
        .lost_reason
        .as_ref()
        .filter(|_| doc.status == Status::Lost)
    {
        lifecycle += &format!(": {reason}");
    }
    if let Some(wake) = doc.wake_up_on.filter(|_| doc.status == Status::Dormant) {
        lifecycle += &format!(" until {wake}");
    }
    if let Some(on) = doc.converted_on {
        lifecycle += &format!(" · converted from lead on {on}");
        if let Some(days) = facts.conversion_days {
            lifecycle += &format!(" ({days} days)");
        }
    }
    field("status", &lifecycle);
    if let Some(survivor) = &doc.merged_into {
        field(
            "merged into",
            &format!("{survivor} (a duplicate; kept for its history, work on the other account)"),
        );
    }
    if let Some(archived) = &doc.archived {
        field(
            "archived",
            &format!(
                "by {} on {} (out of the team views; a manager can restore it)",
                archived.by,
                archived.at.0.date_naive()
            ),
        );
    }
    let level = doc.level.as_ref().map(|l| format!("level {l}"));
    let priority = doc
        .priority
        .as_ref()
        .map(|p| format!("priority {}", p.as_str().to_uppercase()));
    let ranking: Vec<String> = [level, priority].into_iter().flatten().collect();
    if !ranking.is_empty() {
        field("ranking", &ranking.join(" · "));
    }
    field("owner", &doc.owner);
    let industry = doc.industry.as_deref().map(format::industry);
    for (label, value) in [
        ("region", &doc.region),
        ("industry", &industry),
        ("size", &doc.size),
    ] {
        if let Some(value) = value {
            field(label, value);
        }
    }
    if let Some(source) = &doc.source {
        field("source", source.as_str());
    }
    if let Some(day) = doc.first_contact {
        field("first contact", &day.to_string());
    }
    field("created", &minutes(doc.created_at.0));
    let next = match facts.next_due {
        Some(due) if facts.overdue => format!("{}, OVERDUE", minutes(due)),
        Some(due) => minutes(due),
        None => "-".to_owned(),
    };
    field("next contact", &next);
    field("cadence", &format!("every {} days", facts.cadence_days));

    let needs = &doc.needs;
    let budget = match (&needs.budget_min, &needs.budget_max) {
        (Some(min), Some(max)) => Some(format!("{min} to {max}")),
        (Some(min), None) => Some(format!("from {min}")),
        (None, Some(max)) => Some(format!("up to {max}")),
        (None, None) => None,
    };
    let need_lines: Vec<(&str, String)> = [
        ("explicit", needs.explicit.clone()),
        ("latent", needs.latent.clone()),
        ("pain points", needs.pain_points.clone()),
        ("budget", budget),
        ("buys in", needs.purchase_period.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value?)))
    .collect();
    if !need_lines.is_empty() {
        out!("Needs");
        for (label, value) in need_lines {
            field(label, &value);
        }
    }

    let notes = doc.notes.as_str();
    if !notes.trim().is_empty() {
        out!("Notes");
        for line in notes.lines() {
            out!("  {line}");
        }
    }

    if !doc.contacts.is_empty() {
        out!("Contacts");
        for (id, c) in &doc.contacts {
            let mut parts = vec![c.name.clone()];
            parts.extend(c.title.clone());
            parts.extend(c.role.as_ref().map(ToString::to_string));
            parts.extend(c.phone.clone());
            parts.extend(c.email.clone());
            out!("  {}  {}", short_entry(id), parts.join(" · "));
        }
    }

    let follow_ups = account.follow_ups();
    if follow_ups.is_empty() {
        out!("No follow-ups yet.");
    } else {
        out!("Follow-ups (oldest first)");
        for (id, f) in follow_ups {
            let method = f.method.to_string();
            out!("  {}  {method:<9}  {}", minutes(f.occurred_at.0), f.summary);
            let mut details = Vec::new();
            details.extend(f.attitude.as_ref().map(|a| format!("attitude {a}")));
            match (&f.next_action, f.next_due) {
                (Some(action), Some(due)) => details.push(format!("next: {action} by {due}")),
                (Some(action), None) => details.push(format!("next: {action}")),
                (None, Some(due)) => details.push(format!("next contact by {due}")),
                (None, None) => {}
            }
            if facts.late_follow_ups.contains(id) {
                details.push(format!(
                    "LATE: logged {}, more than 24 h after",
                    minutes(f.recorded_at.0)
                ));
            }
            if !details.is_empty() {
                out!("  {:20}  {:9}  {}", "", "", details.join(" · "));
            }
        }
    }

    let mut open: Vec<_> = doc.plans.iter().filter(|(_, p)| !p.done).collect();
    open.sort_by_key(|(id, p)| (p.due, *id));
    if !open.is_empty() {
        out!("Planned contacts");
        for (id, p) in open {
            out!(
                "  {}  {}  {:<9}  {} (by {})",
                short_entry(id),
                minutes(p.due.0),
                p.method.to_string(),
                p.goal,
                p.owner
            );
        }
    }

    if !doc.opportunities.is_empty() {
        out!("Opportunities");
        for (id, o) in &doc.opportunities {
            let mut parts = vec![format!("{} {} %", o.stage, o.probability)];
            parts.extend(o.amount.as_ref().map(ToString::to_string));
            parts.extend(o.expected_close.map(|d| format!("closes {d}")));
            parts.extend(o.signed_on.map(|d| format!("signed {d}")));
            parts.extend(o.lost_reason.as_ref().map(|r| format!("lost: {r}")));
            parts.push(format!("owner {}", o.owner));
            out!("  {}  {}: {}", short_entry(id), o.name, parts.join(" · "));
        }
    }

    if !doc.deals.is_empty() {
        out!("Deals");
        let mut deals: Vec<_> = doc.deals.iter().collect();
        deals.sort_by_key(|(id, d)| (d.closed_on, *id));
        for (id, d) in deals {
            let mut line = format!(
                "  {}  {}  {}  {} · paid {}",
                short_entry(id),
                d.closed_on,
                d.amount,
                d.products,
                d.payment
            );
            if let Some(notes) = &d.notes {
                line += &format!(" · {notes}");
            }
            out!("{line}");
        }
    }

    if !doc.services.is_empty() {
        out!("After-sales service");
        let mut services: Vec<_> = doc.services.iter().collect();
        services.sort_by_key(|(id, s)| (s.on, *id));
        for (id, s) in services {
            let mut line = format!("  {}  {}  {}: {}", short_entry(id), s.on, s.work, s.result);
            if let Some(score) = s.satisfaction {
                line += &format!(" · satisfaction {score}/5");
            }
            if let Some(next) = &s.next_step {
                line += &format!(" · next: {next}");
            }
            out!("{line}");
        }
    }

    if !doc.custom.is_empty() {
        out!("Custom fields");
        for (key, value) in &doc.custom {
            field(key, value);
        }
    }

    if !doc.comments.is_empty() {
        out!("Review comments");
        let mut comments: Vec<_> = doc.comments.iter().collect();
        comments.sort_by_key(|(id, c)| (c.at, *id));
        for (_, c) in comments {
            let about = c
                .follow_up
                .as_ref()
                .map(|f| format!(" (on follow-up {})", short_entry(f)))
                .unwrap_or_default();
            out!("  {}  {}{about}: {}", minutes(c.at.0), c.author, c.text);
        }
    }

    if !account.conflicts.is_empty() {
        out!("Conflicts: settle each with `outpost settle {id8} FIELD NUMBER`");
        print_conflicts(&account.conflicts, "  ");
    }
}
