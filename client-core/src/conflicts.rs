//! Conflicts: fields that two devices set concurrently. Automerge keeps every concurrent
//! value and shows one (the same one on every device); this module finds the others so a
//! person can see them, with who set each and when, and settle on one.

use std::collections::{BTreeSet, HashMap};

use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, ObjType, PatchAction, Prop, ROOT, ReadDoc, ScalarValue,
    Value,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One field with more than one concurrent value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Where the field is: `name`, `opportunities/<id>/stage`, ...
    pub path: String,
    /// The shown value first, then the others.
    pub values: Vec<ConflictValue>,
}

/// One of a conflict's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictValue {
    pub value: String,
    /// The device that wrote it.
    pub device: String,
    /// When that device made the edit (its own clock, whole seconds).
    pub at: Option<DateTime<Utc>>,
}

/// A value found in the document, before its writer's change is looked up.
struct Written {
    value: String,
    actor: ActorId,
    op: u64,
}

/// Every conflicted field of the document, in document order.
pub(crate) fn find(doc: &Automerge) -> Vec<Conflict> {
    let mut found = Vec::new();
    walk(doc, &ROOT, "", &mut found);
    if found.is_empty() {
        return Vec::new();
    }
    // Only now pay for the change history, to say when each value was written.
    let mut changes: HashMap<ActorId, Vec<(u64, u64, i64)>> = HashMap::new();
    for change in doc.get_changes(&[]) {
        let range = (change.start_op().get(), change.max_op(), change.timestamp());
        changes
            .entry(change.actor_id().clone())
            .or_default()
            .push(range);
    }
    let written_at = |w: &Written| {
        changes
            .get(&w.actor)?
            .iter()
            .find(|(start, max, _)| (*start..=*max).contains(&w.op))
            .and_then(|(_, _, secs)| DateTime::from_timestamp(*secs, 0))
    };
    found
        .into_iter()
        .map(|(path, values)| Conflict {
            path,
            values: values
                .iter()
                .map(|w| ConflictValue {
                    value: w.value.clone(),
                    device: w.actor.to_hex_string(),
                    at: written_at(w),
                })
                .collect(),
        })
        .collect()
}

fn walk(doc: &Automerge, obj: &ObjId, path: &str, found: &mut Vec<(String, Vec<Written>)>) {
    for key in doc.keys(obj) {
        let field = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}/{key}")
        };
        let Ok(Some((shown_value, shown))) = doc.get(obj, key.as_str()) else {
            continue;
        };
        let all = doc.get_all(obj, key.as_str()).unwrap_or_default();
        if all.len() > 1 {
            let mut values: Vec<Written> = Vec::with_capacity(all.len());
            for (value, id) in &all {
                if let ObjId::Id(op, actor, _) = id {
                    let written = Written {
                        value: display(doc, value, id),
                        actor: actor.clone(),
                        op: *op,
                    };
                    if *id == shown {
                        values.insert(0, written)
                    } else {
                        values.push(written)
                    }
                }
            }
            // Devices that wrote the same value do not disagree.
            if values.iter().any(|v| v.value != values[0].value) {
                found.push((field.clone(), values));
            }
        }
        if let Value::Object(ObjType::Map) = shown_value {
            walk(doc, &shown, &field, found);
        }
    }
}

fn display(doc: &Automerge, value: &Value<'_>, id: &ObjId) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Timestamp(ms) => DateTime::from_timestamp_millis(*ms)
                .map_or_else(|| ms.to_string(), |t| t.to_rfc3339()),
            other => other.to_string(),
        },
        Value::Object(ObjType::Map) => {
            let fields: Vec<String> = doc
                .keys(id)
                .filter_map(|key| {
                    let (value, child) = doc.get(id, key.as_str()).ok()??;
                    Some(format!("{key}: {}", display(doc, &value, &child)))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Object(kind) => format!("<{kind}>"),
    }
}

/// Where a settled value goes: the object and key at the end of `path`.
pub(crate) fn locate(doc: &Automerge, path: &str) -> Option<(ObjId, String)> {
    let mut obj = ROOT;
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return Some((obj, part.to_owned()));
        }
        match doc.get(&obj, part).ok()?? {
            (Value::Object(ObjType::Map), child) => obj = child,
            _ => return None,
        }
    }
    None
}

/// The raw value (as stored) of the `index`th value of a conflict at `obj`/`key`, in the
/// order [`find`] lists them.
pub(crate) fn nth_value(
    doc: &Automerge,
    obj: &ObjId,
    key: &str,
    index: usize,
) -> Option<ScalarValue> {
    let (_, shown) = doc.get(obj, key).ok()??;
    let all = doc.get_all(obj, key).ok()?;
    let mut ordered: Vec<_> = all
        .iter()
        .filter(|(_, id)| *id == shown)
        .chain(all.iter().filter(|(_, id)| *id != shown))
        .collect();
    match ordered.get_mut(index)?.0.clone() {
        Value::Scalar(s) => Some(s.into_owned()),
        Value::Object(_) => None,
    }
}

/// The paths of the fields that differ between two versions of a document (`stage`,
/// `contacts/k3x/phone`, `notes`), sorted: what an edit, a refused push or a commit touched.
pub fn changed_fields(doc: &Automerge, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for patch in doc.diff(before, after) {
        let mut path: Vec<String> = patch
            .path
            .iter()
            .map(|(_, prop)| match prop {
                Prop::Map(key) => key.clone(),
                Prop::Seq(i) => i.to_string(),
            })
            .collect();
        if let PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } = &patch.action {
            path.push(key.clone());
        }
        paths.insert(path.join("/"));
    }
    paths.into_iter().collect()
}
