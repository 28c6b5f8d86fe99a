//! Reading accounts: one in full, every account, or those a search finds.

use anyhow::Result;
use chrono::{DateTime, Utc};
use outpost_client::account::AccountSummary;
use outpost_client::facts::{self, Facts};
use outpost_client::model::Status;
use outpost_client::{Account, Store};

use crate::args::{Output, SearchArgs};
use crate::conflicts::print_conflicts;
use crate::format::{
    self, label, minutes, or_dash, pad, print_json, say, short, short_entry, table, visible,
    visible_lines,
};

pub(crate) fn list(store: &Store, output: Output) -> Result<()> {
    let mut accounts = store.accounts()?;
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
    if output.json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        out!("{}", t!("list-empty"));
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
        out!("{}", t!("search-none", text = &wanted));
        return Ok(());
    }
    print_accounts(&found);
    Ok(())
}

fn print_accounts(accounts: &[AccountSummary]) {
    let headers = [
        t!("col-id"),
        t!("col-code"),
        t!("col-name"),
        t!("col-owner"),
        t!("col-status"),
        t!("col-follow-ups"),
        t!("col-last"),
    ];
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                short(a.id),
                or_dash(a.code.as_deref()),
                a.name.clone(),
                a.owner.clone(),
                label::<Status>(&a.status),
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
        Some(code) => out!("{}  ({})", visible(&doc.name), visible(code)),
        None => out!("{}", visible(&doc.name)),
    }
    // Labels padded by terminal columns, so values line up in Chinese too; values escaped,
    // as they are stored text.
    let field = |label: &str, value: &str| out!("  {} {}", pad(label, 14), visible(value));
    field(&t!("label-id"), &account.id.to_string());
    let mut lifecycle = t!(
        "lifecycle",
        kind = say(&doc.kind),
        status = say(&doc.status)
    );
    if let Some(reason) = doc
        .lost_reason
        .as_ref()
        .filter(|_| doc.status == Status::Lost)
    {
        lifecycle += &t!("lifecycle-lost", reason = reason);
    }
    if let Some(wake) = doc.wake_up_on.filter(|_| doc.status == Status::Dormant) {
        lifecycle += &t!("lifecycle-until", day = wake.to_string());
    }
    if let Some(on) = doc.converted_on {
        lifecycle += &t!("lifecycle-converted", day = on.to_string());
        if let Some(days) = facts.conversion_days {
            lifecycle += &t!("lifecycle-conversion-days", count = days);
        }
    }
    field(&t!("label-status"), &lifecycle);
    if let Some(survivor) = &doc.merged_into {
        field(
            &t!("label-merged-into"),
            &t!("merged-into", survivor = survivor.to_string()),
        );
    }
    if let Some(archived) = &doc.archived {
        field(
            &t!("label-archived"),
            &t!(
                "archived",
                by = &archived.by,
                day = archived.at.0.date_naive().to_string()
            ),
        );
    }
    let level = doc
        .level
        .as_ref()
        .map(|l| t!("ranking-level", level = say(l)));
    let priority = doc
        .priority
        .as_ref()
        .map(|p| t!("ranking-priority", priority = p.as_str().to_uppercase()));
    let ranking: Vec<String> = [level, priority].into_iter().flatten().collect();
    if !ranking.is_empty() {
        field(&t!("label-ranking"), &ranking.join(" · "));
    }
    field(&t!("label-owner"), &doc.owner);
    let industry = doc.industry.as_deref().map(format::industry);
    for (label, value) in [
        (t!("label-region"), &doc.region),
        (t!("label-industry"), &industry),
        (t!("label-size"), &doc.size),
    ] {
        if let Some(value) = value {
            field(&label, value);
        }
    }
    if let Some(source) = &doc.source {
        field(&t!("label-source"), &say(source));
    }
    if let Some(day) = doc.first_contact {
        field(&t!("label-first-contact"), &day.to_string());
    }
    field(&t!("label-created"), &minutes(doc.created_at.0));
    let next = match facts.next_due {
        Some(due) if facts.overdue => t!("next-overdue", due = minutes(due)),
        Some(due) => minutes(due),
        None => "-".to_owned(),
    };
    field(&t!("label-next-contact"), &next);
    field(
        &t!("label-cadence"),
        &t!("cadence-every", count = facts.cadence_days),
    );

    let needs = &doc.needs;
    let budget = match (&needs.budget_min, &needs.budget_max) {
        (Some(min), Some(max)) => Some(t!(
            "budget-range",
            min = min.to_string(),
            max = max.to_string()
        )),
        (Some(min), None) => Some(t!("budget-from", min = min.to_string())),
        (None, Some(max)) => Some(t!("budget-up-to", max = max.to_string())),
        (None, None) => None,
    };
    let need_lines: Vec<(String, String)> = [
        (t!("label-explicit"), needs.explicit.clone()),
        (t!("label-latent"), needs.latent.clone()),
        (t!("label-pain-points"), needs.pain_points.clone()),
        (t!("label-budget"), budget),
        (t!("label-buys-in"), needs.purchase_period.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value?)))
    .collect();
    if !need_lines.is_empty() {
        out!("{}", t!("section-needs"));
        for (label, value) in need_lines {
            field(&label, &value);
        }
    }

    let notes = doc.notes.as_str();
    if !notes.trim().is_empty() {
        out!("{}", t!("section-notes"));
        for line in notes.lines() {
            // Tabs are kept in notes, which are free text of several lines.
            out!("  {}", visible_lines(line));
        }
    }

    if !doc.contacts.is_empty() {
        out!("{}", t!("section-contacts"));
        for (id, c) in &doc.contacts {
            let mut parts = vec![c.name.clone()];
            parts.extend(c.title.clone());
            parts.extend(c.role.as_ref().map(say));
            parts.extend(c.phone.clone());
            parts.extend(c.email.clone());
            out!(
                "  {}  {}",
                visible(&short_entry(id)),
                visible(&parts.join(" · "))
            );
        }
    }

    let follow_ups = account.follow_ups();
    if follow_ups.is_empty() {
        out!("{}", t!("no-follow-ups"));
    } else {
        out!("{}", t!("section-follow-ups"));
        for (id, f) in follow_ups {
            out!(
                "  {}  {}  {}",
                minutes(f.occurred_at.0),
                pad(&say(&f.method), 9),
                visible(&f.summary)
            );
            let mut details = Vec::new();
            details.extend(
                f.attitude
                    .as_ref()
                    .map(|a| t!("detail-attitude", attitude = say(a))),
            );
            match (&f.next_action, f.next_due) {
                (Some(action), Some(due)) => {
                    details.push(t!("detail-next-by", action = action, due = due.to_string()))
                }
                (Some(action), None) => details.push(t!("detail-next", action = action)),
                (None, Some(due)) => {
                    details.push(t!("detail-next-contact-by", due = due.to_string()))
                }
                (None, None) => {}
            }
            if facts.late_follow_ups.contains(id) {
                details.push(t!("detail-late", at = minutes(f.recorded_at.0)));
            }
            if !details.is_empty() {
                out!("  {:20}  {:9}  {}", "", "", details.join(" · "));
            }
        }
    }

    let mut open: Vec<_> = doc.plans.iter().filter(|(_, p)| !p.done).collect();
    open.sort_by_key(|(id, p)| (p.due, *id));
    if !open.is_empty() {
        out!("{}", t!("section-plans"));
        for (id, p) in open {
            out!(
                "  {}  {}  {}  {}",
                visible(&short_entry(id)),
                minutes(p.due.0),
                pad(&say(&p.method), 9),
                t!("plan-goal", goal = &p.goal, owner = &p.owner)
            );
        }
    }

    if !doc.opportunities.is_empty() {
        out!("{}", t!("section-opportunities"));
        for (id, o) in &doc.opportunities {
            let mut parts = vec![t!(
                "opportunity-stage",
                stage = say(&o.stage),
                probability = o.probability
            )];
            parts.extend(o.amount.as_ref().map(ToString::to_string));
            parts.extend(
                o.expected_close
                    .map(|d| t!("opportunity-closes", day = d.to_string())),
            );
            parts.extend(
                o.signed_on
                    .map(|d| t!("opportunity-signed", day = d.to_string())),
            );
            parts.extend(
                o.lost_reason
                    .as_ref()
                    .map(|r| t!("opportunity-lost", reason = r)),
            );
            parts.push(t!("owner-of", owner = &o.owner));
            out!(
                "  {}  {}: {}",
                visible(&short_entry(id)),
                visible(&o.name),
                visible(&parts.join(" · "))
            );
        }
    }

    if !doc.deals.is_empty() {
        out!("{}", t!("section-deals"));
        let mut deals: Vec<_> = doc.deals.iter().collect();
        deals.sort_by_key(|(id, d)| (d.closed_on, *id));
        for (id, d) in deals {
            let mut line = format!(
                "  {}  {}  {}  {} · {}",
                visible(&short_entry(id)),
                d.closed_on,
                visible(&d.amount.to_string()),
                visible(&d.products),
                t!("deal-paid", payment = say(&d.payment))
            );
            if let Some(notes) = &d.notes {
                line += &format!(" · {}", visible(notes));
            }
            out!("{line}");
        }
    }

    if !doc.services.is_empty() {
        out!("{}", t!("section-services"));
        let mut services: Vec<_> = doc.services.iter().collect();
        services.sort_by_key(|(id, s)| (s.on, *id));
        for (id, s) in services {
            let mut line = format!(
                "  {}  {}  {}: {}",
                visible(&short_entry(id)),
                s.on,
                visible(&s.work),
                visible(&s.result)
            );
            if let Some(score) = s.satisfaction {
                line += &format!(" · {}", t!("service-satisfaction", score = score));
            }
            if let Some(next) = &s.next_step {
                line += &format!(" · {}", t!("detail-next", action = next));
            }
            out!("{line}");
        }
    }

    if !doc.custom.is_empty() {
        out!("{}", t!("section-custom"));
        for (key, value) in &doc.custom {
            field(&visible(key), value);
        }
    }

    if !doc.comments.is_empty() {
        out!("{}", t!("section-comments"));
        let mut comments: Vec<_> = doc.comments.iter().collect();
        comments.sort_by_key(|(id, c)| (c.at, *id));
        for (_, c) in comments {
            let about = c
                .follow_up
                .as_ref()
                .map(|f| t!("comment-on-follow-up", id = short_entry(f)))
                .unwrap_or_default();
            out!(
                "  {}  {}{about}: {}",
                minutes(c.at.0),
                visible(&c.author),
                visible(&c.text)
            );
        }
    }

    if !account.conflicts.is_empty() {
        out!("{}", t!("conflicts-settle-each", id = &id8));
        print_conflicts(&account.conflicts, "  ");
    }
}
