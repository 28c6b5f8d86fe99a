//! The HTTP driver: runs a [`SyncSession`] against the server with reqwest, and follows the
//! server's live notification stream (server-sent events).

use bytes::Bytes;
use chrono::Utc;
use futures_util::stream::{BoxStream, StreamExt};
use outpost_protocol::api::{
    HistoryEntry, LoginReply, LoginRequest, PasswordChange, Person, ReviewSubmission, UserInfo,
    WeekReview,
};
use outpost_protocol::{CONTENT_TYPE, DocId, ErrorCode, ErrorReply, Seq};

use crate::error::SyncError;
use crate::store::Store;
use crate::sync::{SyncReport, SyncSession};

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

/// How a client reaches a server over TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM certificate to trust besides the system's (a team's own CA or a self-signed
    /// server certificate).
    pub ca_cert: Option<Vec<u8>>,
    /// Refuse to talk to a server other than over `https://` (the device token and the
    /// accounts never cross the network in clear).
    pub require_tls: bool,
}

/// Installs rustls' ring crypto provider for the process (once; later calls do nothing).
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpClient {
    /// A client for the server at `base_url` (such as `http://127.0.0.1:7420`), trusting the
    /// system's certificate authorities for `https://` addresses.
    pub fn new(base_url: &str) -> HttpClient {
        install_crypto();
        HttpClient {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// A client with TLS options: an extra trusted certificate, and whether to insist on TLS.
    pub fn with_tls(base_url: &str, tls: &TlsOptions) -> Result<HttpClient, SyncError> {
        install_crypto();
        if tls.require_tls && !base_url.starts_with("https://") {
            return Err(SyncError::NotTls(base_url.to_owned()));
        }
        let mut builder = reqwest::Client::builder().https_only(tls.require_tls);
        if let Some(pem) = &tls.ca_cert {
            let cert = reqwest::Certificate::from_pem(pem).map_err(SyncError::Transport)?;
            builder = builder.tls_certs_merge([cert]);
        }
        Ok(HttpClient {
            http: builder.build()?,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Logs this device in as `login` and keeps the device token in the store; every later
    /// request of this device uses it.
    pub async fn login(
        &self,
        store: &Store,
        login: &str,
        password: &str,
        label: &str,
    ) -> Result<UserInfo, SyncError> {
        let request = LoginRequest {
            login: login.to_owned(),
            password: password.to_owned(),
            device: store.device(),
            label: label.to_owned(),
        };
        let response = self
            .http
            .post(format!("{}/v1/login", self.base))
            .json(&request)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        let reply: LoginReply = response.json().await?;
        store.set_credentials(&reply.user.login, &reply.token)?;
        Ok(reply.user)
    }

    /// Changes the password of the user this device is logged in as (`POST
    /// /v1/me/password`); the server refuses a wrong current password and a weak new one,
    /// saying why. This device stays logged in.
    pub async fn change_password(
        &self,
        store: &Store,
        old_password: &str,
        new_password: &str,
    ) -> Result<UserInfo, SyncError> {
        let change = PasswordChange {
            old_password: old_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        let response = self
            .http
            .post(format!("{}/v1/me/password", self.base))
            .bearer_auth(Self::token(store)?)
            .json(&change)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        Ok(response.json().await?)
    }

    /// The device token, or a clear error if this device never logged in.
    fn token(store: &Store) -> Result<String, SyncError> {
        store
            .credentials()?
            .map(|(_, token)| token)
            .ok_or(SyncError::NotLoggedIn)
    }

    /// The history of an account: who changed what, from which device, and when.
    pub async fn history(
        &self,
        store: &Store,
        account: DocId,
    ) -> Result<Vec<HistoryEntry>, SyncError> {
        self.get_json(store, &format!("/v1/accounts/{account}/history"))
            .await
    }

    /// The server's active users (`GET /v1/people`), such as to check an import's owners.
    pub async fn people(&self, store: &Store) -> Result<Vec<Person>, SyncError> {
        self.get_json(store, "/v1/people").await
    }

    /// Submits a week (its Monday, in `time_zone`) for the weekly review (`POST /v1/reviews`).
    pub async fn submit_review(
        &self,
        store: &Store,
        week: chrono::NaiveDate,
        time_zone: &str,
    ) -> Result<WeekReview, SyncError> {
        let submission = ReviewSubmission {
            week,
            time_zone: time_zone.to_owned(),
        };
        let response = self
            .http
            .post(format!("{}/v1/reviews", self.base))
            .bearer_auth(Self::token(store)?)
            .json(&submission)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        Ok(response.json().await?)
    }

    /// This user's weeks in the weekly review, with status and the manager's opinions.
    pub async fn reviews(&self, store: &Store) -> Result<Vec<WeekReview>, SyncError> {
        self.get_json(store, "/v1/reviews").await
    }

    /// `GET path` with the device's token, decoded from JSON; a refusal as the server said it.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        store: &Store,
        path: &str,
    ) -> Result<T, SyncError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(Self::token(store)?)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        Ok(response.json().await?)
    }

    /// Syncs the store with the server until both sides have each other's changes.
    pub async fn sync(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let token = Self::token(store)?;
        let mut session = SyncSession::new();
        while let Some(body) = session.next_request(store)? {
            let response = self
                .http
                .post(format!("{}/v1/sync", self.base))
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .bearer_auth(&token)
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

    /// Opens the live stream for the device whose store this is: it yields the feed position
    /// of each change the server commits in the device's scope.
    pub async fn subscribe(&self, store: &Store) -> Result<Notifications, SyncError> {
        let token = Self::token(store)?;
        let response = self
            .http
            .get(format!("{}/v1/events", self.base))
            .bearer_auth(token)
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
