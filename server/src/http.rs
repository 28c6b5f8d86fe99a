//! The HTTP surface: routes, the sync handler, the live event stream, health, request logging,
//! and the one error type every handler answers with. The JSON API (login, admin, handover,
//! shares, history) is in [`crate::api`].

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, patch, post, put};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use outpost_protocol::{CONTENT_TYPE, DecodeError, DeviceId, ErrorCode, ErrorReply, SyncRequest};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::access::{reader_scopes, sees};
use crate::auth::Caller;
use crate::backup::BackupError;
use crate::directory::DirectoryError;
use crate::exchange::exchange;
use crate::storage::StorageError;
use crate::writer::WriteError;
use crate::{AppState, api, dashboard, reviews, views};

/// The routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(health))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/dashboard.js", get(dashboard::script))
        .route("/dashboard/dashboard.css", get(dashboard::style))
        .route("/v1/login", post(api::login))
        .route("/v1/sync", post(sync))
        .route("/v1/events", get(events))
        .route("/v1/me", get(api::me))
        .route("/v1/me/devices", get(api::my_devices))
        .route("/v1/me/password", post(api::change_password))
        .route("/v1/people", get(api::people))
        .route("/v1/me/devices/{device}", delete(api::revoke_my_device))
        .route("/v1/admin/users", get(api::users).post(api::add_user))
        .route(
            "/v1/admin/users/{login}",
            patch(api::update_user).put(api::update_user),
        )
        .route("/v1/admin/users/{login}/disable", post(api::disable_user))
        .route("/v1/admin/users/{login}/enable", post(api::enable_user))
        .route("/v1/admin/teams", get(api::teams).post(api::add_team))
        .route(
            "/v1/admin/teams/{team}",
            patch(api::update_team).put(api::set_team),
        )
        .route("/v1/vocabulary", get(dashboard::vocabulary))
        .route(
            "/v1/admin/teams/{team}/managers/{login}",
            put(api::add_lead).delete(api::remove_lead),
        )
        .route("/v1/admin/devices", get(api::devices))
        .route("/v1/admin/devices/{device}", delete(api::revoke_device))
        .route("/v1/admin/backups", post(api::backup))
        .route("/v1/handover", post(api::handover))
        .route("/v1/accounts/{id}/history", get(api::history))
        .route("/v1/accounts/{id}", get(api::account))
        .route("/v1/accounts/{id}/shares", get(api::shares))
        .route("/v1/people/{login}/offboard", post(api::offboard))
        .route(
            "/v1/admin/users/{login}/password",
            post(api::reset_password),
        )
        .route("/v1/admin/backups", get(api::list_backups))
        .route("/v1/views/pipeline", api::team_view(views::pipeline))
        .route("/v1/views/follow-ups", api::team_view(views::follow_ups))
        .route("/v1/views/funnel", api::team_view(views::funnel))
        .route("/v1/views/activity", api::team_view(views::activity))
        .route(
            "/v1/views/lost-reasons",
            api::team_view(views::lost_reasons),
        )
        .route("/v1/views/won-profile", api::team_view(views::won_profile))
        .route("/v1/views/duplicates", api::team_view(views::duplicates))
        .route("/v1/views/archive", api::team_view(views::archive))
        .route("/v1/views/hygiene", api::team_view(views::hygiene))
        .route("/v1/accounts/{id}/shares", post(api::share))
        .route("/v1/accounts/{id}/merge", post(api::merge))
        .route("/v1/accounts/{id}/comments", post(api::comment))
        .route(
            "/v1/accounts/{id}/archive",
            post(api::archive).delete(api::archive),
        )
        .route("/v1/accounts/{id}/shares/{login}", delete(api::unshare))
        .route(
            "/v1/reviews",
            get(reviews::my_reviews).post(reviews::submit_week),
        )
        .route("/v1/reviews/queue", get(reviews::review_queue))
        .route("/v1/reviews/archive", get(reviews::review_archive))
        .route(
            "/v1/reviews/{rep}/{week}/decision",
            post(reviews::decide_week),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::connections::body_deadline,
        ))
        .layer(middleware::from_fn(typed_errors))
        .layer(middleware::from_fn(hardened))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Why a request failed. Each variant maps to one status and one safe message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("request body is larger than {0} bytes, this server's limit")]
    BodyTooLarge(usize),
    #[error("the request pushes {count} accounts; this server takes at most {limit} per request")]
    TooManyDocuments { count: usize, limit: usize },
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the request carries no device token (Authorization: Bearer TOKEN); log in first")]
    NoToken,
    #[error("the request speaks for device {claimed}, but its token belongs to device {caller}")]
    WrongDevice { claimed: DeviceId, caller: DeviceId },
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    BadJson(String),
    #[error("the query is not valid for this endpoint: {0}")]
    BadQuery(String),
    #[error(transparent)]
    UnknownZone(#[from] outpost_client::facts::UnknownZone),
    /// Well-formed input a rule refuses (such as an empty comment).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyStreams(String),
    #[error(transparent)]
    BodyTimedOut(#[from] crate::connections::BodyTimedOut),
    #[error("too many login attempts for {login} from this address; try again in {seconds} s")]
    RateLimited { login: String, seconds: u64 },
    /// Every password worker is busy and the queue is full: a 503 with `Retry-After`.
    #[error("the server is busy checking passwords; try again in {seconds} s")]
    PasswordsBusy { seconds: u64 },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("reply task failed: {0}")]
    ReplyTask(#[from] tokio::task::JoinError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AppError::Decode(DecodeError::TooLarge { .. })
            | AppError::BodyTooLarge(_)
            | AppError::TooManyDocuments { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
            }
            AppError::Decode(DecodeError::UnsupportedVersion { .. }) => {
                (StatusCode::BAD_REQUEST, ErrorCode::UnsupportedVersion)
            }
            AppError::Decode(_) | AppError::BodyUnreadable(_) => {
                (StatusCode::BAD_REQUEST, ErrorCode::Malformed)
            }
            AppError::BadJson(_) | AppError::BadQuery(_) | AppError::UnknownZone(_) => {
                (StatusCode::BAD_REQUEST, ErrorCode::Malformed)
            }
            AppError::Directory(DirectoryError::BadDisplayName(_)) => {
                (StatusCode::BAD_REQUEST, ErrorCode::Invalid)
            }
            AppError::NoToken
            | AppError::WrongDevice { .. }
            | AppError::Directory(
                DirectoryError::BadToken
                | DirectoryError::BadCredentials
                | DirectoryError::Disabled(_),
            ) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            AppError::NotFound(_) | AppError::Directory(DirectoryError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound)
            }
            AppError::Invalid(_) | AppError::Directory(DirectoryError::Invalid(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid)
            }
            AppError::Directory(DirectoryError::Conflict(_)) => {
                (StatusCode::CONFLICT, ErrorCode::Conflict)
            }
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            AppError::TooManyStreams(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            AppError::BodyTimedOut(_) => (StatusCode::REQUEST_TIMEOUT, ErrorCode::Malformed),
            AppError::PasswordsBusy { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            AppError::Write(_)
            | AppError::Storage(_)
            | AppError::Backup(_)
            | AppError::ReplyTask(_)
            | AppError::Directory(DirectoryError::Storage(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
        };
        let retry_after = match &self {
            AppError::RateLimited { seconds, .. } | AppError::PasswordsBusy { seconds } => {
                Some(*seconds)
            }
            _ => None,
        };
        let message = if let AppError::PasswordsBusy { .. } = self {
            // Not a failure: the refusal is the flood protection working.
            self.to_string()
        } else if status.is_server_error() {
            // Storage details stay in the log; the device only needs to know to retry.
            tracing::error!(error = %self, "request failed");
            "the server could not complete the request; nothing was changed, retry later".into()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(ErrorReply { code, message })).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /health/ready`: 200 when the store answers and the server is not shutting down, 503
/// otherwise (a load balancer stops sending requests).
async fn ready(State(state): State<AppState>) -> Response {
    let storage = state.storage.clone();
    let readable = tokio::task::spawn_blocking(move || storage.feed_head().is_ok())
        .await
        .unwrap_or(false);
    if readable && !*state.shutdown.borrow() {
        Json(serde_json::json!({ "status": "ready" })).into_response()
    } else {
        let body = Json(serde_json::json!({ "status": "not ready" }));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `GET /metrics`: the counters in Prometheus' text format.
async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let storage = state.storage.clone();
    let (feed_head, indexed, page_cache) = tokio::task::spawn_blocking(move || {
        Ok::<_, StorageError>((
            storage.feed_head()?.0,
            storage.with_rows(|rows| rows.len()),
            storage.page_cache(),
        ))
    })
    .await??;
    let gauges = crate::metrics::Gauges {
        feed_head,
        indexed_accounts: indexed as u64,
        cache_docs: state.cache_docs as u64,
        page_cache,
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&gauges),
    )
        .into_response())
}

/// One sync round trip: commit the pushes durably, then reply with everything the device
/// lacks since its checkpoint.
async fn sync(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: Body,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let limits = &state.limits;
    let bytes = axum::body::to_bytes(body, limits.request_bytes)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            // The body's own error is wrapped by axum and the length limit.
            let timed_out = std::iter::successors(std::error::Error::source(&e), |s| s.source())
                .find_map(|s| s.downcast_ref::<crate::connections::BodyTimedOut>());
            if too_large {
                AppError::BodyTooLarge(limits.request_bytes)
            } else if let Some(timed_out) = timed_out {
                AppError::BodyTimedOut(crate::connections::BodyTimedOut(timed_out.0))
            } else {
                AppError::BodyUnreadable(e.to_string())
            }
        })?;
    let request: SyncRequest = outpost_protocol::decode(&bytes)?;
    if request.pushes.len() > limits.docs_per_request {
        return Err(AppError::TooManyDocuments {
            count: request.pushes.len(),
            limit: limits.docs_per_request,
        });
    }
    let (device, login) = (who.device, who.login.clone());
    let reply = exchange(
        &state.storage,
        &state.writer,
        who,
        request,
        Utc::now().timestamp_millis(),
    )
    .await?;
    tracing::debug!(
        %device,
        pushed = reply.pushed.len(),
        updates = reply.updates.len(),
        checkpoint = reply.checkpoint.0,
        "sync"
    );
    // What the device is told from here on (a handover above all) counts from now, whatever
    // checkpoint it sends next.
    state.syncs.told(device, reply.checkpoint.0);
    if !reply.more {
        // The device is up to date as of now: the freshness the team views show.
        state.syncs.record(device, &login, Utc::now());
    }
    state
        .metrics
        .synced(started.elapsed(), reply.pushed.iter().map(|p| &p.outcome));
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        outpost_protocol::encode(&reply),
    )
        .into_response())
}

/// The live stream: one `change` event (data: feed position) per commit by another device in
/// the caller's scopes (as they were when the stream opened). A device and a user hold at
/// most the configured number of streams (429 beyond). The stream ends when the caller's
/// access changes: after every change to a user or a device the stream's token is checked
/// again, and a revoked device, a disabled user or any other role, team or led teams ends
/// it (the device opens a new one with what it may read now, or is refused).
async fn events(
    State(state): State<AppState>,
    Caller(who): Caller,
    headers: header::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let slot = state.streams.open(&who, &state.connections)?;
    let device = who.device;
    let scopes = reader_scopes(&who);
    let storage = state.storage.clone();
    let mut shutdown = state.shutdown.clone();
    // The extractor found this token; the stream keeps it to check it again.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::NoToken)?
        .trim()
        .to_owned();
    // Subscribed before the first check, so no change between the two is missed.
    let mut changes = storage.access.subscribe();
    let access_ended = {
        let storage = storage.clone();
        async move {
            loop {
                let (storage, token) = (storage.clone(), token.clone());
                let now = tokio::task::spawn_blocking(move || storage.authenticate(&token)).await;
                match now {
                    Ok(Ok(principal)) if principal == who => {}
                    // Any other answer, a storage error too, ends it: the device reconnects.
                    _ => return,
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }
    };
    // Counted as open until the stream (which owns the guards) is dropped.
    let open = (state.metrics.stream_opened(), slot);
    let stream = BroadcastStream::new(state.events.subscribe())
        .filter_map(move |item| {
            let seq = match item {
                Ok(commit) if commit.origin == device => None,
                Ok(commit) if !sees(scopes.as_deref(), &commit.scopes) => None,
                Ok(commit) => Some(commit.seq),
                // A slow subscriber missed some events: one event at the head covers them.
                Err(BroadcastStreamRecvError::Lagged(_)) => storage.feed_head().ok(),
            };
            let _open = &open;
            let event = seq.map(|seq| Ok(Event::default().event("change").data(seq.0.to_string())));
            std::future::ready(event)
        })
        .take_until(async move {
            tokio::select! {
                // Ends the stream when the server shuts down, so shutdown does not wait on it.
                _ = shutdown.wait_for(|stopping| *stopping) => {}
                () = access_ended => {}
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The dashboard's Content-Security-Policy: its own script, styles and requests only, no
/// inline script, never framed.
const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Headers that keep a browser from misusing what the server sends: every reply is read
/// as its declared type and leaks no referrer; the dashboard runs only its own code and is
/// never framed (CSP, and `X-Frame-Options` for older browsers); API replies, which carry
/// customers, are never cached.
async fn hardened(request: Request, next: Next) -> Response {
    let is_dashboard = request.uri().path().starts_with("/dashboard");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    if is_dashboard {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(DASHBOARD_CSP),
        );
        headers.insert(
            header::X_FRAME_OPTIONS,
            header::HeaderValue::from_static("DENY"),
        );
    } else {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    response
}

/// Client errors axum answers by itself (a body over its limit, a path parameter that is not
/// an id, a wrong method, an unknown route) get the same typed JSON body as the handlers'
/// errors, so every 4xx a device or a script sees parses as an [`ErrorReply`].
async fn typed_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Invalid,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        _ => ErrorCode::Malformed,
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_lowercase()
    } else {
        text
    };
    let mut typed = (status, Json(ErrorReply { code, message })).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        typed.headers_mut().insert(header::ALLOW, allow.clone());
    }
    typed
}

async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
