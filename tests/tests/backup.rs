//! Backups through the real server: an online backup taken while a device pushes holds every
//! push acknowledged before it and restores into a fresh server devices converge with; the
//! `backup` and `restore` commands and their refusals; scheduled backups with retention; only
//! admins may ask for a backup.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::{ChangeHash, ReadDoc};
use chrono::Utc;
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_protocol::{DocId, Head, Seq};
use outpost_server::backup::{self, BackupInfo};
use outpost_tests::{Device, ServerProcess, TestServer, binary, sample};
use reqwest::StatusCode;
use tempfile::TempDir;

/// `POST /v1/admin/backups` as `device`'s user.
async fn ask_backup(server: &TestServer, device: &Device) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/admin/backups", server.url()))
        .bearer_auth(device.token())
        .send()
        .await
        .expect("the server answers")
}

/// The accounts the manager's funnel counts, as the restored projection rows say.
async fn funnel_accounts(server: &TestServer, manager: &Device) -> u64 {
    let (status, funnel) = server.get_json(manager, "/v1/views/funnel").await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    funnel["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["dimension"] == "all")
        .unwrap()["accounts"]
        .as_u64()
        .unwrap()
}

fn new_account(name: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        owner: "ana".into(),
        ..NewAccount::default()
    }
}

/// One push the server acknowledged: the checkpoint of its reply (every commit up to it is
/// stored), and the heads the device then held for the document.
struct Acknowledged {
    checkpoint: Seq,
    doc: DocId,
    heads: Vec<Head>,
}

