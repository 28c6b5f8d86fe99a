//! Team views through the real server: the pipeline over projection rows matches a brute-force
//! recomputation from the documents on a generated team, a rebuild of the projections agrees
//! with the rows written commit by commit, a rep's offline edits show up with fresher data
//! after the rep syncs, and each manager sees only their teams (a rep none).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use outpost_client::model::{Money, Stage};
use outpost_client::{AccountEdit, NewAccount, NewOpportunity};
use outpost_tests::{Device, TestServer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::StatusCode;
use serde_json::Value;

const STAGES: [(Stage, u8, u8); 4] = [
    (Stage::Potential, 10, 30),
    (Stage::NeedsConfirmed, 30, 50),
    (Stage::SolutionAccepted, 50, 80),
    (Stage::Negotiation, 80, 95),
];

async fn view(server: &TestServer, device: &Device, query: &str) -> (StatusCode, Value) {
    server
        .get_json(device, &format!("/v1/views/pipeline{query}"))
        .await
}

/// `(rep, stage, currency) → (count, total, weighted)` straight from the documents the admin
/// device holds, for accounts whose owner is in `reps`.
fn brute_force(
    admin: &Device,
    reps: &[&str],
) -> BTreeMap<(String, String, String), (u64, i64, i64)> {
    let mut cells = BTreeMap::new();
    for summary in admin.store.accounts().unwrap() {
        let record = admin.store.account(summary.id).unwrap().record;
        if !reps.contains(&record.owner.as_str()) {
            continue;
        }
        for o in record.opportunities.values() {
            let amount = o.amount.as_ref().map_or(0, |m| m.minor);
            let currency = o
                .amount
                .as_ref()
                .map(|m| m.currency.clone())
                .unwrap_or_default();
            let cell = cells
                .entry((record.owner.clone(), o.stage.to_string(), currency))
                .or_insert((0, 0, 0));
            cell.0 += 1;
            cell.1 += amount;
            cell.2 += amount * i64::from(o.probability) / 100;
        }
    }
    cells
}

fn by_rep(view: &Value) -> BTreeMap<(String, String, String), (u64, i64, i64)> {
    view["by_rep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["rep"].as_str().unwrap().to_owned(),
                    c["stage"].as_str().unwrap().to_owned(),
                    c["currency"].as_str().unwrap_or_default().to_owned(),
                ),
                (
                    c["count"].as_u64().unwrap(),
                    c["total_minor"].as_i64().unwrap(),
                    c["weighted_minor"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_matches_the_documents_and_stays_in_scope() {
    let mut server = TestServer::start().await;
    let mut rng = StdRng::seed_from_u64(2026);
    let reps = ["ana", "ben", "cai", "sol"];
    let mut devices = Vec::new();
    for rep in reps {
        devices.push(server.device_of(rep).await);
    }
    let day = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    for (device, rep) in devices.iter().zip(reps) {
        for n in 0..rng.random_range(3..7) {
            let new = NewAccount {
                name: format!("{rep} customer {n}"),
                owner: rep.into(),
                ..NewAccount::default()
            };
            let id = device.store.create_account_anyway(&new, day).unwrap();
            for _ in 0..rng.random_range(0..4) {
                let (stage, low, high) = STAGES[rng.random_range(0..STAGES.len())].clone();
                let currency = ["EUR", "USD"][rng.random_range(0..2)];
                let opportunity = NewOpportunity {
                    name: "deal".into(),
                    stage,
                    probability: Some(rng.random_range(low..=high)),
                    amount: Some(Money {
                        minor: rng.random_range(1_000..10_000_000),
                        currency: currency.into(),
                    }),
                    expected_close: None,
                    owner: rep.into(),
                };
                device
                    .store
                    .edit_account(id, &AccountEdit::AddOpportunity(opportunity), day)
                    .unwrap();
            }
        }
        device.sync().await;
    }
    let (mia, max, admin) = (
        server.device_of("mia").await,
        server.device_of("max").await,
        server.device().await,
    );
    admin.sync().await;

    // The manager's view is the brute force over her team's documents.
    let (status, field) = view(&server, &mia, "").await;
    assert_eq!(status, 200, "{field}");
    assert_eq!(by_rep(&field), brute_force(&admin, &["ana", "ben", "cai"]));
    let (_, south) = view(&server, &max, "").await;
    assert_eq!(by_rep(&south), brute_force(&admin, &["sol"]));
    let (_, all) = view(&server, &admin, "").await;
    assert_eq!(by_rep(&all), brute_force(&admin, &reps));
    let total_count: u64 = field["total"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    let rep_count: u64 = by_rep(&field).values().map(|c| c.0).sum();
    assert_eq!(total_count, rep_count);
    // Filters, and scope: a manager filtering on another team gets nothing of it.
    let (_, anas) = view(&server, &mia, "?rep=ana").await;
    assert_eq!(by_rep(&anas), brute_force(&admin, &["ana"]));
    let (_, other) = view(&server, &mia, "?team=south").await;
    assert_eq!(other["accounts"], 0);
    assert!(other["by_rep"].as_array().unwrap().is_empty());
    let (status, _) = view(&server, &devices[0], "").await;
    assert_eq!(status, 403, "a rep cannot open the team views");
    let (status, bad) = view(&server, &mia, "?colour=red").await;
    assert_eq!(status, 400, "{bad}");

    // Every rep of the view says when their data last reached the server.
    let freshness = |view: &Value, rep: &str| {
        view["freshness"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rep"] == rep)
            .map(|f| f["last_sync"].clone())
            .expect("rep listed")
    };
    let before = freshness(&field, "ana");
    assert!(before.is_string(), "{field}");

    // Ana, offline, enters a negotiation; the view changes only once she syncs, and says so.
    let ana = &devices[0];
    let id = ana.store.accounts().unwrap()[0].id;
    let big = NewOpportunity {
        name: "big one".into(),
        stage: Stage::Negotiation,
        probability: None,
        amount: Some(Money {
            minor: 123_400,
            currency: "EUR".into(),
        }),
        expected_close: None,
        owner: "ana".into(),
    };
    ana.store
        .edit_account(id, &AccountEdit::AddOpportunity(big), day)
        .unwrap();
    let (_, unchanged) = view(&server, &mia, "").await;
    assert_eq!(by_rep(&unchanged), by_rep(&field));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ana.sync().await;
    admin.sync().await;
    let (_, changed) = view(&server, &mia, "").await;
    assert_eq!(
        by_rep(&changed),
        brute_force(&admin, &["ana", "ben", "cai"])
    );
    assert_ne!(by_rep(&changed), by_rep(&field));
    assert!(
        freshness(&changed, "ana").as_str() > before.as_str(),
        "{changed}"
    );

    // Rebuilding every row from the documents gives the rows written commit by commit.
    let incremental = server.storage().projections().unwrap();
    assert_eq!(
        server.storage().rebuild_projections().unwrap(),
        incremental.len()
    );
    assert_eq!(server.storage().projections().unwrap(), incremental);

    // Sync times survive a restart (flushed at shutdown), and so do the rows.
    server.restart().await;
    let (_, restarted) = view(&server, &mia, "").await;
    assert_eq!(freshness(&restarted, "ana"), freshness(&changed, "ana"));
    assert_eq!(by_rep(&restarted), by_rep(&changed));
}

/// `rep → (accounts, within cadence, follow-ups, late)` and the overdue ids, from the
/// documents, as of `now`.
type Expected = (BTreeMap<String, (u64, u64, u64, u64)>, Vec<String>);

fn brute_force_follow_ups(admin: &Device, reps: &[&str], now: chrono::DateTime<Utc>) -> Expected {
    let mut by_rep = BTreeMap::new();
    let mut overdue = Vec::new();
    for summary in admin.store.accounts().unwrap() {
        let record = admin.store.account(summary.id).unwrap().record;
        if !reps.contains(&record.owner.as_str()) {
            continue;
        }
        let facts = outpost_client::facts::facts(&record, now, chrono_tz::Tz::UTC); // the test server counts days in UTC
        let cell = by_rep.entry(record.owner.clone()).or_insert((0, 0, 0, 0));
        cell.0 += 1;
        cell.1 += u64::from(!facts.overdue);
        cell.2 += record.follow_ups.len() as u64;
        cell.3 += facts.late_follow_ups.len() as u64;
        if facts.overdue {
            overdue.push(summary.id.to_string());
        }
    }
    overdue.sort();
    (by_rep, overdue)
}

fn follow_up_view(view: &Value) -> Expected {
    let mut by_rep: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for d in view["discipline"].as_array().unwrap() {
        let cell = by_rep
            .entry(d["rep"].as_str().unwrap().to_owned())
            .or_default();
        cell.0 += d["accounts"].as_u64().unwrap();
        cell.1 += d["within_cadence"].as_u64().unwrap();
    }
    for l in view["late"].as_array().unwrap() {
        let cell = by_rep
            .entry(l["rep"].as_str().unwrap().to_owned())
            .or_default();
        cell.2 += l["follow_ups"].as_u64().unwrap();
        cell.3 += l["late"].as_u64().unwrap();
    }
    let mut overdue: Vec<String> = view["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["account"].as_str().unwrap().to_owned())
        .collect();
    overdue.sort();
    (by_rep, overdue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_discipline_and_the_overdue_list_match_the_documents() {
    use outpost_client::model::Priority;
    use outpost_client::{ContactMethod, NewFollowUp};

    let server = TestServer::start().await;
    let mut rng = StdRng::seed_from_u64(7);
    let now = Utc::now();
    let reps = ["ana", "ben", "sol"];
    for rep in reps {
        let device = server.device_of(rep).await;
        for n in 0..rng.random_range(4..8) {
            let new = NewAccount {
                name: format!("{rep} account {n}"),
                owner: rep.into(),
                ..NewAccount::default()
            };
            // Created between 60 and 2 days (and an hour, so no due time falls between the
            // test's clock and the server's) ago: some are overdue by their cadence.
            let created =
                now - chrono::Duration::days(rng.random_range(2..60)) - chrono::Duration::hours(1);
            let id = device.store.create_account_anyway(&new, created).unwrap();
            let priority = [Priority::A, Priority::B, Priority::C][rng.random_range(0..3)].clone();
            device
                .store
                .edit_account(id, &AccountEdit::SetPriority(priority), created)
                .unwrap();
            for _ in 0..rng.random_range(0..3) {
                let occurred = created + chrono::Duration::hours(rng.random_range(1..40));
                // Logged right away, or days later.
                let logged =
                    occurred + chrono::Duration::hours([0, 2, 30, 80][rng.random_range(0..4)]);
                let visit = NewFollowUp::new(occurred, ContactMethod::Visit, "visit");
                device
                    .store
                    .edit_account(id, &AccountEdit::LogFollowUp(visit), logged.min(now))
                    .unwrap();
            }
        }
        device.sync().await;
    }
    let (mia, admin) = (server.device_of("mia").await, server.device().await);
    admin.sync().await;
    let (status, view) = server.get_json(&mia, "/v1/views/follow-ups").await;
    assert_eq!(status, 200);
    assert_eq!(
        follow_up_view(&view),
        brute_force_follow_ups(&admin, &["ana", "ben"], now),
        "{view:#}"
    );
    let overdue = view["overdue"].as_array().unwrap();
    assert!(
        !overdue.is_empty(),
        "the generated team has overdue accounts"
    );
    let dues: Vec<&str> = overdue
        .iter()
        .map(|o| o["next_due"].as_str().unwrap())
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "most overdue first");
    assert!(view["freshness"].as_array().unwrap().len() == 2);
    assert_eq!(view["overdue_total"].as_u64(), Some(overdue.len() as u64));

    // A shorter list keeps the most overdue first and still counts them all.
    let (_, limited) = server.get_json(&mia, "/v1/views/follow-ups?limit=1").await;
    assert_eq!(limited["overdue"].as_array().unwrap().len(), 1);
    assert_eq!(limited["overdue"][0], overdue[0]);
    assert_eq!(limited["overdue_total"], view["overdue_total"]);
}
