//! Helpers shared by the store and records tests.

use outpost_client::{Account, AccountSummary, Store, SyncStatus};
use outpost_protocol::Head;

/// Everything the public API shows of a store, to compare before and after an operation.
#[derive(Debug, PartialEq)]
pub struct Observed {
    summaries: Vec<AccountSummary>,
    accounts: Vec<Account>,
    heads: Vec<Vec<Head>>,
    status: SyncStatus,
}

pub fn observe(store: &Store) -> Observed {
    let summaries = store.accounts().unwrap();
    Observed {
        accounts: summaries
            .iter()
            .map(|s| store.account(s.id).unwrap())
            .collect(),
        heads: summaries
            .iter()
            .map(|s| store.heads(s.id).unwrap())
            .collect(),
        status: store.status().unwrap(),
        summaries,
    }
}
