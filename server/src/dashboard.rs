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
