//! Who is calling. Every request that acts for a user carries `Authorization: Bearer TOKEN`,
//! the token a device received when its user logged in; the [`Caller`] extractor looks it up
//! on every request, so a revoked device or a disabled user is refused at once. Logins are
//! rate limited per login name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use outpost_protocol::api::Role;

use crate::AppState;
use crate::directory::Principal;
use crate::http::AppError;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::NoToken)?
            .trim()
            .to_owned();
        let storage = state.storage.clone();
        let principal = tokio::task::spawn_blocking(move || storage.authenticate(&token)).await??;
        Ok(Caller(principal))
    }
}

impl Caller {
    /// Refuses callers below `role` (admin > manager > rep).
    pub fn require(&self, role: Role) -> Result<&Principal, AppError> {
        if self.0.role >= role {
            Ok(&self.0)
        } else {
            Err(AppError::Forbidden(format!("this needs the {role} role")))
        }
    }
}

/// Failed logins a login name may have in one window before further attempts are refused.
pub const LOGIN_ATTEMPTS: u32 = 5;
/// The window failed logins are counted in.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// Counts failed logins per login name.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LoginLimiter {
    /// Whether `login` may try now; if not, how long until it may.
    pub fn check(&self, login: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().expect("limiter lock");
        match failures.get(login) {
            Some((since, count))
                if *count >= LOGIN_ATTEMPTS && now.duration_since(*since) < LOGIN_WINDOW =>
            {
                Err(LOGIN_WINDOW - now.duration_since(*since))
            }
            _ => Ok(()),
        }
    }

    /// Records a failed attempt.
    pub fn failed(&self, login: &str, now: Instant) {
        let mut failures = self.failures.lock().expect("limiter lock");
        // Forget windows that are over, so the map stays small.
        failures.retain(|_, (since, _)| now.duration_since(*since) < LOGIN_WINDOW);
        let entry = failures.entry(login.to_owned()).or_insert((now, 0));
        entry.1 += 1;
    }

    /// Forgets failures after a successful login.
    pub fn succeeded(&self, login: &str) {
        self.failures.lock().expect("limiter lock").remove(login);
    }
}
