//! The account document: how one customer account is laid out in automerge, and the typed
//! view and edits the rest of the crate uses.
//!
//! Layout (schema 1): the root map holds `schema`, `name`, `owner`, `region`, `created_at`
//! and `follow_ups`, a map keyed by follow-up id so concurrent inserts merge by identity.

use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, Utc};
use outpost_protocol::{DeviceId, DocId};
use serde::{Deserialize, Serialize};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = 1;

const MAX_TEXT: usize = 2_000;

/// Fields of a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub owner: String,
    pub region: Option<String>,
}

/// One change a rep makes to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEdit {
    SetName(String),
    SetOwner(String),
    SetRegion(String),
    LogFollowUp(NewFollowUp),
}

/// A contact with the customer, as the rep logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFollowUp {
    /// When the contact happened, by the rep's account (device clock or typed in).
    pub occurred_at: DateTime<Utc>,
    pub method: ContactMethod,
    pub summary: String,
}

/// How the rep reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Phone,
    Messaging,
    Email,
    Visit,
    Video,
}

impl ContactMethod {
    const ALL: [ContactMethod; 5] = [
        ContactMethod::Phone,
        ContactMethod::Messaging,
        ContactMethod::Email,
        ContactMethod::Visit,
        ContactMethod::Video,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ContactMethod::Phone => "phone",
            ContactMethod::Messaging => "messaging",
            ContactMethod::Email => "email",
            ContactMethod::Visit => "visit",
            ContactMethod::Video => "video",
        }
    }
}

impl fmt::Display for ContactMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContactMethod {
    type Err = InvalidField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| InvalidField {
                field: "method",
                reason: format!("`{s}` is not one of phone, messaging, email, visit, video"),
            })
    }
}

/// A field value that breaks a record rule; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidField {
    pub field: &'static str,
    pub reason: String,
}

/// An account as a rep sees it, merged from every device's edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: DocId,
    pub name: String,
    pub owner: String,
    pub region: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Oldest first, by when the contact happened (never by upload time).
    pub follow_ups: Vec<FollowUp>,
    /// Fields two devices set concurrently. The account shows the first value of each.
    pub conflicts: Vec<FieldConflict>,
}

/// A logged contact with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// When the device recorded it, by the device's clock.
    pub recorded_at: DateTime<Utc>,
    pub method: ContactMethod,
    pub summary: String,
    pub logged_by: String,
}

/// A field with more than one concurrent value: the shown value first, then the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldConflict {
    pub field: &'static str,
    pub values: Vec<String>,
}

/// The short form of an account the device keeps for listing without loading documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub id: DocId,
    pub name: String,
    pub owner: String,
    pub follow_ups: u32,
    pub last_follow_up: Option<DateTime<Utc>>,
}

impl From<&Account> for AccountSummary {
    fn from(account: &Account) -> Self {
        AccountSummary {
            id: account.id,
            name: account.name.clone(),
            owner: account.owner.clone(),
            follow_ups: u32::try_from(account.follow_ups.len()).unwrap_or(u32::MAX),
            last_follow_up: account.follow_ups.iter().map(|f| f.occurred_at).max(),
        }
    }
}

/// A stored document that does not follow the account schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {doc} does not hold an account: {reason}")]
pub struct SchemaError {
    pub doc: DocId,
    pub reason: String,
}

fn required_text(field: &'static str, value: &str) -> Result<(), InvalidField> {
    if value.trim().is_empty() {
        return Err(InvalidField {
            field,
            reason: "must not be empty".into(),
        });
    }
    if value.chars().count() > MAX_TEXT {
        return Err(InvalidField {
            field,
            reason: format!("longer than {MAX_TEXT} characters"),
        });
    }
    Ok(())
}

impl NewAccount {
    pub(crate) fn validate(&self) -> Result<(), InvalidField> {
        required_text("name", &self.name)?;
        required_text("owner", &self.owner)?;
        self.region
            .as_deref()
            .map_or(Ok(()), |r| required_text("region", r))
    }
}

impl AccountEdit {
    pub(crate) fn validate(&self) -> Result<(), InvalidField> {
        match self {
            AccountEdit::SetName(name) => required_text("name", name),
            AccountEdit::SetOwner(owner) => required_text("owner", owner),
            AccountEdit::SetRegion(region) => required_text("region", region),
            AccountEdit::LogFollowUp(f) => required_text("summary", &f.summary),
        }
    }
}

fn timestamp(at: DateTime<Utc>) -> ScalarValue {
    ScalarValue::Timestamp(at.timestamp_millis())
}

/// Writes a new account into an empty document.
pub(crate) fn init(
    tx: &mut impl Transactable,
    new: &NewAccount,
    now: DateTime<Utc>,
) -> Result<(), automerge::AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "name", new.name.trim())?;
    tx.put(ROOT, "owner", new.owner.trim())?;
    if let Some(region) = &new.region {
        tx.put(ROOT, "region", region.trim())?;
    }
    tx.put(ROOT, "created_at", timestamp(now))?;
    tx.put_object(ROOT, "follow_ups", ObjType::Map)?;
    Ok(())
}

