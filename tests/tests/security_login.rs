//! Issue 16, items 2, 3 and 14, through the real server on real sockets: login attempts are
//! counted before their password is checked (per name and address, per address, per name
//! from places the user never logged in from), so parallel guesses and sprayed passwords
//! are refused while the user still logs in from their own places; password hashing has a
//! bounded pool of its own, so a flood of logins is refused at once with 503 and
//! `Retry-After` while `/v1/me` and syncs go on; weak passwords are refused for admins, the
//! console and users changing theirs (`outpost password`); a disabled user's right password
//! answers exactly as a wrong one.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use outpost_client::NewAccount;
use outpost_server::auth::LoginConfig;
use outpost_tests::{ADMIN, Device, PASSWORD, TestServer, binary};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A client whose connections come from `127.0.0.N` (all of 127/8 is loopback on Linux),
/// so one test plays several places.
fn client_from(n: u8) -> reqwest::Client {
    // reqwest is built without a default crypto provider (`HttpClient::new` installs it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

static DEVICES: AtomicU64 = AtomicU64::new(1);

/// A device id no other login of this test run used.
fn new_device() -> String {
    format!("{:032x}", DEVICES.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

async fn post(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Answer {
    let mut request = client.post(format!("{}{path}", server.url())).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

async fn login_with(
    client: &reqwest::Client,
    server: &TestServer,
    login: &str,
    password: &str,
    device: &str,
) -> Answer {
    let body = json!({"login": login, "password": password, "device": device, "label": "t"});
    post(client, server, "/v1/login", None, body).await
}

async fn login(client: &reqwest::Client, server: &TestServer, name: &str, pw: &str) -> Answer {
    login_with(client, server, name, pw, &new_device()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_for_one_name_are_counted_before_any_is_checked() {
    let server = TestServer::start().await;
    let attacker = client_from(2);
    // 30 guesses at once, the right password among them.
    let guesses = (0..30).map(|n| {
        let password = if n == 17 {
            PASSWORD.to_owned()
        } else {
            format!("guess number {n}")
        };
        let attacker = attacker.clone();
        let server = &server;
        async move { login(&attacker, server, "ana", &password).await }
    });
    let answers = join_all(guesses).await;
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    let checked = answers.len() - limited.len();
    // 5 attempts per name and address; a right one gives its attempt back, so at most one
    // more gets through.
    assert!(
        checked <= 6,
        "{checked} of 30 parallel guesses were checked: {answers:?}"
    );
    for answer in &answers {
        assert!(
            [200, 401, 429].contains(&answer.status),
            "unexpected answer {answer:?}"
        );
    }
    for answer in limited {
        assert!(answer.retry_after.is_some_and(|s| s >= 1), "{answer:?}");
        assert_eq!(answer.body["code"], "rate_limited", "{answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_password_sprayed_over_many_names_is_limited_per_address() {
    let server = TestServer::start().await;
    let sprayer = client_from(3);
    let mut statuses = Vec::new();
    for n in 0..35 {
        // Real logins and made-up ones alike.
        let name = match n % 5 {
            0 => ["ana", "ben", "cai", "dee", "eve", "fay", "mia"][n / 5].to_owned(),
            _ => format!("user{n}"),
        };
        statuses.push(login(&sprayer, &server, &name, "Summer-2026!").await.status);
    }
    let first_refusal = statuses.iter().position(|s| *s == 429);
    assert_eq!(
        first_refusal,
        Some(20),
        "20 attempts per address, then refused: {statuses:?}"
    );
    assert!(
        statuses[20..].iter().all(|s| *s == 429),
        "every later attempt is refused: {statuses:?}"
    );
    // The names themselves are not locked: their users log in from elsewhere.
    let office = client_from(4);
    assert_eq!(login(&office, &server, "ana", PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_logs_in_from_a_clean_place_while_someone_fails_for_their_name() {
    let server = TestServer::start_with_login(LoginConfig {
        per_name: 10,
        ..LoginConfig::default()
    })
    .await;
    // The user's own phone logged in from home before.
    let home = client_from(6);
    let phone = new_device();
    assert_eq!(
        login_with(&home, &server, "ana", PASSWORD, &phone)
            .await
            .status,
        200
    );

    // One attacker fails for ana until refused: only their place is locked.
    let attacker = client_from(5);
    let mut statuses = Vec::new();
    for n in 0..8 {
        statuses.push(
            login(&attacker, &server, "ana", &format!("guess {n}"))
                .await
                .status,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // Even the right password is refused there now, with when to come back.
    let refused = login(&attacker, &server, "ana", PASSWORD).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(refused.retry_after.is_some_and(|s| s >= 1), "{refused:?}");
    // ana, from a place that has not been failing (never used before), logs in.
    let cafe = client_from(7);
    assert_eq!(login(&cafe, &server, "ana", PASSWORD).await.status, 200);

    // Guessing spread over many places reaches the name's own limit: new places are
    // refused for ana, her known place and her known device are not.
    for n in 10..15 {
        let place = client_from(n);
        for guess in 0..3 {
            let answer = login(&place, &server, "ana", &format!("spread {n} {guess}")).await;
            assert!([401, 429].contains(&answer.status), "{answer:?}");
        }
    }
    let unknown_place = client_from(20);
    assert_eq!(
        login(&unknown_place, &server, "ana", PASSWORD).await.status,
        429,
        "the name is locked for places ana never logged in from"
    );
    assert_eq!(login(&home, &server, "ana", PASSWORD).await.status, 200);
    assert_eq!(
        login_with(&client_from(21), &server, "ana", PASSWORD, &phone)
            .await
            .status,
        200,
        "ana's own device logs in from a new place"
    );
    // Other users are not touched by any of it.
    assert_eq!(
        login(&unknown_place, &server, "ben", PASSWORD).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_logins_is_refused_at_once_while_me_and_sync_go_on() {
    let server = TestServer::start_with_login(LoginConfig {
        hash_workers: NonZeroUsize::new(1).expect("non-zero"),
        hash_queue: 4,
        // Limits out of the way: this is about the pool.
        per_name_address: 10_000,
        per_address: 10_000,
        per_name: 10_000,
        ..LoginConfig::default()
    })
    .await;
    let ben = server.device_of("ben").await;
    let account = |name: &str| NewAccount {
        name: name.into(),
        owner: "ben".into(),
        ..NewAccount::default()
    };
    ben.store
        .create_account_anyway(&account("Flood Test Co"), chrono::Utc::now())
        .expect("create");
    ben.sync().await;
    let me = || async {
        let started = Instant::now();
        let (status, user) = server.get_json(&ben, "/v1/me").await;
        assert_eq!((status.as_u16(), &user["login"]), (200, &json!("ben")));
        started.elapsed()
    };
    let baseline = me().await;

    let flooder = client_from(8);
    let flood = join_all((0..200).map(|n| {
        let flooder = flooder.clone();
        let server = &server;
        async move {
            let started = Instant::now();
            let answer = login(&flooder, server, &format!("nobody{n}"), "no such user").await;
            (answer, started.elapsed())
        }
    }));
    let others = async {
        // While the flood is on: the caller's own details and a sync with a push.
        tokio::task::yield_now().await;
        let me_during = me().await;
        ben.store
            .create_account_anyway(&account("During The Flood Co"), chrono::Utc::now())
            .expect("create");
        let started = Instant::now();
        let report = ben.sync().await;
        (me_during, started.elapsed(), report)
    };
    let (answers, (me_during, sync_during, report)) = tokio::join!(flood, others);

    assert_eq!(report.pushed.len(), 1, "{report:?}");
    let busy: Vec<&(Answer, Duration)> = answers.iter().filter(|(a, _)| a.status == 503).collect();
    assert!(
        busy.len() >= 150,
        "1 worker and 4 waiting: most of 200 logins at once are refused, {} were",
        busy.len()
    );
    for (answer, took) in &busy {
        assert_eq!(answer.retry_after, Some(1), "{answer:?}");
        assert_eq!(answer.body["code"], "unavailable", "{answer:?}");
        assert!(
            *took < Duration::from_secs(5),
            "a refusal is immediate, not queued: {took:?}"
        );
    }
    for (answer, _) in &answers {
        assert!([401, 503].contains(&answer.status), "{answer:?}");
    }
    let bound = baseline * 20 + Duration::from_secs(1);
    assert!(
        me_during < bound,
        "/v1/me took {me_during:?} during the flood (alone {baseline:?})"
    );
    assert!(
        sync_during < Duration::from_secs(3),
        "a sync took {sync_during:?} during the flood"
    );
    // And once it is over, logins work again.
    assert_eq!(login(&flooder, &server, "cai", PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_right_password_answers_exactly_as_a_wrong_one() {
    let server = TestServer::start_with_login(LoginConfig {
        per_name_address: 100,
        ..LoginConfig::default()
    })
    .await;
    let admin = server.device_of(ADMIN).await;
    let client = client_from(9);
    let disabled = post(
        &client,
        &server,
        "/v1/admin/users/cai/disable",
        Some(&admin.token()),
        Value::Null,
    )
    .await;
    assert_eq!(disabled.status, 200, "{disabled:?}");

    let mut right = Vec::new();
    let mut wrong = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let answer = login(&client, &server, "cai", PASSWORD).await;
        right.push((answer, started.elapsed()));
        let started = Instant::now();
        let answer = login(&client, &server, "cai", "not cai's password").await;
        wrong.push((answer, started.elapsed()));
    }
    for ((r, _), (w, _)) in right.iter().zip(&wrong) {
        assert_eq!(r, w, "the same status and body");
        assert_eq!(r.status, 401);
        assert_eq!(r.body["message"], "unknown login or wrong password");
    }
    // Both check the password: the fastest of each is alike (well within a factor of 3).
    let fastest = |answers: &[(Answer, Duration)]| answers.iter().map(|(_, t)| *t).min().unwrap();
    let (r, w) = (fastest(&right), fastest(&wrong));
    assert!(
        r < w * 3 && w < r * 3,
        "right-but-disabled {r:?}, wrong {w:?}"
    );
}

const STRONG: &str = "violet ladder under seven moons";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_are_refused_for_admins_and_users_with_a_clear_reason() {
    let server = TestServer::start().await;
    let admin = server.device_of(ADMIN).await;
    let client = client_from(10);
    for weak in ["aaaaaaaaaa", "password12"] {
        let body = json!({"login": "zoe", "password": weak, "role": "rep", "team": "field"});
        let answer = post(
            &client,
            &server,
            "/v1/admin/users",
            Some(&admin.token()),
            body,
        )
        .await;
        assert_eq!(answer.status, 422, "{answer:?}");
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("too easy to guess"), "{message}");
    }
    let body = json!({"login": "zoe", "password": STRONG, "role": "rep", "team": "field"});
    let answer = post(
        &client,
        &server,
        "/v1/admin/users",
        Some(&admin.token()),
        body,
    )
    .await;
    assert_eq!(answer.status, 201, "{answer:?}");

    // The user's own change: a weak new password is refused and the old one stays.
    let zoe = Device::new(&server.url());
    zoe.client
        .login(&zoe.store, "zoe", STRONG, "zoe's phone")
        .await
        .expect("zoe logs in");
    let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
    let answer = post(
        &client,
        &server,
        "/v1/me/password",
        Some(&zoe.token()),
        change(STRONG, "qwertyuiop"),
    )
    .await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("too easy to guess")),
        "{answer:?}"
    );
    let answer = post(
        &client,
        &server,
        "/v1/me/password",
        Some(&zoe.token()),
        change("not the current one", "another violet ladder at dawn"),
    )
    .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(login(&client, &server, "zoe", STRONG).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_weak_passwords() {
    let data = TempDir::new().expect("temp dir");
    let console = |args: &[&str], stdin: &str| {
        let mut child = Command::new(binary("outpost-server"))
            .env_remove("OUTPOST_DATA")
            .args(args)
            .arg("--data")
            .arg(data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run outpost-server");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin");
        child.wait_with_output().expect("outpost-server")
    };
    let weak = console(&["user", "add", "boss", "--role", "admin"], "password12\n");
    assert!(!weak.status.success());
    let err = String::from_utf8_lossy(&weak.stderr);
    assert!(err.contains("too easy to guess"), "{err}");
    let added = console(
        &["user", "add", "boss", "--role", "admin"],
        &format!("{STRONG}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let weak = console(&["user", "password", "boss"], "aaaaaaaaaa\n");
    assert!(!weak.status.success());
    let err = String::from_utf8_lossy(&weak.stderr);
    assert!(err.contains("too easy to guess"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outpost_password_changes_the_password_end_to_end() {
    let server = TestServer::start().await;
    let store = TempDir::new().expect("temp dir");
    let outpost = |args: &[&str], stdin: String| {
        let mut command = Command::new(binary("outpost"));
        command
            .env_remove("OUTPOST_STORE")
            .env_remove("OUTPOST_SERVER")
            .env("LANG", "C.UTF-8")
            .arg("--store")
            .arg(store.path())
            .args(["--server", &server.url()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        async move {
            tokio::task::spawn_blocking(move || {
                let mut child = command.spawn().expect("run outpost");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(stdin.as_bytes())
                    .expect("stdin");
                child.wait_with_output().expect("outpost")
            })
            .await
            .expect("runner")
        }
    };
    let logged_in = outpost(&["login", "--user", "dee"], format!("{PASSWORD}\n")).await;
    assert!(logged_in.status.success(), "{logged_in:?}");

    let weak = outpost(&["password"], format!("{PASSWORD}\npassword12\n")).await;
    assert!(!weak.status.success());
    let err = String::from_utf8_lossy(&weak.stderr);
    assert!(err.contains("too easy to guess"), "{err}");

    let wrong = outpost(&["password"], format!("wrong one\n{STRONG}\n")).await;
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("current password is wrong"), "{err}");

    let changed = outpost(&["password"], format!("{PASSWORD}\n{STRONG}\n")).await;
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let said = String::from_utf8_lossy(&changed.stdout);
    assert!(said.contains("password of dee changed"), "{said}");

    let client = client_from(11);
    let old = login(&client, &server, "dee", PASSWORD).await;
    assert_eq!(old.status, 401, "the old password no longer works: {old:?}");
    assert_eq!(login(&client, &server, "dee", STRONG).await.status, 200);
    // This device stays logged in: it still syncs.
    let sync = outpost(&["sync"], String::new()).await;
    assert!(
        sync.status.success(),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
}
