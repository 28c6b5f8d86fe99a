//! A store written by an older version (derived rows in another layout) opens: its summary
//! rows and duplicate-check index are rebuilt from the documents, which are the truth.

use chrono::{TimeZone, Utc};
use outpost_client::{EditError, NewAccount, Store};
use redb::{Database, TableDefinition};

#[test]
fn derived_rows_of_an_older_layout_are_rebuilt_on_open() {
    let now = Utc.with_ymd_and_hms(2026, 11, 5, 9, 0, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = Store::open(&path).unwrap();
    let new = NewAccount {
        name: "Harbor Foods".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    let id = store.create_account(&new, now).unwrap();
    let before = store.account(id).unwrap();
    drop(store);

    // What an older version left behind: a summary row this version cannot read, no format.
    let db = Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
        txn.open_table(meta).unwrap().remove("format").unwrap();
        let summaries: TableDefinition<u128, &[u8]> = TableDefinition::new("summaries");
        txn.open_table(summaries)
            .unwrap()
            .insert(id.as_u128(), [0xff_u8; 3].as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
    drop(db);

    let store = Store::open(&path).unwrap();
    let listed = store.accounts().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].name.as_str()),
        (id, "Harbor Foods")
    );
    assert_eq!(store.account(id).unwrap(), before);
    let again = NewAccount {
        name: "HARBOR FOODS Ltd".into(),
        owner: "ben".into(),
        ..NewAccount::default()
    };
    match store.create_account(&again, now) {
        Err(EditError::Duplicate { existing }) => assert_eq!(existing[0].id, id),
        other => panic!("expected a duplicate warning, got {other:?}"),
    }
}
