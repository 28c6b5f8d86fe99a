//! The account document: the Rust types of a customer account and how they map to automerge
//! (through autosurgeon).
//!
//! Every collection is a map keyed by a random id, so concurrent inserts and edits on two
//! devices merge by identity, never by position. Enumerations are stored as strings and keep
//! any value this version does not know (`Other`), and structs never delete keys they do not
//! know, so fields written by a newer version survive a round trip through an older device.
//! Fields added after schema 1 default when missing, so older documents load.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, AutomergeError, ObjType, Patch, PatchAction, Prop, ROOT, ReadDoc, Value,
};
use autosurgeon::{
    Hydrate, HydrateError, Reconcile, ReconcileError, Reconciler, reconcile::TextReconciler,
    reconcile_prop,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};

/// The schema version this build writes. 1: name/owner/region/follow-ups; 2: the CRM record.
pub const SCHEMA_VERSION: u64 = 2;

/// A moment, to the millisecond, stored as an automerge timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At(pub DateTime<Utc>);

impl Reconcile for At {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.timestamp(self.0.timestamp_millis())
    }
}

impl Hydrate for At {
    fn hydrate_timestamp(ms: i64) -> Result<Self, HydrateError> {
        DateTime::from_timestamp_millis(ms)
            .map(At)
            .ok_or_else(|| HydrateError::unexpected("a timestamp in range", ms.to_string()))
    }
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A calendar day, stored as `YYYY-MM-DD` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl Reconcile for Day {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.0.format("%Y-%m-%d").to_string())
    }
}

