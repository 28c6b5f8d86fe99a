//! Catch-up costs what changed, not what exists: a device that missed 5 changed accounts out
//! of 1,000 receives exactly those 5 in at most 2 round trips, and a device with nothing to
//! catch up on makes one small request.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use outpost_client::{AccountEdit, NewAccount};
use outpost_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_device_receives_only_the_changed_documents() {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let server = TestServer::start().await;
    let writer = server.device().await;
    let reader = server.device().await;
    let ids: Vec<_> = (0..1000)
        .map(|i| {
            let new = NewAccount {
                name: format!("Account {i}"),
                owner: "ana".into(),
                ..NewAccount::default()
            };
            writer.store.create_account(&new, now).unwrap()
        })
        .collect();
    let first = writer.sync().await;
    assert_eq!(first.pushed.len(), 1000);
    let initial = reader.sync().await;
    assert_eq!(initial.received.len(), 1000);

    // The reader goes offline while 5 accounts change.
    let changed: BTreeSet<_> = [3, 141, 500, 777, 999].iter().map(|&i| ids[i]).collect();
    for &id in &changed {
        writer
            .store
            .edit_account(id, &AccountEdit::SetRegion("East".into()), now)
            .unwrap();
    }
    let pushed = writer.sync().await;
    assert_eq!(pushed.pushed.len(), 5);

    let catch_up = reader.sync().await;
    assert!(
        catch_up.round_trips <= 2,
        "{} round trips",
        catch_up.round_trips
    );
    assert_eq!(
        catch_up.received.iter().copied().collect::<BTreeSet<_>>(),
        changed
    );
    assert_eq!(
        catch_up.received.len(),
        5,
        "each changed document arrives once"
    );
    for &id in &changed {
        assert_eq!(
            reader.store.account(id).unwrap().record.region.as_deref(),
            Some("East")
        );
        assert_eq!(
            reader.store.heads(id).unwrap(),
            writer.store.heads(id).unwrap()
        );
    }

    // Nothing changed since: one small request and a small reply.
    let idle = reader.sync().await;
    assert_eq!(idle.round_trips, 1);
    assert!(idle.received.is_empty() && idle.pushed.is_empty());
    assert!(
        idle.bytes_sent < 64,
        "idle request is {} bytes",
        idle.bytes_sent
    );
    assert!(
        idle.bytes_received < 64,
        "idle reply is {} bytes",
        idle.bytes_received
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_behind_a_compaction_catches_up_from_the_snapshot() {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let server = TestServer::start().await;
    let writer = server.device().await;
    let early = server.device().await;
    let new = NewAccount {
        name: "Fern Hotel".into(),
        owner: "fay".into(),
        ..NewAccount::default()
    };
    let id = writer.store.create_account(&new, now).unwrap();
    writer.sync().await;
    early.sync().await;
    // More commits than the server (and the device store) keep as chunks before compacting.
    let commits = outpost_server::storage::COMPACT_AFTER + 10;
    for i in 0..commits {
        let edit = AccountEdit::SetRegion(format!("zone {i}"));
        writer.store.edit_account(id, &edit, now).unwrap();
        writer.sync().await;
    }
    let late = server.device().await;
    for device in [&early, &late] {
        let report = device.sync().await;
        assert_eq!(report.received, vec![id]);
        assert_eq!(
            device.store.heads(id).unwrap(),
            server.storage().heads(id).unwrap()
        );
        assert_eq!(
            device.store.account(id).unwrap(),
            writer.store.account(id).unwrap()
        );
    }
    let last = format!("zone {}", commits - 1);
    assert_eq!(late.store.account(id).unwrap().record.region, Some(last));
}
