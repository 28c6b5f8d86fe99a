//! A manager's review through the real server: suspected duplicates across reps, merging two
//! accounts (every follow-up kept, including one made offline on the old account before the
//! rep heard of the merge; every device converges on the survivor), review comments reaching
//! the rep's device, and every view's CSV export.

use chrono::{Duration, Utc};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_protocol::DocId;
use outpost_tests::{Device, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn get(server: &TestServer, device: &Device, path: &str) -> (StatusCode, String) {
    call(server, device, Method::GET, path).await
}

async fn call(
    server: &TestServer,
    device: &Device,
    method: Method,
    path: &str,
) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn view(server: &TestServer, device: &Device, path: &str) -> Value {
    let (status, body) = server.get_json(device, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn post(
    server: &TestServer,
    device: &Device,
    path: &str,
    body: Value,
) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Creates `name` owned by the device's rep with `visits` follow-ups; returns its id.
fn customer(device: &Device, rep: &str, name: &str, visits: usize) -> DocId {
    let now = Utc::now();
    let new = NewAccount {
        name: name.into(),
        owner: rep.into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, now).unwrap();
    for n in 0..visits {
        let at = now - Duration::hours(n as i64 + 1);
        let visit = NewFollowUp::new(at, ContactMethod::Visit, &format!("{rep} visit {n}"));
        device
            .store
            .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
            .unwrap();
    }
    id
}

fn summaries(device: &Device, id: DocId) -> Vec<String> {
    let record = device.store.account(id).unwrap().record;
    let mut out: Vec<String> = record
        .follow_ups
        .values()
        .map(|f| f.summary.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_merge_keeping_every_follow_up_and_devices_converge() {
    let server = TestServer::start().await;
    let (ana, ben, mia) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("mia").await,
    );
    let sol = server.device_of("sol").await;
    // Two reps create the same customer offline; a third account is unrelated, and sol (of
    // another team) has one of the same name, which mia must not see.
    let survivor = customer(&ana, "ana", "Acme Tools Ltd", 2);
    let duplicate = customer(&ben, "ben", "ACME tools", 1);
    customer(&ben, "ben", "Birch Foods", 1);
    customer(&sol, "sol", "Acme Tools", 1);
    for device in [&ana, &ben, &sol] {
        device.sync().await;
    }

    let found = view(&server, &mia, "/v1/views/duplicates").await;
    let groups = found["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{found:#}");
    assert_eq!(groups[0]["key"], "name:acmetools");
    let mut members: Vec<&str> = groups[0]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rep"].as_str().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, ["ana", "ben"]);

    // Ben logs a visit on his copy offline, before he hears of the merge.
    let offline = NewFollowUp::new(Utc::now(), ContactMethod::Phone, "ben offline call");
    ben.store
        .edit_account(duplicate, &AccountEdit::LogFollowUp(offline), Utc::now())
        .unwrap();

    // A rep may not merge; nor may anyone merge an account into itself.
    let merge = json!({ "from": duplicate.to_string() });
    let path = format!("/v1/accounts/{survivor}/merge");
    assert_eq!(
        post(&server, &ana, &path, merge.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let itself = json!({ "from": survivor.to_string() });
    assert_eq!(
        post(&server, &mia, &path, itself).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = post(&server, &mia, &path, merge.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = post(&server, &mia, &path, merge).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "merging twice: {body}");
    assert!(body.contains("already merged"), "{body}");

    // The views leave the merged account out.
    let found = view(&server, &mia, "/v1/views/duplicates").await;
    assert!(found["groups"].as_array().unwrap().is_empty(), "{found:#}");
    let pipeline = view(&server, &mia, "/v1/views/pipeline?rep=ben").await;
    assert_eq!(pipeline["accounts"], 1, "only Birch Foods is ben's now");

    // Ben syncs: his offline call lands on his old account and is carried to the survivor,
    // which he now sees (shared with him); the old account points at the survivor.
    ben.sync().await;
    ben.sync().await;
    ana.sync().await;
    let admin = server.device().await;
    admin.sync().await;
    let all = [
        "ana visit 0",
        "ana visit 1",
        "ben offline call",
        "ben visit 0",
    ];
    for device in [&ana, &ben, &admin] {
        assert_eq!(summaries(device, survivor), all);
    }
    assert_eq!(
        ana.store.heads(survivor).unwrap(),
        ben.store.heads(survivor).unwrap()
    );
    assert_eq!(
        admin.store.heads(survivor).unwrap(),
        ben.store.heads(survivor).unwrap()
    );
    let old = ben.store.account(duplicate).unwrap().record;
    assert_eq!(old.merged_into, Some(survivor.to_string()));
    assert!(
        ana.store
            .account(survivor)
            .unwrap()
            .record
            .merged_into
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_comment_reaches_the_reps_device() {
    let server = TestServer::start().await;
    let (ana, mia, max) = (
        server.device_of("ana").await,
        server.device_of("mia").await,
        server.device_of("max").await,
    );
    let id = customer(&ana, "ana", "Cobalt Mining", 1);
    ana.sync().await;
    let follow_up = ana
        .store
        .account(id)
        .unwrap()
        .record
        .follow_ups
        .keys()
        .next()
        .unwrap()
        .clone();
    let path = format!("/v1/accounts/{id}/comments");

    let on_account = json!({ "text": "Stage still right? Confirm the budget this week." });
    assert_eq!(
        post(&server, &mia, &path, on_account).await.0,
        StatusCode::CREATED
    );
    let on_visit = json!({ "text": "Good notes.", "follow_up": follow_up });
    assert_eq!(
        post(&server, &mia, &path, on_visit).await.0,
        StatusCode::CREATED
    );

    // Bad input changes nothing: empty text, unknown follow-up, unknown field, another
    // team's manager, a rep.
    let heads = server.storage().heads(id).unwrap();
    for (who, body, status) in [
        (
            &mia,
            json!({ "text": "  " }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &mia,
            json!({ "text": "x", "follow_up": "nope" }),
            StatusCode::FORBIDDEN,
        ),
        (
            &mia,
            json!({ "text": "x", "colour": 1 }),
            StatusCode::BAD_REQUEST,
        ),
        (&max, json!({ "text": "x" }), StatusCode::NOT_FOUND),
        (&ana, json!({ "text": "x" }), StatusCode::FORBIDDEN),
    ] {
        assert_eq!(post(&server, who, &path, body).await.0, status);
    }
    assert_eq!(server.storage().heads(id).unwrap(), heads);

    ana.sync().await;
    let comments = ana.store.account(id).unwrap().record.comments;
    let mut texts: Vec<(&str, &str, Option<&str>)> = comments
        .values()
        .map(|c| (c.author.as_str(), c.text.as_str(), c.follow_up.as_deref()))
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            ("mia", "Good notes.", Some(follow_up.as_str())),
            (
                "mia",
                "Stage still right? Confirm the budget this week.",
                None
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_exports_its_tables_as_csv() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    let id = customer(&ana, "ana", "Delta, \"Quoted\" Ltd", 2);
    ana.store
        .edit_account(
            id,
            &AccountEdit::MarkLost {
                reason: "price".into(),
            },
            Utc::now(),
        )
        .unwrap();
    ana.sync().await;

    let views = [
        ("pipeline", "by_rep"),
        ("follow-ups", "overdue"),
        ("funnel", "rows"),
        ("activity", "weeks"),
        ("lost-reasons", "reasons"),
        ("won-profile", "by_industry"),
        ("duplicates", "groups"),
    ];
    for (name, first) in views {
        // The default table is the first; every view has its freshness as a table too.
        let (status, default) = get(&server, &mia, &format!("/v1/views/{name}?format=csv")).await;
        assert_eq!(status, StatusCode::OK, "{name}: {default}");
        let (_, named) = get(
            &server,
            &mia,
            &format!("/v1/views/{name}?format=csv&table={first}"),
        )
        .await;
        assert_eq!(default, named, "{name}");
        let (status, fresh) = get(
            &server,
            &mia,
            &format!("/v1/views/{name}?format=csv&table=freshness"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            fresh.starts_with("rep,display_name,last_sync,newest_follow_up\nana,ana,20"),
            "{fresh}"
        );
        let (status, body) = get(
            &server,
            &mia,
            &format!("/v1/views/{name}?format=csv&table=nope"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(body.contains(first), "the error names the tables: {body}");
        let (status, _) = get(&server, &mia, &format!("/v1/views/{name}?table={first}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "table without csv");
        let (status, _) = get(&server, &ana, &format!("/v1/views/{name}?format=csv")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a rep opens no view");
    }

    let (_, lost) = get(&server, &mia, "/v1/views/lost-reasons?format=csv").await;
    assert_eq!(lost, "rep,display_name,reason,accounts\n,,price,1\n");
    let (_, activity) = get(&server, &mia, "/v1/views/activity?format=csv").await;
    let weeks: u64 = activity
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(weeks, 2, "{activity}");
    let (_, overdue) = get(
        &server,
        &mia,
        "/v1/views/follow-ups?format=csv&table=discipline",
    )
    .await;
    assert!(
        overdue.starts_with("rep,display_name,priority,accounts,within_cadence\n"),
        "{overdue}"
    );
    let funnel = view(&server, &mia, "/v1/views/funnel").await;
    let all = &funnel["rows"][0];
    assert_eq!(
        (all["dimension"].as_str(), all["accounts"].as_u64()),
        (Some("all"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_account_is_archived_out_of_the_views_kept_on_the_device_and_restored() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    let lost = customer(&ana, "ana", "Gone Fishing Ltd", 1);
    let reason = AccountEdit::MarkLost {
        reason: "price".into(),
    };
    ana.store.edit_account(lost, &reason, Utc::now()).unwrap();
    let open = customer(&ana, "ana", "Still Here Co", 1);
    ana.sync().await;
    // Lost reasons without the archived accounts (they count by default: it is history).
    let lost_accounts = async || {
        view(&server, &mia, "/v1/views/lost-reasons?archived=exclude").await["accounts"].clone()
    };
    assert_eq!(lost_accounts().await, json!(1));
    let pipeline_accounts =
        async || view(&server, &mia, "/v1/views/pipeline").await["accounts"].clone();
    let before = pipeline_accounts().await;
    assert_eq!(before, json!(2));

    // Refused: a rep, an account that is not lost, restoring one that is not archived.
    let path = |id: DocId| format!("/v1/accounts/{id}/archive");
    assert_eq!(
        post(&server, &ana, &path(lost), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = post(&server, &mia, &path(open), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("only lost accounts are archived; Still Here Co is potential"),
        "{body}"
    );
    let (status, body) = call(&server, &mia, Method::DELETE, &path(lost)).await;
    assert!(
        status == StatusCode::FORBIDDEN && body.contains("is not archived"),
        "{body}"
    );

    let (status, body) = post(&server, &mia, &path(lost), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(lost_accounts().await, json!(0));
    assert_eq!(pipeline_accounts().await, json!(1));
    let (status, body) = post(&server, &mia, &path(lost), json!({})).await;
    assert!(
        status == StatusCode::FORBIDDEN && body.contains("archived already"),
        "{body}"
    );

    // Kept: it reaches ana's device marked archived, and she may still log work on it,
    // which leaves it archived. Her device may not unarchive it itself.
    ana.sync().await;
    let archived = ana
        .store
        .account(lost)
        .unwrap()
        .record
        .archived
        .expect("archived");
    assert_eq!(archived.by, "mia");
    let last = NewFollowUp::new(Utc::now(), ContactMethod::Phone, "one last call");
    ana.store
        .edit_account(lost, &AccountEdit::LogFollowUp(last), Utc::now())
        .unwrap();
    assert_eq!(ana.sync().await.pushed, vec![lost]);
    assert_eq!(lost_accounts().await, json!(0));

    // Restored: back in the views, and on the device.
    let (status, body) = call(&server, &mia, Method::DELETE, &path(lost)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(lost_accounts().await, json!(1));
    assert_eq!(pipeline_accounts().await, before);
    ana.sync().await;
    assert_eq!(ana.store.account(lost).unwrap().record.archived, None);
}
