//! Who is calling. Until accounts and tokens exist a device names itself in the
//! `x-outpost-device` header and the server trusts it. This extractor is the one place where
//! authentication plugs in: every handler that acts for a device takes a [`Caller`], so
//! checking a device token here secures them all.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use outpost_protocol::DeviceId;

use crate::http::AppError;

/// The header a device names itself in.
pub const DEVICE_HEADER: &str = "x-outpost-device";

/// The device a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub device: DeviceId,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, AppError> {
        parts
            .headers
            .get(DEVICE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(|device| Caller { device })
            .ok_or(AppError::NoDevice)
    }
}
