//! What a rep does to an account: create it, and the edits that change it. Each edit is
//! applied to the typed document ([`AccountDoc`]), checked by [`crate::rules`], and only then
//! written; the store turns the difference into automerge operations.

use std::collections::BTreeMap;

use automerge::Automerge;
use chrono::{DateTime, Datelike, Utc};
use outpost_protocol::{DeviceId, DocId};
use serde::{Deserialize, Serialize};

use crate::code;
use crate::conflicts::{self, Conflict};
use crate::model::{
    AccountDoc, At, Contact, ContactMethod, Day, Deal, FollowUp, Kind, Level, Money, Needs,
    Opportunity, Plan, Priority, SCHEMA_VERSION, Service, Source, Stage, Status, StatusChange,
};
use crate::rules::{self, InvalidField, invalid};

/// Fields of a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub owner: String,
    pub kind: Kind,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub size: Option<String>,
    pub source: Option<Source>,
    pub first_contact: Option<Day>,
    pub level: Option<Level>,
    pub priority: Option<Priority>,
    /// The first contact person, if known.
    pub contact: Option<Contact>,
    /// Admin-defined fields, by field name.
    pub custom: BTreeMap<String, String>,
}

impl Default for NewAccount {
    fn default() -> Self {
        NewAccount {
            name: String::new(),
            owner: String::new(),
            kind: Kind::Customer,
            region: None,
            industry: None,
            size: None,
            source: None,
            first_contact: None,
            level: None,
            priority: None,
            contact: None,
            custom: BTreeMap::new(),
        }
    }
}

/// A contact with the customer, as the rep logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFollowUp {
    /// When the contact happened, by the rep's account (device clock or typed in).
    pub occurred_at: DateTime<Utc>,
    pub method: ContactMethod,
    pub summary: String,
    pub attitude: Option<crate::model::Attitude>,
    pub next_action: Option<String>,
    pub next_due: Option<Day>,
}

impl NewFollowUp {
    /// A follow-up with just the essentials.
    pub fn new(occurred_at: DateTime<Utc>, method: ContactMethod, summary: &str) -> NewFollowUp {
        NewFollowUp {
            occurred_at,
            method,
            summary: summary.to_owned(),
            attitude: None,
            next_action: None,
            next_due: None,
        }
    }
}

/// A new opportunity; its probability defaults to the stage's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOpportunity {
    pub name: String,
    pub stage: Stage,
    pub probability: Option<u8>,
    pub amount: Option<Money>,
    pub expected_close: Option<Day>,
    pub owner: String,
}

/// One change a rep makes to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEdit {
    SetName(String),
    SetOwner(String),
    SetRegion(String),
    SetIndustry(String),
    SetSize(String),
    SetSource(Source),
    SetFirstContact(Day),
    SetLevel(Level),
    SetPriority(Priority),
    SetNeeds(Needs),
    /// Replaces the notes; concurrent edits to different parts of the text both survive.
    SetNotes(String),
    /// Sets (or with `None` removes) an admin-defined field.
    SetCustom {
        field: String,
        value: Option<String>,
    },
    /// Moves the account along its lifecycle (`lost`, `dormant` and conversion have their own
    /// edits, since they need more than a status).
    SetStatus(Status),
    MarkLost {
        reason: String,
    },
    MarkDormant {
        wake_up_on: Day,
    },
    /// Turns a lead into a customer with intent, keeping its history.
    ConvertLead {
        on: Day,
    },
    AddContact(Contact),
    EditContact {
        id: String,
        contact: Contact,
    },
    RemoveContact(String),
    LogFollowUp(NewFollowUp),
    PlanFollowUp {
        due: DateTime<Utc>,
        method: ContactMethod,
        goal: String,
        owner: Option<String>,
    },
    CompletePlan(String),
    AddOpportunity(NewOpportunity),
    /// Moves an opportunity to a stage; `probability` defaults to the stage's default.
    MoveOpportunity {
        id: String,
        stage: Stage,
        probability: Option<u8>,
        amount: Option<Money>,
        signed_on: Option<Day>,
        lost_reason: Option<String>,
    },
    RecordDeal(Deal),
    RecordService(Service),
}

