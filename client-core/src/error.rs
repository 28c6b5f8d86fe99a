//! Errors, one enum per operation family: opening and reading the store, editing an account,
//! and syncing with the server.

use outpost_protocol::{DecodeError, DocId, ErrorReply};

use crate::account::{AccountSummary, SchemaError};
use crate::rules::InvalidField;

/// The local store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("local store")]
    Storage(#[from] redb::Error),
    #[error("local store holds a damaged document {doc}: {reason}")]
    Corrupt { doc: DocId, reason: String },
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

macro_rules! redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(e: $ty) -> Self {
                StoreError::Storage(e.into())
            }
        }
    )*};
}
redb_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A document could not be found by id or id prefix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    #[error("no account matches `{0}`")]
    NotFound(String),
    #[error("`{prefix}` matches {count} accounts; type more of the id")]
    Ambiguous { prefix: String, count: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An edit was refused; the store is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error("no account {0} in this store")]
    NotFound(DocId),
    #[error("{} similar account(s) already exist: {}", existing.len(), existing.iter().map(|a| format!("{} ({})", a.name, a.id)).collect::<Vec<_>>().join(", "))]
    Duplicate { existing: Vec<AccountSummary> },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for EditError {
    fn from(e: redb::Error) -> Self {
        EditError::Store(e.into())
    }
}

/// A sync did not complete. Whatever the server acknowledged before the failure is recorded;
/// everything else stays pending and is sent again by the next sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("could not reach the server")]
    #[cfg(feature = "http")]
    Transport(#[from] reqwest::Error),
    #[error("this device has not logged in yet: run `outpost login`")]
    NotLoggedIn,
    #[error("TLS is required but {0} is not an https:// address")]
    NotTls(String),
    #[error("server refused the request ({status}): {}", reply.message)]
    Refused { status: u16, reply: ErrorReply },
    #[error("server sent an unreadable reply: {0}")]
    BadReply(String),
    #[error("sync made no progress in {0} round trips in a row")]
    NoProgress(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DecodeError> for SyncError {
    fn from(e: DecodeError) -> Self {
        SyncError::BadReply(e.to_string())
    }
}
