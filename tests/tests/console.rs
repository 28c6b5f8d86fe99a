//! The server's console commands on a stopped server's database: teams, users (password on
//! standard input), a whole book handed over, a device revoked; the running server then
//! serves what they set up, and the commands refuse clearly while it holds the database.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use outpost_client::NewAccount;
use outpost_tests::{Device, TestServer, binary};
use serde_json::Value;
use tempfile::TempDir;

/// Runs `outpost-server ARGS --data DIR`, with `stdin` on its standard input.
async fn console(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(binary("outpost-server"));
    command
        .env_remove("OUTPOST_DATA")
        .args(args)
        .arg("--data")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("run outpost-server");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("outpost-server")
    })
    .await
    .expect("console runner")
}

async fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let output = console(dir, args, stdin).await;
    assert!(
        output.status.success(),
        "`outpost-server {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn fails(dir: &Path, args: &[&str], stdin: &str) -> String {
    let output = console(dir, args, stdin).await;
    assert!(!output.status.success(), "`{}` succeeded", args.join(" "));
    String::from_utf8(output.stderr).expect("utf-8")
}

const PASS: &str = "console-pass-1\n";

async fn device(server: &TestServer, login: &str) -> Device {
    let device = Device::new(&server.url());
    device
        .client
        .login(&device.store, login, PASS.trim(), "console test")
        .await
        .unwrap_or_else(|e| panic!("{login}: {e}"));
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_commands_set_up_users_move_a_book_and_revoke_a_device() {
    let dir = TempDir::new().unwrap();
    let data = dir.path();
    ok(data, &["team", "add", "field"], "").await;
    for (login, role, team) in [("ana", "rep", "field"), ("ben", "rep", "field")] {
        let out = ok(
            data,
            &["user", "add", login, "--role", role, "--team", team],
            PASS,
        )
        .await;
        assert_eq!(out.trim(), format!("added rep {login}"));
    }
    ok(data, &["user", "add", "mia", "--role", "manager"], PASS).await;
    ok(data, &["team", "lead", "field", "mia"], "").await;

    // Bad input is refused by name and adds nothing.
    let err = fails(data, &["user", "add", "cai", "--role", "rep"], PASS).await;
    assert!(err.contains("belongs to a team"), "{err}");
    let err = fails(data, &["user", "add", "Cai!", "--role", "admin"], PASS).await;
    assert!(err.contains("a-z, 0-9"), "{err}");
    let err = fails(data, &["user", "add", "cai", "--role", "admin"], "short\n").await;
    assert!(err.contains("at least 10 characters"), "{err}");
    let err = fails(data, &["user", "add", "ana", "--role", "admin"], PASS).await;
    assert!(err.contains("taken"), "{err}");
    let users: Value = serde_json::from_str(&ok(data, &["user", "list"], "").await).unwrap();
    let logins: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["ana", "ben", "mia"]);
    let teams: Value = serde_json::from_str(&ok(data, &["team", "list"], "").await).unwrap();
    assert_eq!(teams[0]["managers"], serde_json::json!(["mia"]));
    assert_eq!(teams[0]["members"], serde_json::json!(["ana", "ben"]));

    // The server serves them; Ana creates two accounts.
    let server = TestServer::open(dir).await;
    let mut ana = device(&server, "ana").await;
    for name in ["Harbor Foods", "Kite Labs"] {
        let new = NewAccount {
            name: name.into(),
            owner: "ana".into(),
            ..NewAccount::default()
        };
        ana.store.create_account(&new, chrono::Utc::now()).unwrap();
    }
    ana.sync().await;
    let err = fails(server.dir(), &["user", "list"], "").await;
    assert!(err.contains("in use by a running server"), "{err}");
    let dir = server.stop().await;
    let data = dir.path();

    // Console handover of Ana's whole book, and her device revoked.
    let out = ok(data, &["handover", "--from", "ana", "--to", "ben"], "").await;
    assert_eq!(out.trim(), "2 account(s) moved from ana to ben");
    let devices: Value =
        serde_json::from_str(&ok(data, &["device", "list", "--user", "ana"], "").await).unwrap();
    assert_eq!(devices[0]["device"], ana.store.device().to_string());
    let id = ana.store.device().to_string();
    ok(data, &["device", "revoke", &id], "").await;
    ok(data, &["user", "disable", "mia"], "").await;
    let out = ok(data, &["rebuild-projections"], "").await;
    assert_eq!(out.trim(), "rebuilt the summary rows of 2 account(s)");

    let server = TestServer::open(dir).await;
    let ben = device(&server, "ben").await;
    let report = ben.sync().await;
    assert_eq!(report.received.len(), 2, "{report:?}");
    let owners: Vec<String> = ben
        .store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.owner)
        .collect();
    assert_eq!(owners, ["ben", "ben"]);
    ana.connect(&server.url());
    let refused = ana.try_sync().await.unwrap_err().to_string();
    assert!(refused.contains("revoked"), "{refused}");
    let mia = Device::new(&server.url());
    let refused = mia
        .client
        .login(&mia.store, "mia", PASS.trim(), "x")
        .await
        .unwrap_err()
        .to_string();
    // A disabled user's right password answers as a wrong one (issue 16, item 14).
    assert!(
        refused.contains("401") && refused.contains("unknown login or wrong password"),
        "{refused}"
    );
}
