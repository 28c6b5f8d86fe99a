//! The endpoints behind the dashboard's actions, through the real server: off-boarding a rep
//! (who may, what it does, a retry after a half-done one), a merge that folds contacts who
//! are the same person into one, the account record (404 for what the caller does not see),
//! the shares of an account, an admin's password reset and the list of backups.

use chrono::Utc;
use outpost_client::model::Contact;
use outpost_client::{AccountEdit, NewAccount};
use outpost_protocol::DocId;
use outpost_tests::{Device, PASSWORD, TestServer, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    server: &TestServer,
    device: &Device,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(device.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(
    server: &TestServer,
    device: &Device,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    call(server, device, Method::POST, path, Some(body)).await
}

fn contact(name: &str, phone: Option<&str>, email: Option<&str>) -> Contact {
    Contact {
        name: name.into(),
        phone: phone.map(str::to_owned),
        email: email.map(str::to_owned),
        ..Contact::default()
    }
}

/// An account of `rep` named `name` with these contacts, synced; its id.
async fn account(device: &Device, rep: &str, name: &str, contacts: &[Contact]) -> DocId {
    let now = Utc::now();
    let new = NewAccount {
        name: name.into(),
        owner: rep.into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, now).unwrap();
    for c in contacts {
        device
            .store
            .edit_account(id, &AccountEdit::AddContact(c.clone()), now)
            .unwrap();
    }
    device.sync().await;
    id
}

async fn owner(server: &TestServer, device: &Device, id: DocId) -> String {
    let (status, body) = server.get_json(device, &format!("/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["record"]["owner"].as_str().unwrap().to_owned()
}

async fn user(server: &TestServer, admin: &Device, login: &str) -> Value {
    let (status, users) = server.get_json(admin, "/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == login)
        .cloned()
        .unwrap_or_else(|| panic!("no user {login}: {users}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_offboards_a_rep_of_their_team_and_nobody_else() {
    let server = TestServer::start().await;
    let (ana, mia, max, ben, root) = (
        server.device_of("ana").await,
        server.device_of("mia").await,
        server.device_of("max").await,
        server.device_of("ben").await,
        server.device().await,
    );
    let first = account(&ana, "ana", "Acme Tools", &[]).await;
    let second = account(&ana, "ana", "Birch Foods", &[]).await;
    let path = "/v1/people/ana/offboard";

    // The manager of another team, a rep, and a manager for a manager: refused, nothing done.
    let (status, body) = post(&server, &max, path, json!({ "to": "ben" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = post(&server, &ben, path, json!({ "to": "ben" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["message"], "this needs the manager role");
    let (status, body) = post(
        &server,
        &mia,
        "/v1/people/max/offboard",
        json!({ "to": "ben" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Not to someone outside mia's teams either.
    let (status, body) = post(&server, &mia, path, json!({ "to": "sol" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(owner(&server, &root, first).await, "ana");
    assert_eq!(user(&server, &root, "ana").await["disabled"], false);

    // A dry run says what would happen and changes nothing.
    let (status, plan) = post(&server, &mia, path, json!({ "to": "ben", "dry_run": true })).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let mut names: Vec<&str> = plan["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Acme Tools", "Birch Foods"]);
    assert_eq!(plan["disabled"], true);
    assert_eq!(plan["revoked"], json!([ana.store.device().to_string()]));
    assert_eq!(owner(&server, &root, first).await, "ana");

    // mia off-boards ana: the book is ben's, ana is disabled, her device revoked.
    let (status, done) = post(&server, &mia, path, json!({ "to": "ben" })).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["moved"].as_array().unwrap().len(), 2);
    assert_eq!(done["disabled"], true);
    assert_eq!(done["revoked"], json!([ana.store.device().to_string()]));
    for id in [first, second] {
        assert_eq!(owner(&server, &root, id).await, "ben");
    }
    assert_eq!(user(&server, &root, "ana").await["disabled"], true);
    assert!(ana.try_sync().await.is_err(), "ana's device is refused");
    let (_, devices) = server.get_json(&root, "/v1/admin/devices").await;
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["user"] == "ana")
            .all(|d| d["revoked"] == true),
        "{devices}"
    );
    // Ben's device gets the book at its next sync.
    ben.sync().await;
    let held: Vec<DocId> = ben.store.accounts().unwrap().iter().map(|a| a.id).collect();
    assert!(held.contains(&first) && held.contains(&second), "{held:?}");

    // Sent again, it finds nothing left to do and succeeds.
    let (status, again) = post(&server, &mia, path, json!({ "to": "ben" })).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["moved"], json!([]));
    assert_eq!(again["disabled"], false);
    assert_eq!(again["revoked"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarding_interrupted_half_way_is_finished_by_a_retry() {
    let server = TestServer::start().await;
    let (cai, mia, root) = (
        server.device_of("cai").await,
        server.device_of("mia").await,
        server.device().await,
    );
    let second_device = server.device_of("cai").await;
    let handed = account(&cai, "cai", "Cedar Mills", &[]).await;
    // As if the first request stopped after handing over part of the book: one account is
    // dee's already, one still cai's, and cai is enabled with both devices.
    let (status, body) = post(
        &server,
        &mia,
        "/v1/handover",
        json!({ "from": "cai", "to": "dee", "accounts": [handed] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left = account(&cai, "cai", "Dune Freight", &[]).await;
    // And as if it stopped after one device was revoked.
    let (status, _) = call(
        &server,
        &root,
        Method::DELETE,
        &format!("/v1/admin/devices/{}", second_device.store.device()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, done) = post(
        &server,
        &mia,
        "/v1/people/cai/offboard",
        json!({ "to": "dee" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        done["moved"],
        json!([{ "id": left.to_string(), "name": "Dune Freight" }])
    );
    assert_eq!(done["disabled"], true);
    assert_eq!(done["revoked"], json!([cai.store.device().to_string()]));
    for id in [handed, left] {
        assert_eq!(owner(&server, &root, id).await, "dee");
    }
    assert_eq!(user(&server, &root, "cai").await["disabled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_folds_contacts_that_are_the_same_person_into_one() {
    let server = TestServer::start().await;
    let (ana, ben, mia) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("mia").await,
    );
    let survivor = account(
        &ana,
        "ana",
        "Acme Tools Ltd",
        &[
            contact("Li Na", Some("138 0013 8000"), None),
            contact("Wang Wei", None, Some("wang@acme.example")),
        ],
    )
    .await;
    let duplicate = account(
        &ben,
        "ben",
        "ACME tools",
        &[
            // The same person as ana's Li Na: same name, same phone written otherwise; the
            // email only ben knew is kept on her.
            Contact {
                email: Some("li.na@acme.example".into()),
                ..contact("li  na", Some("+86 13800138000"), None)
            },
            // Same name, but no phone or email in common: another person.
            contact("Wang Wei", Some("139 0000 1111"), None),
            contact("Zhao Lei", None, Some("zhao@acme.example")),
        ],
    )
    .await;
    let (status, body) = post(
        &server,
        &mia,
        &format!("/v1/accounts/{survivor}/merge"),
        json!({ "from": duplicate }),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = server
        .get_json(&mia, &format!("/v1/accounts/{survivor}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut contacts: Vec<(String, Value, Value)> = body["record"]["contacts"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["phone"].clone(),
                c["email"].clone(),
            )
        })
        .collect();
    contacts.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    assert_eq!(
        contacts,
        [
            (
                "Li Na".to_owned(),
                json!("138 0013 8000"),
                json!("li.na@acme.example")
            ),
            ("Wang Wei".to_owned(), json!("139 0000 1111"), Value::Null),
            (
                "Wang Wei".to_owned(),
                Value::Null,
                json!("wang@acme.example")
            ),
            (
                "Zhao Lei".to_owned(),
                Value::Null,
                json!("zhao@acme.example")
            ),
        ]
    );
    // The rep's device has the same after its sync.
    ana.sync().await;
    let record = ana.store.account(survivor).unwrap().record;
    assert_eq!(record.contacts.len(), 4, "{:?}", record.contacts);
    let li: Vec<&Contact> = record
        .contacts
        .values()
        .filter(|c| c.name == "Li Na")
        .collect();
    assert_eq!(li.len(), 1);
    assert_eq!(li[0].email.as_deref(), Some("li.na@acme.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_record_and_its_shares_are_for_those_who_see_it() {
    let server = TestServer::start().await;
    let (ana, mia, max, sol) = (
        server.device_of("ana").await,
        server.device_of("mia").await,
        server.device_of("max").await,
        server.device_of("sol").await,
    );
    let id = account(
        &ana,
        "ana",
        "Acme Tools",
        &[contact("Li Na", Some("13800138000"), None)],
    )
    .await;
    let (status, body) = server.get_json(&mia, &format!("/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["record"]["name"], "Acme Tools");
    assert_eq!(body["display_names"]["ana"], "ana");
    // Invisible and missing alike: 404, the same message shape.
    let missing = DocId::from_u128(42);
    for (device, path) in [
        (&max, format!("/v1/accounts/{id}")),
        (&sol, format!("/v1/accounts/{id}")),
        (&mia, format!("/v1/accounts/{missing}")),
        (&max, format!("/v1/accounts/{id}/shares")),
    ] {
        let (status, body) = server.get_json(device, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }

    let (status, body) = post(
        &server,
        &ana,
        &format!("/v1/accounts/{id}/shares"),
        json!({ "login": "sol", "write": true }),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, shares) = server
        .get_json(&mia, &format!("/v1/accounts/{id}/shares"))
        .await;
    assert_eq!(status, StatusCode::OK, "{shares}");
    assert_eq!(
        shares,
        json!([{ "login": "sol", "display_name": "sol", "write": true }])
    );
    // Now sol sees it.
    let (status, _) = server.get_json(&sol, &format!("/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_resets_a_password_and_lists_the_backups() {
    let server = TestServer::start().await;
    let (root, mia) = (server.device().await, server.device_of("mia").await);
    let new = "a-fresh-start-2026!";
    let path = "/v1/admin/users/eve/password";
    let (status, _) = post(&server, &mia, path, json!({ "new_password": new })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(&server, &root, path, json!({ "new_password": "short" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(&server, &root, path, json!({ "new_password": new })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device = Device::new(&server.url());
    assert!(
        device
            .client
            .login(&device.store, "eve", PASSWORD, "old")
            .await
            .is_err()
    );
    device
        .client
        .login(&device.store, "eve", new, "new")
        .await
        .expect("eve logs in with the new password");

    let (status, _) = server.get_json(&mia, "/v1/admin/backups").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = server.get_json(&root, "/v1/admin/backups").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
    let (status, written) = post(&server, &root, "/v1/admin/backups", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    let (status, list) = server.get_json(&root, "/v1/admin/backups").await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["file"], written["file"]);
    assert_eq!(list[0]["bytes"], written["bytes"]);
    let at: chrono::DateTime<Utc> = list[0]["written_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_dry_run_names_the_accounts_and_moves_none() {
    let server = TestServer::start().await;
    let (eve, mia, root) = (
        server.device_of("eve").await,
        server.device_of("mia").await,
        server.device().await,
    );
    let id = account(&eve, "eve", "Elm Logistics", &[]).await;
    let body = json!({ "from": "eve", "to": "fay", "dry_run": true });
    let (status, plan) = post(&server, &mia, "/v1/handover", body).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["moved"], json!([id.to_string()]));
    assert_eq!(
        plan["accounts"],
        json!([{ "id": id.to_string(), "name": "Elm Logistics" }])
    );
    assert_eq!(owner(&server, &root, id).await, "eve");
    let (status, done) = post(
        &server,
        &mia,
        "/v1/handover",
        json!({ "from": "eve", "to": "fay" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["accounts"], plan["accounts"]);
    assert_eq!(owner(&server, &root, id).await, "fay");
}
