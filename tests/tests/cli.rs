//! The `outpost` binary as a rep runs it: the README walk-through end to end against a real
//! server, bad input refused by name without changing the store, a clear failure when the
//! server is unreachable, `watch` leaving the store free for other commands, connecting
//! again when the server ends its stream and stopping with the reason when the device is
//! refused, and a rep's working day: the agenda of overdue accounts, plans, opportunity
//! stages and the won rule, lost and dormant accounts, duplicate warnings, contacts, search,
//! and conflicts settled across two devices.

use std::io::{BufRead, BufReader, Lines};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use outpost_tests::cli::Rep;
use outpost_tests::{ADMIN, FIELD_REPS, TestServer};
use serde_json::Value;
use tempfile::TempDir;

/// The ids of the accounts in a JSON array (`list`, `search`, `today`).
fn ids(listed: &Value) -> Vec<&str> {
    listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|a| a["id"].as_str().expect("hex id"))
        .collect()
}

/// A time `ago` before now, as the CLI reads it (UTC, to the minute).
fn minutes_ago(ago: TimeDelta) -> String {
    (Utc::now() - ago).format("%Y-%m-%d %H:%M").to_string()
}

/// An entry id printed by a command that adds one (contact, plan, opportunity).
fn entry_id(printed: &str) -> String {
    let id = printed.trim().to_owned();
    assert!(
        id.len() >= 8 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "expected an entry id, got {printed:?}"
    );
    id
}

fn is_hex_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_walk_through_converges_both_devices() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let ben = Rep::new(&server, "mia").await;

    // Without --owner the account is the logged-in rep's.
    let created = ana.check(&["create", "--name", "Harbor Foods"]).await;
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
    assert!(status.contains("unsynced    1 account"), "{status}");
    assert_eq!(
        ben.json(&["status", "--json"]).await["unsynced"],
        serde_json::json!([id])
    );

    // Back online; Ben syncs again to receive Ana's rename.
    ben.check(&["sync"]).await;
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;

    let on_ana = ana.json(&["show", &id, "--json"]).await;
    let on_ben = ben.json(&["show", &id, "--json"]).await;
    assert_eq!(on_ana, on_ben);
    let account = on_ana;
    assert_eq!(account["id"], id.as_str());
    let follow_ups: Vec<&Value> = account["follow_ups"]
        .as_object()
        .expect("follow-ups keyed by id")
        .values()
        .collect();
    assert_eq!(follow_ups.len(), 1, "{account:#}");
    assert_eq!(follow_ups[0]["method"], "visit");
    assert_eq!(follow_ups[0]["summary"], summary);
    let conflicts = account["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{account:#}");
    assert_eq!(conflicts[0]["path"], "name");
    let mut names: Vec<&str> = conflicts[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(account["name"], names[0], "the shown name comes first");
    names.sort_unstable();
    assert_eq!(names, ["Harbor Fine Foods", "Harbor Foods Ltd"]);

    let shown = ana.check(&["show", &id]).await;
    assert!(shown.contains("Conflicts: settle each with"), "{shown}");
    for name in names {
        assert!(shown.contains(name), "{shown}");
    }
    assert!(shown.contains(summary), "{shown}");
    for rep in [&ana, &ben] {
        assert_eq!(
            rep.json(&["status", "--json"]).await["unsynced"],
            serde_json::json!([])
        );
    }
    assert_eq!(account["owner"], "ana");

    // History: who changed what, from which device.
    let history = ana.json(&["history", &id, "--json"]).await;
    let users: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["ana", "mia", "ana"], "{history:#}");
    let printed = ana.check(&["history", &id]).await;
    assert!(
        printed.contains("mia from ") && printed.contains("name"),
        "{printed}"
    );
}

