//! Changing an account: creating it, its profile, needs and contacts, its opportunities, deals
//! and service, and its lifecycle (convert, lost, dormant, status).

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use outpost_client::account::NewOpportunity;
use outpost_client::model::{Contact, Day, Deal, Kind, Money, Needs, Service, Status};
use outpost_client::{AccountEdit, EditError, NewAccount, Store};
use outpost_protocol::DocId;

use crate::args::{
    AmountArgs, ContactCommand, ConvertArgs, CreateArgs, DealArgs, DormantArgs, LostArgs, MoveArgs,
    NeedsArgs, OpportunityAddArgs, ServiceArgs, SetArgs,
};
use crate::format::{or_dash, print_json, say, short, table};
use crate::input::{Entry, entry_id};

/// Applies one edit to the account `id` names and returns the account's name.
fn edit(store: &Store, id: &str, edit: AccountEdit, now: DateTime<Utc>) -> Result<String> {
    let id = store.resolve(id)?;
    store.edit_account(id, &edit, now)?;
    Ok(store.account(id)?.record.name)
}

pub(crate) fn create(store: &Store, args: CreateArgs, now: DateTime<Utc>) -> Result<()> {
    let contact = args.contact_name.map(|name| Contact {
        name,
        title: args.contact_title,
        role: args.contact_role,
        phone: args.contact_phone,
        email: args.contact_email,
    });
    let owner = match args.owner {
        Some(owner) => owner,
        None => store
            .credentials()?
            .map(|(login, _)| login)
            .with_context(|| t!("create-no-owner"))?,
    };
    let new = NewAccount {
        name: args.name,
        owner,
        kind: if args.lead {
            Kind::Lead
        } else {
            Kind::Customer
        },
        region: args.region,
        industry: args.industry,
        size: args.size,
        source: args.source,
        first_contact: args.first_contact,
        level: args.level,
        priority: args.priority,
        contact,
        ..NewAccount::default()
    };
    let created = if args.anyway {
        store.create_account_anyway(&new, now)
    } else {
        store.create_account(&new, now)
    };
    let id = match created {
        Ok(id) => id,
        Err(EditError::Duplicate { existing }) => {
            if args.output.json {
                print_json(&serde_json::json!({ "id": null, "duplicates": existing }))?;
            }
            note!(
                "{}",
                t!(
                    "create-duplicate-warning",
                    name = new.name.trim(),
                    count = existing.len()
                )
            );
            let rows = existing
                .iter()
                .map(|a| {
                    vec![
                        short(a.id),
                        or_dash(a.code.as_deref()),
                        a.name.clone(),
                        t!("owner-of", owner = &a.owner),
                    ]
                })
                .collect();
            for line in table(None, rows) {
                note!("  {line}");
            }
            bail!(t!("create-nothing-created"));
        }
        Err(e) => return Err(e.into()),
    };
    if args.output.json {
        let code = store.account(id)?.record.code;
        return print_json(&serde_json::json!({ "id": id, "code": code }));
    }
    out!("{id}");
    Ok(())
}

pub(crate) fn set(store: &Store, args: SetArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let mut edits: Vec<AccountEdit> = [
        args.name.map(AccountEdit::SetName),
        args.owner.map(AccountEdit::SetOwner),
        args.region.map(AccountEdit::SetRegion),
        args.industry.map(AccountEdit::SetIndustry),
        args.size.map(AccountEdit::SetSize),
        args.source.map(AccountEdit::SetSource),
        args.first_contact.map(AccountEdit::SetFirstContact),
        args.level.map(AccountEdit::SetLevel),
        args.priority.map(AccountEdit::SetPriority),
        args.notes.map(AccountEdit::SetNotes),
    ]
    .into_iter()
    .flatten()
    .collect();
    edits.extend(
        args.custom
            .into_iter()
            .map(|(field, value)| AccountEdit::SetCustom { field, value }),
    );
    // All or nothing: `set --name ok --owner ""` changes nothing.
    store.edit_account_all(id, &edits, now)?;
    out!("{}", t!("updated", name = store.account(id)?.record.name));
    Ok(())
}

