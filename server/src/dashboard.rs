//! The manager dashboard: one HTML page, its script and its stylesheet, compiled into the
//! binary and served by the server itself (no CDN, no build step). The page needs no token;
//! it logs in with `POST /v1/login` and reads everything from the authenticated JSON views,
//! and follows `GET /v1/events` to refresh when a rep syncs.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../assets/dashboard.html");
const SCRIPT: &str = include_str!("../assets/dashboard.js");
const STYLE: &str = include_str!("../assets/dashboard.css");

/// One asset with its content type; browsers revalidate it on every load, so a new server
/// version is picked up at once.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /dashboard`.
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /dashboard/dashboard.js`.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /dashboard/dashboard.css`.
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// One value of an enumeration with the labels people read.
#[derive(serde::Serialize)]
struct Term {
    code: String,
    zh: String,
    en: String,
}

/// The labels of every enumeration the views return (stages, statuses, sources, methods,
/// levels, industries by GB/T 4754-2017 …), in both languages, from the client library's own
/// tables, so the page never keeps a copy of its own. Built once.
fn vocabulary_json() -> &'static str {
    use outpost_client::model::{
        Attitude, ContactMethod, Kind, Lang, Level, Payment, Priority, Role, Source, Stage, Status,
    };
    use std::collections::BTreeMap;
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    macro_rules! terms {
        ($($key:literal => $ty:ty),+ $(,)?) => {{
            let mut out: BTreeMap<&str, Vec<Term>> = BTreeMap::new();
            $(out.insert($key, <$ty>::KNOWN.iter().map(|v| Term {
                code: v.as_str().to_owned(),
                zh: v.label(Lang::Zh).into_owned(),
                en: v.label(Lang::En).into_owned(),
            }).collect());)+
            out
        }};
    }
    JSON.get_or_init(|| {
        let mut all = terms!(
            "kind" => Kind,
            "status" => Status,
            "level" => Level,
            "priority" => Priority,
            "source" => Source,
            "method" => ContactMethod,
            "role" => Role,
            "attitude" => Attitude,
            "stage" => Stage,
            "payment" => Payment,
        );
        all.insert(
            "industry",
            outpost_client::industry::sections()
                .iter()
                .map(|s| Term {
                    code: s.code.to_string(),
                    zh: s.zh.clone(),
                    en: s.en.clone(),
                })
                .collect(),
        );
        serde_json::to_string(&all).expect("labels serialize")
    })
}

/// `GET /v1/vocabulary`: `{"stage": [{"code", "zh", "en"}, …], "industry": […], …}`. Open
/// without a token (the page reads it before logging in); it holds no data, only labels.
pub(crate) async fn vocabulary() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        vocabulary_json(),
    )
        .into_response()
}
