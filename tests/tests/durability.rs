//! Nothing acknowledged or unsynced is lost to a restart: a device store closed and reopened
//! keeps its unsynced edits (and syncs them later), and a restarted server still holds every
//! change it acknowledged.

use chrono::{TimeZone, Utc};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_device_keeps_unsynced_edits_and_restarted_server_keeps_acknowledged_ones() {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let mut server = TestServer::start().await;
    let device = server.device().await;
    let new = NewAccount {
        name: "Harbor Foods".into(),
        owner: "ben".into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account(&new, now).unwrap();
    let visit = NewFollowUp::new(now, ContactMethod::Phone, "intro call");
    device
        .store
        .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();

    // The app is closed before it ever synced.
    let mut device = device.reopen();
    let status = device.store.status().unwrap();
    assert_eq!(status.unsynced, vec![id]);
    assert_eq!(status.last_sync, None);
    assert_eq!(device.store.account(id).unwrap().record.follow_ups.len(), 1);

    let report = device.sync().await;
    assert_eq!(report.pushed, vec![id]);
    let status = device.store.status().unwrap();
    assert!(status.unsynced.is_empty());
    assert!(status.last_sync.is_some());
    let acknowledged = device.store.heads(id).unwrap();

    server.restart().await;
    assert!(
        server.storage().document(id).unwrap().is_some(),
        "still stored after restart"
    );
    assert_eq!(server.storage().heads(id).unwrap(), acknowledged);

    // A new device catches up from the restarted server, and the first syncs cleanly again.
    device.connect(&server.url());
    let fresh = server.device().await;
    assert_eq!(fresh.sync().await.received, vec![id]);
    assert_eq!(
        fresh.store.account(id).unwrap(),
        device.store.account(id).unwrap()
    );
    let again = device.sync().await;
    assert!(again.pushed.is_empty() && again.received.is_empty());
}