pub(crate) fn needs(store: &Store, args: NeedsArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let mut needs: Needs = store.account(id)?.record.needs;
    let update = |slot: &mut Option<String>, value: Option<String>| {
        if let Some(value) = value {
            *slot = (!value.is_empty()).then_some(value);
        }
    };
    update(&mut needs.explicit, args.explicit);
    update(&mut needs.latent, args.latent);
    update(&mut needs.pain_points, args.pain_points);
    update(&mut needs.purchase_period, args.purchase_period);
    if let Some(currency) = args.currency {
        let money = |minor| Money {
            minor,
            currency: currency.clone(),
        };
        if let Some(min) = args.budget_min {
            needs.budget_min = Some(money(min));
        }
        if let Some(max) = args.budget_max {
            needs.budget_max = Some(money(max));
        }
    }
    store.edit_account(id, &AccountEdit::SetNeeds(needs), now)?;
    out!(
        "{}",
        t!("updated-needs", name = store.account(id)?.record.name)
    );
    Ok(())
}

pub(crate) fn contact(store: &Store, command: ContactCommand, now: DateTime<Utc>) -> Result<()> {
    match command {
        ContactCommand::Add(args) => {
            let id = store.resolve(&args.id)?;
            let contact = Contact {
                name: args.name,
                title: args.title,
                role: args.role,
                phone: args.phone,
                email: args.email,
            };
            add_entry(store, id, &AccountEdit::AddContact(contact), now)?;
        }
        ContactCommand::Edit(args) => {
            let id = store.resolve(&args.id)?;
            let account = store.account(id)?;
            let contact_id = entry_id(&account.record.contacts, Entry::Contact, &args.contact)?;
            let mut contact = account.record.contacts[&contact_id].clone();
            if let Some(name) = args.name {
                contact.name = name;
            }
            let clearable = |slot: &mut Option<String>, value: Option<String>| {
                if let Some(value) = value {
                    *slot = (!value.is_empty()).then_some(value);
                }
            };
            clearable(&mut contact.title, args.title);
            clearable(&mut contact.phone, args.phone);
            clearable(&mut contact.email, args.email);
            if let Some(role) = args.role {
                contact.role = if role.is_empty() {
                    None
                } else {
                    Some(
                        role.parse()
                            .map_err(|e| anyhow!(t!("invalid-role", reason = e)))?,
                    )
                };
            }
            let edit = AccountEdit::EditContact {
                id: contact_id,
                contact,
            };
            store.edit_account(id, &edit, now)?;
            out!("{}", t!("updated-contact", name = &account.record.name));
        }
        ContactCommand::Remove { id, contact } => {
            let id = store.resolve(&id)?;
            let account = store.account(id)?;
            let contact_id = entry_id(&account.record.contacts, Entry::Contact, &contact)?;
            let name = account.record.contacts[&contact_id].name.clone();
            store.edit_account(id, &AccountEdit::RemoveContact(contact_id), now)?;
            out!(
                "{}",
                t!(
                    "removed-contact",
                    contact = name,
                    name = &account.record.name
                )
            );
        }
    }
    Ok(())
}

pub(crate) fn add_opportunity(
    store: &Store,
    args: OpportunityAddArgs,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let owner = match args.owner {
        Some(owner) => owner,
        None => store.account(id)?.record.owner,
    };
    let new = NewOpportunity {
        name: args.name,
        stage: args.stage,
        probability: args.probability,
        amount: money(args.amount),
        expected_close: args.close,
        owner,
    };
    add_entry(store, id, &AccountEdit::AddOpportunity(new), now)?;
    Ok(())
}

