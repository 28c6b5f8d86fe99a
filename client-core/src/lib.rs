//! Outpost's device library: a rep's accounts in a local redb store of automerge documents,
//! editable offline, synced through the Outpost server when a connection exists.
//!
//! # Layout
//! - [`account`]: the account document schema, its typed view and edits.
//! - [`store`]: the redb store of documents, unsynced set, checkpoint and synced heads.
//! - [`sync`]: the sans-IO sync engine: builds requests, applies replies, decides when done.
//! - [`http`]: the thin reqwest driver that runs the engine and follows the live stream.
//! - [`error`]: one error enum per operation family.
//!
//! The `outpost` binary (`src/bin/outpost.rs`) is the rep's command line over this library.

pub mod account;
pub mod error;
pub mod http;
pub mod store;
pub mod sync;

pub use account::{
    Account, AccountEdit, AccountSummary, ContactMethod, FollowUp, NewAccount, NewFollowUp,
};
pub use error::{EditError, LookupError, StoreError, SyncError};
pub use http::{HttpClient, Notifications};
pub use store::{Store, SyncStatus};
pub use sync::{SyncReport, SyncSession};