impl Hydrate for Day {
    fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
        s.parse()
            .map(Day)
            .map_err(|_| HydrateError::unexpected("a YYYY-MM-DD date", s.into()))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An amount of money: integer minor units (cents, fen) and an ISO 4217 currency code.
/// Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Reconcile, Hydrate, Serialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// Defines an enumeration stored as a string, which keeps unknown strings as `Other`. Each
/// value has its stored code, its Simplified Chinese label (the team's own word for it) and
/// other words people write for it on import.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$vdoc:meta])* $variant:ident => $text:literal, $zh:literal $(| $alias:literal)*),+ $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value written by a newer version; kept as it is.
            Other(String),
        }

        impl $name {
            /// Every value this version knows.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }

            /// The label a person reads in `lang` (an unknown value shows as stored).
            pub fn label(&self, lang: Lang) -> std::borrow::Cow<'_, str> {
                match (self, lang) {
                    $(($name::$variant, Lang::Zh) => $zh.into(),)+
                    (known, _) => known.as_str().replace('_', " ").into(),
                }
            }

            fn from_text(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }

            /// A value as a person writes it: the code (`-` and spaces count as `_`, any
            /// case, full-width forms folded), the Chinese label, or a common synonym.
            fn from_words(s: &str) -> Option<$name> {
                let folded = crate::text::fold(s);
                let wanted = folded.to_lowercase().replace(['-', ' '], "_");
                match $name::from_text(&wanted) {
                    $name::Other(_) => match folded.as_str() {
                        $($zh $(| $alias)* => Some($name::$variant),)+
                        _ => None,
                    },
                    known => Some(known),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Parses a known value, by its code or its Chinese label (see `from_words`).
        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::from_words(s).ok_or_else(|| format!(
                    "`{s}` is not one of {}",
                    $name::KNOWN
                        .iter()
                        .map(|v| format!("{} ({})", v.as_str(), v.label(Lang::Zh)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }

        impl Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;

            fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
                reconciler.str(self.as_str())
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
                Ok($name::from_text(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// The languages Outpost speaks: Simplified Chinese first, English beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The language of a locale name such as `zh_CN.UTF-8`, `zh-Hans`, `en_US` or `C`.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

text_enum!(
    /// Whether the account is still a lead or already a qualified customer.
    Kind { Lead => "lead", "线索", Customer => "customer", "客户" }
);

text_enum!(
    /// Where the account is in its lifecycle. Leads use the first four, customers the last
    /// four (`lost` is shared). A converted lead is a customer with `converted_on` set.
    Status {
        ToFollow => "to_follow", "待跟进",
        Following => "following", "跟进中",
        Dormant => "dormant", "休眠",
        Lost => "lost", "流失客户" | "已流失" | "流失",
        Potential => "potential", "潜在客户" | "潜在",
        Intent => "intent", "意向客户" | "意向",
        Won => "won", "成交客户" | "成交",
    }
);

text_enum!(
    /// How much the account matters: sets the follow-up cadence with the priority.
    Level {
        Key => "key", "重点客户" | "重点",
        Normal => "normal", "普通客户" | "普通",
        Growth => "growth", "潜力客户" | "潜力",
    }
);

text_enum!(
    /// A: closes within a month and at least 70 % likely … D: no clear need.
    Priority { A => "a", "A", B => "b", "B", C => "c", "C", D => "d", "D" }
);

text_enum!(
    /// The channel the account came from.
    Source {
        TradeShow => "trade_show", "展会",
        Referral => "referral", "转介绍",
        OnlineCampaign => "online_campaign", "线上推广",
        Inbound => "inbound", "主动咨询",
        ColdVisit => "cold_visit", "陌生拜访",
    }
);

impl Source {
    /// The abbreviation lead codes from this source start with (`EXPO-20240315-001-…`).
    pub fn code_prefix(&self) -> &str {
        match self {
            Source::TradeShow => "EXPO",
            Source::Referral => "REF",
            Source::OnlineCampaign => "WEB",
            Source::Inbound => "INQ",
            Source::ColdVisit => "VISIT",
            Source::Other(other) => other,
        }
    }
}

text_enum!(
    /// How the rep reached the customer.
    ContactMethod {
        Phone => "phone", "电话",
        /// A messaging app (WeChat and the like).
        Messaging => "messaging", "微信" | "消息" | "wechat" | "WeChat",
        Email => "email", "邮件" | "电子邮件",
        Visit => "visit", "上门拜访" | "拜访",
        Video => "video", "视频会议" | "视频",
        /// An industry conference or trade event.
        Conference => "conference", "行业会议" | "会议",
    }
);

text_enum!(
    /// A contact's part in the buying decision.
    Role {
        DecisionMaker => "decision_maker", "决策人",
        Executor => "executor", "执行人",
        Influencer => "influencer", "影响者",
    }
);

text_enum!(
    /// How the customer took the contact.
    Attitude {
        Positive => "positive", "积极关注" | "积极",
        Hesitant => "hesitant", "犹豫不决" | "犹豫",
        Refused => "refused", "明确拒绝" | "拒绝",
    }
);

text_enum!(
    /// Where an opportunity stands; each stage has a probability range.
    Stage {
        Potential => "potential", "潜在客户" | "潜在",
        NeedsConfirmed => "needs_confirmed", "需求明确",
        SolutionAccepted => "solution_accepted", "方案认可",
        Negotiation => "negotiation", "商务谈判",
        Won => "won", "成交",
        Lost => "lost", "暂停·丢单" | "暂停/丢单" | "暂停" | "丢单",
    }
);

text_enum!(
    /// How a deal is paid.
    Payment {
        Online => "online", "线上支付",
        Offline => "offline", "线下支付",
        Instalments => "instalments", "分期付款" | "分期",
    }
);

/// A person at the customer. Only what the work needs: no national ID, no home address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Reconcile, Hydrate, Serialize)]
pub struct Contact {
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub title: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub role: Option<Role>,
    #[autosurgeon(missing = "Default::default")]
    pub phone: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub email: Option<String>,
}

/// One contact with the customer, logged by a rep.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct FollowUp {
    /// When it happened, by the rep's account.
    pub occurred_at: At,
    /// When the device recorded it (device clock).
    pub recorded_at: At,
    pub method: ContactMethod,
    pub summary: String,
    /// The device that logged it.
    pub logged_by: String,
    #[autosurgeon(missing = "Default::default")]
    pub attitude: Option<Attitude>,
    #[autosurgeon(missing = "Default::default")]
    pub next_action: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub next_due: Option<Day>,
}

/// A contact the rep plans to make.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Plan {
    pub due: At,
    pub owner: String,
    pub method: ContactMethod,
    pub goal: String,
    #[autosurgeon(missing = "Default::default")]
    pub done: bool,
}

/// A possible sale moving through the stages.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Opportunity {
    pub name: String,
    pub stage: Stage,
    /// Percent, within the stage's range.
    pub probability: u8,
    #[autosurgeon(missing = "Default::default")]
    pub amount: Option<Money>,
    #[autosurgeon(missing = "Default::default")]
    pub expected_close: Option<Day>,
    pub owner: String,
    #[autosurgeon(missing = "Default::default")]
    pub signed_on: Option<Day>,
    #[autosurgeon(missing = "Default::default")]
    pub lost_reason: Option<String>,
}

/// A closed sale.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Deal {
    pub closed_on: Day,
    pub amount: Money,
    pub products: String,
    pub payment: Payment,
    #[autosurgeon(missing = "Default::default")]
    pub notes: Option<String>,
}

/// After-sales service given to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Service {
    pub on: Day,
    pub work: String,
    pub result: String,
    /// 1 (poor) to 5 (excellent).
    #[autosurgeon(missing = "Default::default")]
    pub satisfaction: Option<u8>,
    #[autosurgeon(missing = "Default::default")]
    pub next_step: Option<String>,
}

/// What the customer wants and can spend.
#[derive(Debug, Clone, PartialEq, Eq, Default, Reconcile, Hydrate, Serialize)]
pub struct Needs {
    #[autosurgeon(missing = "Default::default")]
    pub explicit: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub latent: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub pain_points: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub budget_min: Option<Money>,
    #[autosurgeon(missing = "Default::default")]
    pub budget_max: Option<Money>,
    /// A month (`2025-03`) or a quarter (`2025-Q2`), never "soon".
    #[autosurgeon(missing = "Default::default")]
    pub purchase_period: Option<String>,
}

/// A manager's comment in the weekly review.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Comment {
    /// The manager's login.
    pub author: String,
    /// When the server received it.
    pub at: At,
    pub text: String,
    /// The follow-up it is about, if not the account as a whole.
    #[autosurgeon(missing = "Default::default")]
    pub follow_up: Option<String>,
}

/// Who took a lost account out of the working views, and when (written by the server).
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct Archived {
    /// The manager's or admin's login.
    pub by: String,
    /// When the server received it.
    pub at: At,
}

/// One change of the account's status: what it became, when and on which device. The
/// history lets the funnel count the stages an account reached, not only where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize)]
pub struct StatusChange {
    pub status: Status,
    /// When the device made the edit (device clock).
    pub at: At,
    /// The device that made it (like [`FollowUp::logged_by`]).
    pub by: String,
}

/// Collaborative text (the account's notes), held as its whole value.
///
/// It is written by handing automerge the new value (`update_text`): automerge diffs it against
/// the stored text by grapheme and counts positions in the document's own text encoding, so
/// concurrent edits to different parts of the text both survive. autosurgeon's `Text` counts its
/// splice positions in UTF-8 bytes while automerge counts Unicode code points, so with it any
/// character wider than one byte before an edit (`王总`, `Müller`) made the position run past
/// the end, or land in the wrong place.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Notes(String);

impl Notes {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Notes {
    fn from(value: String) -> Self {
        Notes(value)
    }
}

impl From<&str> for Notes {
    fn from(value: &str) -> Self {
        Notes(value.to_owned())
    }
}

impl Reconcile for Notes {
    type Key<'a> = autosurgeon::reconcile::NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.text()?.update(&self.0)
    }
}

impl Hydrate for Notes {
    fn hydrate_text<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> Result<Self, HydrateError> {
        Ok(Notes(doc.text(obj)?))
    }
}

/// A customer account: the whole automerge document.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize)]
pub struct AccountDoc {
    #[autosurgeon(missing = "schema_one")]
    pub schema: u64,
    pub name: String,
    pub owner: String,
    #[autosurgeon(missing = "Default::default")]
    pub region: Option<String>,
    pub created_at: At,
    #[autosurgeon(missing = "Default::default")]
    pub code: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub created_by: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub industry: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub size: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub source: Option<Source>,
    #[autosurgeon(missing = "Default::default")]
    pub first_contact: Option<Day>,
    #[autosurgeon(missing = "customer")]
    pub kind: Kind,
    #[autosurgeon(missing = "potential")]
    pub status: Status,
    #[autosurgeon(missing = "Default::default")]
    pub lost_reason: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub wake_up_on: Option<Day>,
    #[autosurgeon(missing = "Default::default")]
    pub converted_on: Option<Day>,
    #[autosurgeon(missing = "Default::default")]
    pub level: Option<Level>,
    #[autosurgeon(missing = "Default::default")]
    pub priority: Option<Priority>,
    #[autosurgeon(missing = "Default::default")]
    pub needs: Needs,
    #[autosurgeon(missing = "Default::default")]
    pub notes: Notes,
    #[autosurgeon(missing = "Default::default")]
    pub contacts: BTreeMap<String, Contact>,
    pub follow_ups: BTreeMap<String, FollowUp>,
    #[autosurgeon(missing = "Default::default")]
    pub plans: BTreeMap<String, Plan>,
    #[autosurgeon(missing = "Default::default")]
    pub opportunities: BTreeMap<String, Opportunity>,
    #[autosurgeon(missing = "Default::default")]
    pub deals: BTreeMap<String, Deal>,
    #[autosurgeon(missing = "Default::default")]
    pub services: BTreeMap<String, Service>,
    /// Fields an admin defined (such as a social-media handle), by field name.
    #[autosurgeon(missing = "Default::default")]
    pub custom: BTreeMap<String, String>,
    /// Managers' review comments on the account or one of its follow-ups, by id. Written by
    /// the server on a manager's behalf.
    #[autosurgeon(missing = "Default::default")]
    pub comments: BTreeMap<String, Comment>,
    /// The account this one was merged into as a duplicate (written by the server). A merged
    /// account is kept, with its history, but left out of working lists and views.
    #[autosurgeon(missing = "Default::default")]
    pub merged_into: Option<String>,
    /// A lost account archived by a manager (written by the server): kept, restorable, and
    /// left out of the team views until it is restored.
    #[autosurgeon(missing = "Default::default")]
    pub archived: Option<Archived>,
    /// Every status the account took, by random id (creation included); written by each edit
    /// that changes the status. A document from before it has none: its current status is
    /// all that is known of it.
    #[autosurgeon(missing = "Default::default")]
    pub status_history: BTreeMap<String, StatusChange>,
}

impl AccountDoc {
    /// Whether the account is or ever was at `status` (by its history and current status).
    pub fn reached(&self, status: &Status) -> bool {
        self.status == *status || self.status_history.values().any(|c| c.status == *status)
    }
}

fn schema_one() -> u64 {
    1
}

fn customer() -> Kind {
    Kind::Customer
}

fn potential() -> Status {
    Status::Potential
}

/// The containers schema 2 added to the document root. A schema-1 document lacks them all.
const SCHEMA_TWO_CONTAINERS: [(&str, ObjType); 8] = [
    ("needs", ObjType::Map),
    ("notes", ObjType::Text),
    ("contacts", ObjType::Map),
    ("plans", ObjType::Map),
    ("opportunities", ObjType::Map),
    ("deals", ObjType::Map),
    ("services", ObjType::Map),
    ("custom", ObjType::Map),
];

/// The actor of the upgrade change: the same on every device.
pub const UPGRADE_ACTOR: &[u8; 16] = b"outpost-schema-2";

/// Brings a schema-1 document up to schema 2's layout with a change every device builds
/// byte for byte the same (same actor, no dependencies, time zero), so two devices that
/// upgrade the same document offline produce one change, not two rival sets of containers
/// whose entries would hide each other. Returns whether the document needed it.
pub(crate) fn upgrade(doc: &mut Automerge) -> Result<bool, AutomergeError> {
    let missing = SCHEMA_TWO_CONTAINERS
        .iter()
        .filter(|(key, _)| doc.get(ROOT, *key).ok().flatten().is_none())
        .count();
    if missing < SCHEMA_TWO_CONTAINERS.len() {
        // Already upgraded (here or by a change received from another device).
        return Ok(false);
    }
    doc.apply_changes([upgrade_change().clone()])?;
    Ok(true)
}

/// The one change the upgrade actor ever signs: schema 2's containers on an empty base, at
/// time zero. The server accepts that actor for exactly this change.
pub fn upgrade_change() -> &'static automerge::Change {
    static CHANGE: std::sync::OnceLock<automerge::Change> = std::sync::OnceLock::new();
    CHANGE.get_or_init(|| {
        let mut upgrade = Automerge::new().with_actor(ActorId::from(&UPGRADE_ACTOR[..]));
        let mut tx = upgrade.transaction();
        for (key, kind) in SCHEMA_TWO_CONTAINERS {
            tx.put_object(ROOT, key, kind)
                .expect("a fresh document takes the root's containers");
        }
        tx.commit_with(CommitOptions::default().with_time(0));
        upgrade
            .get_changes(&[])
            .into_iter()
            .next()
            .expect("the upgrade transaction made one change")
    })
}

