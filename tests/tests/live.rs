//! An online device learns of another device's change through the live stream and pulls it,
//! without polling; its own changes are not echoed back to it.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use outpost_client::{AccountEdit, NewAccount};
use outpost_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_device_hears_of_a_change_and_pulls_it() {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let server = TestServer::start().await;
    let rep = server.device().await;
    let manager = server.device().await;
    let mut stream = manager.client.subscribe(&manager.store).await.unwrap();

    let new = NewAccount {
        name: "Delta Freight".into(),
        owner: "dee".into(),
        ..NewAccount::default()
    };
    let id = rep.store.create_account(&new, now).unwrap();
    rep.sync().await;

    // The timeout only bounds a broken test; the event arrives as soon as the commit does.
    let seq = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("notified")
        .unwrap()
        .expect("stream open");
    assert_eq!(seq, server.storage().feed_head().unwrap());
    assert_eq!(manager.sync().await.received, vec![id]);

    // The manager's own edit is not announced back to the manager, but the rep hears of it.
    let mut rep_stream = rep.client.subscribe(&rep.store).await.unwrap();
    manager
        .store
        .edit_account(id, &AccountEdit::SetRegion("South".into()), now)
        .unwrap();
    manager.sync().await;
    let heard = tokio::time::timeout(Duration::from_secs(10), rep_stream.next()).await;
    assert_eq!(
        heard.expect("notified").unwrap(),
        Some(server.storage().feed_head().unwrap())
    );
    let echoed = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(echoed.is_err(), "own change echoed: {echoed:?}");
    rep.sync().await;
    assert_eq!(
        rep.store.account(id).unwrap().record.region.as_deref(),
        Some("South")
    );
}
