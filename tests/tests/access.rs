//! Who may see and change what, through the real server and real stores: every endpoint for
//! every role, forged owner changes and edits to accounts a user cannot write (refused, the
//! server untouched, the edit kept visibly on the device), revoked devices and disabled users,
//! a handover of a rep's whole book with a pending offline edit, history, and login limits.

use chrono::{DateTime, TimeZone, Utc};
use outpost_client::{AccountEdit, NewAccount};
use outpost_protocol::DocId;
use outpost_tests::{ADMIN, Device, PASSWORD, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 9, hour, 0, 0).unwrap()
}

/// One JSON API call with the device's token; the status and the JSON body (or null).
async fn api(
    server: &TestServer,
    device: Option<&Device>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.url()));
    if let Some(device) = device {
        request = request.bearer_auth(device.token());
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create(device: &Device, name: &str, owner: &str) -> DocId {
    let new = NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    };
    device.store.create_account_anyway(&new, at(8)).unwrap()
}

fn names(device: &Device) -> Vec<String> {
    let mut names: Vec<String> = device
        .store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    names.sort();
    names
}

/// The fixture's accounts: Ana's (team field) and Sol's (team south), synced everywhere.
struct Team {
    server: TestServer,
    ana: Device,
    ben: Device,
    sol: Device,
    mia: Device,
    max: Device,
    root: Device,
    anas: DocId,
    sols: DocId,
}