/// Logs a follow-up on `doc`, syncs, and records what the server acknowledged.
async fn push_follow_up(device: &Device, doc: DocId, note: &str) -> Acknowledged {
    let now = Utc::now();
    let visit = NewFollowUp::new(now, ContactMethod::Visit, note);
    device
        .store
        .edit_account(doc, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();
    assert_eq!(device.sync().await.pushed, vec![doc]);
    Acknowledged {
        checkpoint: device.store.status().unwrap().checkpoint,
        doc,
        heads: device.store.heads(doc).unwrap(),
    }
}

/// Whether `server` holds every change the acknowledged push ended with.
fn holds(server: &TestServer, push: &Acknowledged) -> bool {
    let doc = server.storage().document(push.doc).unwrap().unwrap();
    push.heads
        .iter()
        .all(|h| doc.get_change_by_hash(&ChangeHash(h.0)).is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_holds_every_acknowledged_push_and_restores_into_a_server_devices_converge_with()
 {
    let server = TestServer::start().await;
    let (ana, root, mia) = (
        server.device_of("ana").await,
        server.device().await,
        server.device_of("mia").await,
    );
    let mut accounts = Vec::new();
    for i in 0..5 {
        let id = ana
            .store
            .create_account(&new_account(&format!("Account {i}")), Utc::now())
            .unwrap();
        accounts.push(id);
    }
    ana.sync().await;

    // Ana keeps pushing while the backup is written, and a few times after it.
    let backed_up = Arc::new(AtomicBool::new(false));
    let (started, mut pushing) = tokio::sync::watch::channel(0usize);
    let pusher = tokio::spawn({
        let (backed_up, accounts) = (backed_up.clone(), accounts.clone());
        async move {
            let mut acknowledged = Vec::new();
            let mut after = 0;
            for i in 0.. {
                if backed_up.load(Ordering::SeqCst) {
                    after += 1;
                    if after > 3 {
                        break;
                    }
                }
                let doc = accounts[i % accounts.len()];
                acknowledged.push(push_follow_up(&ana, doc, &format!("visit {i}")).await);
                let _ = started.send(i + 1);
            }
            // An account created after the backup, which the backup cannot hold.
            let late = ana
                .store
                .create_account(&new_account("Created After The Backup"), Utc::now())
                .unwrap();
            ana.sync().await;
            (ana, acknowledged, late)
        }
    });
    pushing.wait_for(|pushes| *pushes >= 3).await.unwrap();
    let response = ask_backup(&server, &root).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let info: BackupInfo = response.json().await.unwrap();
    backed_up.store(true, Ordering::SeqCst);
    let (mut ana, acknowledged, late) = pusher.await.unwrap();

    let file = server.dir().join("backups").join(&info.file);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), info.bytes);
    let head = Seq(info.feed_head);
    let (before, after): (Vec<_>, Vec<_>) = acknowledged.iter().partition(|a| a.checkpoint <= head);
    assert!(before.len() >= 3, "pushes acknowledged before the backup");
    assert!(after.len() >= 3, "pushes acknowledged after it");
    assert_eq!(funnel_accounts(&server, &mia).await, 6);
    // The live server's directory (and the backup in it) stays until the test ends.
    let _live = server.stop().await;

    // Restored into a fresh data directory, as `outpost-server restore` does.
    let fresh = TempDir::new().unwrap();
    let restored_head = backup::restore(&file, &fresh.path().join("outpost.redb"), false).unwrap();
    assert_eq!(restored_head, head);
    let restored = TestServer::open(fresh).await;
    assert_eq!(restored.storage().feed_head().unwrap(), head);
    for push in &before {
        let doc = restored.storage().document(push.doc).unwrap().unwrap();
        for h in &push.heads {
            assert!(
                doc.get_change_by_hash(&automerge::ChangeHash(h.0))
                    .is_some(),
                "a push acknowledged at {:?} (backup at {head:?}) is missing",
                push.checkpoint
            );
        }
    }
    assert!(
        !holds(&restored, after.last().unwrap()),
        "the backup holds a push acknowledged after it"
    );
    assert!(restored.storage().document(late).unwrap().is_none());

    // Users, devices and tokens came back: Ana's device token works; the views answer from
    // the restored projection rows.
    let (status, me) = restored.get_json(&ana, "/v1/me").await;
    assert_eq!(
        (status, me["login"].as_str()),
        (StatusCode::OK, Some("ana"))
    );
    assert_eq!(funnel_accounts(&restored, &mia).await, 5);

    // Ana's device holds a checkpoint from the lost server: it pushes what the restored
    // server lacks (changes to old accounts, the new account) and catches up.
    ana.connect(&restored.url());
    let report = ana.sync().await;
    assert!(report.pushed.contains(&late), "{report:?}");
    assert!(ana.store.status().unwrap().unsynced.is_empty());
    for doc in accounts.iter().chain([&late]) {
        assert_eq!(
            restored.storage().heads(*doc).unwrap(),
            ana.store.heads(*doc).unwrap(),
            "{doc} converged"
        );
    }
    assert_eq!(funnel_accounts(&restored, &mia).await, 6);

    // A new commit on the restored server reaches a device that synced with the lost one.
    let again = push_follow_up(&ana, accounts[0], "after the restore").await;
    let other = restored.device_of("ana").await;
    other.sync().await;
    assert_eq!(other.store.heads(again.doc).unwrap(), again.heads);
    assert_eq!(
        other.store.account(late).unwrap(),
        ana.store.account(late).unwrap()
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(binary("outpost-server"))
        .env_remove("OUTPOST_DATA")
        .args(args)
        .output()
        .expect("run outpost-server")
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Asserts the command failed, saying `says`.
fn refused(output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert!(stderr.contains(says), "{stderr}");
}

/// Stops a server process with SIGTERM (a graceful stop) and waits for it.
fn terminate(mut server: ServerProcess) {
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(server.child.wait().unwrap().success(), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_commands_work_on_stopped_servers_and_refuse_what_is_unsafe() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let id = ana
        .store
        .create_account(&new_account("Harbor Foods"), Utc::now())
        .unwrap();
    ana.sync().await;
    let data = server.stop().await;
    let work = TempDir::new().unwrap();
    let out = work.path().join("nightly.redb");

    let running = ServerProcess::start(data.path(), &["--backup-every", "off"]);
    let busy = run(&["backup", "--data", arg(data.path()), "--out", arg(&out)]);
    refused(&busy, "in use by a running server");
    assert!(!out.exists());
    terminate(running);

    let made = run(&["backup", "--data", arg(data.path()), "--out", arg(&out)]);
    assert!(made.status.success(), "{made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).contains("feed position 1"));
    refused(
        &run(&["backup", "--data", arg(data.path()), "--out", arg(&out)]),
        "refusing to overwrite",
    );
    refused(
        &run(&[
            "backup",
            "--data",
            arg(work.path()),
            "--out",
            arg(&work.path().join("x")),
        ]),
        "there is no database",
    );

    // Files that are not Outpost backups: text, and another redb store (a device's).
    let target = work.path().join("restored");
    let text = work.path().join("notes.redb");
    std::fs::write(&text, "not a database").unwrap();
    let device_store = work.path().join("device.redb");
    drop(outpost_client::Store::open(&device_store).unwrap());
    for bad in [&text, &device_store] {
        refused(
            &run(&["restore", "--data", arg(&target), "--from", arg(bad)]),
            "is not an Outpost backup",
        );
    }
    assert!(!target.join("outpost.redb").exists());

    let restore = |force: bool| {
        let mut args = vec!["restore", "--data", arg(&target), "--from", arg(&out)];
        if force {
            args.push("--force");
        }
        run(&args)
    };
    let done = restore(false);
    assert!(done.status.success(), "{done:?}");
    refused(&restore(false), "pass --force to replace it");
    let running = ServerProcess::start(&target, &["--backup-every", "off"]);
    refused(&restore(true), "in use by a running server");

    // The restored server knows Ana's device and holds her account.
    let response = reqwest::Client::new()
        .get(format!("http://{}/v1/accounts/{id}/history", running.addr))
        .bearer_auth(ana.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    terminate(running);
    let replaced = restore(true);
    assert!(replaced.status.success(), "{replaced:?}");
}

/// The server's backups in `dir`, by name.
fn backup_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_keep_the_newest_and_each_is_a_whole_store() {
    let data = TempDir::new().unwrap();
    let dir = data.path().join("kept");
    let server = ServerProcess::start(
        data.path(),
        &[
            "--backup-every",
            "1s",
            "--backup-keep",
            "2",
            "--backup-dir",
            arg(&dir),
        ],
    );
    let metrics = format!("http://{}/metrics", server.addr);
    // A client installs the crypto provider reqwest is built to need.
    drop(outpost_client::HttpClient::new(&metrics));
    loop {
        let scrape = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        if sample(&scrape, "outpost_backups_total{result=\"ok\"}") >= 4.0 {
            assert_eq!(
                sample(&scrape, "outpost_backups_total{result=\"failed\"}"),
                0.0
            );
            assert!(sample(&scrape, "outpost_last_backup_timestamp_seconds") > 0.0);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A graceful stop lets a backup under way finish, with its retention.
    terminate(server);
    let files = backup_files(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("outpost-") && name.ends_with(".redb"),
            "{name}"
        );
        backup::verify(&file).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_may_ask_for_a_backup() {
    let server = TestServer::start().await;
    for login in ["ana", "mia"] {
        let device = server.device_of(login).await;
        let response = ask_backup(&server, &device).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{login}");
    }
    let unauthenticated = reqwest::Client::new()
        .post(format!("{}/v1/admin/backups", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(!server.dir().join("backups").exists(), "nothing written");
}