/// A rep's edit the server does not accept is reported by `sync`, kept in `rejected` with
/// the reason and the fields it changed, and dismissed once redone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_edit_is_reported_kept_and_dismissed() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let id = ana.create("Harbor Foods", "ana", &[]).await;
    ana.check(&["sync"]).await;
    ana.check(&["set", &id, "--owner", "ben", "--region", "North"])
        .await;
    let synced = ana.check(&["sync"]).await;
    assert!(
        synced.contains("NOT ACCEPTED") && synced.contains("only a manager"),
        "{synced}"
    );
    let shown = ana.show(&id).await;
    assert_eq!(shown["owner"], "ana", "reset to the server's version");
    let listed = ana.check(&["rejected"]).await;
    assert!(
        listed.contains("Harbor Foods") && listed.contains("owner, region"),
        "{listed}"
    );
    let kept = ana.json(&["rejected", "--json"]).await;
    assert_eq!(kept[0]["fields"], serde_json::json!(["owner", "region"]));
    let number = kept[0]["id"].to_string();
    ana.check(&["rejected", "dismiss", &number]).await;
    assert_eq!(
        ana.json(&["rejected", "--json"]).await,
        serde_json::json!([])
    );
    let err = ana.fails(&["rejected", "dismiss", &number]).await;
    assert!(err.contains("no refused edit"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_review_comment_shows_on_the_reps_device() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let id = ana.create("Granite Works", "ana", &[]).await;
    ana.check(&["sync"]).await;
    let mia = server.device_of("mia").await;
    let token = mia.token();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/accounts/{id}/comments", server.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": "Confirm the decision maker before quoting." }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let before = ana.check(&["show", &id]).await;
    assert!(!before.contains("Review comments"), "{before}");
    ana.check(&["sync"]).await;
    let shown = ana.check(&["show", &id]).await;
    assert!(
        shown.contains("Review comments")
            && shown.contains("mia: Confirm the decision maker before quoting."),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_by_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
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
    let server = TestServer::start().await;
    let mut rep = Rep::new(&server, "ana").await;
    rep.server = format!("http://{closed}");
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
    /// Taken by [`Watch::exit`].
    child: Option<Child>,
    stdout: Option<Lines<BufReader<ChildStdout>>>,
}

impl Watch {
    fn start(rep: &Rep) -> Watch {
        let mut child = rep
            .command(&["watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start outpost watch");
        let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
        Watch {
            child: Some(child),
            stdout,
        }
    }

    /// Waits for `watch` to exit; its exit code and what it wrote to stderr.
    async fn exit(mut self) -> (Option<i32>, String) {
        let child = self.child.take().expect("running");
        let ended = tokio::task::spawn_blocking(move || child.wait_with_output());
        let output = tokio::time::timeout(Duration::from_secs(30), ended)
            .await
            .expect("watch exited in time")
            .expect("waiter")
            .expect("watch output");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
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
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_syncs_live_and_leaves_the_store_to_other_commands() {
    let server = TestServer::start().await;
    let watcher = Rep::new(&server, "mia").await;
    let other = Rep::new(&server, "ben").await;

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

/// What an admin device asks of the API; panics unless it succeeds.
async fn as_admin(server: &TestServer, method: reqwest::Method, path: &str) {
    let admin = server.device().await;
    let status = outpost_tests::http()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(admin.token())
        .send()
        .await
        .expect("request")
        .status();
    assert!(status.is_success(), "{path}: {status}");
}

/// `login` running `watch` against a new server, past its first sync; then the admin's
/// `method` on `path`, which ends the stream. The rep holds the store `watch` uses.
async fn watch_until(login: &str, method: reqwest::Method, path: &str) -> (TestServer, Rep, Watch) {
    let server = TestServer::start().await;
    let watcher = Rep::new(&server, login).await;
    let mut watch = Watch::start(&watcher);
    assert!(watch.next_line().await.starts_with("synced in "));
    as_admin(&server, method, path).await;
    (server, watcher, watch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_connects_again_when_the_server_ends_its_stream() {
    // Taking mia off her team ends her stream (what she may read changed). `watch` connects
    // again, syncs, and goes on following her new scope.
    let (server, _mia, mut watch) = watch_until(
        "mia",
        reqwest::Method::DELETE,
        "/v1/admin/teams/field/managers/mia",
    )
    .await;
    let admin = Rep::new(&server, ADMIN).await;
    let again = watch.next_line().await;
    assert!(again.starts_with("synced in "), "{again}");
    admin
        .check(&["create", "--name", "Handed To Mia", "--owner", "mia"])
        .await;
    admin.check(&["sync"]).await;
    let news = watch.next_line().await;
    assert!(news.contains("received 1"), "{news}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stops_with_the_reason_when_the_server_no_longer_takes_the_device() {
    let (_server, _ana, watch) =
        watch_until("ana", reqwest::Method::POST, "/v1/admin/users/ana/disable").await;
    let (code, stderr) = watch.exit().await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_lists_overdue_accounts_first_and_not_recent_ones() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;

    // Every two weeks by default: a visit 30 days ago is 16 days overdue.
    let stale = rep.create("Stale Co", "ana", &[]).await;
    let thirty_days_ago = minutes_ago(TimeDelta::days(30));
    let log = [
        "log",
        &stale,
        "--method",
        "phone",
        "--at",
        &thirty_days_ago,
        "--attitude",
        "hesitant",
        "--next",
        "send the quote",
        "--next-due",
        "2024-05-22",
        "price",
        "over",
        "budget",
    ];
    let logged = rep.check(&log).await;
    assert!(logged.contains("flagged late"), "{logged}");
    // Key accounts weekly: a visit 10 days ago is 3 days overdue, so it comes second.
    let key = rep.create("Key Co", "ben", &["--level", "key"]).await;
    let ten_days_ago = minutes_ago(TimeDelta::days(10));
    rep.check(&["log", &key, "--at", &ten_days_ago, "site", "visit"])
        .await;
    // Followed up just now: due again in two weeks, not today.
    let fresh = rep.create("Fresh Co", "ana", &[]).await;
    rep.check(&["log", &fresh, "--method", "visit", "demo", "went", "well"])
        .await;

    let today = rep.json(&["today", "--json"]).await;
    assert_eq!(ids(&today), [stale.as_str(), key.as_str()], "{today:#}");
    assert!(
        today
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["overdue"] == true)
    );
    assert_eq!(today[0]["name"], "Stale Co");
    let text = rep.check(&["today"]).await;
    assert!(text.starts_with("Overdue (2)"), "{text}");
    assert!(
        text.contains(&stale[..8]) && text.contains("Key Co"),
        "{text}"
    );
    assert!(!text.contains("Fresh Co"), "{text}");
    let mine = rep.json(&["today", "--owner", "ben", "--json"]).await;
    assert_eq!(ids(&mine), [key.as_str()]);

    // The late follow-up is flagged in the record's facts.
    let shown = rep.show(&stale).await;
    let follow_ups: Vec<&String> = shown["follow_ups"].as_object().unwrap().keys().collect();
    assert_eq!(
        shown["facts"]["late_follow_ups"],
        serde_json::json!(follow_ups)
    );
    assert_eq!(shown["facts"]["overdue"], true);
    let follow_up = shown["follow_ups"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(follow_up["attitude"], "hesitant");
    assert_eq!(follow_up["next_action"], "send the quote");
    assert_eq!(follow_up["next_due"], "2024-05-22");
    let text = rep.check(&["show", &stale]).await;
    assert!(text.contains("LATE") && text.contains("OVERDUE"), "{text}");

    // A planned contact that is past due puts a fresh account on the agenda until it is done.
    let plan = rep
        .check(&[
            "plan",
            &fresh,
            "--due",
            &minutes_ago(TimeDelta::hours(2)),
            "confirm",
            "budget",
        ])
        .await;
    let plan = entry_id(&plan);
    assert!(ids(&rep.json(&["today", "--json"]).await).contains(&fresh.as_str()));
    rep.check(&["plan", "done", &fresh, &plan[..6]]).await;
    assert!(!ids(&rep.json(&["today", "--json"]).await).contains(&fresh.as_str()));

    // A lost account leaves the agenda.
    rep.check(&["lost", &stale, "no", "budget", "this", "year"])
        .await;
    assert_eq!(ids(&rep.json(&["today", "--json"]).await), [key.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_and_opportunity_moves_follow_the_stage_rules() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let id = rep.create("Harbor Foods", "ana", &[]).await;

    let plan = rep
        .check(&[
            "plan",
            &id,
            "--due",
            "2030-01-15 10:00",
            "--method",
            "visit",
            "demo",
            "to",
            "IT",
        ])
        .await;
    let plan = entry_id(&plan);
    let shown = rep.show(&id).await;
    assert_eq!(shown["plans"][&plan]["goal"], "demo to IT");
    assert_eq!(shown["plans"][&plan]["method"], "visit");
    assert_eq!(shown["plans"][&plan]["owner"], "ana");
    assert_eq!(shown["plans"][&plan]["done"], false);
    let text = rep.check(&["show", &id]).await;
    assert!(
        text.contains("2030-01-15 10:00") && text.contains("demo to IT"),
        "{text}"
    );
    rep.check(&["plan", "done", &id, &plan]).await;
    assert_eq!(rep.show(&id).await["plans"][&plan]["done"], true);

    let added = rep
        .check(&[
            "opportunity",
            "add",
            &id,
            "--name",
            "2025 forklifts",
            "--close",
            "2025-09-30",
        ])
        .await;
    let opp = entry_id(&added);
    let shown = rep.show(&id).await;
    assert_eq!(shown["opportunities"][&opp]["stage"], "potential");
    assert_eq!(shown["opportunities"][&opp]["owner"], "ana");
    rep.check(&["move", &id, &opp[..6], "negotiation"]).await;
    let shown = rep.show(&id).await;
    assert_eq!(shown["opportunities"][&opp]["stage"], "negotiation");
    assert_eq!(shown["opportunities"][&opp]["probability"], 90);

    // Refused, by field, and nothing written.
    let refused = rep
        .fails(&["move", &id, &opp, "needs_confirmed", "--probability", "90"])
        .await;
    assert!(
        refused.contains(&format!("invalid opportunities/{opp}/probability")),
        "{refused}"
    );
    let refused = rep.fails(&["move", &id, &opp, "won"]).await;
    assert!(
        refused.contains(&format!("invalid opportunities/{opp}/amount")),
        "{refused}"
    );
    let with_amount = [
        "move",
        &id,
        &opp,
        "won",
        "--amount",
        "12000.50",
        "--currency",
        "EUR",
    ];
    let refused = rep.fails(&with_amount).await;
    assert!(
        refused.contains(&format!("invalid opportunities/{opp}/signed_on")),
        "{refused}"
    );
    let refused = rep
        .fails(&[
            "move",
            &id,
            &opp,
            "won",
            "--amount",
            "12000.505",
            "--currency",
            "EUR",
        ])
        .await;
    assert!(
        refused.contains("--amount") && refused.contains("2 decimals"),
        "{refused}"
    );
    assert_eq!(rep.show(&id).await, shown);

    let moved = rep
        .check(&[
            "move",
            &id,
            &opp,
            "won",
            "--amount",
            "12000.5",
            "--currency",
            "eur",
            "--signed",
            "2025-05-01",
        ])
        .await;
    assert!(moved.contains("won, 100 %"), "{moved}");
    let won = &rep.show(&id).await["opportunities"][&opp];
    assert_eq!(won["stage"], "won");
    assert_eq!(won["probability"], 100);
    assert_eq!(
        won["amount"],
        serde_json::json!({ "minor": 1_200_050, "currency": "EUR" })
    );
    assert_eq!(won["signed_on"], "2025-05-01");
    let text = rep.check(&["show", &id]).await;
    assert!(
        text.contains("2025 forklifts: won 100 % · 12000.50 EUR"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_needs_a_reason_and_leads_convert_or_sleep() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let id = rep.create("Kite Labs", "eve", &[]).await;
    let shown = rep.show(&id).await;

    let refused = rep.fails(&["lost", &id]).await;
    assert!(refused.contains("<REASON>"), "{refused}");
    let refused = rep.fails(&["lost", &id, "  "]).await;
    assert!(
        refused.starts_with("error: invalid lost_reason"),
        "{refused}"
    );
    let refused = rep.fails(&["status", &id, "lost"]).await;
    assert!(refused.starts_with("error: invalid status"), "{refused}");
    let opp = entry_id(
        &rep.check(&["opportunity", "add", &id, "--name", "Pilot"])
            .await,
    );
    let shown_with_opp = rep.show(&id).await;
    let refused = rep.fails(&["move", &id, &opp, "lost"]).await;
    assert!(
        refused.contains(&format!("invalid opportunities/{opp}/lost_reason")),
        "{refused}"
    );
    assert_eq!(rep.show(&id).await, shown_with_opp);
    assert_ne!(shown, shown_with_opp);

    rep.check(&["move", &id, &opp, "lost", "--reason", "budget cut"])
        .await;
    rep.check(&["lost", &id, "chose", "a", "competitor"]).await;
    let lost = rep.show(&id).await;
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["lost_reason"], "chose a competitor");
    assert_eq!(lost["opportunities"][&opp]["lost_reason"], "budget cut");

    // A lead: dormant needs a wake-up day; converting makes it a customer with intent.
    let lead = rep
        .create(
            "Expo Prospect",
            "eve",
            &[
                "--lead",
                "--source",
                "trade_show",
                "--first-contact",
                "2025-03-01",
            ],
        )
        .await;
    assert_eq!(rep.show(&lead).await["status"], "to_follow");
    let refused = rep.fails(&["dormant", &lead]).await;
    assert!(refused.contains("--until"), "{refused}");
    rep.check(&["dormant", &lead, "--until", "2031-01-01"])
        .await;
    let dormant = rep.show(&lead).await;
    assert_eq!(dormant["status"], "dormant");
    assert_eq!(dormant["wake_up_on"], "2031-01-01");
    rep.check(&["status", &lead, "following"]).await;
    rep.check(&["convert", &lead, "--on", "2025-03-31"]).await;
    let converted = rep.show(&lead).await;
    assert_eq!(converted["kind"], "customer");
    assert_eq!(converted["status"], "intent");
    assert_eq!(converted["converted_on"], "2025-03-31");
    assert_eq!(converted["facts"]["conversion_days"], 30);
    let refused = rep.fails(&["convert", &lead]).await;
    assert!(refused.starts_with("error: invalid kind"), "{refused}");
    rep.check(&["status", &lead, "won"]).await;
    assert_eq!(rep.show(&lead).await["status"], "won");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_refused_with_the_existing_account_until_anyway() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let contact = [
        "--contact-name",
        "Li Wei",
        "--contact-email",
        "li.wei@harbor.example",
    ];
    let id = rep.create("Harbor Foods", "ana", &contact).await;

    let warned = rep
        .run(&["create", "--name", "harbor foods, ltd.", "--owner", "ben"])
        .await;
    assert_eq!(warned.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(
        stderr.contains(&id[..8]) && stderr.contains("Harbor Foods"),
        "{stderr}"
    );
    assert!(
        stderr.contains("owner ana") && stderr.contains("--anyway"),
        "{stderr}"
    );
    assert!(warned.stdout.is_empty());
    // The same work email under another name is the same customer too.
    let same_email = [
        "create",
        "--name",
        "Quay Provisions",
        "--owner",
        "ben",
        "--contact-name",
        "Wei Li",
        "--contact-email",
        "LI.WEI@harbor.example",
        "--json",
    ];
    let warned = rep.run(&same_email).await;
    assert_eq!(warned.status.code(), Some(1));
    let listed: Value = serde_json::from_slice(&warned.stdout).unwrap();
    assert_eq!(listed["id"], Value::Null);
    assert_eq!(ids(&listed["duplicates"]), [id.as_str()]);
    assert_eq!(ids(&rep.json(&["list", "--json"]).await), [id.as_str()]);

    let other = rep.create("harbor foods, ltd.", "ben", &["--anyway"]).await;
    assert_ne!(other, id);
    assert_eq!(
        rep.json(&["list", "--json"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_added_edited_and_removed_by_id() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let id = rep.create("Harbor Foods", "ana", &[]).await;

    let add = [
        "contact",
        "add",
        &id,
        "--name",
        "Li Wei",
        "--role",
        "decision_maker",
        "--phone",
        "+86 21 5555 1234",
    ];
    let contact = entry_id(&rep.check(&add).await);
    rep.check(&[
        "contact",
        "edit",
        &id,
        &contact[..5],
        "--title",
        "Head of purchasing",
        "--phone",
        "",
    ])
    .await;
    let shown = rep.show(&id).await;
    let li = &shown["contacts"][&contact];
    assert_eq!(li["name"], "Li Wei");
    assert_eq!(li["title"], "Head of purchasing");
    assert_eq!(li["role"], "decision_maker");
    assert_eq!(li["phone"], Value::Null);

    // No national ID numbers in contact fields; nothing is written.
    let refused = rep
        .fails(&[
            "contact",
            "edit",
            &id,
            &contact,
            "--title",
            "ID 110101199003074514",
        ])
        .await;
    assert!(
        refused.contains(&format!("invalid contacts/{contact}/title")),
        "{refused}"
    );
    let refused = rep.fails(&["contact", "remove", &id, "ffffffff"]).await;
    assert!(refused.starts_with("error: invalid contact"), "{refused}");
    assert_eq!(rep.show(&id).await, shown);

    rep.check(&["contact", "remove", &id, &contact]).await;
    assert_eq!(rep.show(&id).await["contacts"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_matches_name_code_and_owner_in_any_case() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let harbor = rep
        .create(
            "Harbor Foods",
            "ana",
            &["--industry", "Information Technology"],
        )
        .await;
    let kite = rep.create("Kite Labs", "ben", &[]).await;

    assert_eq!(
        ids(&rep.json(&["search", "HARB", "--json"]).await),
        [harbor.as_str()]
    );
    assert_eq!(
        ids(&rep.json(&["search", "Ben", "--json"]).await),
        [kite.as_str()]
    );
    assert_eq!(
        ids(&rep.json(&["search", "kite", "labs", "--json"]).await),
        [kite.as_str()]
    );
    let shown = rep.show(&harbor).await;
    let code = shown["code"]
        .as_str()
        .expect("every new account has a code");
    assert!(code.starts_with("IT2"), "{code}");
    assert_eq!(
        ids(&rep.json(&["search", &code.to_lowercase(), "--json"]).await),
        [harbor.as_str()]
    );
    assert_eq!(
        rep.json(&["search", "nobody", "--json"]).await,
        serde_json::json!([])
    );
    let text = rep.check(&["search", "harbor"]).await;
    assert!(
        text.contains(&harbor[..8]) && !text.contains("Kite"),
        "{text}"
    );
    let text = rep.check(&["search", "nobody"]).await;
    assert!(text.starts_with("No account"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_listed_and_settled_the_same_on_both_devices() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let ben = Rep::new(&server, "mia").await;
    let id = ana.create("Harbor Foods", "ana", &[]).await;
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;
    assert_eq!(
        ana.json(&["conflicts", "--json"]).await,
        serde_json::json!([])
    );

    // Offline, both set the same field.
    ana.check(&["set", &id, "--region", "North"]).await;
    ben.check(&["set", &id, "--region", "South"]).await;
    ben.check(&["sync"]).await;
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;

    let on_ana = ana.json(&["conflicts", "--json"]).await;
    let on_ben = ben.json(&["conflicts", &id[..6], "--json"]).await;
    assert_eq!(on_ana, on_ben);
    let conflicts = on_ana.as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{on_ana:#}");
    assert_eq!(conflicts[0]["id"], id.as_str());
    assert_eq!(conflicts[0]["path"], "region");
    let values = conflicts[0]["values"].as_array().unwrap();
    let mut regions: Vec<&str> = values
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    let devices: Vec<&str> = values
        .iter()
        .map(|v| v["device"].as_str().unwrap())
        .collect();
    assert_ne!(devices[0], devices[1]);
    assert!(values.iter().all(|v| v["at"].is_string()), "{on_ana:#}");
    assert_eq!(
        ana.show(&id).await["region"],
        regions[0],
        "the shown value comes first"
    );
    let kept = regions[1].to_owned();
    regions.sort_unstable();
    assert_eq!(regions, ["North", "South"]);
    let text = ben.check(&["conflicts"]).await;
    assert!(
        text.contains("region") && text.contains("North") && text.contains("South"),
        "{text}"
    );
    assert!(text.contains(&devices[1][..8]), "{text}");

    let refused = ana.fails(&["settle", &id, "name", "0"]).await;
    assert!(refused.starts_with("error: invalid name"), "{refused}");
    let refused = ana.fails(&["settle", &id, "region", "2"]).await;
    assert!(refused.starts_with("error: invalid region"), "{refused}");
    let settled = ana.check(&["settle", &id, "region", "1"]).await;
    assert!(settled.contains(&kept), "{settled}");
    ana.check(&["sync"]).await;
    ben.check(&["sync"]).await;

    for rep in [&ana, &ben] {
        assert_eq!(
            rep.json(&["conflicts", "--json"]).await,
            serde_json::json!([])
        );
        let shown = rep.show(&id).await;
        assert_eq!(shown["region"], kept.as_str());
        assert_eq!(shown["conflicts"], serde_json::json!([]));
    }
    assert_eq!(ana.check(&["conflicts"]).await.trim(), "No conflicts.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_needs_deals_and_service_show_in_full() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let id = rep
        .create("Harbor Foods", "ana", &["--region", "North"])
        .await;

    let set = [
        "set",
        &id,
        "--industry",
        "制造业",
        "--size",
        "100-500",
        "--source",
        "referral",
        "--level",
        "key",
        "--priority",
        "a",
        "--notes",
        "Buyer prefers mornings.",
        "--custom",
        "wechat=harborfoods",
        "--custom",
        "fax=0211234567",
    ];
    rep.check(&set).await;
    rep.check(&["set", &id, "--custom", "fax="]).await;
    let refused = rep.fails(&["set", &id, "--custom", "Bad Key=x"]).await;
    assert!(
        refused.starts_with("error: invalid custom/Bad Key"),
        "{refused}"
    );
    let needs = [
        "needs",
        &id,
        "--explicit",
        "ten forklifts",
        "--budget-min",
        "10000",
        "--budget-max",
        "50000.5",
        "--currency",
        "EUR",
        "--purchase-period",
        "2025-Q3",
    ];
    rep.check(&needs).await;
    let refused = rep
        .fails(&["needs", &id, "--purchase-period", "soon"])
        .await;
    assert!(
        refused.starts_with("error: invalid needs/purchase_period"),
        "{refused}"
    );
    let deal = [
        "deal",
        &id,
        "--on",
        "2025-05-01",
        "--amount",
        "0.07",
        "--currency",
        "EUR",
        "--products",
        "spare parts",
        "--payment",
        "instalments",
    ];
    let deal = entry_id(&rep.check(&deal).await);
    let service = [
        "service",
        &id,
        "--on",
        "2025-06-01",
        "--work",
        "installation",
        "--result",
        "running",
        "--satisfaction",
        "5",
    ];
    let service = entry_id(&rep.check(&service).await);

    let shown = rep.show(&id).await;
    assert_eq!(shown["industry"], "C");
    assert_eq!(shown["source"], "referral");
    assert_eq!(shown["level"], "key");
    assert_eq!(shown["priority"], "a");
    assert_eq!(shown["notes"], "Buyer prefers mornings.");
    assert_eq!(
        shown["custom"],
        serde_json::json!({ "wechat": "harborfoods" })
    );
    assert_eq!(shown["facts"]["cadence_days"], 7);
    assert_eq!(shown["needs"]["budget_max"]["minor"], 5_000_050);
    assert_eq!(shown["deals"][&deal]["amount"]["minor"], 7);
    assert_eq!(shown["services"][&service]["satisfaction"], 5);

    let text = rep.check(&["show", &id]).await;
    for expected in [
        "level key · priority A",
        "C Manufacturing",
        "Buyer prefers mornings.",
        "10000.00 EUR to 50000.50 EUR",
        "0.07 EUR  spare parts · paid instalments",
        "installation: running · satisfaction 5/5",
        "wechat",
        "every 7 days",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_template_import_and_export_in_one_command_each() {
    let server = TestServer::start().await;
    let rep = Rep::new(&server, ADMIN).await;
    let template = rep.check(&["template"]).await;
    let dir = TempDir::new().unwrap();
    let good = dir.path().join("good.csv");
    let mut rows = template.lines().next().unwrap().to_owned() + "\n";
    for i in 0..1_200 {
        rows += &format!(
            "Customer {i},{},customer,Retail,,North,referral,,,b,,,,,\n",
            FIELD_REPS[i % 3]
        );
    }
    std::fs::write(&good, rows).unwrap();
    let good = good.to_str().unwrap();

    let dry = rep.json(&["import", good, "--dry-run", "--json"]).await;
    assert_eq!(
        (dry["importable"].as_u64(), dry["created"].as_u64()),
        (Some(1_200), Some(0))
    );
    assert_eq!(rep.json(&["list", "--json"]).await, serde_json::json!([]));

    let output = rep.run(&["import", good]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("imported 1200"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("1200/1200"),
        "progress bar"
    );
    assert_eq!(
        rep.json(&["list", "--json"])
            .await
            .as_array()
            .unwrap()
            .len(),
        1_200
    );

    // A bad row names its line and field, and nothing of the file is imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Company,Rep\nNew One,ana\nNew Two,\n").unwrap();
    let bad = bad.to_str().unwrap();
    let error = rep
        .fails(&["import", bad, "--map", "Company=name,Rep=owner"])
        .await;
    assert!(error.contains("1 bad row"), "{error}");
    let report = rep
        .run(&["import", bad, "--map", "Company=name,Rep=owner"])
        .await;
    assert!(String::from_utf8_lossy(&report.stdout).contains("line 3: owner"));
    assert_eq!(
        rep.json(&["list", "--json"])
            .await
            .as_array()
            .unwrap()
            .len(),
        1_200
    );

    let exported = rep.check(&["export"]).await;
    assert_eq!(exported.lines().count(), 1 + 1_200);
    assert!(
        exported
            .lines()
            .next()
            .unwrap()
            .starts_with("name,owner,kind")
    );
    // Written as "Retail", stored and exported as its GB/T 4754 section.
    assert!(exported.contains("Customer 1199,cai,customer,F"));
}
