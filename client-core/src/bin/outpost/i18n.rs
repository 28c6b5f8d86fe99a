//! The CLI's words in the rep's language, through Project Fluent: the `.ftl` files under
//! `client-core/locales/` are compiled in (no files to find at run time), one bundle is made
//! for the locale `format::lang()` reads, and `t!(ID, name = value)` formats a message.
//!
//! Library errors keep their English `Display` (for logs and other programs); [`error`]
//! words the ones a rep meets in their language by matching the variant.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use outpost_client::csv_io::CsvError;
use outpost_client::facts::UnknownZone;
use outpost_client::model::Lang;
use outpost_client::rules::InvalidField;
use outpost_client::{EditError, LookupError, StoreError, SyncError};

use crate::format::lang;

const EN: &str = include_str!("../../../locales/en/outpost.ftl");
const ZH: &str = include_str!("../../../locales/zh-CN/outpost.ftl");

/// Formats the message `id` with named arguments: `t!("updated", name = name)`. Text
/// arguments are escaped for the terminal ([`crate::format::visible`]); numbers select
/// plurals.
macro_rules! t {
    ($id:literal) => {
        $crate::i18n::tr($id, None)
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = fluent_bundle::FluentArgs::new();
        $(args.set(stringify!($name), $crate::i18n::Arg::value($value));)+
        $crate::i18n::tr($id, Some(&args))
    }};
}

/// A value a message takes as an argument.
pub(crate) trait Arg {
    fn value(self) -> FluentValue<'static>;
}

impl Arg for &str {
    fn value(self) -> FluentValue<'static> {
        FluentValue::from(crate::format::visible(self).into_owned())
    }
}

impl Arg for String {
    fn value(self) -> FluentValue<'static> {
        self.as_str().value()
    }
}

impl Arg for &String {
    fn value(self) -> FluentValue<'static> {
        self.as_str().value()
    }
}

macro_rules! number_args {
    ($($ty:ty),*) => {$(
        impl Arg for $ty {
            fn value(self) -> FluentValue<'static> {
                FluentValue::from(self)
            }
        }
    )*};
}
number_args!(u8, u32, u64, usize, i64);

fn bundle_for(lang: Lang) -> FluentBundle<FluentResource> {
    let (source, locale) = match lang {
        Lang::Zh => (ZH, "zh-CN"),
        Lang::En => (EN, "en"),
    };
    // The locale picks the plural rules: English has "one" and "other", Chinese "other".
    let locale: unic_langid::LanguageIdentifier = locale.parse().expect("a valid locale id");
    let resource = FluentResource::try_new(source.to_owned())
        .unwrap_or_else(|(_, errors)| panic!("{locale} messages do not parse: {errors:?}"));
    let mut bundle = FluentBundle::new_concurrent(vec![locale]);
    // No Unicode isolation marks around arguments: a terminal shows them as odd cells, and
    // they are among the bidi controls stored text may not send to the terminal.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .unwrap_or_else(|errors| panic!("duplicate messages: {errors:?}"));
    bundle
}

fn bundle() -> &'static FluentBundle<FluentResource> {
    static BUNDLE: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    BUNDLE.get_or_init(|| bundle_for(lang()))
}

/// The message `id`, or `None` if there is none (for ids made from data, such as a field's
/// name).
pub(crate) fn try_tr(id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
    let bundle = bundle();
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = bundle
        .format_pattern(pattern, args, &mut errors)
        .into_owned();
    // A message naming an argument the code did not pass is a bug in this program.
    debug_assert!(errors.is_empty(), "message `{id}`: {errors:?}");
    Some(text)
}

/// The message `id`. A missing message is a bug: it panics in debug builds (and so in the
/// tests, which run every command), and shows the id in a release build.
pub(crate) fn tr(id: &str, args: Option<&FluentArgs<'_>>) -> String {
    try_tr(id, args).unwrap_or_else(|| {
        debug_assert!(false, "no message `{id}` in the {:?} messages", lang());
        id.to_owned()
    })
}

/// The whole error chain as `{e:#}` prints it (causes joined by `: `), each library error
/// worded in the rep's language.
pub(crate) fn error(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let worded = library_error(cause);
        let text = worded.unwrap_or_else(|| cause.to_string());
        if parts.last() != Some(&text) {
            parts.push(text);
        }
    }
    parts.join(&t!("error-join"))
}

