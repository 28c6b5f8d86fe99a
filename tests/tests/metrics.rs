//! Operations through the real server: `/metrics` counts syncs, pushes by outcome, logins and
//! open event streams, and reports the feed and index sizes; liveness and readiness answer.

use chrono::Utc;
use futures_util::StreamExt;
use outpost_client::{AccountEdit, NewAccount};
use outpost_tests::TestServer;
use reqwest::StatusCode;

/// The value of the sample `name` (with its labels) in a scrape.
fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{scrape}"))
}

async fn scrape(server: &TestServer) -> String {
    let response = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened_and_health_answers() {
    let server = TestServer::start().await;
    // Two logins (the fixture's devices) and one refused.
    let (ana, ben) = (server.device_of("ana").await, server.device_of("ben").await);
    let before = scrape(&server).await;
    assert_eq!(sample(&before, "outpost_syncs_total"), 0.0);
    assert!(
        before.contains("# TYPE outpost_pushes_total counter"),
        "{before}"
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/login", server.url()))
        .json(&serde_json::json!({
            "login": "ana", "password": "wrong password!",
            "device": format!("{:032x}", 7), "label": "x"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Ana creates an account and syncs; Ben edits it without the right to and syncs.
    let new = NewAccount {
        name: "Harbor Foods".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    let id = ana.store.create_account(&new, Utc::now()).unwrap();
    ana.sync().await;
    let shared = format!("{}/v1/accounts/{id}/shares", server.url());
    let token = ana.token();
    reqwest::Client::new()
        .post(shared)
        .bearer_auth(token)
        .json(&serde_json::json!({ "login": "ben", "write": false }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    ben.sync().await;
    ben.store
        .edit_account(id, &AccountEdit::SetRegion("North".into()), Utc::now())
        .unwrap();
    ben.sync().await;

    // A device listening on the event stream counts as connected while it listens.
    let token = ben.token();
    let stream = reqwest::Client::new()
        .get(format!("{}/v1/events", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut body = stream.bytes_stream();
    let listening = scrape(&server).await;
    for (name, value) in [
        ("outpost_event_streams", 1.0),
        ("outpost_syncs_total", 3.0),
        ("outpost_pushes_total{outcome=\"accepted\"}", 1.0),
        ("outpost_pushes_total{outcome=\"rejected\"}", 1.0),
        ("outpost_logins_total{result=\"ok\"}", 2.0),
        ("outpost_logins_total{result=\"failed\"}", 1.0),
        ("outpost_indexed_accounts", 1.0),
    ] {
        assert_eq!(sample(&listening, name), value, "{name}");
    }
    assert!(sample(&listening, "outpost_feed_head") >= 2.0);
    assert!(sample(&listening, "outpost_sync_seconds_total") > 0.0);
    drop(body.next());
    drop(body);
    let mut closed = 1.0;
    for _ in 0..50 {
        closed = sample(&scrape(&server).await, "outpost_event_streams");
        if closed == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(closed, 0.0, "a closed stream is no longer counted");

    for path in ["/health/live", "/health/ready"] {
        let response = reqwest::get(format!("{}{path}", server.url()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}
