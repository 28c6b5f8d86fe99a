//! Crashes of real processes: the server killed with SIGKILL while six reps push keeps every
//! change it acknowledged, and the reps resend the rest once it is back; the `outpost` CLI
//! killed in the middle of an import leaves a store that opens with every batch it committed.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use automerge::{ChangeHash, ReadDoc};
use chrono::{TimeZone, Utc};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp, Store};
use outpost_protocol::{DocId, Head};
use outpost_server::Storage;
use outpost_tests::{ADMIN, Device, FIELD_REPS, ServerProcess, TestServer, binary};

/// Pushes acknowledged in all before the server is killed.
const ACKNOWLEDGED_BEFORE_KILL: usize = 40;

/// What one rep's device did until the server went away.
struct Run {
    device: Device,
    /// Heads of each account as of the last push of it the server acknowledged.
    acknowledged: HashMap<DocId, Vec<Head>>,
    edits: usize,
}

/// Edits an own account (a new one every fifth time) and syncs, until a sync fails.
async fn push_until_killed(device: Device, login: &str, acknowledged: Arc<AtomicUsize>) -> Run {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let mut run = Run {
        device,
        acknowledged: HashMap::new(),
        edits: 0,
    };
    let mut accounts = Vec::new();
    loop {
        let now = start + chrono::Duration::minutes(run.edits as i64);
        let store = &run.device.store;
        if run.edits.is_multiple_of(5) {
            let new = NewAccount {
                name: format!("{login} customer {}", accounts.len()),
                owner: login.into(),
                ..NewAccount::default()
            };
            accounts.push(store.create_account(&new, now).unwrap());
        } else {
            let visit =
                NewFollowUp::new(now, ContactMethod::Visit, &format!("visit {}", run.edits));
            let account = accounts[run.edits % accounts.len()];
            store
                .edit_account(account, &AccountEdit::LogFollowUp(visit), now)
                .unwrap();
        }
        run.edits += 1;
        match run.device.try_sync().await {
            Ok(report) => {
                for doc in report.pushed {
                    run.acknowledged.insert(doc, store.heads(doc).unwrap());
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => return run,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_push_keeps_what_it_acknowledged_and_devices_resend_the_rest() {
    let data = TestServer::start().await.stop().await;
    let mut server = ServerProcess::start(data.path(), &[]);
    let url = format!("http://{}", server.addr);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut reps = Vec::new();
    for login in FIELD_REPS {
        let device = Device::logged_in(&url, login).await;
        let acknowledged = acknowledged.clone();
        reps.push(tokio::spawn(async move {
            push_until_killed(device, login, acknowledged).await
        }));
    }
    while acknowledged.load(Ordering::Relaxed) < ACKNOWLEDGED_BEFORE_KILL {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().unwrap();
    let mut runs = Vec::new();
    for rep in reps {
        runs.push(rep.await.unwrap());
    }
    let unacknowledged: usize = runs
        .iter()
        .map(|run| run.device.store.status().unwrap().unsynced.len())
        .sum();

    // The killed server's database, opened as it was left: every acknowledged change is in.
    {
        let storage = Storage::open(data.path().join("outpost.redb")).unwrap();
        for run in &runs {
            for (doc, heads) in &run.acknowledged {
                let stored = storage
                    .document(*doc)
                    .unwrap()
                    .expect("acknowledged account");
                for head in heads {
                    assert!(
                        stored.get_change_by_hash(&ChangeHash(head.0)).is_some(),
                        "acknowledged change {head:?} of {doc} lost"
                    );
                }
            }
        }
    }

    // Back up: each device resends what was not acknowledged, and a new device sees every
    // edit of every rep.
    let server = ServerProcess::start(data.path(), &[]);
    let url = format!("http://{}", server.addr);
    for run in &mut runs {
        run.device.connect(&url);
        run.device.sync().await;
        assert!(run.device.store.status().unwrap().unsynced.is_empty());
    }
    let admin = Device::logged_in(&url, ADMIN).await;
    admin.sync().await;
    let mut accounts = 0;
    for run in &runs {
        for summary in run.device.store.accounts().unwrap() {
            assert_eq!(
                admin.store.account(summary.id).unwrap(),
                run.device.store.account(summary.id).unwrap(),
                "{} after the restart",
                summary.name
            );
            accounts += 1;
        }
    }
    let follow_ups: usize = runs
        .iter()
        .flat_map(|run| run.device.store.accounts().unwrap())
        .map(|s| admin.store.account(s.id).unwrap().record.follow_ups.len())
        .sum();
    let edits: usize = runs.iter().map(|run| run.edits).sum();
    assert_eq!(
        accounts + follow_ups,
        edits,
        "every edit made reached the server"
    );
    println!(
        "{edits} edits, {} acknowledged before the kill, {unacknowledged} account(s) resent after it",
        acknowledged.load(Ordering::Relaxed)
    );
}

#[test]
fn cli_killed_mid_import_leaves_every_committed_batch() {
    const ROWS: usize = 6_000;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let file = dir.path().join("book.csv");
    let mut rows = outpost_client::csv_io::COLUMNS.join(",") + "\n";
    for i in 0..ROWS {
        rows += &format!("Customer {i},rep,customer,Retail,,North,referral,,,b,,,,,\n");
    }
    std::fs::write(&file, rows).unwrap();

    let mut import = Command::new(binary("outpost"))
        .env_remove("OUTPOST_STORE")
        .env_remove("OUTPOST_SERVER")
        .arg("--store")
        .arg(&store)
        .arg("import")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The progress bar reports each committed batch: "\r[###   ] 1000/6000".
    let mut progress = import.stderr.take().unwrap();
    let mut seen = String::new();
    let mut byte = [0u8; 1];
    let committed = loop {
        assert_eq!(progress.read(&mut byte).unwrap(), 1, "import ended: {seen}");
        seen.push(byte[0] as char);
        let shown = seen
            .rsplit('\r')
            .next()
            .and_then(|bar| bar.split("] ").nth(1))
            .and_then(|count| count.strip_suffix(&format!("/{ROWS}")))
            .and_then(|done| done.parse::<usize>().ok());
        if let Some(done) = shown.filter(|done| *done >= 1_000) {
            break done;
        }
    };
    import.kill().unwrap();
    let status = import.wait().unwrap();
    assert!(!status.success(), "killed before it finished");

    let store = Store::open(store.join("store.redb")).expect("the store opens after the kill");
    let mut names: Vec<String> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|summary| {
            let account = store.account(summary.id).unwrap().record;
            assert_eq!(
                (account.industry.as_deref(), account.region.as_deref()),
                (Some("F"), Some("North")),
                "{} is whole",
                account.name
            );
            account.name
        })
        .collect();
    assert!(
        names.len() >= committed && names.len() < ROWS,
        "{} accounts, {committed} committed before the kill",
        names.len()
    );
    names.sort_by_key(|name| name["Customer ".len()..].parse::<usize>().unwrap());
    let expected: Vec<String> = (0..names.len()).map(|i| format!("Customer {i}")).collect();
    assert_eq!(names, expected, "the rows of whole batches, in order");
}