/// A library error the CLI knows, in the rep's language; `None` for any other error (its
/// own `Display` is used).
fn library_error(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<LookupError>() {
        return lookup_error(e);
    }
    if let Some(e) = cause.downcast_ref::<EditError>() {
        return edit_error(e);
    }
    if let Some(e) = cause.downcast_ref::<SyncError>() {
        return sync_error(e);
    }
    if let Some(e) = cause.downcast_ref::<StoreError>() {
        return store_error(e);
    }
    if let Some(e) = cause.downcast_ref::<InvalidField>() {
        return Some(invalid_field(e));
    }
    if let Some(e) = cause.downcast_ref::<CsvError>() {
        return csv_error(e);
    }
    if let Some(UnknownZone(zone)) = cause.downcast_ref::<UnknownZone>() {
        return Some(t!("error-unknown-zone", zone = zone));
    }
    None
}

fn lookup_error(e: &LookupError) -> Option<String> {
    Some(match e {
        LookupError::NotFound(typed) => t!("error-no-account", typed = typed),
        LookupError::Ambiguous { prefix, count } => {
            t!("error-ambiguous", prefix = prefix, count = *count)
        }
        LookupError::Store(e) => return store_error(e),
        _ => return None,
    })
}

fn store_error(e: &StoreError) -> Option<String> {
    Some(match e {
        StoreError::Storage(_) => t!("error-store"),
        StoreError::Corrupt { doc, reason } => {
            t!("error-corrupt", doc = doc.to_string(), reason = reason)
        }
        _ => return None,
    })
}

fn edit_error(e: &EditError) -> Option<String> {
    Some(match e {
        EditError::Invalid(invalid) => invalid_field(invalid),
        EditError::NotFound(id) => t!("error-no-account-id", id = id.to_string()),
        EditError::Duplicate { existing } => {
            let names: Vec<String> = existing
                .iter()
                .map(|a| format!("{} ({})", a.name, a.id))
                .collect();
            t!(
                "error-duplicate",
                count = existing.len(),
                accounts = names.join(", ")
            )
        }
        EditError::Store(e) => return store_error(e),
        _ => return None,
    })
}

fn sync_error(e: &SyncError) -> Option<String> {
    Some(match e {
        SyncError::Transport(_) => t!("error-unreachable"),
        SyncError::NotLoggedIn => t!("error-not-logged-in"),
        SyncError::NotTls(url) => t!("error-not-tls", url = url),
        SyncError::Refused { status, reply } => t!(
            "error-refused",
            status = u32::from(*status),
            message = &reply.message
        ),
        SyncError::BadReply(why) => t!("error-bad-reply", reason = why),
        SyncError::NoProgress(trips) => t!("error-no-progress", count = *trips),
        SyncError::Store(e) => return store_error(e),
        _ => return None,
    })
}

fn csv_error(e: &CsvError) -> Option<String> {
    Some(match e {
        CsvError::Csv(e) => t!("error-csv", reason = e.to_string()),
        CsvError::Workbook(why) => t!("error-workbook", reason = why),
        CsvError::WriteWorkbook(why) => t!("error-write-workbook", reason = why),
        CsvError::NoSheet => t!("error-no-sheet"),
        CsvError::UnknownColumn(column) => t!("error-unknown-column", column = column),
        CsvError::DuplicateColumn(a, b, field) => {
            t!(
                "error-duplicate-column",
                first = a,
                second = b,
                field = field
            )
        }
        CsvError::MissingColumn(column) => t!("error-missing-column", column = *column),
        CsvError::Write(e) => t!("error-write-file", reason = e.to_string()),
        CsvError::Store(e) => return store_error(e),
        CsvError::Lookup(e) => return lookup_error(e),
        // The decoding hint names the `--encoding` flag to use, in English.
        _ => return None,
    })
}

/// A field a record rule refused: the field by its label, and the reason in the rep's words
/// when it is one of the rules' fixed reasons (reasons quoting a value stay as the rules
/// wrote them).
fn invalid_field(e: &InvalidField) -> String {
    t!(
        "error-invalid-field",
        field = field_label(&e.field),
        reason = reason(&e.reason)
    )
}

