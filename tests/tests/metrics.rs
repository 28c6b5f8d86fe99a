//! Operations through the real server: `/metrics` counts syncs, pushes by outcome, logins and
//! open event streams, and reports the feed, index and page cache sizes; liveness and
//! readiness answer; the page cache stays within `--cache-mb` while a backup reads a store
//! several times its size.

use chrono::Utc;
use futures_util::StreamExt;
use outpost_client::{AccountEdit, NewAccount};
use outpost_server::storage::DEFAULT_CACHE_BYTES;
use outpost_tests::{ADMIN, Device, ServerProcess, TestServer, sample};
use reqwest::StatusCode;

async fn scrape(server: &TestServer) -> String {
    scrape_url(&server.url()).await
}

async fn scrape_url(url: &str) -> String {
    let response = reqwest::get(format!("{url}/metrics")).await.unwrap();
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
    assert_eq!(
        sample(&listening, "outpost_page_cache_capacity_bytes"),
        DEFAULT_CACHE_BYTES as f64,
        "the default page cache"
    );
    assert!(sample(&listening, "outpost_page_cache_bytes") > 0.0);
    assert!(sample(&listening, "outpost_page_cache_reads_total{result=\"hit\"}") > 0.0);
    assert!(sample(&listening, "outpost_sync_seconds_total") > 0.0);
    // Each push was its own group commit (one accepted, one refused).
    assert!(sample(&listening, "outpost_commits_total") >= 2.0);
    assert!(sample(&listening, "outpost_commit_seconds_total") > 0.0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_cache_stays_within_cache_mb_while_a_backup_reads_a_larger_store() {
    const CACHE: f64 = (1 << 20) as f64;
    let data = TestServer::start().await.stop().await;
    let server = ServerProcess::start(data.path(), &["--cache-mb", "1", "--backup-every", "off"]);
    let url = format!("http://{}", server.addr);
    let ana = Device::logged_in(&url, "ana").await;
    let accounts: Vec<NewAccount> = (0..4_000)
        .map(|i| NewAccount {
            name: format!("Cache Co {i}"),
            owner: "ana".into(),
            ..NewAccount::default()
        })
        .collect();
    ana.store
        .create_accounts(&accounts, Utc::now(), 500, &mut |_| {})
        .unwrap();
    assert_eq!(ana.sync().await.pushed.len(), accounts.len());

    let admin = Device::logged_in(&url, ADMIN).await;
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/admin/backups"))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let backup: serde_json::Value = response.json().await.unwrap();
    let backup_bytes = backup["bytes"].as_f64().unwrap();
    assert!(
        backup_bytes > 3.0 * CACHE,
        "the store ({backup_bytes} bytes) is several times the cache"
    );

    let after = scrape_url(&url).await;
    assert_eq!(sample(&after, "outpost_page_cache_capacity_bytes"), CACHE);
    let used = sample(&after, "outpost_page_cache_bytes");
    // redb's bound is soft by the page being inserted when it evicts.
    assert!(
        used <= CACHE + 64.0 * 1024.0,
        "{used} bytes cached with --cache-mb 1"
    );
    assert!(sample(&after, "outpost_page_cache_evictions_total") > 0.0);
}