/// Applies one validated edit. `follow_up_id` names a new follow-up; it must be unique.
pub(crate) fn apply(
    tx: &mut impl Transactable,
    edit: &AccountEdit,
    device: DeviceId,
    follow_up_id: &str,
    now: DateTime<Utc>,
) -> Result<(), automerge::AutomergeError> {
    match edit {
        AccountEdit::SetName(name) => tx.put(ROOT, "name", name.trim()),
        AccountEdit::SetOwner(owner) => tx.put(ROOT, "owner", owner.trim()),
        AccountEdit::SetRegion(region) => tx.put(ROOT, "region", region.trim()),
        AccountEdit::LogFollowUp(f) => {
            let list = match tx.get(ROOT, "follow_ups")? {
                Some((Value::Object(ObjType::Map), id)) => id,
                _ => tx.put_object(ROOT, "follow_ups", ObjType::Map)?,
            };
            let entry = tx.put_object(&list, follow_up_id, ObjType::Map)?;
            tx.put(&entry, "occurred_at", timestamp(f.occurred_at))?;
            tx.put(&entry, "recorded_at", timestamp(now))?;
            tx.put(&entry, "method", f.method.as_str())?;
            tx.put(&entry, "summary", f.summary.trim())?;
            tx.put(&entry, "logged_by", device.to_string())
        }
    }
}

fn scalar_text(value: &Value<'_>) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Timestamp(ms) => DateTime::from_timestamp_millis(*ms)
                .map_or_else(|| ms.to_string(), |t| t.to_rfc3339()),
            other => other.to_string(),
        },
        Value::Object(kind) => format!("<{kind:?}>"),
    }
}

/// Reads one field, recording a conflict when devices set it concurrently.
struct Reader<'a> {
    doc: &'a Automerge,
    id: DocId,
    conflicts: Vec<FieldConflict>,
}

impl Reader<'_> {
    fn text(&mut self, obj: &ObjId, field: &'static str) -> Result<Option<String>, SchemaError> {
        let shown = self
            .doc
            .get(obj, field)
            .map_err(|e| self.error(e.to_string()))?;
        let Some((shown_value, shown_id)) = shown else {
            return Ok(None);
        };
        let all = self
            .doc
            .get_all(obj, field)
            .map_err(|e| self.error(e.to_string()))?;
        if all.len() > 1 && *obj == ROOT {
            let others = all
                .iter()
                .filter(|(_, id)| *id != shown_id)
                .map(|(v, _)| scalar_text(v));
            let values = std::iter::once(scalar_text(&shown_value))
                .chain(others)
                .collect();
            self.conflicts.push(FieldConflict { field, values });
        }
        Ok(Some(scalar_text(&shown_value)))
    }

    fn time(&self, obj: &ObjId, field: &'static str) -> Result<Option<DateTime<Utc>>, SchemaError> {
        match self
            .doc
            .get(obj, field)
            .map_err(|e| self.error(e.to_string()))?
        {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Timestamp(ms) => Ok(DateTime::from_timestamp_millis(*ms)),
                other => Err(self.error(format!("{field} is {other}, not a timestamp"))),
            },
            Some(_) => Err(self.error(format!("{field} is not a timestamp"))),
            None => Ok(None),
        }
    }

    fn error(&self, reason: String) -> SchemaError {
        SchemaError {
            doc: self.id,
            reason,
        }
    }

    fn follow_up(&mut self, key: String, obj: &ObjId) -> Result<FollowUp, SchemaError> {
        let doc = self.id;
        let missing = |field| SchemaError {
            doc,
            reason: format!("follow-up {key} has no {field}"),
        };
        let occurred_at = self
            .time(obj, "occurred_at")?
            .ok_or_else(|| missing("occurred_at"))?;
        let recorded_at = self
            .time(obj, "recorded_at")?
            .ok_or_else(|| missing("recorded_at"))?;
        let method = self.text(obj, "method")?.ok_or_else(|| missing("method"))?;
        let method = method
            .parse()
            .map_err(|e: InvalidField| self.error(e.to_string()))?;
        Ok(FollowUp {
            occurred_at,
            recorded_at,
            method,
            summary: self.text(obj, "summary")?.unwrap_or_default(),
            logged_by: self.text(obj, "logged_by")?.unwrap_or_default(),
            id: key,
        })
    }
}

/// Reads an account out of its document.
pub(crate) fn read(doc: &Automerge, id: DocId) -> Result<Account, SchemaError> {
    let mut reader = Reader {
        doc,
        id,
        conflicts: Vec::new(),
    };
    let name = reader
        .text(&ROOT, "name")?
        .ok_or_else(|| reader.error("no name".into()))?;
    let owner = reader
        .text(&ROOT, "owner")?
        .ok_or_else(|| reader.error("no owner".into()))?;
    let region = reader.text(&ROOT, "region")?;
    let created_at = reader.time(&ROOT, "created_at")?;
    let mut follow_ups = Vec::new();
    if let Some((Value::Object(ObjType::Map), list)) = doc
        .get(ROOT, "follow_ups")
        .map_err(|e| reader.error(e.to_string()))?
    {
        for key in doc.keys(&list) {
            if let Some((Value::Object(ObjType::Map), entry)) = doc
                .get(&list, key.as_str())
                .map_err(|e| reader.error(e.to_string()))?
            {
                follow_ups.push(reader.follow_up(key, &entry)?);
            }
        }
    }
    follow_ups.sort_by(|a, b| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
    Ok(Account {
        id,
        name,
        owner,
        region,
        created_at,
        follow_ups,
        conflicts: reader.conflicts,
    })
}
