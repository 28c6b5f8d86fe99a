//! People by the names they go by: a user's display name in any script (`张伟`) beside the
//! ASCII login, and a team's (`华南销售部`) beside its key, set through the admin API and
//! the console, returned by login, `/v1/me`, the user and team lists, every view's per-rep
//! rows and an account's history (with the device's label); bad names are refused with 400
//! and change nothing.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::Utc;
use outpost_client::model::{Money, Stage};
use outpost_client::{AccountEdit, NewAccount, NewOpportunity};
use outpost_tests::{PASSWORD, TestServer, binary, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A token of `login` from `POST /v1/login`, and the login reply.
async fn log_in(server: &TestServer, login: &str, label: &str) -> (String, Value) {
    let device = format!("{:032x}", rand::random::<u128>());
    let reply: Value = http()
        .post(format!("{}/v1/login", server.url()))
        .json(&json!({ "login": login, "password": PASSWORD, "device": device, "label": label }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reply["token"].as_str().expect("logged in").to_owned();
    (token, reply)
}

/// `METHOD path` with `token` and an optional JSON body: the status and the JSON reply.
async fn call(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn find<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap_or_else(|| panic!("not a list: {rows}"))
        .iter()
        .find(|row| row[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {rows}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_in_any_script_are_kept_and_shown_everywhere() {
    let server = TestServer::start().await;
    let (root, _) = log_in(&server, "root", "admin laptop").await;

    // A rep whose name is Chinese, added with it; the login stays ASCII.
    let (status, user) = call(
        &server,
        &root,
        Method::POST,
        "/v1/admin/users",
        Some(
            json!({ "login": "zhang.wei", "password": PASSWORD, "role": "rep",
                     "team": "field", "display_name": "  张伟 " }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["login"], "zhang.wei");
    assert_eq!(user["display_name"], "张伟", "trimmed, kept as written");

    // Any script, accents (one precomposed, one combining), emoji with a joiner.
    for (login, name) in [
        ("ana", "Ana Müller"),
        ("ben", "Jose\u{301} Ben"),
        ("cai", "蔡 👩‍💼"),
    ] {
        let (status, user) = call(
            &server,
            &root,
            Method::PATCH,
            &format!("/v1/admin/users/{login}"),
            Some(json!({ "display_name": name })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user["display_name"], name);
    }
    // A user without one is shown by the login.
    let (_, users) = call(&server, &root, Method::GET, "/v1/admin/users", None).await;
    assert_eq!(find(&users, "login", "zhang.wei")["display_name"], "张伟");
    assert_eq!(find(&users, "login", "cai")["display_name"], "蔡 👩‍💼");
    assert_eq!(find(&users, "login", "dee")["display_name"], "dee");

    // Login and /v1/me return it.
    let (zhang, reply) = log_in(&server, "zhang.wei", "张伟的手机").await;
    assert_eq!(reply["user"]["display_name"], "张伟", "{reply}");
    let (status, me) = call(&server, &zhang, Method::GET, "/v1/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["display_name"], "张伟");

    // The rep's accounts: the views' per-rep rows carry the display name beside the login.
    let device = server.device_of("zhang.wei").await;
    let now = Utc::now();
    let id = device
        .store
        .create_account_anyway(
            &NewAccount {
                name: "深圳市华强电子科技有限公司".into(),
                owner: "zhang.wei".into(),
                ..NewAccount::default()
            },
            now,
        )
        .unwrap();
    device
        .store
        .edit_account(
            id,
            &AccountEdit::AddOpportunity(NewOpportunity {
                name: "二期项目".into(),
                stage: Stage::Negotiation,
                probability: None,
                amount: Some(Money {
                    minor: 50_000_000,
                    currency: "CNY".into(),
                }),
                expected_close: None,
                owner: "zhang.wei".into(),
            }),
            now,
        )
        .unwrap();
    device.sync().await;
    let (mia, _) = log_in(&server, "mia", "mia").await;
    let (_, pipeline) = call(&server, &mia, Method::GET, "/v1/views/pipeline", None).await;
    assert_eq!(
        find(&pipeline["freshness"], "rep", "zhang.wei")["display_name"],
        "张伟",
        "{pipeline}"
    );
    let (_, follow_ups) = call(&server, &mia, Method::GET, "/v1/views/follow-ups", None).await;
    assert_eq!(
        find(&follow_ups["discipline"], "rep", "zhang.wei")["display_name"],
        "张伟"
    );
    assert_eq!(
        find(&follow_ups["late"], "rep", "zhang.wei")["display_name"],
        "张伟"
    );
    // The pipeline's, the funnel's and the lost reasons' rows per rep too.
    assert_eq!(
        find(&pipeline["by_rep"], "rep", "zhang.wei")["display_name"],
        "张伟",
        "{pipeline}"
    );
    let (_, funnel) = call(&server, &mia, Method::GET, "/v1/views/funnel", None).await;
    assert_eq!(
        find(&funnel["rows"], "value", "zhang.wei")["display_name"],
        "张伟",
        "{funnel}"
    );
    device
        .store
        .edit_account(
            id,
            &AccountEdit::MarkLost {
                reason: "价格".into(),
            },
            now,
        )
        .unwrap();
    device.sync().await;
    let (_, lost) = call(&server, &mia, Method::GET, "/v1/views/lost-reasons", None).await;
    assert_eq!(
        find(&lost["by_rep"], "rep", "zhang.wei")["display_name"],
        "张伟",
        "{lost}"
    );
    // And anyone naming an owner (an import's check) reads it from /v1/people.
    let (_, people) = call(&server, &zhang, Method::GET, "/v1/people", None).await;
    assert_eq!(find(&people, "login", "zhang.wei")["display_name"], "张伟");
    // The CSV of a view carries it too.
    let response = http()
        .get(format!(
            "{}/v1/views/pipeline?format=csv&table=freshness",
            server.url()
        ))
        .bearer_auth(&mia)
        .send()
        .await
        .unwrap();
    let csv = response.text().await.unwrap();
    assert!(csv.contains("zhang.wei,张伟"), "{csv}");

    // The history names the user and the device by what people call them.
    let (status, history) = call(
        &server,
        &mia,
        Method::GET,
        &format!("/v1/accounts/{id}/history"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let entry = &history[0];
    assert_eq!(entry["user"], "zhang.wei", "{history}");
    assert_eq!(entry["display_name"], "张伟");
    assert_eq!(entry["device_label"], "test device");

    // A rename (PUT works as PATCH) shows at once in the views: no restart, no stale map.
    let (status, _) = call(
        &server,
        &root,
        Method::PUT,
        "/v1/admin/users/zhang.wei",
        Some(json!({ "display_name": "张伟（华南）" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, pipeline) = call(&server, &mia, Method::GET, "/v1/views/pipeline", None).await;
    assert_eq!(
        find(&pipeline["freshness"], "rep", "zhang.wei")["display_name"],
        "张伟（华南）"
    );

    // And it survives a restart (stored with the user).
    let mut server = server;
    server.restart().await;
    let (root, _) = log_in(&server, "root", "admin laptop").await;
    let (_, users) = call(&server, &root, Method::GET, "/v1/admin/users", None).await;
    assert_eq!(
        find(&users, "login", "zhang.wei")["display_name"],
        "张伟（华南）"
    );
    assert_eq!(find(&users, "login", "ana")["display_name"], "Ana Müller");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_display_names_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let (root, _) = log_in(&server, "root", "admin").await;
    let (status, _) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/users/ana",
        Some(json!({ "display_name": "安娜" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let too_long = "张".repeat(65);
    let bad = [
        ("", "is empty"),
        ("   ", "is empty"),
        ("a\u{7}b", "control character"),
        ("张\n伟", "control character"),
        ("\u{202E}anA", "control character"),
        (too_long.as_str(), "too long"),
    ];
    for (name, why) in bad {
        let (status, reply) = call(
            &server,
            &root,
            Method::PATCH,
            "/v1/admin/users/ana",
            Some(json!({ "display_name": name })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.contains(why), "{name:?}: {message}");
        assert!(message.contains("1 to 64"), "{message}");
        let (status, reply) = call(
            &server,
            &root,
            Method::POST,
            "/v1/admin/users",
            Some(
                json!({ "login": "gao", "password": PASSWORD, "role": "admin",
                         "display_name": name }),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {reply}");
        let (status, reply) = call(
            &server,
            &root,
            Method::PATCH,
            "/v1/admin/teams/field",
            Some(json!({ "display_name": name })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {reply}");
    }
    let (_, users) = call(&server, &root, Method::GET, "/v1/admin/users", None).await;
    assert_eq!(find(&users, "login", "ana")["display_name"], "安娜");
    assert!(
        !users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["login"] == "gao"),
        "{users}"
    );
    let (_, teams) = call(&server, &root, Method::GET, "/v1/admin/teams", None).await;
    assert_eq!(find(&teams, "name", "field")["display_name"], "field");

    // Exactly 64 characters is fine; unknown fields, users and teams are named.
    let longest = "伟".repeat(64);
    let (status, user) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/users/ana",
        Some(json!({ "display_name": longest })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let (status, _) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/users/ana",
        Some(json!({ "login": "anna" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/users/nobody",
        Some(json!({ "display_name": "某人" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Only admins rename.
    let (mia, _) = log_in(&server, "mia", "mia").await;
    let (status, _) = call(
        &server,
        &mia,
        Method::PATCH,
        "/v1/admin/users/ana",
        Some(json!({ "display_name": "坏人" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_have_display_names_beside_their_ascii_keys() {
    let server = TestServer::start().await;
    let (root, _) = log_in(&server, "root", "admin").await;
    let (status, team) = call(
        &server,
        &root,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({ "name": "south-china", "display_name": "华南销售部" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["name"], "south-china");
    assert_eq!(team["display_name"], "华南销售部");
    // The key stays ASCII.
    let (status, reply) = call(
        &server,
        &root,
        Method::POST,
        "/v1/admin/teams",
        Some(json!({ "name": "华东" })),
    )
    .await;
    // As for logins: a key a rule refuses is 422 (the server's rule for well-formed input).
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("a-z, 0-9"),
        "{reply}"
    );
    let (status, team) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/teams/field",
        Some(json!({ "display_name": "华东销售部" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert_eq!(team["display_name"], "华东销售部");
    assert_eq!(team["managers"], json!(["mia"]));
    let (status, _) = call(
        &server,
        &root,
        Method::PATCH,
        "/v1/admin/teams/nowhere",
        Some(json!({ "display_name": "无" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The manager sees her team by its name; views still filter by the key.
    let (mia, _) = log_in(&server, "mia", "mia").await;
    let (_, teams) = call(&server, &mia, Method::GET, "/v1/admin/teams", None).await;
    assert_eq!(teams.as_array().unwrap().len(), 1, "{teams}");
    assert_eq!(teams[0]["display_name"], "华东销售部");
    let (status, _) = call(
        &server,
        &mia,
        Method::GET,
        "/v1/views/pipeline?team=field",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, teams) = call(&server, &root, Method::GET, "/v1/admin/teams", None).await;
    assert_eq!(find(&teams, "name", "south")["display_name"], "south");
}

/// `outpost-server ARGS --data DIR` with `stdin`: (success, stdout, stderr).
fn console(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(binary("outpost-server"))
        .env_remove("OUTPOST_DATA")
        .args(args)
        .arg("--data")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run outpost-server");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_sets_display_names() {
    let dir = TempDir::new().unwrap();
    let data = dir.path();
    let password = format!("{PASSWORD}\n");
    let run = |args: &[&str], stdin: &str| {
        let (ok, out, err) = console(data, args, stdin);
        assert!(ok, "`outpost-server {}` failed: {err}", args.join(" "));
        out
    };
    let out = run(
        &["team", "add", "south", "--display-name", "华南销售部"],
        "",
    );
    assert_eq!(out.trim(), "team south added (华南销售部)");
    let out = run(
        &[
            "user",
            "add",
            "ana",
            "--role",
            "rep",
            "--team",
            "south",
            "--display-name",
            "张伟",
        ],
        &password,
    );
    assert_eq!(out.trim(), "added rep ana (张伟)");
    let out = run(&["user", "rename", "ana", "张伟伟"], "");
    assert_eq!(out.trim(), "ana is now shown as 张伟伟");
    let out = run(&["team", "rename", "south", "华南大区"], "");
    assert_eq!(out.trim(), "team south is now shown as 华南大区");
    let (ok, _, err) = console(data, &["user", "rename", "ana", "\t"], "");
    assert!(!ok);
    assert!(err.contains("is empty"), "{err}");

    let users: Value = serde_json::from_str(&run(&["user", "list"], "")).unwrap();
    assert_eq!(find(&users, "login", "ana")["display_name"], "张伟伟");
    let teams: Value = serde_json::from_str(&run(&["team", "list"], "")).unwrap();
    assert_eq!(find(&teams, "name", "south")["display_name"], "华南大区");
    assert_eq!(teams[0]["members"], json!(["ana"]));
}
