//! The HTTP surface: routes, the sync handler, the live event stream, health, request logging,
//! and the one error type every handler answers with.

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use outpost_protocol::{
    CONTENT_TYPE, DecodeError, DeviceId, DocId, ErrorCode, ErrorReply, MAX_MESSAGE_BYTES,
    SyncReply, SyncRequest,
};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::AppState;
use crate::auth::{Caller, DEVICE_HEADER};
use crate::catchup::{REPLY_BUDGET, catch_up};
use crate::storage::StorageError;
use crate::writer::WriteError;

/// The routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/sync", post(sync))
        .route("/v1/events", get(events))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Why a request failed. Each variant maps to one status and one safe message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("request body is larger than {MAX_MESSAGE_BYTES} bytes")]
    BodyTooLarge,
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("missing or malformed {DEVICE_HEADER} header")]
    NoDevice,
    #[error("the request speaks for device {claimed}, but comes from device {caller}")]
    WrongDevice { claimed: DeviceId, caller: DeviceId },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("reply task failed: {0}")]
    ReplyTask(#[from] tokio::task::JoinError),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AppError::Decode(DecodeError::TooLarge { .. }) | AppError::BodyTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
            }
            AppError::Decode(DecodeError::UnsupportedVersion { .. }) => {
                (StatusCode::BAD_REQUEST, ErrorCode::UnsupportedVersion)
            }
            AppError::Decode(_) | AppError::BodyUnreadable(_) => {
                (StatusCode::BAD_REQUEST, ErrorCode::Malformed)
            }
            AppError::NoDevice | AppError::WrongDevice { .. } => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated)
            }
            AppError::Write(_) | AppError::Storage(_) | AppError::ReplyTask(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
        };
        let message = if status.is_server_error() {
            // Storage details stay in the log; the device only needs to know to retry.
            tracing::error!(error = %self, "request failed");
            "the server could not complete the sync; nothing was acknowledged, retry later".into()
        } else {
            self.to_string()
        };
        (status, Json(ErrorReply { code, message })).into_response()
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// One sync round trip: commit the pushes durably, then reply with everything the device
/// lacks since its checkpoint.
async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Response, AppError> {
    let bytes = axum::body::to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                AppError::BodyTooLarge
            } else {
                AppError::BodyUnreadable(e.to_string())
            }
        })?;
    let request: SyncRequest = outpost_protocol::decode(&bytes)?;
    let SyncRequest {
        device,
        checkpoint,
        pushes,
    } = request;
    if device != caller.device {
        return Err(AppError::WrongDevice {
            claimed: device,
            caller: caller.device,
        });
    }
    let pushed_docs: Vec<DocId> = pushes.iter().map(|p| p.doc).collect();
    let pushed = if pushes.is_empty() {
        Vec::new()
    } else {
        state
            .writer
            .push(device, pushes, Utc::now().timestamp_millis())
            .await?
    };
    let storage = state.storage.clone();
    let catch = tokio::task::spawn_blocking(move || {
        catch_up(
            &storage.read()?,
            device,
            checkpoint,
            &pushed_docs,
            REPLY_BUDGET,
        )
    })
    .await??;
    tracing::debug!(
        %device,
        pushed = pushed.len(),
        updates = catch.updates.len(),
        checkpoint = catch.checkpoint.0,
        "sync"
    );
    let reply = SyncReply {
        checkpoint: catch.checkpoint,
        more: catch.more,
        pushed,
        updates: catch.updates,
    };
    Ok((
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        outpost_protocol::encode(&reply),
    )
        .into_response())
}

/// The live stream: one `change` event (data: feed position) per commit by another device.
async fn events(
    State(state): State<AppState>,
    Caller { device }: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let storage = state.storage.clone();
    let mut shutdown = state.shutdown.clone();
    let stream = BroadcastStream::new(state.events.subscribe())
        .filter_map(move |item| {
            let seq = match item {
                Ok(commit) if commit.origin == device => None,
                Ok(commit) => Some(commit.seq),
                // A slow subscriber missed some events: one event at the head covers them.
                Err(BroadcastStreamRecvError::Lagged(_)) => storage.feed_head().ok(),
            };
            let event = seq.map(|seq| Ok(Event::default().event("change").data(seq.0.to_string())));
            std::future::ready(event)
        })
        .take_until(async move {
            // Ends the stream when the server shuts down, so shutdown does not wait on it.
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
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
