//! Outpost's device library: a rep's accounts in a local redb store of automerge documents,
//! editable offline, synced through the Outpost server when a connection exists.
//!
//! # Layout
//! - [`model`]: the account document (profile, lifecycle, contacts, follow-ups, plans,
//!   opportunities, deals, service, custom fields) and its automerge mapping.
//! - [`account`]: creating accounts and the edits a rep makes, applied to the typed document.
//! - [`code`]: readable account codes minted offline without collisions.
//! - [`industry`]: industries by GB/T 4754-2017, in both languages.
//! - [`rules`]: the record rules, checked before anything is written.
//! - [`facts`]: derived facts: cadence, next due, overdue, late follow-ups, conversion cycle.
//! - [`conflicts`]: fields set concurrently on two devices, with who and when.
//! - [`csv_io`]: CSV and Excel template, import (encodings, mapping, checks, dry run) and
//!   export.
//! - [`words`]: values as people write them in sheets: dates, months, quarters, money.
//! - [`duplicates`]: normalised names and contact keys for duplicate warnings.
//! - [`store`]: the redb store of documents, unsynced set, checkpoint and synced heads.
//! - `cache`: the documents the store worked on last, kept loaded (committed state only).
//! - [`sync`]: the sans-IO sync engine: builds requests, applies replies, decides when done.
//! - [`http`]: the thin reqwest driver that runs the engine and follows the live stream.
//! - [`text`]: folding full-width forms (NFKC) and terminal widths.
//! - [`private`]: databases and folders created readable by their owner only.
//! - [`error`]: one error enum per operation family.
//!
//! The `outpost` binary (`src/bin/outpost/`) is the rep's command line over this library.

pub mod account;
pub(crate) mod cache;
pub mod code;
pub mod conflicts;
pub mod csv_io;
pub mod duplicates;
pub mod error;
pub mod facts;
#[cfg(feature = "http")]
pub mod http;
pub mod industry;
pub mod model;
pub mod private;
pub mod rules;
pub mod store;
pub mod sync;
pub mod text;
pub mod words;

pub use account::{Account, AccountEdit, AccountSummary, NewAccount, NewFollowUp, NewOpportunity};
pub use error::{EditError, LookupError, StoreError, SyncError};
#[cfg(feature = "http")]
pub use http::{HttpClient, Notifications, TlsOptions};
pub use model::{AccountDoc, ContactMethod, FollowUp};
pub use rules::InvalidField;
pub use store::{RejectedEdit, Store, SyncStatus};

/// Reads a password from the first line of standard input (prompting on a terminal), for
/// the `outpost login` and `outpost-server user` commands. The line ending is not part of it.
pub fn read_password() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as you type): ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
pub use sync::{SyncReport, SyncSession};
