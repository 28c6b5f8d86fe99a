//! A sync whose connection is cut midway (before the reply, or in the middle of it) and then
//! retried ends in the same state as an uninterrupted one: nothing lost, nothing applied twice.

use chrono::{TimeZone, Utc};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_protocol::Seq;
use outpost_tests::{CutProxy, TestServer};

async fn check(reply_bytes: usize) {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let server = TestServer::start().await;
    let other = server.device().await;
    let new = NewAccount {
        name: "Pine Clinic".into(),
        owner: "cai".into(),
        ..NewAccount::default()
    };
    let shared = other.store.create_account(&new, now).unwrap();
    other.sync().await;

    let mut device = server.device().await;
    device.sync().await;
    let visit = NewFollowUp::new(now, ContactMethod::Visit, "demo");
    device
        .store
        .edit_account(shared, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();
    let own = device
        .store
        .create_account(
            &NewAccount {
                name: "Oak Dental".into(),
                ..new
            },
            now,
        )
        .unwrap();
    other
        .store
        .edit_account(shared, &AccountEdit::SetRegion("West".into()), now)
        .unwrap();
    other.sync().await;
    let head_before = server.storage().feed_head().unwrap();

    let proxy = CutProxy::start(server.addr(), reply_bytes).await;
    device.connect(&proxy.url());
    let cut = device.try_sync().await;
    assert!(cut.is_err(), "the cut sync must fail, got {cut:?}");
    // The server committed the pushes before the cut; the device does not know yet.
    assert_eq!(
        server.storage().feed_head().unwrap(),
        Seq(head_before.0 + 2)
    );
    assert_eq!(device.store.status().unwrap().unsynced.len(), 2);

    device.connect(&server.url());
    let retry = device.sync().await;
    assert_eq!(retry.pushed.len(), 2);
    assert_eq!(
        server.storage().feed_head().unwrap(),
        Seq(head_before.0 + 2),
        "nothing applied twice"
    );
    other.sync().await;
    for id in [shared, own] {
        assert_eq!(
            device.store.account(id).unwrap(),
            other.store.account(id).unwrap()
        );
    }
    let account = device.store.account(shared).unwrap();
    assert_eq!(account.record.follow_ups.len(), 1);
    assert_eq!(account.record.region.as_deref(), Some("West"));
    assert!(device.store.status().unwrap().unsynced.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_before_the_reply_then_retried() {
    check(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_in_the_middle_of_the_reply_then_retried() {
    // Past the HTTP headers, inside the body.
    check(200).await;
}