/// Who is editing and when, and a source of fresh ids for new entries.
pub(crate) struct EditContext<'a> {
    pub device: DeviceId,
    pub now: DateTime<Utc>,
    pub new_id: &'a mut dyn FnMut() -> String,
    /// The readable-code number reserved for an account being created.
    pub code_seq: Option<u32>,
}

/// Builds the document of a new account.
pub(crate) fn init(new: &NewAccount, ctx: &mut EditContext<'_>) -> AccountDoc {
    let code = ctx.code_seq.map(|seq| match new.kind {
        Kind::Lead => {
            let source = new.source.as_ref().map_or("lead", Source::code_prefix);
            code::lead_code(source, ctx.now.date_naive(), seq, ctx.device)
        }
        _ => code::customer_code(new.industry.as_deref(), ctx.now.year(), seq, ctx.device),
    });
    let status = match new.kind {
        Kind::Lead => Status::ToFollow,
        _ => Status::Potential,
    };
    let mut contacts = BTreeMap::new();
    if let Some(contact) = &new.contact {
        contacts.insert((ctx.new_id)(), trimmed_contact(contact));
    }
    let mut status_history = BTreeMap::new();
    status_history.insert((ctx.new_id)(), status_change(&status, ctx));
    AccountDoc {
        schema: SCHEMA_VERSION,
        name: new.name.trim().to_owned(),
        owner: new.owner.trim().to_owned(),
        region: trimmed(&new.region),
        created_at: At(ctx.now),
        code: code.map(|c| c.to_string()),
        created_by: Some(ctx.device.to_string()),
        industry: new.industry.as_deref().map(industry_code),
        size: trimmed(&new.size),
        source: new.source.clone(),
        first_contact: new.first_contact,
        kind: new.kind.clone(),
        status: status.clone(),
        lost_reason: None,
        wake_up_on: None,
        converted_on: None,
        level: new.level.clone(),
        priority: new.priority.clone(),
        needs: Needs::default(),
        notes: Default::default(),
        contacts,
        follow_ups: BTreeMap::new(),
        plans: BTreeMap::new(),
        opportunities: BTreeMap::new(),
        deals: BTreeMap::new(),
        services: BTreeMap::new(),
        custom: new
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect(),
        comments: BTreeMap::new(),
        merged_into: None,
        archived: None,
        status_history,
    }
}

fn status_change(status: &Status, ctx: &EditContext<'_>) -> StatusChange {
    StatusChange {
        status: status.clone(),
        at: At(ctx.now),
        by: ctx.device.to_string(),
    }
}

/// The document `new` would become, for checking it without writing anything.
pub(crate) fn preview(new: &NewAccount, now: DateTime<Utc>) -> AccountDoc {
    let mut count = 0u64;
    let mut new_id = || {
        count += 1;
        format!("{count:016x}")
    };
    let device = DeviceId::from_u128(0);
    init(
        new,
        &mut EditContext {
            device,
            now,
            new_id: &mut new_id,
            code_seq: None,
        },
    )
}

/// The classification code of an industry as written (`信息技术` → `I`); text that names no
/// industry is kept as written, for the rules to report.
fn industry_code(text: &str) -> String {
    crate::industry::Industry::from_words(text)
        .map_or_else(|| text.trim().to_owned(), |industry| industry.to_string())
}

fn trimmed(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|v| v.trim().to_owned())
}

fn trimmed_contact(contact: &Contact) -> Contact {
    Contact {
        name: contact.name.trim().to_owned(),
        title: trimmed(&contact.title),
        role: contact.role.clone(),
        phone: trimmed(&contact.phone),
        email: trimmed(&contact.email),
    }
}

fn entry<'m, T>(
    map: &'m mut BTreeMap<String, T>,
    kind: &str,
    id: &str,
) -> Result<&'m mut T, InvalidField> {
    map.get_mut(id)
        .ok_or_else(|| invalid(kind, format!("no {kind} with id `{id}` in this account")))
}