/// Hands `$then!` the fields of [`AccountDoc`]: first those written and read whole, then the
/// keyed collections, written and read entry by entry. [`write_changes`] and [`refresh`] both
/// follow this one list (a test checks it names every field).
macro_rules! account_fields {
    ($then:ident) => {
        $then!(
            [
                schema,
                name,
                owner,
                region,
                created_at,
                code,
                created_by,
                industry,
                size,
                source,
                first_contact,
                kind,
                status,
                lost_reason,
                wake_up_on,
                converted_on,
                level,
                priority,
                needs,
                notes,
                merged_into,
                archived
            ],
            [
                contacts,
                follow_ups,
                plans,
                opportunities,
                deals,
                services,
                custom,
                comments,
                status_history
            ]
        )
    };
}

/// Writes what changed between `before` and `after` into the document: root fields that
/// differ, and within the keyed collections only the entries that differ. Untouched fields
/// (including defaults filled in for fields an older version never wrote) are not written,
/// so they never turn into conflicts with another device's edits.
pub fn write_changes<D: autosurgeon::Doc>(
    doc: &mut D,
    before: &AccountDoc,
    after: &AccountDoc,
) -> Result<(), ReconcileError> {
    macro_rules! write {
        ([$($field:ident),*], [$($collection:ident),*]) => {
            $(
                if before.$field != after.$field {
                    reconcile_prop(doc, ROOT, stringify!($field), &after.$field)?;
                }
            )*
            $(
                write_entries(doc, stringify!($collection), &before.$collection, &after.$collection)?;
            )*
        };
    }
    account_fields!(write);
    Ok(())
}