/// A field path (`owner`, `contacts/1a2b/phone`, `custom/wechat`) by its label: the last
/// part named in the rep's language, the path kept before it so the entry can be found.
pub(crate) fn field_label(path: &str) -> String {
    let (before, last) = match path.rsplit_once('/') {
        Some((before, last)) => (Some(before), last),
        None => (None, path),
    };
    if before == Some("custom") {
        return t!("field-custom", name = last);
    }
    let id = format!("field-{}", last.replace('_', "-"));
    match (try_tr(&id, None), before) {
        (Some(label), Some(before)) => format!("{before}/{label}"),
        (Some(label), None) => label,
        (None, _) => path.to_owned(),
    }
}

/// The record rules' fixed reasons, by the message that words each.
const REASONS: &[(&str, &str)] = &[
    ("must not be empty", "reason-empty"),
    ("must not be negative", "reason-negative"),
    ("must be 1 to 5", "reason-one-to-five"),
    ("is below the minimum", "reason-below-minimum"),
    (
        "must be in the same currency as the minimum",
        "reason-same-currency",
    ),
    ("a lost account needs a reason", "reason-lost-needs-reason"),
    (
        "a dormant lead needs a wake-up date",
        "reason-dormant-needs-date",
    ),
    (
        "a won opportunity needs the contract amount",
        "reason-won-needs-amount",
    ),
    (
        "a won opportunity needs the signing date",
        "reason-won-needs-date",
    ),
    (
        "a lost opportunity needs a reason",
        "reason-lost-opportunity-needs-reason",
    ),
    (
        "looks like a national ID number; record only work contact details",
        "reason-national-id",
    ),
    (
        "looks like a home address; record only work contact details",
        "reason-home-address",
    ),
    (
        "field names are 1-64 of a-z, 0-9 and _",
        "reason-custom-name",
    ),
];

fn reason(text: &str) -> String {
    REASONS
        .iter()
        .find(|(english, _)| *english == text)
        .and_then(|(_, id)| try_tr(id, None))
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fluent_bundle::FluentResource;
    use fluent_syntax::ast::Entry;

    use super::*;

    /// The ids a `.ftl` file defines; it must parse without a single error.
    fn ids(name: &str, source: &str) -> BTreeSet<String> {
        let resource = FluentResource::try_new(source.to_owned())
            .unwrap_or_else(|(_, errors)| panic!("{name} does not parse: {errors:?}"));
        resource
            .entries()
            .filter_map(|entry| match entry {
                Entry::Message(m) => Some(m.id.name.to_owned()),
                Entry::Term(t) => Some(format!("-{}", t.id.name)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_languages_parse_and_define_the_same_messages() {
        let en = ids("en", EN);
        let zh = ids("zh-CN", ZH);
        assert!(en.len() > 100, "{} messages", en.len());
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_zh.is_empty(),
            "only in en: {only_en:?}; only in zh-CN: {only_zh:?}"
        );
        // Both bundles build (no id defined twice).
        bundle_for(Lang::En);
        bundle_for(Lang::Zh);
    }

    /// Every message id the CLI's source formats with `t!` is defined, so a typo cannot
    /// wait for the command that prints it.
    #[test]
    fn every_message_the_code_uses_exists() {
        let defined = ids("en", EN);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/outpost");
        let mut used = BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            for (i, _) in source.match_indices("t!(") {
                // `out!(` is not `t!(`.
                let before = source[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = source[i + 3..].trim_start();
                // `t!(` in this very test, or a macro's own definition, names no id.
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let id = &rest[..rest.find('"').unwrap()];
                if !id.is_empty() && !id.contains(['\\', ' ']) {
                    used.insert(id.to_owned());
                }
            }
        }
        used.extend(REASONS.iter().map(|(_, id)| (*id).to_owned()));
        assert!(used.len() > 100, "{} ids found", used.len());
        let missing: Vec<_> = used.difference(&defined).collect();
        assert!(missing.is_empty(), "used but not defined: {missing:?}");
    }

    #[test]
    fn english_plurals_and_chinese_words() {
        let en = bundle_for(Lang::En);
        let zh = bundle_for(Lang::Zh);
        let days = |bundle: &FluentBundle<FluentResource>, n: i64| {
            let mut args = FluentArgs::new();
            args.set("count", n);
            let pattern = bundle.get_message("days").unwrap().value().unwrap();
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            text.into_owned()
        };
        assert_eq!(days(&en, 1), "1 day");
        assert_eq!(days(&en, 2), "2 days");
        assert_eq!(days(&zh, 2), "2 天");
    }
}