impl Team {
    async fn start() -> Team {
        let server = TestServer::start().await;
        let ana = server.device_of("ana").await;
        let ben = server.device_of("ben").await;
        let sol = server.device_of("sol").await;
        let mia = server.device_of("mia").await;
        let max = server.device_of("max").await;
        let root = server.device_of(ADMIN).await;
        let anas = create(&ana, "Ana Account", "ana").await;
        let sols = create(&sol, "Sol Account", "sol").await;
        for device in [&ana, &sol, &ben, &mia, &max, &root] {
            let report = device.sync().await;
            assert!(report.rejected.is_empty(), "{report:?}");
        }
        Team {
            server,
            ana,
            ben,
            sol,
            mia,
            max,
            root,
            anas,
            sols,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_keeps_every_role_in_its_scope() {
    let Team {
        server,
        ana,
        ben,
        sol,
        mia,
        max,
        root,
        anas,
        sols,
    } = Team::start().await;

    // Through the change feed: each device holds exactly its scope.
    assert_eq!(names(&ana), ["Ana Account"]);
    assert_eq!(
        names(&ben),
        Vec::<String>::new(),
        "a rep sees no teammate's account"
    );
    assert_eq!(names(&sol), ["Sol Account"]);
    assert_eq!(
        names(&mia),
        ["Ana Account"],
        "a manager sees their team only"
    );
    assert_eq!(names(&max), ["Sol Account"]);
    assert_eq!(names(&root), ["Ana Account", "Sol Account"]);

    // Account endpoints answer "not found" outside the caller's scope, as for no account.
    let history = |id: DocId| format!("/v1/accounts/{id}/history");
    for (device, id, visible) in [
        (&ana, anas, true),
        (&ana, sols, false),
        (&ben, anas, false),
        (&sol, anas, false),
        (&mia, anas, true),
        (&mia, sols, false),
        (&max, anas, false),
        (&max, sols, true),
        (&root, anas, true),
        (&root, sols, true),
    ] {
        let (status, body) = api(&server, Some(device), Method::GET, &history(id), None).await;
        let expected = if visible { 200 } else { 404 };
        assert_eq!(status, expected, "history of {id}: {body}");
        if !visible {
            let share = json!({"login": "ben", "write": false});
            let path = format!("/v1/accounts/{id}/shares");
            let (status, body) = api(&server, Some(device), Method::POST, &path, Some(share)).await;
            assert_eq!(status, 404, "share of {id}: {body}");
        }
    }
    // A missing account is not found either, for every role.
    let nowhere = history(DocId::from_u128(42));
    for device in [&ana, &mia, &root] {
        let (status, _) = api(&server, Some(device), Method::GET, &nowhere, None).await;
        assert_eq!(status, 404);
    }

    // Sharing with ben (read only) shows him the account at his next sync, nothing else.
    let path = format!("/v1/accounts/{anas}/shares");
    let share = json!({"login": "ben", "write": false});
    assert_eq!(
        api(&server, Some(&ana), Method::POST, &path, Some(share))
            .await
            .0,
        204
    );
    ben.sync().await;
    assert_eq!(names(&ben), ["Ana Account"]);
    let path = format!("/v1/accounts/{anas}/shares/ben");
    let (status, _) = api(&server, Some(&mia), Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let report = ben.sync().await;
    assert_eq!(
        report.dropped,
        [anas],
        "unshared: removed from ben's device"
    );
    assert_eq!(names(&ben), Vec::<String>::new());

    // Handover: only managers and admins, only within the teams a manager leads.
    let ana_to_ben = json!({"from": "ana", "to": "ben"});
    let (status, _) = api(
        &server,
        Some(&ana),
        Method::POST,
        "/v1/handover",
        Some(ana_to_ben.clone()),
    )
    .await;
    assert_eq!(status, 403, "a rep cannot hand over");
    let (status, _) = api(
        &server,
        Some(&max),
        Method::POST,
        "/v1/handover",
        Some(ana_to_ben),
    )
    .await;
    assert_eq!(status, 404, "another team's rep is not found for a manager");
    let sol_to_ana = json!({"from": "sol", "to": "ana"});
    let (status, _) = api(
        &server,
        Some(&mia),
        Method::POST,
        "/v1/handover",
        Some(sol_to_ana),
    )
    .await;
    assert_eq!(status, 404);
    let named = json!({"from": "ana", "to": "ben", "accounts": [sols.to_string()]});
    let (status, _) = api(
        &server,
        Some(&mia),
        Method::POST,
        "/v1/handover",
        Some(named),
    )
    .await;
    assert_eq!(
        status, 404,
        "naming an account outside the scope finds nothing"
    );

    // Administration is for admins; a manager lists only the teams they lead.
    for (method, path, body) in [
        (Method::GET, "/v1/admin/users", None),
        (Method::GET, "/v1/admin/devices", None),
        (
            Method::POST,
            "/v1/admin/users",
            Some(json!({"login": "zed", "password": PASSWORD, "role": "admin"})),
        ),
        (
            Method::POST,
            "/v1/admin/teams",
            Some(json!({"name": "north"})),
        ),
        (Method::POST, "/v1/admin/users/ana/disable", None),
        (Method::PUT, "/v1/admin/teams/south/managers/mia", None),
    ] {
        for device in [&ana, &mia] {
            let (status, _) = api(&server, Some(device), method.clone(), path, body.clone()).await;
            assert_eq!(status, 403, "{method} {path}");
        }
        let (status, _) = api(&server, None, method.clone(), path, body.clone()).await;
        assert_eq!(status, 401, "{method} {path} without a token");
    }
    let (status, _) = api(&server, Some(&ana), Method::GET, "/v1/admin/teams", None).await;
    assert_eq!(status, 403);
    let (_, teams) = api(&server, Some(&mia), Method::GET, "/v1/admin/teams", None).await;
    assert_eq!(teams.as_array().unwrap().len(), 1, "{teams}");
    assert_eq!(teams[0]["name"], "field");
    let (_, users) = api(&server, Some(&root), Method::GET, "/v1/admin/users", None).await;
    assert_eq!(users.as_array().unwrap().len(), 10, "{users}");
    assert!(
        !users.to_string().contains("argon2"),
        "no password hash is shown"
    );
    let (status, me) = api(&server, Some(&ana), Method::GET, "/v1/me", None).await;
    assert_eq!((status, me["login"].as_str()), (200, Some("ana")));
    let (_, mine) = api(&server, Some(&ana), Method::GET, "/v1/me/devices", None).await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "only ana's own devices: {mine}"
    );

    // The live stream carries only the caller's scope: ben's first event is the change to
    // his own account, not Ana's earlier one.
    let bens = create(&ben, "Ben Account", "ben").await;
    ben.sync().await;
    let mut stream = ben.client.subscribe(&ben.store).await.unwrap();
    ana.store
        .edit_account(anas, &AccountEdit::SetRegion("North".into()), at(9))
        .unwrap();
    ana.sync().await;
    mia.sync().await;
    mia.store
        .edit_account(bens, &AccountEdit::SetRegion("Coast".into()), at(9))
        .unwrap();
    mia.sync().await;
    let seq = stream.next().await.unwrap().expect("an event");
    let history = server.storage().feed_head().unwrap();
    assert_eq!(
        seq, history,
        "ben's first event is mia's edit of his account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unwritable_edits_are_refused_and_kept_on_the_device() {
    let Team {
        server,
        ana,
        ben,
        mia,
        anas,
        ..
    } = Team::start().await;
    let before = server.storage().heads(anas).unwrap();

    // Ana makes someone else the owner: only a manager may.
    ana.store
        .edit_account_all(
            anas,
            &[
                AccountEdit::SetOwner("ben".into()),
                AccountEdit::SetRegion("Forged".into()),
            ],
            at(10),
        )
        .unwrap();
    let report = ana.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(
        report.rejected[0].1.contains("only a manager"),
        "{report:?}"
    );
    assert_eq!(
        server.storage().heads(anas).unwrap(),
        before,
        "server untouched"
    );
    let account = ana.store.account(anas).unwrap();
    assert_eq!(account.record.owner, "ana", "reset to the server's version");
    assert_eq!(account.record.region, None);
    assert!(ana.store.status().unwrap().unsynced.is_empty());
    let kept = ana.store.rejected().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].account, anas);
    assert!(kept[0].fields.contains(&"owner".to_owned()), "{kept:?}");
    assert!(kept[0].fields.contains(&"region".to_owned()), "{kept:?}");
    assert!(!kept[0].changes.is_empty());
    // A second sync does not push it again.
    assert!(ana.sync().await.rejected.is_empty());

    // A read-only share: ben sees the account but his edit to it is refused.
    let path = format!("/v1/accounts/{anas}/shares");
    let share = json!({"login": "ben", "write": false});
    assert_eq!(
        api(&server, Some(&ana), Method::POST, &path, Some(share))
            .await
            .0,
        204
    );
    ben.sync().await;
    ben.store
        .edit_account(anas, &AccountEdit::SetName("Ben's Name".into()), at(11))
        .unwrap();
    let report = ben.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(server.storage().heads(anas).unwrap(), before);
    assert_eq!(ben.store.account(anas).unwrap().record.name, "Ana Account");
    assert_eq!(ben.store.rejected().unwrap().len(), 1);
    // With write access his edit goes through.
    let share = json!({"login": "ben", "write": true});
    assert_eq!(
        api(&server, Some(&ana), Method::POST, &path, Some(share))
            .await
            .0,
        204
    );
    ben.store
        .edit_account(anas, &AccountEdit::SetName("Ben's Name".into()), at(12))
        .unwrap();
    assert!(ben.sync().await.rejected.is_empty());
    assert!(
        ben.store
            .dismiss_rejected(ben.store.rejected().unwrap()[0].id)
            .unwrap()
    );
    assert!(ben.store.rejected().unwrap().is_empty());

    // A rep cannot create an account for someone else; the device drops it (the server has
    // no version of it) and keeps the edit.
    let forged = create(&ben, "Planted Account", "cai").await;
    let report = ben.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(
        ben.store.account(forged).is_err(),
        "removed from the device"
    );
    assert_eq!(server.storage().heads(forged).unwrap(), Vec::new());
    assert_eq!(ben.store.rejected().unwrap()[0].name, "Planted Account");

    // The record rules hold on the server too: a manager may change the owner, but not to
    // someone outside the teams she leads.
    mia.sync().await;
    mia.store
        .edit_account(anas, &AccountEdit::SetOwner("sol".into()), at(13))
        .unwrap();
    let report = mia.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(
        report.rejected[0].1.contains("not in a team you lead"),
        "{report:?}"
    );
    mia.store
        .edit_account(anas, &AccountEdit::SetOwner("cai".into()), at(13))
        .unwrap();
    assert!(mia.sync().await.rejected.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_devices_and_disabled_users_are_refused_on_their_next_request() {
    let Team {
        server,
        ana,
        ben,
        root,
        ..
    } = Team::start().await;
    let device = ana.store.device();
    let path = format!("/v1/admin/devices/{device}");
    assert_eq!(
        api(&server, Some(&root), Method::DELETE, &path, None)
            .await
            .0,
        204
    );
    let refused = ana.try_sync().await.unwrap_err().to_string();
    assert!(
        refused.contains("401") && refused.contains("revoked"),
        "{refused}"
    );
    let (_, devices) = api(&server, Some(&root), Method::GET, "/v1/admin/devices", None).await;
    let listed = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == device.to_string())
        .expect("revoked device still listed");
    assert_eq!(listed["revoked"], true);
    // Logging in again issues a new token.
    server.log_in(&ana.store, &ana.client, "ana").await;
    ana.sync().await;

    ben.sync().await;
    let (status, user) = api(
        &server,
        Some(&root),
        Method::POST,
        "/v1/admin/users/ben/disable",
        None,
    )
    .await;
    assert_eq!((status, &user["disabled"]), (200, &json!(true)));
    let refused = ben.try_sync().await.unwrap_err().to_string();
    assert!(refused.contains("disabled"), "{refused}");
    let login = ben.client.login(&ben.store, "ben", PASSWORD, "again").await;
    assert!(login.is_err(), "a disabled user cannot log in");
    api(
        &server,
        Some(&root),
        Method::POST,
        "/v1/admin/users/ben/enable",
        None,
    )
    .await;
    ben.sync().await;

    // A user revokes their own device; another user's device is not found.
    let path = format!("/v1/me/devices/{}", ben.store.device());
    assert_eq!(
        api(&server, Some(&ana), Method::DELETE, &path, None)
            .await
            .0,
        404
    );
    assert_eq!(
        api(&server, Some(&ben), Method::DELETE, &path, None)
            .await
            .0,
        204
    );
    assert!(ben.try_sync().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_moves_the_whole_book_and_keeps_allowed_pending_edits() {
    let Team {
        server,
        ana,
        ben,
        mia,
        anas,
        ..
    } = Team::start().await;
    let second = create(&ana, "Ana Second", "ana").await;
    ana.sync().await;
    // Offline, before the handover, Ana records a visit on her account.
    ana.store
        .edit_account(anas, &AccountEdit::SetRegion("Harbour".into()), at(14))
        .unwrap();

    let book = json!({"from": "ana", "to": "ben"});
    let (status, moved) = api(
        &server,
        Some(&mia),
        Method::POST,
        "/v1/handover",
        Some(book),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["moved"].as_array().unwrap().len(), 2);

    let report = ben.sync().await;
    assert_eq!(names(&ben), ["Ana Account", "Ana Second"], "{report:?}");
    assert_eq!(ben.store.account(second).unwrap().record.owner, "ben");

    // Ana reconnects: her pending edit was made while she owned the account, so it is
    // accepted; then both accounts leave her device.
    let report = ana.sync().await;
    assert_eq!(report.pushed, [anas], "{report:?}");
    assert!(report.rejected.is_empty(), "{report:?}");
    let mut dropped = report.dropped.clone();
    dropped.sort();
    let mut both = vec![anas, second];
    both.sort();
    assert_eq!(dropped, both);
    assert_eq!(names(&ana), Vec::<String>::new());

    ben.sync().await;
    let account = ben.store.account(anas).unwrap();
    assert_eq!(
        account.record.region.as_deref(),
        Some("Harbour"),
        "Ana's edit is kept"
    );
    assert_eq!(account.record.owner, "ben");
    // After the handover Ana may no longer write the account: history shows who did what.
    let path = format!("/v1/accounts/{anas}/history");
    let (status, history) = api(&server, Some(&ben), Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let entries = history.as_array().unwrap();
    let who: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| (e["user"].as_str().unwrap(), e["device"].is_null()))
        .collect();
    assert_eq!(
        who,
        [("ana", false), ("mia", true), ("ana", false)],
        "created by ana's device, handed over by mia (through the server), then ana's \
         pending edit: {history}"
    );
    assert_eq!(entries[0]["device"], ana.store.device().to_string());
    let fields = |i: usize| entries[i]["changes"][0]["fields"].to_string();
    assert!(fields(1).contains("owner"), "{}", fields(1));
    assert!(fields(2).contains("region"), "{}", fields(2));
    assert_eq!(
        entries[2]["changes"][0]["device_time"],
        json!(at(14).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_and_bad_login_bodies_refused() {
    let server = TestServer::start().await;
    let device = Device::new(&server.url());
    for _ in 0..5 {
        let err = device
            .client
            .login(&device.store, "ana", "wrong password", "x")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("401"), "{err}");
    }
    let err = device
        .client
        .login(&device.store, "ana", PASSWORD, "x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("429") && err.contains("too many"), "{err}");
    // Other logins are not affected.
    server.log_in(&device.store, &device.client, "ben").await;

    for body in [json!({"login": "ana"}), json!([1, 2]), json!("x")] {
        let (status, reply) = api(&server, None, Method::POST, "/v1/login", Some(body)).await;
        assert_eq!((status, reply["code"].as_str()), (400, Some("malformed")));
    }
    // A device serves one user.
    let err = device
        .client
        .login(&device.store, "cai", PASSWORD, "x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("409"), "{err}");
}
