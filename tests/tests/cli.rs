//! The `outpost` binary as a rep runs it: the README walk-through end to end against a real
//! server, bad input refused by name without changing the store, a clear failure when the
//! server is unreachable, and `watch` leaving the store free for other commands.

use std::io::{BufRead, BufReader, Lines};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use outpost_tests::TestServer;
use serde_json::Value;
use tempfile::TempDir;

/// The `outpost` binary of this build profile, built first so it is never stale.
///
/// Integration tests of another package get no `CARGO_BIN_EXE_outpost`; the binary lives in
/// the profile folder above this test's `deps` folder.
fn outpost_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let test_exe = std::env::current_exe().expect("test executable path");
        let profile_dir = test_exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable is in <target>/<profile>/deps");
        let profile_args: &[&str] = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => &[],
            Some("release") => &["--release"],
            Some(other) => &["--profile", other],
            None => panic!("unexpected target layout: {}", profile_dir.display()),
        };
        // A no-op when the binary is up to date (as under `cargo nextest run --workspace`).
        let built = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "outpost-client",
                "--bin",
                "outpost",
            ])
            .args(profile_args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .output()
            .expect("run cargo build");
        assert!(
            built.status.success(),
            "cargo build of outpost failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let binary = profile_dir.join(format!("outpost{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "no outpost binary at {}",
            binary.display()
        );
        binary
    })
}

/// One device: a store folder in a temp dir, used through the CLI against one server.
struct Rep {
    store: TempDir,
    server: String,
}

impl Rep {
    fn new(server: &str) -> Rep {
        Rep {
            store: TempDir::new().expect("temp dir"),
            server: server.to_owned(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(outpost_binary());
        command
            .env_remove("OUTPOST_STORE")
            .env_remove("OUTPOST_SERVER")
            .arg("--store")
            .arg(self.store.path())
            .args(["--server", &self.server])
            .args(args);
        command
    }

    /// Runs one command to completion off the runtime, so the in-process server keeps serving.
    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("run outpost"))
            .await
            .expect("outpost runner")
    }