/// Applies one edit to the typed document. Returns the id of a newly added entry, if any.
/// Rules are checked afterwards, on the whole difference, by [`rules::check`].
///
/// A customer who has a won opportunity and a recorded deal is won: the edit that completes
/// the pair (moving an opportunity to won, recording a deal) also sets the status, so the
/// change carries it like any other field and the rep sees it. Every status change, this
/// one included, is added to the status history.
pub(crate) fn apply(
    doc: &mut AccountDoc,
    edit: &AccountEdit,
    ctx: &mut EditContext<'_>,
) -> Result<Option<String>, InvalidField> {
    let before = doc.status.clone();
    let added = apply_edit(doc, edit, ctx)?;
    let wins = matches!(
        edit,
        AccountEdit::MoveOpportunity {
            stage: Stage::Won,
            ..
        } | AccountEdit::RecordDeal(_)
    );
    if wins && is_won_sale(doc) {
        doc.status = Status::Won;
    }
    if doc.status != before {
        let change = status_change(&doc.status, ctx);
        doc.status_history.insert((ctx.new_id)(), change);
    }
    Ok(added)
}

/// Whether `doc` is a customer (not yet marked won) with a won opportunity and a deal.
pub fn is_won_sale(doc: &AccountDoc) -> bool {
    doc.kind == Kind::Customer
        && doc.status != Status::Won
        && !doc.deals.is_empty()
        && doc.opportunities.values().any(|o| o.stage == Stage::Won)
}