fn write_entries<D: autosurgeon::Doc, T: Reconcile + PartialEq>(
    doc: &mut D,
    key: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
) -> Result<(), ReconcileError> {
    if before == after {
        return Ok(());
    }
    let Some((Value::Object(ObjType::Map), map)) = doc.get(&ROOT, key)? else {
        return reconcile_prop(doc, ROOT, key, after);
    };
    for (id, entry) in after {
        if before.get(id) != Some(entry) {
            reconcile_prop(doc, &map, id.as_str(), entry)?;
        }
    }
    for id in before.keys().filter(|id| !after.contains_key(*id)) {
        doc.delete(&map, id.as_str())?;
    }
    Ok(())
}

/// What a set of patches touched in an account document: root fields, and entries of the
/// keyed collections by id.
#[derive(Debug, Default)]
struct Touched<'p> {
    fields: BTreeSet<&'p str>,
    entries: BTreeMap<&'p str, BTreeSet<&'p str>>,
    /// Something no field-by-field read can follow (a root field deleted, a sequence at the
    /// root): the whole record is read again.
    everything: bool,
}

impl<'p> Touched<'p> {
    fn of(patches: &'p [Patch]) -> Touched<'p> {
        macro_rules! collections {
            ([$($field:ident),*], [$($collection:ident),*]) => {
                [$(stringify!($collection)),*]
            };
        }
        let collections = account_fields!(collections);
        let mut touched = Touched::default();
        for patch in patches {
            // The key the action is at, within the patched object.
            let key = match &patch.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                    Some(key.as_str())
                }
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                }
                | PatchAction::Increment {
                    prop: Prop::Map(key),
                    ..
                } => Some(key.as_str()),
                _ => None,
            };
            let mut path = patch.path.iter().map(|(_, prop)| match prop {
                Prop::Map(key) => Some(key.as_str()),
                Prop::Seq(_) => None,
            });
            match (path.next(), path.next()) {
                // At the root: the field the action is at (a collection put there is read
                // again whole), unless the action removed it.
                (None, _) => match key {
                    Some(field) if !matches!(patch.action, PatchAction::DeleteMap { .. }) => {
                        touched.fields.insert(field);
                    }
                    _ => touched.everything = true,
                },
                (Some(Some(field)), entry) if collections.contains(&field) => {
                    // Inside an entry, or at an entry's key in the collection itself.
                    match entry.unwrap_or(key) {
                        Some(entry) => {
                            touched.entries.entry(field).or_default().insert(entry);
                        }
                        None => touched.everything = true,
                    }
                }
                (Some(Some(field)), _) => {
                    touched.fields.insert(field);
                }
                (Some(None), _) => touched.everything = true,
            }
        }
        touched
    }
}

