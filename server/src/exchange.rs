//! One sync exchange without HTTP: commit a device's pushes durably, then build the reply
//! that brings it up to date. The `POST /v1/sync` handler ([`crate::http`]) decodes the body,
//! calls [`exchange`] and keeps the transport's concerns (metrics, freshness, logging, error
//! statuses); the deterministic simulation in `outpost-tests` calls it directly.

use std::sync::Arc;

use outpost_protocol::{DocId, PushOutcome, SyncReply, SyncRequest};

use crate::access::reader_scopes;
use crate::catchup::{REPLY_BUDGET, Reader, catch_up};
use crate::directory::Principal;
use crate::http::AppError;
use crate::storage::Storage;
use crate::writer::Writer;

/// Answers `request` from the device of `who`: the pushes are checked and committed by
/// `writer` (received at `now_ms`) before anything is read, so the reply acknowledges only
/// durable changes; the catch-up is one consistent read of `storage`. A request speaking for
/// another device than `who`'s is refused before anything is read or written.
pub async fn exchange(
    storage: &Arc<Storage>,
    writer: &Writer,
    who: Principal,
    request: SyncRequest,
    now_ms: i64,
) -> Result<SyncReply, AppError> {
    let SyncRequest {
        device,
        checkpoint,
        pushes,
    } = request;
    if device != who.device {
        return Err(AppError::WrongDevice {
            claimed: device,
            caller: who.device,
        });
    }
    let reader = Reader {
        device,
        scopes: reader_scopes(&who),
    };
    let pushed = if pushes.is_empty() {
        Vec::new()
    } else {
        writer.push(who, pushes, now_ms).await?
    };
    let pushed_docs: Vec<(DocId, bool)> = pushed
        .iter()
        .map(|p| (p.doc, matches!(p.outcome, PushOutcome::Rejected { .. })))
        .collect();
    let storage = storage.clone();
    let catch = tokio::task::spawn_blocking(move || {
        catch_up(
            &storage.read()?,
            &reader,
            checkpoint,
            &pushed_docs,
            REPLY_BUDGET,
        )
    })
    .await??;
    Ok(SyncReply {
        checkpoint: catch.checkpoint,
        more: catch.more,
        pushed,
        updates: catch.updates,
    })
}