    /// Runs one command that must succeed and returns its stdout.
    async fn check(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "`outpost {}` failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    async fn json(&self, args: &[&str]) -> Value {
        let text = self.check(args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

fn is_hex_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walk_through_converges_both_devices() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server.url());
    let ben = Rep::new(&server.url());

    let created = ana
        .check(&["create", "--name", "Harbor Foods", "--owner", "ana"])
        .await;
    let id = created.trim().to_owned();
    assert!(is_hex_id(&id), "create printed {created:?}");
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;
    let listed = ben.check(&["list"]).await;
    assert!(
        listed.contains("Harbor Foods") && listed.contains(&id[..8]),
        "{listed}"
    );

    // The README takes the id from `list --json` with sed, one `"id": "<hex>"` line.
    let list_text = ana.check(&["list", "--json"]).await;
    let list: Value = serde_json::from_str(&list_text).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .expect("list --json is an array")
        .iter()
        .map(|a| a["id"].as_str().expect("hex id string"))
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert!(
        list_text
            .lines()
            .any(|l| l.trim() == format!("\"id\": \"{id}\",")),
        "{list_text}"
    );

    // Offline: both rename, Ben logs a visit.
    ana.check(&["set", &id, "--name", "Harbor Foods Ltd"]).await;
    ben.check(&["set", &id, "--name", "Harbor Fine Foods"])
        .await;
    let summary = "Met the buyer, sample order next week";
    let mut log = vec!["log", &id, "--method", "visit"];
    log.extend(summary.split(' '));
    ben.check(&log).await;
    let status = ben.check(&["status"]).await;
    assert!(status.contains("unsynced    1 account(s)"), "{status}");
    assert_eq!(
        ben.json(&["status", "--json"]).await["unsynced"],
        serde_json::json!([id])
    );

    // Back online; Ben syncs again to receive Ana's rename.
    ben.check(&["sync"]).await;
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;

    let on_ana = ana.check(&["show", &id, "--json"]).await;
    let on_ben = ben.check(&["show", &id, "--json"]).await;
    assert_eq!(on_ana, on_ben);
    let account: Value = serde_json::from_str(&on_ana).unwrap();
    assert_eq!(account["id"], id.as_str());
    let follow_ups = account["follow_ups"].as_array().unwrap();
    assert_eq!(follow_ups.len(), 1, "{on_ana}");
    assert_eq!(follow_ups[0]["method"], "visit");
    assert_eq!(follow_ups[0]["summary"], summary);
    let conflicts = account["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{on_ana}");
    assert_eq!(conflicts[0]["field"], "name");
    let mut names: Vec<&str> = conflicts[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(account["name"], names[0], "the shown name comes first");
    names.sort_unstable();
    assert_eq!(names, ["Harbor Fine Foods", "Harbor Foods Ltd"]);

    let shown = ana.check(&["show", &id]).await;
    assert!(shown.contains("conflict: name: "), "{shown}");
    assert!(shown.contains(summary), "{shown}");
    for rep in [&ana, &ben] {
        assert_eq!(
            rep.json(&["status", "--json"]).await["unsynced"],
            serde_json::json!([])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_by_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server.url());
    let id = rep
        .check(&["create", "--name", "Kite Labs", "--owner", "eve"])
        .await
        .trim()
        .to_owned();
    let listed = rep.check(&["list", "--json"]).await;
    let shown = rep.check(&["show", &id, "--json"]).await;

    let refused = rep.run(&["create", "--name", "", "--owner", "eve"]).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.trim_end(), "error: invalid name: must not be empty");

    // A valid edit next to an invalid one is not applied either.
    let refused = rep
        .run(&["set", &id, "--name", "Kite Labs Ltd", "--owner", " "])
        .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("invalid owner"), "{stderr}");

    assert_eq!(rep.check(&["list", "--json"]).await, listed);
    assert_eq!(rep.check(&["show", &id, "--json"]).await, shown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_with_no_server_fails_clearly() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("local addr")
    };
    let rep = Rep::new(&format!("http://{closed}"));
    rep.check(&["create", "--name", "Moss Ltd", "--owner", "ana"])
        .await;

    let failed = rep.run(&["sync"]).await;
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("could not reach the server"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let status = rep.json(&["status", "--json"]).await;
    assert_eq!(status["unsynced"].as_array().unwrap().len(), 1);
}

/// A running `outpost watch`, killed when dropped.
struct Watch {
    child: Child,
    stdout: Option<Lines<BufReader<ChildStdout>>>,
}

impl Watch {
    fn start(rep: &Rep) -> Watch {
        let mut child = rep
            .command(&["watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start outpost watch");
        let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
        Watch { child, stdout }
    }

    /// The next line `watch` prints: it prints one after each sync, once the store is closed.
    async fn next_line(&mut self) -> String {
        let mut lines = self.stdout.take().expect("stdout");
        let read = tokio::task::spawn_blocking(move || {
            let line = lines.next();
            (lines, line)
        });
        // The timeout only bounds a broken test; the line comes as soon as the sync is done.
        let (lines, line) = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("watch printed a line in time")
            .expect("reader");
        self.stdout = Some(lines);
        line.expect("watch still running").expect("read stdout")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_syncs_live_and_leaves_the_store_to_other_commands() {
    let server = TestServer::start().await;
    let watcher = Rep::new(&server.url());
    let other = Rep::new(&server.url());

    let mut watch = Watch::start(&watcher);
    let first = watch.next_line().await;
    assert!(first.starts_with("synced in "), "{first}");
    // While `watch` waits for news, the store is free for other commands.
    let mine = watcher
        .check(&["create", "--name", "Own Account", "--owner", "ana"])
        .await;

    let theirs = other
        .check(&["create", "--name", "Their Account", "--owner", "ben"])
        .await;
    other.check(&["sync"]).await;
    let second = watch.next_line().await;
    assert!(second.contains("received 1"), "{second}");

    let listed = watcher.check(&["list"]).await;
    for id in [mine.trim(), theirs.trim()] {
        assert!(listed.contains(&id[..8]), "{id} missing from\n{listed}");
    }
}
