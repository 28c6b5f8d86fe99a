//! Three devices edit one account offline and sync in every order: all replicas and the server
//! end identical, every follow-up is kept, and a field set concurrently keeps one
//! deterministic value with the other visible as a conflict.

use automerge::ReadDoc;
use chrono::{DateTime, Duration, TimeZone, Utc};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_tests::{Device, TestServer};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, hour, 0, 0).unwrap()
}

fn follow_up(summary: &str, when: DateTime<Utc>) -> AccountEdit {
    AccountEdit::LogFollowUp(NewFollowUp::new(when, ContactMethod::Visit, summary))
}

async fn check(order: [usize; 3]) {
    let server = TestServer::start().await;
    let mut devices: Vec<Device> = Vec::new();
    for _ in 0..3 {
        devices.push(server.device().await);
    }
    let new = NewAccount {
        name: "Acme Tools".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    let id = devices[0].store.create_account(&new, at(8)).unwrap();
    devices[0].sync().await;
    for device in &devices[1..] {
        let report = device.sync().await;
        assert_eq!(report.received, vec![id]);
    }

    // Offline: A and B set the name concurrently, C sets the region; everyone logs a visit.
    let [a, b, c] = [&devices[0], &devices[1], &devices[2]];
    a.store
        .edit_account(id, &AccountEdit::SetName("Acme Tools Ltd".into()), at(9))
        .unwrap();
    b.store
        .edit_account(id, &AccountEdit::SetName("ACME Tooling".into()), at(9))
        .unwrap();
    c.store
        .edit_account(id, &AccountEdit::SetRegion("North".into()), at(9))
        .unwrap();
    for (i, device) in devices.iter().enumerate() {
        let edit = follow_up(
            &format!("visit by device {i}"),
            at(10) + Duration::minutes(i as i64),
        );
        device.store.edit_account(id, &edit, at(11)).unwrap();
        assert_eq!(device.store.status().unwrap().unsynced, vec![id]);
    }

    // Sync in the given order, then once more so the early ones catch up on the later ones.
    for &i in order.iter().chain(order.iter()) {
        devices[i].sync().await;
    }

    let server_doc = server
        .storage()
        .document(id)
        .unwrap()
        .expect("server holds the account");
    let server_heads = server.storage().heads(id).unwrap();
    let accounts: Vec<_> = devices
        .iter()
        .map(|d| d.store.account(id).unwrap())
        .collect();
    for (device, account) in devices.iter().zip(&accounts) {
        assert_eq!(
            device.store.heads(id).unwrap(),
            server_heads,
            "order {order:?}"
        );
        assert_eq!(account, &accounts[0], "order {order:?}");
        assert!(device.store.status().unwrap().unsynced.is_empty());
    }
    let account = &accounts[0];
    assert_eq!(account.record.region.as_deref(), Some("North"));
    let summaries: Vec<&str> = account
        .follow_ups()
        .into_iter()
        .map(|(_, f)| f.summary.as_str())
        .collect();
    assert_eq!(
        summaries,
        [
            "visit by device 0",
            "visit by device 1",
            "visit by device 2"
        ]
    );
    let conflict = account
        .conflicts
        .iter()
        .find(|c| c.path == "name")
        .expect("name conflict");
    let mut values: Vec<&str> = conflict.values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(
        values[0], account.record.name,
        "the shown value comes first"
    );
    let writers: Vec<&str> = conflict.values.iter().map(|v| v.device.as_str()).collect();
    let (a_device, b_device) = (a.store.device().to_string(), b.store.device().to_string());
    assert!(writers.contains(&a_device.as_str()) && writers.contains(&b_device.as_str()));
    assert!(
        conflict.values.iter().all(|v| v.at == Some(at(9))),
        "{conflict:?}"
    );
    values.sort();
    assert_eq!(values, ["ACME Tooling", "Acme Tools Ltd"]);
    assert_eq!(
        server_doc.get_all(automerge::ROOT, "name").unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_converge_in_every_sync_order() {
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        check(order).await;
    }
}