pub(crate) fn move_opportunity(store: &Store, args: MoveArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let account = store.account(id)?;
    let opportunity = entry_id(
        &account.record.opportunities,
        Entry::Opportunity,
        &args.opportunity,
    )?;
    let edit = AccountEdit::MoveOpportunity {
        id: opportunity.clone(),
        stage: args.stage,
        probability: args.probability,
        amount: money(args.amount),
        signed_on: args.signed,
        lost_reason: args.reason,
    };
    store.edit_account(id, &edit, now)?;
    let after = store.account(id)?.record;
    let moved = &after.opportunities[&opportunity];
    out!(
        "{}",
        t!(
            "moved",
            opportunity = &moved.name,
            name = &account.record.name,
            stage = say(&moved.stage),
            probability = moved.probability
        )
    );
    status_changed(&account.record.status, &after.status, &after.name);
    Ok(())
}

/// Says so when an edit also changed the account's status (a won opportunity with a recorded
/// deal wins the customer), so the rep sees every change the edit made.
fn status_changed(before: &Status, after: &Status, name: &str) {
    if before != after {
        note!(
            "{}",
            t!(
                "status-changed",
                name = name,
                from = say(before),
                to = say(after)
            )
        );
    }
}

pub(crate) fn deal(store: &Store, args: DealArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let deal = Deal {
        closed_on: args.on,
        amount: Money {
            minor: args.amount,
            currency: args.currency,
        },
        products: args.products,
        payment: args.payment,
        notes: args.notes,
    };
    let before = store.account(id)?.record.status;
    add_entry(store, id, &AccountEdit::RecordDeal(deal), now)?;
    let after = store.account(id)?.record;
    status_changed(&before, &after.status, &after.name);
    Ok(())
}

pub(crate) fn service(store: &Store, args: ServiceArgs, now: DateTime<Utc>) -> Result<()> {
    let id = store.resolve(&args.id)?;
    let service = Service {
        on: args.on,
        work: args.work,
        result: args.result,
        satisfaction: args.satisfaction,
        next_step: args.next,
    };
    add_entry(store, id, &AccountEdit::RecordService(service), now)?;
    Ok(())
}

pub(crate) fn set_status(store: &Store, id: &str, new: Status, now: DateTime<Utc>) -> Result<()> {
    match new {
        Status::Lost => {
            bail!(t!("status-lost-needs-reason", id = id))
        }
        Status::Dormant => {
            bail!(t!("status-dormant-needs-day", id = id))
        }
        _ => {}
    }
    let name = edit(store, id, AccountEdit::SetStatus(new.clone()), now)?;
    out!("{}", t!("status-now", name = name, status = say(&new)));
    Ok(())
}

pub(crate) fn convert(store: &Store, args: ConvertArgs, now: DateTime<Utc>) -> Result<()> {
    let on = args.on.unwrap_or(Day(now.date_naive()));
    let name = edit(store, &args.id, AccountEdit::ConvertLead { on }, now)?;
    out!(
        "{}",
        t!(
            "converted",
            name = name,
            status = say(&Status::Intent),
            day = on.to_string()
        )
    );
    Ok(())
}

pub(crate) fn lost(store: &Store, args: LostArgs, now: DateTime<Utc>) -> Result<()> {
    let reason = args.reason.join(" ");
    let lost = AccountEdit::MarkLost {
        reason: reason.clone(),
    };
    let name = edit(store, &args.id, lost, now)?;
    out!("{}", t!("marked-lost", name = name, reason = reason.trim()));
    Ok(())
}

pub(crate) fn dormant(store: &Store, args: DormantArgs, now: DateTime<Utc>) -> Result<()> {
    let dormant = AccountEdit::MarkDormant {
        wake_up_on: args.until,
    };
    let name = edit(store, &args.id, dormant, now)?;
    out!(
        "{}",
        t!("dormant-until", name = name, day = args.until.to_string())
    );
    Ok(())
}

fn money(AmountArgs { amount, currency }: AmountArgs) -> Option<Money> {
    Some(Money {
        minor: amount?,
        currency: currency?,
    })
}

/// Applies an edit that adds an entry (contact, plan, opportunity, ...) and prints its id.
pub(crate) fn add_entry(
    store: &Store,
    id: DocId,
    edit: &AccountEdit,
    now: DateTime<Utc>,
) -> Result<()> {
    let added = store.edit_account(id, edit, now)?;
    out!("{}", added.with_context(|| t!("store-returned-no-id"))?);
    Ok(())
}
