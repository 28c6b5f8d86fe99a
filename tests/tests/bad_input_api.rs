//! The bad-input catalogue over every JSON endpoint (36 of them): each one, given no token, an unknown
//! token, malformed, truncated, wrong-type, empty or oversized bodies, or path parameters that
//! are not ids, answers with a 4xx carrying a typed JSON error that says what is wrong —
//! never a 5xx, never a panic — and changes nothing: the feed, the documents, the users,
//! teams and devices are as they were. (The sync endpoint's own catalogue is
//! `bad_input.rs`.)

use chrono::{TimeZone, Utc};
use outpost_client::NewAccount;
use outpost_protocol::ErrorReply;
use outpost_tests::TestServer;
use reqwest::Method;

/// What an endpoint is sent besides the token cases.
#[derive(Clone, Copy)]
enum Input {
    /// Nothing: a valid request, so only the token is wrong.
    Valid,
    /// The path or query itself is bad (not an id, unknown user, bad filter).
    BadPath,
    /// A body of the right shape, which the cases below cut, retype or inflate.
    Body(&'static str),
}

struct Endpoint {
    method: Method,
    path: String,
    input: Input,
}

fn endpoint(method: Method, path: impl Into<String>, input: Input) -> Endpoint {
    Endpoint {
        method,
        path: path.into(),
        input,
    }
}

/// Everything a request could have changed, read from the server's store.
fn state(server: &TestServer) -> String {
    let storage = server.storage();
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        storage.feed_head().unwrap(),
        storage.documents().unwrap(),
        storage.users().unwrap(),
        storage.teams().unwrap(),
        storage.devices(None).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_bad_input_with_a_clear_4xx_and_changes_nothing() {
    let server = TestServer::start().await;
    let admin = server.device().await;
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let new = NewAccount {
        name: "Catalogue Ltd".into(),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    let account = admin.store.create_account(&new, now).unwrap();
    admin.sync().await;
    let token = admin.token();
    let before = state(&server);

    let id = account.to_string();
    let endpoints = [
        endpoint(
            Method::POST,
            "/v1/login",
            Input::Body(
                r#"{"login":"ana","password":"x","device":"0123456789abcdef0123456789abcdef","label":"l"}"#,
            ),
        ),
        endpoint(Method::GET, "/v1/me", Input::Valid),
        endpoint(Method::GET, "/v1/me/devices", Input::Valid),
        endpoint(
            Method::DELETE,
            "/v1/me/devices/not-a-device",
            Input::BadPath,
        ),
        endpoint(Method::GET, "/v1/admin/users", Input::Valid),
        endpoint(
            Method::POST,
            "/v1/admin/users",
            Input::Body(
                r#"{"login":"zed","password":"long-enough-pw","role":"rep","team":"field"}"#,
            ),
        ),
        endpoint(
            Method::POST,
            "/v1/admin/users/nobody/disable",
            Input::BadPath,
        ),
        endpoint(
            Method::POST,
            "/v1/admin/users/nobody/enable",
            Input::BadPath,
        ),
        endpoint(Method::GET, "/v1/admin/teams", Input::Valid),
        endpoint(
            Method::POST,
            "/v1/admin/teams",
            Input::Body(r#"{"name":"north"}"#),
        ),
        endpoint(
            Method::PUT,
            "/v1/admin/teams/nowhere/managers/nobody",
            Input::BadPath,
        ),
        endpoint(
            Method::DELETE,
            "/v1/admin/teams/nowhere/managers/nobody",
            Input::BadPath,
        ),
        endpoint(Method::GET, "/v1/admin/devices", Input::Valid),
        endpoint(
            Method::DELETE,
            "/v1/admin/devices/not-a-device",
            Input::BadPath,
        ),
        endpoint(
            Method::POST,
            "/v1/handover",
            Input::Body(r#"{"from":"ana","to":"ben","accounts":[]}"#),
        ),
        endpoint(
            Method::GET,
            "/v1/accounts/not-an-id/history",
            Input::BadPath,
        ),
        endpoint(
            Method::POST,
            format!("/v1/accounts/{id}/shares"),
            Input::Body(r#"{"login":"ben","write":true}"#),
        ),
        endpoint(
            Method::POST,
            "/v1/accounts/not-an-id/shares",
            Input::Body(r#"{"login":"ben"}"#),
        ),
        endpoint(
            Method::DELETE,
            "/v1/accounts/not-an-id/shares/ben",
            Input::BadPath,
        ),
        endpoint(
            Method::POST,
            format!("/v1/accounts/{id}/merge"),
            Input::Body(r#"{"from":"00000000000000000000000000000001"}"#),
        ),
        endpoint(
            Method::POST,
            format!("/v1/accounts/{id}/comments"),
            Input::Body(r#"{"text":"call back"}"#),
        ),
        endpoint(
            Method::GET,
            "/v1/views/pipeline?from=2026-13-45",
            Input::BadPath,
        ),
        endpoint(
            Method::GET,
            "/v1/views/follow-ups?from=yesterday",
            Input::BadPath,
        ),
        endpoint(Method::GET, "/v1/views/funnel?limit=-1", Input::BadPath),
        endpoint(
            Method::POST,
            "/v1/accounts/not-an-id/archive",
            Input::BadPath,
        ),
        endpoint(
            Method::DELETE,
            format!("/v1/accounts/{id}/archive"),
            Input::BadPath,
        ),
        endpoint(Method::POST, "/v1/admin/backups", Input::Valid),
        endpoint(Method::GET, "/v1/admin/backups", Input::Valid),
        endpoint(Method::GET, "/v1/accounts/not-an-id", Input::BadPath),
        endpoint(Method::GET, "/v1/accounts/not-an-id/shares", Input::BadPath),
        endpoint(
            Method::POST,
            "/v1/people/ana/offboard",
            Input::Body(r#"{"to":"ben","dry_run":false}"#),
        ),
        endpoint(
            Method::POST,
            "/v1/admin/users/ana/password",
            Input::Body(r#"{"new_password":"a-fresh-start-2026!"}"#),
        ),
        endpoint(Method::GET, "/v1/views/activity?format=xml", Input::BadPath),
        endpoint(
            Method::GET,
            "/v1/views/lost-reasons?table=nope&format=csv",
            Input::BadPath,
        ),
        endpoint(
            Method::GET,
            "/v1/views/won-profile?team[]=x",
            Input::BadPath,
        ),
        endpoint(Method::GET, "/v1/views/duplicates?bogus=1", Input::BadPath),
    ];

    // No pooled connections: the server answers an oversized body without reading it and
    // closes that connection.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut checked = 0;
    for endpoint in &endpoints {
        let needs_token = endpoint.path != "/v1/login";
        // (case, token, body, content type)
        let mut cases: Vec<(String, Option<String>, Option<Vec<u8>>)> = Vec::new();
        let body = match endpoint.input {
            Input::Body(body) => Some(body.as_bytes().to_vec()),
            Input::Valid | Input::BadPath => None,
        };
        if needs_token {
            cases.push(("no token".into(), None, body.clone()));
            cases.push(("unknown token".into(), Some("ab".repeat(32)), body.clone()));
            cases.push(("malformed token".into(), Some("not a token".into()), body));
        }
        let token = Some(token.clone());
        match endpoint.input {
            Input::Body(body) => {
                let retyped = body.replace(":\"", ":[\"").replace("\",", "\"],");
                cases.extend([
                    ("empty body".into(), token.clone(), Some(Vec::new())),
                    (
                        "malformed".into(),
                        token.clone(),
                        Some(b"{\"login\":".to_vec()),
                    ),
                    (
                        "truncated".into(),
                        token.clone(),
                        Some(body.as_bytes()[..body.len() / 2].to_vec()),
                    ),
                    (
                        "wrong types".into(),
                        token.clone(),
                        Some(retyped.into_bytes()),
                    ),
                    ("an array".into(), token.clone(), Some(b"[1,2,3]".to_vec())),
                    (
                        "not UTF-8".into(),
                        token.clone(),
                        Some(vec![0xff, 0xfe, b'{', b'}']),
                    ),
                    (
                        "oversized".into(),
                        token.clone(),
                        Some(format!("{{\"login\":\"{}\"}}", "x".repeat(3 << 20)).into_bytes()),
                    ),
                ]);
            }
            Input::BadPath => cases.push(("as is".into(), token.clone(), None)),
            Input::Valid => {}
        }
        for (case, token, body) in cases {
            let mut request = client.request(
                endpoint.method.clone(),
                format!("{}{}", server.url(), endpoint.path),
            );
            if let Some(token) = &token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let what = format!("{} {} ({case})", endpoint.method, endpoint.path);
            let response = match request.send().await {
                Ok(response) => response,
                // A body over the limit may be cut off by the server's 413 while the client
                // is still sending it; the connection closing is then the refusal itself.
                Err(e) if case == "oversized" && e.is_request() => continue,
                Err(e) => panic!("{what}: {e}"),
            };
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(status.is_client_error(), "{what}: {status} {text}");
            let reply: ErrorReply = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{what}: {status}, not a typed error ({e}): {text}"));
            assert!(!reply.message.is_empty(), "{what}: empty message");
            assert_eq!(state(&server), before, "{what} changed the server");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} requests");

    // The server still serves.
    let health = client
        .get(format!("{}/health/ready", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