impl Touched<'_> {
    /// `record` with its root fields and, of its collections, only the entries touched —
    /// except the custom fields, which [`crate::rules::check`] checks all of on every edit.
    fn view(&self, record: &AccountDoc) -> AccountDoc {
        macro_rules! view {
            ([$($field:ident),*], [$($collection:ident),*]) => {
                AccountDoc {
                    $($field: record.$field.clone(),)*
                    $($collection: self.entries_of(stringify!($collection), &record.$collection),)*
                }
            };
        }
        AccountDoc {
            custom: record.custom.clone(),
            ..account_fields!(view)
        }
    }

    fn entries_of<T: Clone>(
        &self,
        collection: &str,
        all: &BTreeMap<String, T>,
    ) -> BTreeMap<String, T> {
        if self.fields.contains(collection) {
            return all.clone();
        }
        self.entries
            .get(collection)
            .map_or_else(BTreeMap::new, |ids| {
                ids.iter()
                    .filter_map(|id| all.get_key_value(*id))
                    .map(|(id, entry)| (id.clone(), entry.clone()))
                    .collect()
            })
    }

    /// Copies into `record` the touched parts of `after` (a [`Touched::view`]).
    fn merge(&self, record: &mut AccountDoc, after: &AccountDoc) {
        macro_rules! merge {
            ([$($field:ident),*], [$($collection:ident),*]) => {
                for &field in &self.fields {
                    match field {
                        $(stringify!($field) => record.$field = after.$field.clone(),)*
                        $(stringify!($collection) => {
                            record.$collection = after.$collection.clone()
                        })*
                        _ => {}
                    }
                }
                for (&collection, ids) in &self.entries {
                    match collection {
                        $(stringify!($collection) => {
                            merge_entries(&mut record.$collection, &after.$collection, ids)
                        })*
                        _ => {}
                    }
                }
            };
        }
        account_fields!(merge);
    }
}

fn merge_entries<T: Clone>(
    record: &mut BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    ids: &BTreeSet<&str>,
) {
    for &id in ids {
        match after.get(id) {
            Some(entry) => {
                record.insert(id.to_owned(), entry.clone());
            }
            None => {
                record.remove(id);
            }
        }
    }
}

