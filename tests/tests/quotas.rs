//! Per-user quotas, through the real server binary: one rep pushed 10,000 new accounts in 20 s
//! and grew the server by 60 MiB, unchecked. Now a user creates at most
//! `--max-new-accounts-per-day` accounts per UTC day and may have at most `--max-user-bytes`
//! of changes stored; beyond either, the push is refused with a reason the device keeps in its
//! rejected list, other users are unaffected, and the count survives a restart.

use chrono::Utc;
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_tests::{ADMIN, Device, ServerProcess, TestServer};

/// A data directory with the test fixture's users (ana, ben, … with the test password).
async fn fixture() -> tempfile::TempDir {
    TestServer::start().await.stop().await
}

fn create(device: &Device, owner: &str, name: &str) {
    let new = NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    };
    device
        .store
        .create_account_anyway(&new, Utc::now())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_accounts_beyond_the_daily_quota_are_refused_and_kept_on_the_device() {
    let data = fixture().await;
    let args = ["--backup-every", "off", "--max-new-accounts-per-day", "5"];
    let mut server = ServerProcess::start(data.path(), &args);
    let url = format!("http://{}", server.addr);
    let ana = Device::logged_in(&url, "ana").await;
    for n in 0..7 {
        create(&ana, "ana", &format!("华强电子 {n}"));
    }
    let report = ana.sync().await;
    assert_eq!(report.pushed.len(), 5, "{report:?}");
    assert_eq!(report.rejected.len(), 2, "{report:?}");
    for (_, reason) in &report.rejected {
        assert!(reason.contains("new accounts today"), "{reason}");
    }
    // The device keeps the refused accounts, with the reason, for its rep to redo.
    let kept = ana.store.rejected().unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|r| r.name.starts_with("华强电子")));
    assert!(kept.iter().all(|r| r.reason.contains("明天")), "{kept:?}");
    // Edits to accounts already created are not new accounts.
    let id = ana.store.accounts().unwrap()[0].id;
    let visit = NewFollowUp::new(Utc::now(), ContactMethod::Visit, "拜访");
    ana.store
        .edit_account(id, &AccountEdit::LogFollowUp(visit), Utc::now())
        .unwrap();
    assert_eq!(ana.sync().await.pushed, vec![id]);
    // Another rep has a quota of their own.
    let ben = Device::logged_in(&url, "ben").await;
    create(&ben, "ben", "Ben's first");
    assert_eq!(ben.sync().await.pushed.len(), 1);
    // An admin, who sets the limits and loads whole books, has none.
    let root = Device::logged_in(&url, ADMIN).await;
    for n in 0..7 {
        create(&root, "ana", &format!("Loaded by the admin {n}"));
    }
    assert_eq!(root.sync().await.pushed.len(), 7);

    // The count is stored: a restart does not reset it.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let server = ServerProcess::start(data.path(), &args);
    let mut ana = ana;
    ana.connect(&format!("http://{}", server.addr));
    create(&ana, "ana", "华强电子 7");
    let report = ana.sync().await;
    assert!(report.pushed.is_empty(), "{report:?}");
    assert_eq!(report.rejected.len(), 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_fill_the_store_beyond_their_quota() {
    let data = fixture().await;
    let server = ServerProcess::start(
        data.path(),
        &["--backup-every", "off", "--max-user-bytes", "20000"],
    );
    let url = format!("http://{}", server.addr);
    let ana = Device::logged_in(&url, "ana").await;
    create(&ana, "ana", "Acme");
    assert_eq!(ana.sync().await.pushed.len(), 1);
    let id = ana.store.accounts().unwrap()[0].id;
    // Each visit note is 1,900 characters of text that does not compress well.
    let mut refused = None;
    for n in 0..40 {
        let summary: String = (0..1_900)
            .map(|i| char::from_u32(0x4e00 + ((i * 7919 + n * 104_729) % 20_000)).unwrap())
            .collect();
        let visit = NewFollowUp::new(Utc::now(), ContactMethod::Visit, &summary);
        ana.store
            .edit_account(id, &AccountEdit::LogFollowUp(visit), Utc::now())
            .unwrap();
        let report = ana.sync().await;
        if let Some((_, reason)) = report.rejected.first() {
            refused = Some((n, reason.clone()));
            break;
        }
    }
    let (n, reason) = refused.expect("the quota refuses a push");
    assert!(n >= 1, "the first visits fit in the quota");
    assert!(reason.contains("per user"), "{reason}");
    assert_eq!(ana.store.rejected().unwrap().len(), 1);
    // Someone else still writes.
    let ben = Device::logged_in(&url, "ben").await;
    create(&ben, "ben", "Ben's first");
    assert_eq!(ben.sync().await.pushed.len(), 1);
}
