//! Fields two devices changed at the same time: listing them, and settling each on one value.

use anyhow::Result;
use chrono::{DateTime, Utc};
use outpost_client::conflicts::Conflict;
use outpost_client::{Account, Store};
use outpost_protocol::DocId;
use serde::Serialize;

use crate::args::{ConflictsArgs, SettleArgs};
use crate::format::{minutes, print_json, short, table, visible};

/// Lists conflicted fields, each value numbered as `outpost settle` takes it.
pub(crate) fn print_conflicts(conflicts: &[Conflict], indent: &str) {
    for conflict in conflicts {
        out!("{indent}{}", visible(&conflict.path));
        let rows = conflict
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let device: String = v.device.chars().take(8).collect();
                let at = v.at.map_or_else(|| "-".to_owned(), minutes);
                let shown = if i == 0 {
                    t!("conflict-shown")
                } else {
                    String::new()
                };
                vec![
                    i.to_string(),
                    v.value.clone(),
                    shown,
                    t!("conflict-device", device = device),
                    at,
                ]
            })
            .collect();
        for line in table(None, rows) {
            out!("{indent}  {line}");
        }
    }
}

/// One conflicted field, for `conflicts --json`.
#[derive(Debug, Serialize)]
struct FieldConflict<'a> {
    id: DocId,
    code: Option<&'a str>,
    name: &'a str,
    #[serde(flatten)]
    conflict: &'a Conflict,
}

pub(crate) fn conflicts(store: &Store, args: ConflictsArgs) -> Result<()> {
    let ids = match &args.id {
        Some(id) => vec![store.resolve(id)?],
        None => {
            let mut summaries = store.accounts()?;
            summaries.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id));
            summaries.into_iter().map(|a| a.id).collect()
        }
    };
    let accounts: Vec<Account> = ids
        .into_iter()
        .map(|id| store.account(id))
        .collect::<Result<_, _>>()?;
    if args.output.json {
        let all: Vec<FieldConflict<'_>> = accounts
            .iter()
            .flat_map(|a| {
                a.conflicts.iter().map(|conflict| FieldConflict {
                    id: a.id,
                    code: a.record.code.as_deref(),
                    name: &a.record.name,
                    conflict,
                })
            })
            .collect();
        return print_json(&all);
    }
    let conflicted: Vec<&Account> = accounts
        .iter()
        .filter(|a| !a.conflicts.is_empty())
        .collect();
    if conflicted.is_empty() {
        out!("{}", t!("no-conflicts"));
        return Ok(());
    }
    for account in &conflicted {
        out!("{}  {}", short(account.id), visible(&account.record.name));
        print_conflicts(&account.conflicts, "  ");
    }
    let first = &conflicted[0];
    out!(
        "{}",
        t!(
            "conflicts-keep-one",
            id = short(first.id),
            field = &first.conflicts[0].path
        )
    );
    Ok(())
}

pub(crate) fn settle(store: &Store, args: SettleArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let account = store.account(id)?;
    let kept = account
        .conflicts
        .iter()
        .find(|c| c.path == args.field)
        .and_then(|c| c.values.get(args.choice))
        .map(|v| v.value.clone());
    store.settle(id, &args.field, args.choice, now)?;
    let settled = match kept {
        Some(value) => t!(
            "settled-kept",
            field = &args.field,
            name = &account.record.name,
            value = value
        ),
        None => t!("settled", field = &args.field, name = &account.record.name),
    };
    out!("{settled}");
    Ok(())
}