/// What a set of changes did to an account: the record before and after, each with its root
/// fields and only the collection entries the changes touched (every entry when they could
/// not be followed field by field). [`crate::rules`] checks what changed, so it checks the
/// same on a delta as on the whole records, without walking the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub before: AccountDoc,
    pub after: AccountDoc,
}

/// Brings `record`, the typed account as it was before `patches`, up to date with `doc`, the
/// document they were made on, by reading only the fields and entries they touched, and
/// returns what changed. The resulting record is the one [`autosurgeon::hydrate`] would read from
/// the whole document (a property test checks it): a read it cannot make field by field (a
/// field removed, an entry that does not read as one) falls back to reading everything, with
/// the same error if the document does not hold an account (and `record` left as it was).
pub fn refresh_delta<D: autosurgeon::ReadDoc>(
    doc: &D,
    record: &mut AccountDoc,
    patches: &[Patch],
) -> Result<Delta, HydrateError> {
    let touched = Touched::of(patches);
    if !touched.everything {
        let before = touched.view(record);
        let mut after = before.clone();
        if refresh_parts(doc, &mut after, &touched).is_ok() {
            touched.merge(record, &after);
            return Ok(Delta { before, after });
        }
    }
    let after: AccountDoc = autosurgeon::hydrate(doc)?;
    let before = std::mem::replace(record, after.clone());
    Ok(Delta { before, after })
}

fn refresh_parts<D: autosurgeon::ReadDoc>(
    doc: &D,
    record: &mut AccountDoc,
    touched: &Touched<'_>,
) -> Result<(), HydrateError> {
    macro_rules! read {
        ([$($field:ident),*], [$($collection:ident),*]) => {
            for &field in &touched.fields {
                match field {
                    $(stringify!($field) => record.$field = present(doc, &ROOT, field)?,)*
                    $(stringify!($collection) => record.$collection = present(doc, &ROOT, field)?,)*
                    // A field this version does not read.
                    _ => {}
                }
            }
            for (&collection, ids) in &touched.entries {
                match collection {
                    $(stringify!($collection) => {
                        refresh_entries(doc, &mut record.$collection, collection, ids)?
                    })*
                    _ => {}
                }
            }
        };
    }
    account_fields!(read);
    Ok(())
}

/// The value at `key`, which must be there: a field left out is read as the whole-record read
/// would (its default), so it is not this read's to guess.
fn present<D: autosurgeon::ReadDoc, T: Hydrate>(
    doc: &D,
    obj: &automerge::ObjId,
    key: &str,
) -> Result<T, HydrateError> {
    if doc.get(obj, key)?.is_none() {
        return Err(HydrateError::unexpected("a field", format!("no {key}")));
    }
    autosurgeon::hydrate_prop(doc, obj, key)
}

