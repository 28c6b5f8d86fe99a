//! Reports that tell the truth, through the real server: activity counts the rep who logged
//! each follow-up (through a handover, a merge and a rebuild of the rows), the funnel counts
//! stages reached, the pipeline shows open and won business apart, winning a sale with a deal
//! makes the customer won, archived accounts leave the working views but stay in the analysis
//! views (with a filter) and have their own view, and the hygiene view lists what the monthly
//! clean-up must act on. Each of these failed before its fix.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use outpost_client::model::{Contact, Day, Deal, Money, Payment, Stage, Status};
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp, NewOpportunity};
use outpost_protocol::DocId;
use outpost_tests::{Device, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn view(server: &TestServer, device: &Device, path: &str) -> Value {
    let (status, body) = server.get_json(device, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn post(server: &TestServer, device: &Device, path: &str, body: Value) -> StatusCode {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        response.text().await.unwrap()
    );
    status
}

/// A customer of `rep` entered `days_ago`, with a phone contact when `phone` is given.
fn customer(device: &Device, rep: &str, name: &str, phone: Option<&str>, days_ago: i64) -> DocId {
    let new = NewAccount {
        name: name.into(),
        owner: rep.into(),
        contact: phone.map(|p| Contact {
            name: "王总".into(),
            phone: Some(p.into()),
            ..Contact::default()
        }),
        ..NewAccount::default()
    };
    device
        .store
        .create_account_anyway(&new, Utc::now() - Duration::days(days_ago))
        .unwrap()
}

fn log(device: &Device, id: DocId, visits: usize) {
    let now = Utc::now();
    for n in 0..visits {
        let visit = NewFollowUp::new(
            now - Duration::minutes(n as i64 + 1),
            ContactMethod::Visit,
            "拜访",
        );
        device
            .store
            .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
            .unwrap();
    }
}

fn edit(device: &Device, id: DocId, edits: &[AccountEdit]) -> Vec<Option<String>> {
    device
        .store
        .edit_account_all(id, edits, Utc::now())
        .unwrap()
}

/// Follow-ups per rep in the activity view, over all weeks.
async fn activity(server: &TestServer, mia: &Device, query: &str) -> BTreeMap<String, u64> {
    let found = view(server, mia, &format!("/v1/views/activity{query}")).await;
    let mut per_rep = BTreeMap::new();
    for week in found["weeks"].as_array().unwrap() {
        *per_rep
            .entry(week["rep"].as_str().unwrap().to_owned())
            .or_default() += week["follow_ups"].as_u64().unwrap();
    }
    per_rep
}

fn reps(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_the_rep_who_logged_each_follow_up_through_handover_merge_and_rebuild() {
    let server = TestServer::start().await;
    let (ana, ben, cai, mia) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("cai").await,
        server.device_of("mia").await,
    );
    let acme = customer(&ana, "ana", "Acme Tools Ltd", None, 3);
    log(&ana, acme, 2);
    let copy = customer(&cai, "cai", "ACME tools", None, 2);
    log(&cai, copy, 1);
    ana.sync().await;
    cai.sync().await;
    assert_eq!(
        activity(&server, &mia, "").await,
        reps(&[("ana", 2), ("cai", 1)])
    );

    // Ana leaves the account to ben, who logs a visit of his own; cai's copy is merged into
    // it. Nobody's past work moves.
    let handover = json!({"from": "ana", "to": "ben", "accounts": [acme.to_string()]});
    post(&server, &mia, "/v1/handover", handover).await;
    ben.sync().await;
    log(&ben, acme, 1);
    ben.sync().await;
    let merge = json!({ "from": copy.to_string() });
    post(&server, &mia, &format!("/v1/accounts/{acme}/merge"), merge).await;
    let expected = reps(&[("ana", 2), ("ben", 1), ("cai", 1)]);
    assert_eq!(activity(&server, &mia, "").await, expected);
    // `rep` picks who logged the follow-ups, not who owns the account now.
    assert_eq!(
        activity(&server, &mia, "?rep=ana").await,
        reps(&[("ana", 2)])
    );
    assert_eq!(
        activity(&server, &mia, "?rep=cai").await,
        reps(&[("cai", 1)])
    );

    // The rows rebuilt from the documents say the same.
    server.storage().rebuild_projections().unwrap();
    assert_eq!(activity(&server, &mia, "").await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_counts_the_stages_accounts_reached() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    // Reached intent, then lost; still potential; won.
    let lost = customer(&ana, "ana", "Lost After Intent", Some("138 0013 8001"), 5);
    edit(&ana, lost, &[AccountEdit::SetStatus(Status::Intent)]);
    edit(
        &ana,
        lost,
        &[AccountEdit::MarkLost {
            reason: "预算不足".into(),
        }],
    );
    customer(&ana, "ana", "Still Potential", Some("138 0013 8002"), 5);
    let won = customer(&ana, "ana", "Won Outright", Some("138 0013 8003"), 5);
    edit(&ana, won, &[AccountEdit::SetStatus(Status::Won)]);
    ana.sync().await;

    let history = ana.store.account(lost).unwrap().record.status_history;
    let mut steps: Vec<_> = history.values().map(|c| (c.at, c.status.clone())).collect();
    steps.sort();
    let steps: Vec<Status> = steps.into_iter().map(|(_, s)| s).collect();
    assert_eq!(steps, [Status::Potential, Status::Intent, Status::Lost]);

    let funnel = view(&server, &mia, "/v1/views/funnel").await;
    let all = &funnel["rows"][0];
    assert_eq!(all["dimension"], "all");
    assert_eq!(
        (
            &all["accounts"],
            &all["intent"],
            &all["won"],
            &all["lost"],
            &all["dormant"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(1), &json!(0)),
        "{funnel:#}"
    );
    assert_eq!(all["won_rate"], json!(0.5));
    let rate = all["intent_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/views/funnel?format=csv", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("intent_rate,won_rate,lost,dormant"), "{csv}");
}

/// Adds an opportunity at `stage` worth `yuan`; returns its id.
fn opportunity(device: &Device, id: DocId, stage: Stage, yuan: i64) -> String {
    edit(
        device,
        id,
        &[AccountEdit::AddOpportunity(NewOpportunity {
            name: format!("{stage} {yuan}"),
            stage,
            probability: None,
            amount: Some(Money {
                minor: yuan * 100,
                currency: "CNY".into(),
            }),
            expected_close: None,
            owner: "ana".into(),
        })],
    )
    .pop()
    .flatten()
    .unwrap()
}

fn win(id: String, yuan: i64) -> AccountEdit {
    AccountEdit::MoveOpportunity {
        id,
        stage: Stage::Won,
        probability: None,
        amount: Some(Money {
            minor: yuan * 100,
            currency: "CNY".into(),
        }),
        signed_on: Some(Day(Utc::now().date_naive())),
        lost_reason: None,
    }
}

fn deal(yuan: i64) -> AccountEdit {
    AccountEdit::RecordDeal(Deal {
        closed_on: Day(Utc::now().date_naive()),
        amount: Money {
            minor: yuan * 100,
            currency: "CNY".into(),
        },
        products: "生产线".into(),
        payment: Payment::Instalments,
        notes: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_shows_open_business_and_won_business_apart() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    let id = customer(
        &ana,
        "ana",
        "深圳市华强电子科技有限公司",
        Some("138 0013 8000"),
        1,
    );
    opportunity(&ana, id, Stage::Negotiation, 100_000);
    opportunity(&ana, id, Stage::Potential, 20_000);
    let signed = opportunity(&ana, id, Stage::Negotiation, 500_000);
    edit(&ana, id, &[win(signed, 500_000)]);
    ana.sync().await;

    let pipeline = view(&server, &mia, "/v1/views/pipeline").await;
    assert_eq!(
        pipeline["open"],
        json!([{"currency": "CNY", "count": 2, "total_minor": 12_000_000,
                "weighted_minor": 9_000_000 + 400_000}]),
        "{pipeline:#}"
    );
    assert_eq!(
        pipeline["won"],
        json!([{"currency": "CNY", "count": 1, "total_minor": 50_000_000,
                "weighted_minor": 50_000_000}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winning_a_sale_with_a_deal_makes_the_customer_won_in_the_same_edit() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    // The deal first, then the opportunity won; and the other way round.
    let first = customer(&ana, "ana", "Deal First Co", Some("138 0013 8004"), 1);
    let o = opportunity(&ana, first, Stage::Negotiation, 80_000);
    edit(&ana, first, &[deal(80_000)]);
    assert_eq!(
        ana.store.account(first).unwrap().record.status,
        Status::Potential,
        "a deal without a won opportunity does not win the customer"
    );
    edit(&ana, first, &[win(o, 80_000)]);
    let second = customer(&ana, "ana", "Won First Co", Some("138 0013 8005"), 1);
    let o = opportunity(&ana, second, Stage::Negotiation, 90_000);
    edit(&ana, second, &[win(o, 90_000)]);
    assert_eq!(
        ana.store.account(second).unwrap().record.status,
        Status::Potential
    );
    edit(&ana, second, &[deal(90_000)]);
    for id in [first, second] {
        let record = ana.store.account(id).unwrap().record;
        assert_eq!(record.status, Status::Won, "{}", record.name);
        assert!(record.reached(&Status::Won));
    }
    ana.sync().await;

    // The server's views agree, and the history shows the status set by the rep's device in
    // the edit that won.
    let won = view(&server, &mia, "/v1/views/won-profile").await;
    assert_eq!(won["accounts"], json!(2), "{won:#}");
    let history = view(&server, &mia, &format!("/v1/accounts/{second}/history")).await;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["user"], "ana");
    let fields: Vec<&str> = last["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["fields"].as_array().unwrap())
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(fields.contains(&"status"), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("deals/")), "{fields:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_accounts_leave_the_working_views_and_stay_in_the_analysis_views() {
    let server = TestServer::start().await;
    let (ana, mia) = (server.device_of("ana").await, server.device_of("mia").await);
    let gone = customer(&ana, "ana", "Gone Fishing Ltd", Some("138 0013 8006"), 10);
    opportunity(&ana, gone, Stage::Negotiation, 10_000);
    log(&ana, gone, 1);
    edit(
        &ana,
        gone,
        &[AccountEdit::MarkLost {
            reason: "竞争对手".into(),
        }],
    );
    customer(&ana, "ana", "Still Here Co", Some("138 0013 8007"), 10);
    ana.sync().await;
    post(
        &server,
        &mia,
        &format!("/v1/accounts/{gone}/archive"),
        json!({}),
    )
    .await;

    // Working views: out.
    let pipeline = view(&server, &mia, "/v1/views/pipeline").await;
    assert_eq!(pipeline["accounts"], json!(1));
    let follow_ups = view(&server, &mia, "/v1/views/follow-ups").await;
    assert_eq!(follow_ups["accounts"], json!(1));
    // Analysis views: in by default, and by the filter.
    let lost = |query: &'static str| {
        let (server, mia) = (&server, &mia);
        async move { view(server, mia, &format!("/v1/views/lost-reasons{query}")).await }
    };
    assert_eq!(lost("").await["reasons"][0]["reason"], "竞争对手");
    assert_eq!(lost("").await["accounts"], json!(1));
    assert_eq!(lost("?archived=include").await["accounts"], json!(1));
    assert_eq!(lost("?archived=exclude").await["accounts"], json!(0));
    assert_eq!(lost("?archived=only").await["accounts"], json!(1));
    let funnel = view(&server, &mia, "/v1/views/funnel?archived=only").await;
    assert_eq!(funnel["rows"][0]["accounts"], json!(1));
    assert_eq!(
        activity(&server, &mia, "?archived=exclude").await,
        BTreeMap::new()
    );
    assert_eq!(activity(&server, &mia, "").await, reps(&[("ana", 1)]));
    let (status, _) = server
        .get_json(&mia, "/v1/views/funnel?archived=sometimes")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The archive lists it, with who archived it.
    let archive = view(&server, &mia, "/v1/views/archive").await;
    assert_eq!(archive["accounts_total"], json!(1), "{archive:#}");
    let entry = &archive["accounts"][0];
    assert_eq!(entry["account"], json!(gone.to_string()));
    assert_eq!(entry["name"], "Gone Fishing Ltd");
    assert_eq!(
        (&entry["rep"], &entry["status"], &entry["lost_reason"]),
        (&json!("ana"), &json!("lost"), &json!("竞争对手"))
    );
    assert_eq!(entry["archived_by"], "mia");
    assert!(entry["archived_at"].is_string());
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/views/archive?format=csv", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Gone Fishing Ltd"), "{csv}");
    assert!(csv.contains("archived_by"), "{csv}");

    // Restored: back in the working views, gone from the archive.
    let restore = reqwest::Client::new()
        .delete(format!("{}/v1/accounts/{gone}/archive", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap();
    assert!(restore.status().is_success());
    assert_eq!(
        view(&server, &mia, "/v1/views/pipeline").await["accounts"],
        json!(2)
    );
    assert_eq!(
        view(&server, &mia, "/v1/views/archive").await["accounts_total"],
        json!(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hygiene_lists_dead_records_lost_without_reason_and_duplicates_with_their_actions() {
    let server = TestServer::start().await;
    let (ana, ben, mia) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("mia").await,
    );
    let healthy = customer(&ana, "ana", "Healthy Co", Some("138 0013 8010"), 10);
    log(&ana, healthy, 1);
    let no_contact = customer(&ana, "ana", "Nobody Home Ltd", None, 10);
    log(&ana, no_contact, 1);
    let stale = customer(&ana, "ana", "Long Silent Co", Some("138 0013 8011"), 200);
    let lost_dead = customer(&ana, "ana", "Closed Down Ltd", None, 10);
    edit(
        &ana,
        lost_dead,
        &[AccountEdit::MarkLost {
            reason: "倒闭".into(),
        }],
    );
    // (A lost account without a reason is older data the record rules no longer let a
    // device write; the property test in views_property.rs covers it.)
    let first = customer(&ana, "ana", "Acme Tools Ltd", Some("138 0013 8013"), 10);
    let second = customer(&ben, "ben", "ACME tools", Some("138 0013 8014"), 10);
    ana.sync().await;
    ben.sync().await;

    let hygiene = view(&server, &mia, "/v1/views/hygiene").await;
    let mut got: Vec<(String, String, String)> = hygiene["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["problem"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
                r["account"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let row = |problem: &str, action: &str, id: DocId| {
        (problem.to_owned(), action.to_owned(), id.to_string())
    };
    let mut expected = vec![
        row("no_contact_info", "open", no_contact),
        row("no_contact_info", "archive", lost_dead),
        row("stale", "open", stale),
        row("duplicate", "merge", first),
        row("duplicate", "merge", second),
    ];
    expected.sort();
    assert_eq!(got, expected, "{hygiene:#}");
    assert_eq!(
        hygiene["counts"],
        json!({"no_contact_info": 2, "stale": 1, "lost_without_reason": 0, "duplicate": 2})
    );
    let duplicate = hygiene["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["problem"] == "duplicate")
        .unwrap();
    assert_eq!(duplicate["key"], "name:acmetools");

    // Cleaned up: the stale account followed up, the merge done; they leave the list.
    log(&ana, stale, 1);
    ana.sync().await;
    let merge = json!({ "from": second.to_string() });
    post(&server, &mia, &format!("/v1/accounts/{first}/merge"), merge).await;
    let hygiene = view(&server, &mia, "/v1/views/hygiene").await;
    assert_eq!(
        hygiene["counts"],
        json!({"no_contact_info": 2, "stale": 0, "lost_without_reason": 0, "duplicate": 0})
    );
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/views/hygiene?format=csv", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("problem,action,account"), "{csv}");
    assert!(csv.contains("Nobody Home Ltd"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_says_when_winning_made_the_customer_won_in_both_languages() {
    use outpost_tests::cli::{CHINESE, Rep};
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    for (locale, name, said) in [
        (
            outpost_tests::cli::ENGLISH,
            "Acme Tools Ltd",
            "Acme Tools Ltd changed status: potential → won",
        ),
        (
            CHINESE,
            "深圳市华强电子科技有限公司",
            "深圳市华强电子科技有限公司 的状态已变更：潜在客户 → 成交客户",
        ),
    ] {
        let rep = ana.in_locale(locale);
        let id = rep.create(name, "ana", &[]).await;
        let added = rep
            .check(&["opportunity", "add", &id, "--name", "2026 line"])
            .await;
        let opportunity = added.trim().to_owned();
        let moved = rep
            .run(&[
                "move",
                &id,
                &opportunity,
                "won",
                "--amount",
                "500000",
                "--currency",
                "CNY",
                "--signed",
                "2026-11-20",
            ])
            .await;
        assert!(moved.status.success());
        let stderr = String::from_utf8(moved.stderr).unwrap();
        assert!(!stderr.contains(said), "no deal yet: {stderr}");
        assert_eq!(rep.show(&id).await["status"], "potential");
        let deal = rep
            .run(&[
                "deal",
                &id,
                "--on",
                "2026-11-20",
                "--amount",
                "500000",
                "--currency",
                "CNY",
                "--products",
                "生产线",
                "--payment",
                "offline",
            ])
            .await;
        assert!(deal.status.success());
        // The deal's id stays alone on stdout, for scripts; the status line is for the rep.
        let stdout = String::from_utf8(deal.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let stderr = String::from_utf8(deal.stderr).unwrap();
        assert!(stderr.contains(said), "{stderr}");
        assert_eq!(rep.show(&id).await["status"], "won");

        // Synced, the history shows the status among the fields of the rep's edit.
        rep.check(&["sync"]).await;
        let history = rep.json(&["history", &id, "--json"]).await;
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["user"], "ana");
        let fields: Vec<String> = last["changes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["fields"].as_array().unwrap().clone())
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        assert!(fields.iter().any(|f| f == "status"), "{fields:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_has_status_level_lost_reason_and_last_follow_up_and_no_merged_account() {
    use outpost_tests::cli::Rep;
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await;
    let mia = server.device_of("mia").await;
    let survivor = ana
        .create("Acme Tools Ltd", "ana", &["--level", "key"])
        .await;
    let duplicate = ana.create("ACME tools", "ana", &["--anyway"]).await;
    let lost = ana.create("Gone Fishing Ltd", "ana", &[]).await;
    ana.check(&["lost", &lost, "预算不足"]).await;
    ana.check(&["log", &survivor, "--method", "phone", "价格高于预算"])
        .await;
    ana.check(&["sync"]).await;
    let merge = json!({ "from": duplicate });
    post(
        &server,
        &mia,
        &format!("/v1/accounts/{survivor}/merge"),
        merge,
    )
    .await;
    ana.check(&["sync"]).await;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    ana.check(&["export", "-o", out.to_str().unwrap()]).await;
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect();
    for column in ["status", "level", "lost_reason", "last_follow_up"] {
        assert!(header.iter().any(|h| h == column), "{column}: {header:?}");
    }
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names.len(),
        2,
        "the merged duplicate is left out: {names:?}"
    );
    let acme = rows.iter().find(|r| r["id"] == survivor).unwrap();
    assert_eq!(
        (acme["status"].as_str(), acme["level"].as_str()),
        ("potential", "key")
    );
    assert!(acme["last_follow_up"].ends_with('Z'), "{acme:?}");
    let gone = rows.iter().find(|r| r["id"] == lost).unwrap();
    assert_eq!(
        (gone["status"].as_str(), gone["lost_reason"].as_str()),
        ("lost", "预算不足")
    );

    // Import still reads the export back.
    let other = Rep::new(&server, "ana").await;
    let printed = other.check(&["import", out.to_str().unwrap()]).await;
    assert!(printed.contains("imported 2"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_logs_follow_ups_in_its_own_name_only() {
    use outpost_protocol::{DocPush, PushOutcome};
    let server = TestServer::start().await;
    let (ana, ben) = (server.device_of("ana").await, server.device_of("ben").await);
    let id = customer(&ana, "ana", "Acme Tools Ltd", None, 1);
    log(&ana, id, 1);
    ana.sync().await;

    // A change signed by ana's device (as the server requires) whose follow-up names ben's
    // device as its logger: ben would be credited with ana's work. So would renaming the
    // logger of the follow-up already stored.
    let stored = server.storage().document(id).unwrap().unwrap();
    let stored_heads = server.storage().heads(id).unwrap();
    let before = outpost_client::account::hydrate(&stored, id).unwrap();
    let (logged, first) = before.follow_ups.iter().next().unwrap();
    let ben_device = ben.store.device().to_string();
    let mut added = before.clone();
    added.follow_ups.insert(
        "forged".into(),
        outpost_client::FollowUp {
            logged_by: ben_device.clone(),
            ..first.clone()
        },
    );
    let mut renamed = before.clone();
    renamed.follow_ups.get_mut(logged).unwrap().logged_by = ben_device;
    for after in [added, renamed] {
        let actor = automerge::ActorId::from(ana.store.device().to_bytes().as_slice());
        let mut doc = stored.fork().with_actor(actor);
        let heads = doc.get_heads();
        let mut tx = doc.transaction();
        outpost_client::model::write_changes(&mut tx, &before, &after).unwrap();
        tx.commit();
        let change = doc.get_changes(&heads).remove(0).raw_bytes().to_vec();
        let push = DocPush {
            doc: id,
            changes: vec![change],
        };
        let (status, reply) = ana.push_raw(&server.url(), vec![push]).await;
        assert_eq!(status, 200);
        match &reply.unwrap().pushed[0].outcome {
            PushOutcome::Rejected { reason } => {
                assert!(reason.contains("in its own name only"), "{reason}")
            }
            other => panic!("a follow-up in another device's name was {other:?}"),
        }
    }
    assert_eq!(
        server.storage().heads(id).unwrap(),
        stored_heads,
        "nothing stored"
    );
}