fn apply_edit(
    doc: &mut AccountDoc,
    edit: &AccountEdit,
    ctx: &mut EditContext<'_>,
) -> Result<Option<String>, InvalidField> {
    let set = |slot: &mut Option<String>, value: &str| *slot = Some(value.trim().to_owned());
    match edit {
        AccountEdit::SetName(name) => doc.name = name.trim().to_owned(),
        AccountEdit::SetOwner(owner) => doc.owner = owner.trim().to_owned(),
        AccountEdit::SetRegion(region) => set(&mut doc.region, region),
        AccountEdit::SetIndustry(industry) => doc.industry = Some(industry_code(industry)),
        AccountEdit::SetSize(size) => set(&mut doc.size, size),
        AccountEdit::SetSource(source) => doc.source = Some(source.clone()),
        AccountEdit::SetFirstContact(day) => doc.first_contact = Some(*day),
        AccountEdit::SetLevel(level) => doc.level = Some(level.clone()),
        AccountEdit::SetPriority(priority) => doc.priority = Some(priority.clone()),
        AccountEdit::SetNeeds(needs) => doc.needs = needs.clone(),
        AccountEdit::SetNotes(text) => doc.notes = text.as_str().into(),
        AccountEdit::SetCustom { field, value } => match value {
            Some(value) => {
                doc.custom.insert(field.clone(), value.trim().to_owned());
            }
            None => {
                doc.custom.remove(field);
            }
        },
        AccountEdit::SetStatus(status) => {
            if matches!(status, Status::Lost | Status::Dormant) {
                return Err(invalid(
                    "status",
                    format!("use the {status} edit, which takes what it needs"),
                ));
            }
            doc.status = status.clone();
        }
        AccountEdit::MarkLost { reason } => {
            doc.status = Status::Lost;
            doc.lost_reason = Some(reason.trim().to_owned());
        }
        AccountEdit::MarkDormant { wake_up_on } => {
            if doc.kind != Kind::Lead {
                return Err(invalid("status", "only a lead can be dormant"));
            }
            doc.status = Status::Dormant;
            doc.wake_up_on = Some(*wake_up_on);
        }
        AccountEdit::ConvertLead { on } => {
            if doc.kind != Kind::Lead {
                return Err(invalid("kind", "this account is already a customer"));
            }
            doc.kind = Kind::Customer;
            doc.status = Status::Intent;
            doc.converted_on = Some(*on);
        }
        AccountEdit::AddContact(contact) => {
            let id = (ctx.new_id)();
            doc.contacts.insert(id.clone(), trimmed_contact(contact));
            return Ok(Some(id));
        }
        AccountEdit::EditContact { id, contact } => {
            *entry(&mut doc.contacts, "contact", id)? = trimmed_contact(contact);
        }
        AccountEdit::RemoveContact(id) => {
            doc.contacts
                .remove(id)
                .ok_or_else(|| invalid("contact", format!("no contact with id `{id}`")))?;
        }
        AccountEdit::LogFollowUp(f) => {
            let id = (ctx.new_id)();
            doc.follow_ups.insert(
                id.clone(),
                FollowUp {
                    occurred_at: At(f.occurred_at),
                    recorded_at: At(ctx.now),
                    method: f.method.clone(),
                    summary: f.summary.trim().to_owned(),
                    logged_by: ctx.device.to_string(),
                    attitude: f.attitude.clone(),
                    next_action: trimmed(&f.next_action),
                    next_due: f.next_due,
                },
            );
            if doc.status == Status::ToFollow {
                doc.status = Status::Following;
            }
            return Ok(Some(id));
        }
        AccountEdit::PlanFollowUp {
            due,
            method,
            goal,
            owner,
        } => {
            let id = (ctx.new_id)();
            let owner = owner.clone().unwrap_or_else(|| doc.owner.clone());
            let plan = Plan {
                due: At(*due),
                owner,
                method: method.clone(),
                goal: goal.trim().to_owned(),
                done: false,
            };
            doc.plans.insert(id.clone(), plan);
            return Ok(Some(id));
        }
        AccountEdit::CompletePlan(id) => entry(&mut doc.plans, "plan", id)?.done = true,
        AccountEdit::AddOpportunity(new) => {
            let id = (ctx.new_id)();
            let opportunity = Opportunity {
                name: new.name.trim().to_owned(),
                stage: new.stage.clone(),
                probability: new
                    .probability
                    .unwrap_or_else(|| rules::default_probability(&new.stage)),
                amount: new.amount.clone(),
                expected_close: new.expected_close,
                owner: new.owner.trim().to_owned(),
                signed_on: None,
                lost_reason: None,
            };
            doc.opportunities.insert(id.clone(), opportunity);
            return Ok(Some(id));
        }
        AccountEdit::MoveOpportunity {
            id,
            stage,
            probability,
            amount,
            signed_on,
            lost_reason,
        } => {
            let o = entry(&mut doc.opportunities, "opportunity", id)?;
            if o.stage != *stage || probability.is_some() {
                o.probability = probability.unwrap_or_else(|| rules::default_probability(stage));
            }
            o.stage = stage.clone();
            if amount.is_some() {
                o.amount = amount.clone();
            }
            if signed_on.is_some() {
                o.signed_on = *signed_on;
            }
            if lost_reason.is_some() {
                o.lost_reason = trimmed(lost_reason);
            }
        }
        AccountEdit::RecordDeal(deal) => {
            let id = (ctx.new_id)();
            doc.deals.insert(id.clone(), deal.clone());
            return Ok(Some(id));
        }
        AccountEdit::RecordService(service) => {
            let id = (ctx.new_id)();
            doc.services.insert(id.clone(), service.clone());
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// An account as a rep sees it, merged from every device's edits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: DocId,
    #[serde(flatten)]
    pub record: AccountDoc,
    /// Fields two devices set concurrently. The record shows the first value of each.
    pub conflicts: Vec<Conflict>,
}

impl Account {
    /// The follow-ups, oldest first by when they happened (never by upload time).
    pub fn follow_ups(&self) -> Vec<(&String, &FollowUp)> {
        let mut all: Vec<_> = self.record.follow_ups.iter().collect();
        all.sort_by_key(|(id, f)| (f.occurred_at, *id));
        all
    }
}

/// A stored document that does not hold an account this version can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {doc} does not hold an account: {reason}")]
pub struct SchemaError {
    pub doc: DocId,
    pub reason: String,
}

/// Reads the typed account out of its document (or an open transaction on it).
pub fn hydrate<D: autosurgeon::ReadDoc>(doc: &D, id: DocId) -> Result<AccountDoc, SchemaError> {
    autosurgeon::hydrate(doc).map_err(|e| schema_error(id, e))
}

/// Brings `record` up to date with `doc` after the changes `patches` describe, reading only
/// what they touched, and returns what they changed ([`crate::model::refresh_delta`]).
pub fn refresh_delta(
    doc: &Automerge,
    id: DocId,
    record: &mut AccountDoc,
    patches: &[automerge::Patch],
) -> Result<crate::model::Delta, SchemaError> {
    crate::model::refresh_delta(doc, record, patches).map_err(|e| schema_error(id, e))
}

/// [`refresh_delta`], for a caller that needs only the record.
pub fn refresh(
    doc: &Automerge,
    id: DocId,
    record: &mut AccountDoc,
    patches: &[automerge::Patch],
) -> Result<(), SchemaError> {
    refresh_delta(doc, id, record, patches).map(drop)
}

fn schema_error(doc: DocId, e: autosurgeon::HydrateError) -> SchemaError {
    SchemaError {
        doc,
        reason: e.to_string(),
    }
}

/// Reads an account with its conflicts.
pub(crate) fn read(doc: &Automerge, id: DocId) -> Result<Account, SchemaError> {
    Ok(Account {
        id,
        record: hydrate(doc, id)?,
        conflicts: conflicts::find(doc),
    })
}

/// The short form of an account the device keeps for listing, searching, the day's agenda and
/// duplicate checks without loading documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub id: DocId,
    pub code: Option<String>,
    pub name: String,
    pub owner: String,
    pub kind: String,
    pub status: String,
    pub priority: Option<String>,
    pub follow_ups: u32,
    pub last_follow_up: Option<DateTime<Utc>>,
    /// When the next contact is due by plan or cadence, in parts that any time zone resolves
    /// ([`crate::facts::Due::resolve`]); `None` for closed accounts.
    pub next_due: Option<crate::facts::Due>,
    /// Normalised name and contact details, for duplicate checks.
    pub match_keys: Vec<String>,
    /// The contacts' names, titles, phones and emails, for search.
    #[serde(default)]
    pub contacts: Vec<String>,
}

impl AccountSummary {
    pub(crate) fn of(id: DocId, doc: &AccountDoc) -> AccountSummary {
        AccountSummary {
            id,
            code: doc.code.clone(),
            name: doc.name.clone(),
            owner: doc.owner.clone(),
            kind: doc.kind.to_string(),
            status: doc.status.to_string(),
            priority: doc.priority.as_ref().map(ToString::to_string),
            follow_ups: u32::try_from(doc.follow_ups.len()).unwrap_or(u32::MAX),
            last_follow_up: doc.follow_ups.values().map(|f| f.occurred_at.0).max(),
            next_due: crate::facts::due(doc),
            match_keys: crate::duplicates::match_keys(&doc.name, doc.contacts.values()),
            contacts: doc
                .contacts
                .values()
                .flat_map(|c| {
                    [
                        Some(&c.name),
                        c.title.as_ref(),
                        c.phone.as_ref(),
                        c.email.as_ref(),
                    ]
                })
                .flatten()
                .cloned()
                .collect(),
        }
    }

    /// Whether the account's name, code, owner or a contact's name, title, phone or email
    /// contains `query`, compared with full-width forms folded and case ignored; a query of
    /// digits (`138 0013 8000`, `+86-755-8888-1234`) matches a phone however it is spaced.
    pub fn matches(&self, query: &str) -> bool {
        let wanted = crate::text::fold(query).to_lowercase();
        if wanted.is_empty() {
            return true;
        }
        let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
        let wanted_digits = digits(&wanted);
        let is_number = wanted_digits.len() >= 3
            && wanted
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()转".contains(c));
        [Some(&self.name), self.code.as_ref(), Some(&self.owner)]
            .into_iter()
            .flatten()
            .chain(&self.contacts)
            .any(|text| {
                let folded = crate::text::fold(text).to_lowercase();
                folded.contains(&wanted) || (is_number && digits(&folded).contains(&wanted_digits))
            })
    }
}