fn refresh_entries<D: autosurgeon::ReadDoc, T: Hydrate>(
    doc: &D,
    entries: &mut BTreeMap<String, T>,
    collection: &str,
    ids: &BTreeSet<&str>,
) -> Result<(), HydrateError> {
    let Some((Value::Object(ObjType::Map), map)) = doc.get(&ROOT, collection)? else {
        return Err(HydrateError::unexpected("a map", collection.to_owned()));
    };
    for &id in ids {
        if doc.get(&map, id)?.is_some() {
            entries.insert(id.to_owned(), autosurgeon::hydrate_prop(doc, &map, id)?);
        } else {
            entries.remove(id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{PatchLog, ScalarValue};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_field_list_names_every_field() {
        macro_rules! names {
            ([$($field:ident),*], [$($collection:ident),*]) => {
                [$(stringify!($field),)* $(stringify!($collection)),*]
            };
        }
        let mut listed: Vec<&str> = account_fields!(names).to_vec();
        listed.sort_unstable();
        let record = serde_json::to_value(base()).expect("an account serializes");
        let mut fields: Vec<&str> = record
            .as_object()
            .expect("a struct")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(listed, fields);
    }

    fn at(ms: i64) -> At {
        At(DateTime::from_timestamp_millis(ms).expect("in range"))
    }

    fn follow_up(summary: &str) -> FollowUp {
        FollowUp {
            occurred_at: at(1_700_000_000_000),
            recorded_at: at(1_700_000_100_000),
            method: ContactMethod::Visit,
            summary: summary.to_owned(),
            logged_by: "device".into(),
            attitude: None,
            next_action: Some("报价".into()),
            next_due: None,
        }
    }

    fn base() -> AccountDoc {
        AccountDoc {
            schema: SCHEMA_VERSION,
            name: "华为".into(),
            owner: "zhang".into(),
            region: Some("深圳".into()),
            created_at: at(1_690_000_000_000),
            code: None,
            created_by: None,
            industry: None,
            size: None,
            source: None,
            first_contact: None,
            kind: Kind::Customer,
            status: Status::Potential,
            lost_reason: None,
            wake_up_on: None,
            converted_on: None,
            level: None,
            priority: None,
            needs: Needs::default(),
            notes: Notes::from("第一次拜访"),
            contacts: BTreeMap::from([(
                "c1".to_owned(),
                Contact {
                    name: "王总".into(),
                    ..Contact::default()
                },
            )]),
            follow_ups: BTreeMap::from([("f1".to_owned(), follow_up("初访"))]),
            plans: BTreeMap::new(),
            opportunities: BTreeMap::new(),
            deals: BTreeMap::new(),
            services: BTreeMap::new(),
            custom: BTreeMap::from([("微信".to_owned(), "wx1".to_owned())]),
            comments: BTreeMap::new(),
            merged_into: None,
            archived: None,
            status_history: BTreeMap::new(),
        }
    }

    /// One raw edit a device (or a hostile client) may make to the document.
    #[derive(Debug, Clone)]
    enum Op {
        /// A root field set to text, a number or null (some of which do not read).
        Put(&'static str, ScalarValue),
        DeleteRoot(&'static str),
        /// An entry of a collection written whole (a valid one).
        Entry(&'static str, &'static str, String),
        /// One field inside an entry set to text or a number.
        EntryField(&'static str, &'static str, &'static str, ScalarValue),
        DeleteEntry(&'static str, &'static str),
        Notes(String),
        /// A collection replaced by a new, empty map.
        NewCollection(&'static str),
    }

    fn value() -> impl Strategy<Value = ScalarValue> {
        prop_oneof![
            "[a-z王总]{0,4}".prop_map(|s| ScalarValue::Str(s.into())),
            (0i64..3).prop_map(ScalarValue::Int),
            Just(ScalarValue::Null),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let root = prop::sample::select(vec!["name", "region", "status", "priority", "zzz"]);
        let collection = prop::sample::select(vec!["follow_ups", "contacts", "custom"]);
        let id = prop::sample::select(vec!["f1", "c1", "微信", "n1", "n2"]);
        let field = prop::sample::select(vec!["summary", "name", "phone", "logged_by"]);
        prop_oneof![
            3 => (root.clone(), value()).prop_map(|(k, v)| Op::Put(k, v)),
            1 => root.prop_map(Op::DeleteRoot),
            4 => (collection.clone(), id.clone(), "[a-z]{1,3}")
                .prop_map(|(c, i, s)| Op::Entry(c, i, s)),
            2 => (collection.clone(), id.clone(), field, value())
                .prop_map(|(c, i, f, v)| Op::EntryField(c, i, f, v)),
            2 => (collection.clone(), id).prop_map(|(c, i)| Op::DeleteEntry(c, i)),
            2 => "[a-z王]{0,6}".prop_map(Op::Notes),
            1 => collection.prop_map(Op::NewCollection),
        ]
    }

    fn apply(doc: &mut Automerge, ops: &[Op]) {
        let mut tx = doc.transaction();
        for op in ops {
            // Writes into a place that is not the expected kind of object fail; a hostile
            // device's change could do anything, so such ops are simply skipped.
            let _ = match op {
                Op::Put(key, v) => tx.put(ROOT, *key, v.clone()),
                Op::DeleteRoot(key) => tx.delete(ROOT, *key),
                Op::Entry(collection, id, text) => match tx.get(ROOT, *collection) {
                    Ok(Some((Value::Object(ObjType::Map), map))) => match *collection {
                        "follow_ups" => reconcile_prop(&mut tx, &map, *id, follow_up(text)),
                        "contacts" => reconcile_prop(
                            &mut tx,
                            &map,
                            *id,
                            &Contact {
                                name: text.clone(),
                                phone: Some("13800138000".into()),
                                ..Contact::default()
                            },
                        ),
                        _ => reconcile_prop(&mut tx, &map, *id, text),
                    }
                    .map_err(|_| AutomergeError::Fail),
                    _ => Ok(()),
                },
                Op::EntryField(collection, id, field, v) => match tx.get(ROOT, *collection) {
                    Ok(Some((Value::Object(ObjType::Map), map))) => match tx.get(&map, *id) {
                        Ok(Some((Value::Object(ObjType::Map), entry))) => {
                            tx.put(&entry, *field, v.clone())
                        }
                        _ => Ok(()),
                    },
                    _ => Ok(()),
                },
                Op::DeleteEntry(collection, id) => match tx.get(ROOT, *collection) {
                    Ok(Some((Value::Object(ObjType::Map), map))) => tx.delete(&map, *id),
                    _ => Ok(()),
                },
                Op::Notes(text) => match tx.get(ROOT, "notes") {
                    Ok(Some((Value::Object(ObjType::Text), notes))) => tx.update_text(&notes, text),
                    _ => Ok(()),
                },
                Op::NewCollection(collection) => {
                    tx.put_object(ROOT, *collection, ObjType::Map).map(|_| ())
                }
            };
        }
        tx.commit();
    }

    /// Only what the patches touched is read: an entry they did not touch keeps the value the
    /// record had, even where the document says otherwise.
    #[test]
    fn refresh_reads_only_what_changed() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        autosurgeon::reconcile(&mut tx, base()).expect("the base account writes");
        tx.commit();
        let mut record = base();
        record.follow_ups.get_mut("f1").expect("f1").summary = "stale".into();
        let mut log = PatchLog::active();
        let mut fork = doc.fork();
        apply(&mut fork, &[Op::Entry("follow_ups", "n1", "new".into())]);
        doc.apply_changes_log_patches(doc.get_changes_added(&fork), &mut log)
            .expect("applies");
        refresh_delta(&doc, &mut record, &doc.make_patches(&mut log)).expect("reads");
        assert_eq!(record.follow_ups["n1"].summary, "new");
        assert_eq!(record.follow_ups["f1"].summary, "stale");
    }

    /// Every field and entry (`collection/id`) that differs between two records, and the
    /// values they hold in each.
    fn changed(before: &AccountDoc, after: &AccountDoc) -> Vec<String> {
        fn entries<T: std::fmt::Debug + PartialEq>(
            out: &mut Vec<String>,
            name: &str,
            before: &BTreeMap<String, T>,
            after: &BTreeMap<String, T>,
        ) {
            for id in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
                if before.get(id) != after.get(id) {
                    out.push(format!(
                        "{name}/{id}: {:?} → {:?}",
                        before.get(id),
                        after.get(id)
                    ));
                }
            }
        }
        let mut out = Vec::new();
        macro_rules! changed {
            ([$($field:ident),*], [$($collection:ident),*]) => {
                $(if before.$field != after.$field {
                    out.push(format!("{}: {:?} → {:?}", stringify!($field), before.$field, after.$field));
                })*
                $(entries(&mut out, stringify!($collection), &before.$collection, &after.$collection);)*
            };
        }
        account_fields!(changed);
        out
    }

    proptest! {
        /// Devices edit forks of one account concurrently; their changes reach the document
        /// one device at a time, as pushes do. After each, the record brought up to date from
        /// the patches is the record read from the whole document (or both fail).
        #[test]
        fn refresh_reads_what_a_whole_read_reads(
            devices in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(op(), 1..4), 1..4),
                1..4,
            ),
        ) {
            let mut doc = Automerge::new();
            let mut tx = doc.transaction();
            autosurgeon::reconcile(&mut tx, base()).expect("the base account writes");
            tx.commit();
            let mut forks: Vec<Automerge> = devices.iter().map(|_| doc.fork()).collect();
            for (fork, changes) in forks.iter_mut().zip(&devices) {
                for ops in changes {
                    apply(fork, ops);
                }
            }
            for fork in &forks {
                let Ok(mut record) = autosurgeon::hydrate::<_, AccountDoc>(&doc) else {
                    // A stored account always reads; one that does not was refused.
                    break;
                };
                let mut log = PatchLog::active();
                let changes = doc.get_changes_added(fork);
                doc.apply_changes_log_patches(changes, &mut log).expect("the changes apply");
                let patches = doc.make_patches(&mut log);
                let whole = autosurgeon::hydrate::<_, AccountDoc>(&doc);
                let before = record.clone();
                let delta = refresh_delta(&doc, &mut record, &patches);
                match (whole, delta) {
                    (Ok(whole), Ok(delta)) => {
                        prop_assert_eq!(&whole, &record);
                        // The delta holds every change, and the checks see it as they see
                        // the whole records.
                        prop_assert_eq!(changed(&before, &whole), changed(&delta.before, &delta.after));
                        let now = DateTime::from_timestamp_millis(1_700_000_050_000).expect("in range");
                        let verdict = |b: &AccountDoc, a: &AccountDoc| {
                            crate::rules::check(Some(b), a)
                                .and_then(|()| crate::rules::check_times(Some(b), a, now))
                                .map_err(|e| e.to_string())
                        };
                        prop_assert_eq!(verdict(&before, &whole), verdict(&delta.before, &delta.after));
                    }
                    (Err(whole), Err(refreshed)) => {
                        prop_assert_eq!(whole.to_string(), refreshed.to_string());
                        prop_assert_eq!(&before, &record);
                    }
                    (whole, refreshed) => prop_assert!(
                        false,
                        "whole read {whole:?}, refreshed {refreshed:?}"
                    ),
                }
            }
        }
    }
}
