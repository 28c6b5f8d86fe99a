//! Attacks on a server put on a network, each through the real server, each a defect once
//! seen and fixed at its root:
//! - a write share used as an ownership grant (`owner = self` pushed by a share holder, also
//!   after a merge gave the duplicate's owner a share), and a merge whose duplicate carried
//!   nothing over never reaching the duplicate's owner;
//! - the shared schema-upgrade actor accepted for any change, not only the upgrade;
//! - databases, backups and device stores created world-readable under the usual umask;
//! - a dashboard with no Content-Security-Policy or frame protection, and API replies
//!   without `nosniff` or `no-store`.

use chrono::{DateTime, TimeZone, Utc};
use outpost_client::{AccountEdit, NewAccount};
use outpost_protocol::DocId;
use outpost_tests::{Device, TestServer};
use serde_json::{Value, json};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 9, hour, 0, 0).unwrap()
}

async fn post(server: &TestServer, device: &Device, path: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn create(device: &Device, name: &str, owner: &str) -> DocId {
    let new = NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, at(8)).unwrap();
    let report = device.sync().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    id
}

/// Pushes `owner = login` from `device` and checks the server refused it and kept the owner.
async fn takeover_is_refused(server: &TestServer, device: &Device, id: DocId, login: &str) {
    let before = server.storage().heads(id).unwrap();
    device
        .store
        .edit_account(id, &AccountEdit::SetOwner(login.into()), at(10))
        .unwrap();
    let report = device.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(
        report.rejected[0].1.contains("only a manager"),
        "{report:?}"
    );
    assert_eq!(
        server.storage().heads(id).unwrap(),
        before,
        "server untouched"
    );
    assert_ne!(device.store.account(id).unwrap().record.owner, login);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_share_never_grants_ownership() {
    let server = TestServer::start().await;
    let [ana, ben, sol, mia] = [
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("sol").await,
        server.device_of("mia").await,
    ];

    // Within a team and across teams: a write share lets ben and ana edit, not take over.
    let anas = create(&ana, "Ana Account", "ana").await;
    let sols = create(&sol, "Sol Account", "sol").await;
    let share = |login: &str| json!({ "login": login, "write": true });
    assert_eq!(
        post(
            &server,
            &ana,
            &format!("/v1/accounts/{anas}/shares"),
            share("ben")
        )
        .await,
        204
    );
    assert_eq!(
        post(
            &server,
            &sol,
            &format!("/v1/accounts/{sols}/shares"),
            share("ana")
        )
        .await,
        204
    );
    ben.sync().await;
    ana.sync().await;
    ben.store
        .edit_account(anas, &AccountEdit::SetRegion("North".into()), at(9))
        .unwrap();
    assert!(
        ben.sync().await.rejected.is_empty(),
        "the share still lets ben edit"
    );
    takeover_is_refused(&server, &ben, anas, "ben").await;
    takeover_is_refused(&server, &ana, sols, "ana").await;

    // After a merge the duplicate's owner holds a write share on the survivor: the same.
    let survivor = create(&ana, "Harbor Foods", "ana").await;
    let duplicate = create(&ben, "Harbor Foods GmbH", "ben").await;
    mia.sync().await;
    let merge = json!({ "from": duplicate.to_string() });
    assert_eq!(
        post(
            &server,
            &mia,
            &format!("/v1/accounts/{survivor}/merge"),
            merge
        )
        .await,
        204
    );
    // The duplicate carried nothing over (no contacts, follow-ups, notes), yet ben, who goes on
    // working with the customer on the survivor, receives it.
    let report = ben.sync().await;
    assert!(report.received.contains(&survivor), "{report:?}");
    takeover_is_refused(&server, &ben, survivor, "ben").await;

    // A manager of the team still hands over.
    mia.sync().await;
    mia.store
        .edit_account(anas, &AccountEdit::SetOwner("ben".into()), at(11))
        .unwrap();
    assert!(mia.sync().await.rejected.is_empty());
    assert!(server.storage().owned_by("ben").unwrap().contains(&anas));
}

/// The shared schema-upgrade actor signs one change only, the deterministic upgrade; an
/// ordinary rename under its name was accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_actor_signs_nothing_but_the_upgrade() {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT};
    use outpost_client::model::{UPGRADE_ACTOR, upgrade_change};
    use outpost_protocol::{DocPush, PushOutcome};
    use outpost_tests::put_change;

    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let id = create(&ana, "Ana Account", "ana").await;
    let before = server.storage().heads(id).unwrap();
    let stored = server.storage().document(id).unwrap().unwrap();
    let (change, _) = put_change(&stored, &UPGRADE_ACTOR[..], "name", "Renamed By Nobody");
    let push = DocPush {
        doc: id,
        changes: vec![change],
    };
    let (status, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(status, 200);
    match &reply.unwrap().pushed[0].outcome {
        PushOutcome::Rejected { reason } => {
            assert!(reason.contains("not by this device"), "{reason}")
        }
        other => panic!("a rename signed by the upgrade actor was {other:?}"),
    }
    assert_eq!(
        server.storage().heads(id).unwrap(),
        before,
        "server untouched"
    );

    // The upgrade itself is still taken: a schema-1 document pushed with it is accepted.
    let mut old = automerge::Automerge::new()
        .with_actor(ActorId::from(ana.store.device().to_bytes().as_slice()));
    let mut tx = old.transaction();
    tx.put(ROOT, "name", "Schema One").unwrap();
    tx.put(ROOT, "owner", "ana").unwrap();
    tx.put(ROOT, "created_at", automerge::ScalarValue::Timestamp(0))
        .unwrap();
    tx.put_object(ROOT, "follow_ups", automerge::ObjType::Map)
        .unwrap();
    tx.commit();
    let mut changes: Vec<Vec<u8>> = old
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    changes.push(upgrade_change().raw_bytes().to_vec());
    let push = DocPush {
        doc: DocId::from_u128(0x5c4e_0001),
        changes,
    };
    let (_, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(reply.unwrap().pushed[0].outcome, PushOutcome::Accepted);
}

/// Runs `binary ARGS` under umask 000, so anything it creates without an explicit mode is
/// world-readable and writable.
fn run_under_open_umask(binary: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(binary)
        .args(args)
        .env_remove("OUTPOST_DATA")
        .env_remove("OUTPOST_STORE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run under sh")
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The server's database, its data directory and backups, and a device's store were created
/// 0644/0755 under the usual umask: any local user could read token and password hashes and
/// every customer. They are private whatever the umask, and an old world-readable database is
/// narrowed when opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_backups_and_stores_are_private_whatever_the_umask() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = outpost_tests::binary("outpost-server");
    let data_arg = data.to_str().unwrap();
    let output = run_under_open_umask(&server, &["team", "add", "south", "--data", data_arg]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let backup = root.path().join("manual.redb");
    let output = run_under_open_umask(
        &server,
        &[
            "backup",
            "--data",
            data_arg,
            "--out",
            backup.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("outpost.redb")), 0o600);
    assert_eq!(mode(&backup), 0o600);

    // A database left world-readable by an older version is narrowed at its next open.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("outpost.redb"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let output = run_under_open_umask(&server, &["team", "list", "--data", data_arg]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&data.join("outpost.redb")), 0o600);

    // A device's store and its folder.
    let store = root.path().join("device");
    let output = run_under_open_umask(
        &outpost_tests::binary("outpost"),
        &["--store", store.to_str().unwrap(), "status"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join("store.redb")), 0o600);

    // The backups a running server writes, into its backup directory.
    let server = TestServer::start().await;
    let admin = server.device().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/admin/backups", server.url()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    let backups = server.dir().join("backups");
    assert_eq!(mode(&backups), 0o700);
    assert_eq!(mode(&backups.join(file["file"].as_str().unwrap())), 0o600);
    assert_eq!(mode(&server.dir().join("outpost.redb")), 0o600);
}

/// The dashboard was sent with no Content-Security-Policy, no frame protection and no
/// `nosniff`, and the JSON API without `nosniff`: a browser could frame the page, run what an
/// injected value smuggled in, or cache customers' data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_strict_headers() {
    let server = TestServer::start().await;
    let admin = server.device().await;
    let client = reqwest::Client::new();
    for path in [
        "/dashboard",
        "/dashboard/dashboard.js",
        "/dashboard/dashboard.css",
    ] {
        let response = client
            .get(format!("{}{path}", server.url()))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    for path in [
        "/v1/me",
        "/v1/views/pipeline",
        "/v1/accounts/not-an-id/history",
    ] {
        let response = client
            .get(format!("{}{path}", server.url()))
            .bearer_auth(admin.token())
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
}
