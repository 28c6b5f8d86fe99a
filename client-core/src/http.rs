//! The HTTP driver: runs a [`SyncSession`] against the server with reqwest, and follows the
//! server's live notification stream (server-sent events).

use bytes::Bytes;
use chrono::Utc;
use futures_util::stream::{BoxStream, StreamExt};
use outpost_protocol::{CONTENT_TYPE, DeviceId, ErrorCode, ErrorReply, Seq};

use crate::error::SyncError;
use crate::store::Store;
use crate::sync::{SyncReport, SyncSession};

/// The header a device names itself in (until device tokens exist).
pub const DEVICE_HEADER: &str = "x-outpost-device";

/// A connection to one Outpost server.
#[derive(Debug, Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
}

async fn refused(response: reqwest::Response) -> SyncError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let reply = serde_json::from_str::<ErrorReply>(&text).unwrap_or(ErrorReply {
        code: ErrorCode::Unavailable,
        message: if text.trim().is_empty() {
            format!("HTTP {status} with no explanation; is this an Outpost server?")
        } else {
            format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )
        },
    });
    SyncError::Refused { status, reply }
}

impl HttpClient {
    /// A client for the server at `base_url` (such as `http://127.0.0.1:7420`).
    pub fn new(base_url: &str) -> HttpClient {
        HttpClient {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Syncs the store with the server until both sides have each other's changes.
    pub async fn sync(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let mut session = SyncSession::new();
        while let Some(body) = session.next_request(store)? {
            let response = self
                .http
                .post(format!("{}/v1/sync", self.base))
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .header(DEVICE_HEADER, store.device().to_string())
                .body(body)
                .send()
                .await?;
            if !response.status().is_success() {
                return Err(refused(response).await);
            }
            let reply = response.bytes().await?;
            session.handle_reply(store, &reply, Utc::now())?;
        }
        Ok(session.finish())
    }

    /// Opens the live stream: it yields the feed position of each change the server commits.
    pub async fn subscribe(&self, device: DeviceId) -> Result<Notifications, SyncError> {
        let response = self
            .http
            .get(format!("{}/v1/events", self.base))
            .header(DEVICE_HEADER, device.to_string())
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        Ok(Notifications {
            stream: response.bytes_stream().boxed(),
            buffer: Vec::new(),
        })
    }
}

/// The server's live stream of committed changes.
pub struct Notifications {
    stream: BoxStream<'static, reqwest::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl Notifications {
    /// Waits for the next change notification; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<Seq>, SyncError> {
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(seq) = parse_event(&event) {
                    return Ok(Some(seq));
                }
            }
            match self.stream.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk?),
                None => return Ok(None),
            }
        }
    }
}

/// Reads the feed position out of one `event: change` SSE event; other events yield `None`.
fn parse_event(event: &[u8]) -> Option<Seq> {
    let text = std::str::from_utf8(event).ok()?;
    let mut is_change = false;
    let mut data = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            is_change = name.trim() == "change";
        } else if let Some(value) = line.strip_prefix("data:") {
            data = value.trim().parse().ok();
        }
    }
    data.filter(|_| is_change).map(Seq)
}
