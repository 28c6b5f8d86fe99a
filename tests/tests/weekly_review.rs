//! The weekly review round trip through the real server and the `outpost` CLI: a rep submits
//! the week, the manager sees what the server found incomplete and returns the week with an
//! opinion, the rep reads it after `outpost sync` (and offline), fixes the record and
//! submits again, the manager marks it reviewed, and the archive finds it by customer name
//! and first-contact date. Other teams and other reps are kept out; bad input changes
//! nothing.

use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use outpost_client::facts::{local_day, week_of};
use outpost_tests::cli::{CHINESE, Rep};
use outpost_tests::{Device, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(server: &TestServer, device: &Device, path: &str, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, device: &Device, path: &str) -> Value {
    let (status, body) = server.get_json(device, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn this_week() -> NaiveDate {
    week_of(local_day(Utc::now(), Shanghai))
}

fn decision_path(rep: &str, week: NaiveDate) -> String {
    format!("/v1/reviews/{rep}/{week}/decision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_is_submitted_returned_fixed_resubmitted_reviewed_and_filed() {
    let server = TestServer::start().await;
    server
        .storage()
        .set_display_name("mia", "李经理")
        .expect("name the manager");
    let ana = Rep::new(&server, "ana").await.in_zone(Shanghai);
    let (mia, max, ben) = (
        server.device_of("mia").await,
        server.device_of("max").await,
        server.device_of("ben").await,
    );
    let week = this_week();

    // Two customers with records this week: one follow-up without a next action, one
    // complete (next action with its date).
    let abc = ana
        .create("ABC公司", "ana", &["--first-contact", "2024-03-15"])
        .await;
    ana.check(&[
        "log",
        &abc,
        "--method",
        "phone",
        "价格高于预算，客户内部讨论",
    ])
    .await;
    let birch = ana.create("华强电子", "ana", &[]).await;
    let due = (local_day(Utc::now(), Shanghai) + Days::new(3)).to_string();
    ana.check(&[
        "log",
        &birch,
        "--next",
        "回电确认",
        "--next-due",
        &due,
        "演示顺利",
    ])
    .await;

    // Offline, submitting fails clearly and nothing reaches the server.
    let mut offline = ana.clone();
    offline.server = "http://127.0.0.1:1".into();
    let refused = offline.fails(&["review", "submit"]).await;
    assert!(refused.contains("nothing was submitted"), "{refused}");
    assert_eq!(get(&server, &mia, "/v1/reviews/queue").await, json!([]));

    // Submitting syncs first, so the server judges records it did not have before.
    let submitted = ana.check(&["review", "submit"]).await;
    assert!(
        submitted.contains(&format!("Submitted the week of {week}"))
            && submitted.contains("2 accounts with records, 1 incomplete items")
            && submitted.contains("follow-up without a next action"),
        "{submitted}"
    );

    // The manager's queue: ana's week, with what the server found incomplete.
    let queue = get(&server, &mia, "/v1/reviews/queue").await;
    let reviews = queue.as_array().unwrap();
    assert_eq!(reviews.len(), 1, "{queue:#}");
    let review = &reviews[0];
    assert_eq!(review["rep"], "ana");
    assert_eq!(review["status"], "submitted");
    assert_eq!(review["week"], week.to_string());
    let items = review["incomplete"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{review:#}");
    assert_eq!(items[0]["account"], abc);
    assert_eq!(items[0]["account_name"], "ABC公司");
    assert_eq!(items[0]["code"], "follow_up_no_next_action");
    assert_eq!(items[0]["label_zh"], "跟进记录缺少下一步行动");
    assert!(
        items[0]["record"]
            .as_str()
            .unwrap()
            .starts_with("follow_ups/")
    );
    assert_eq!(review["accounts"].as_array().unwrap().len(), 2);

    // Nobody outside ana's team sees or decides her week; a rep decides nothing.
    assert_eq!(get(&server, &max, "/v1/reviews/queue").await, json!([]));
    let returned = json!({"decision": "returned", "opinion": "请补充"}).to_string();
    let path = decision_path("ana", week);
    assert_eq!(
        post(&server, &max, &path, &returned).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get_json(&ben, "/v1/reviews/queue").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&server, &ben, &path, &returned).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&server, &ben, "/v1/reviews").await, json!([]));

    // Bad decisions are refused and change nothing.
    let long = "很".repeat(4001);
    for (body, status) in [
        (
            json!({"decision": "returned"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"decision": "returned", "opinion": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"decision": "returned", "opinion": "ok\u{1b}[2J"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"decision": "returned", "opinion": long}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"decision": "submitted"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"decision": "maybe"}), StatusCode::BAD_REQUEST),
        (
            json!({"decision": "reviewed", "extra": 1}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, reply) = post(&server, &mia, &path, &body.to_string()).await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    assert_eq!(
        post(&server, &mia, &path, "{not json").await.0,
        StatusCode::BAD_REQUEST
    );
    for wrong in [
        decision_path("ana", week - Days::new(7)),
        decision_path("sol", week),
        "/v1/reviews/ana/not-a-day/decision".to_owned(),
    ] {
        assert_eq!(
            post(&server, &mia, &wrong, &returned).await.0,
            StatusCode::NOT_FOUND,
            "{wrong}"
        );
    }
    // Bad submissions too: not a Monday, a week to come, an unknown zone, a manager (no team).
    let submit = |week: NaiveDate, zone: &str| {
        json!({"week": week.to_string(), "time_zone": zone}).to_string()
    };
    for (device, body, status) in [
        (
            &ben,
            submit(week + Days::new(1), "Asia/Shanghai"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &ben,
            submit(week + Days::new(7), "Asia/Shanghai"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &ben,
            submit(week, "Mars/Olympus"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (&mia, submit(week, "Asia/Shanghai"), StatusCode::FORBIDDEN),
        (&ben, "[]".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let (got, reply) = post(&server, device, "/v1/reviews", &body).await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    assert_eq!(get(&server, &ben, "/v1/reviews").await, json!([]));
    let queue = get(&server, &mia, "/v1/reviews/queue").await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["status"], "submitted");

    // The manager returns the week with an opinion, signed with name and date.
    let opinion = "ABC公司的跟进缺少下一步行动，请补充后重新提交";
    let body = json!({"decision": "returned", "opinion": opinion}).to_string();
    let (status, decided) = post(&server, &mia, &path, &body).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "returned");
    assert_eq!(decided["opinion"]["reviewer_name"], "李经理");
    assert_eq!(decided["incomplete"].as_array().unwrap().len(), 1);
    // Decided once: a second decision on the same round is a conflict.
    assert_eq!(
        post(&server, &mia, &path, &body).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(get(&server, &mia, "/v1/reviews/queue").await, json!([]));

    // The rep hears of it at the next sync, and reads it offline afterwards.
    let synced = ana.check(&["sync"]).await;
    assert!(
        synced.contains(&format!(
            "The week of {week} was returned by 李经理: {opinion}"
        )),
        "{synced}"
    );
    let again = ana.check(&["sync"]).await;
    assert!(!again.contains("was returned"), "told once: {again}");
    let listed = offline.check(&["review"]).await;
    assert!(
        listed.contains("Weekly reviews as of")
            && listed.contains(&format!("{week}  returned"))
            && listed.contains("returned by 李经理")
            && listed.contains(opinion)
            && listed.contains("follow-up without a next action"),
        "{listed}"
    );
    let chinese = offline.in_locale(CHINESE).check(&["review"]).await;
    assert!(
        chinese.contains("已退回") && chinese.contains("跟进记录缺少下一步行动"),
        "{chinese}"
    );

    // The rep plans the next contact (a next action with owner and date) and submits again.
    ana.check(&["plan", &abc, "--due", &format!("{due} 10:00"), "确认预算"])
        .await;
    let resubmitted = ana.check(&["review", "submit"]).await;
    assert!(resubmitted.contains("0 incomplete items"), "{resubmitted}");
    let queue = get(&server, &mia, "/v1/reviews/queue").await;
    let review = &queue[0];
    assert_eq!(review["incomplete"], json!([]), "{review:#}");
    let rounds = review["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    assert_eq!(
        rounds[0]["opinion"]["text"], opinion,
        "the earlier opinion stays"
    );
    assert_eq!(rounds[1]["opinion"], Value::Null);

    // Reviewed: filed, and the rep is told.
    let body = json!({"decision": "reviewed", "opinion": "记录完整"}).to_string();
    let (status, decided) = post(&server, &mia, &path, &body).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "reviewed");
    let synced = ana.check(&["sync"]).await;
    assert!(
        synced.contains(&format!(
            "The week of {week} was reviewed by 李经理: 记录完整"
        )),
        "{synced}"
    );
    let listed = offline.check(&["review", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["reviews"][0]["status"], "reviewed");
    assert_eq!(listed["reviews"][0]["rounds"].as_array().unwrap().len(), 2);
    let refiled = ana.fails(&["review", "submit"]).await;
    assert!(refiled.contains("already reviewed"), "{refiled}");

    // The archive finds it by customer name and by first-contact date, in ana's team only.
    let found = get(&server, &mia, "/v1/reviews/archive?q=abc").await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["filed"]["filed_as"], "ABC公司_20240315");
    assert_eq!(found[0]["filed"]["account"], abc);
    assert_eq!(found[0]["rep"], "ana");
    assert_eq!(found[0]["opinion"]["text"], "记录完整");
    for query in [
        "first_contact=2024-03-15",
        "first_contact=20240315",
        "q=ABC公司_2024",
    ] {
        let found = get(&server, &mia, &format!("/v1/reviews/archive?{query}")).await;
        assert_eq!(found.as_array().unwrap().len(), 1, "{query}: {found}");
    }
    let everything = get(&server, &mia, "/v1/reviews/archive").await;
    assert_eq!(everything.as_array().unwrap().len(), 2, "{everything}");
    for query in ["first_contact=2024-03-16", "q=nothing"] {
        let found = get(&server, &mia, &format!("/v1/reviews/archive?{query}")).await;
        assert_eq!(found, json!([]), "{query}");
    }
    assert_eq!(get(&server, &max, "/v1/reviews/archive").await, json!([]));
    assert_eq!(get(&server, &ben, "/v1/reviews/archive").await, json!([]));
    assert_eq!(
        server
            .get_json(&mia, "/v1/reviews/archive?first_contact=soon")
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        server.get_json(&mia, "/v1/reviews/archive?bogus=1").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_survive_a_restart_and_go_into_backups() {
    let mut server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await.in_zone(Shanghai);
    let id = ana.create("ABC公司", "ana", &[]).await;
    ana.check(&["log", &id, "报价"]).await;
    ana.check(&["review", "submit"]).await;
    server.restart().await;
    let mia = server.device_of("mia").await;
    let queue = get(&server, &mia, "/v1/reviews/queue").await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let root = server.device().await;
    let (status, backup) = post(&server, &root, "/v1/admin/backups", "").await;
    assert_eq!(status, StatusCode::CREATED, "{backup}");
}

/// The review queue in the dashboard, in Chinese, in a real headless Chromium: the manager
/// sees the rep's week with what is incomplete, cannot return it without an opinion,
/// returns it after confirming, and, once the rep fixed and resubmitted it, marks it
/// reviewed; the archive then finds it by name. Each result is checked through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_returns_and_reviews_a_week_in_the_dashboard() {
    use outpost_client::model::{ContactMethod, Day};
    use outpost_client::{AccountEdit, NewAccount, NewFollowUp};
    use outpost_protocol::api::ReviewStatus;
    use outpost_tests::PASSWORD;
    use outpost_tests::browser::Browser;

    let server = TestServer::start().await;
    let storage = server.storage();
    storage.set_display_name("mia", "李经理").unwrap();
    storage.set_display_name("ana", "张伟").unwrap();
    let ana = server.device_of("ana").await;
    let now = Utc::now();
    let id = ana
        .store
        .create_account_anyway(
            &NewAccount {
                name: "ABC公司".into(),
                owner: "ana".into(),
                first_contact: Some(Day(NaiveDate::from_ymd_opt(2024, 3, 15).unwrap())),
                ..NewAccount::default()
            },
            now,
        )
        .unwrap();
    let call = NewFollowUp::new(now, ContactMethod::Phone, "价格高于预算");
    ana.store
        .edit_account(id, &AccountEdit::LogFollowUp(call), now)
        .unwrap();
    ana.sync().await;
    let week = this_week();
    let submitted = ana
        .client
        .submit_review(&ana.store, week, "Asia/Shanghai")
        .await
        .unwrap();
    assert_eq!(submitted.incomplete.len(), 1, "{submitted:?}");

    let browser = Browser::start_in("zh-CN", "Asia/Shanghai").await;
    let page = format!("{}/dashboard", server.url());
    browser.goto(&page).await;
    browser.type_into("#login-name", "mia").await;
    browser.type_into("#login-password", PASSWORD).await;
    browser.click("#login-submit").await;
    let card = "[data-testid=review-card][data-rep=ana]";
    browser.find(card).await;
    for (css, text) in [
        ("[data-i18n='review.title']", "周审阅".to_owned()),
        (
            &format!("{card} [data-testid=review-missing]"),
            "跟进记录缺少下一步行动".to_owned(),
        ),
        (
            &format!("{card} [data-testid=review-items] a[data-account='{id}']"),
            "ABC公司".to_owned(),
        ),
        (
            &format!("{card} [data-testid=review-count]"),
            "不完整 1 项".to_owned(),
        ),
    ] {
        browser
            .wait_until(css, &text, async |b| b.text_of(css).await)
            .await;
    }
    let heading = browser.text_of(&format!("{card} h3")).await.unwrap();
    assert!(heading.starts_with("张伟 · "), "{heading}");

    // Returning needs an opinion: the page says so and sends nothing.
    browser
        .click(&format!("{card} [data-testid=review-return]"))
        .await;
    let error = format!("{card} [data-testid=review-error]");
    browser
        .wait_until(
            "the missing opinion",
            &"退回需要填写审阅意见。".to_owned(),
            async |b| b.text_of(&error).await,
        )
        .await;
    let opinion = "ABC公司缺少下一步行动，请补充";
    browser
        .type_into(&format!("{card} [data-testid=review-opinion]"), opinion)
        .await;
    browser
        .click(&format!("{card} [data-testid=review-return]"))
        .await;
    let confirm = format!("{card} [data-testid=review-confirm]");
    browser.find(&confirm).await;
    let asked = browser.text_of(&confirm).await.unwrap();
    assert!(
        asked.contains("确定将 张伟 的") && asked.contains("退回"),
        "{asked}"
    );
    // Not yet sent: the confirmation comes first.
    let waiting = ana.client.reviews(&ana.store).await.unwrap();
    assert_eq!(waiting[0].status, ReviewStatus::Submitted);
    browser
        .click(&format!("{card} [data-testid=review-confirm-yes]"))
        .await;
    browser
        .wait_until(
            "the queue emptied",
            &"没有待审阅的周。".to_owned(),
            async |b| b.text_of("[data-testid=review-queue]").await,
        )
        .await;
    let done = browser
        .text_of("[data-testid=review-message]")
        .await
        .unwrap();
    assert!(
        done.contains("已将 张伟 的") && done.contains("退回"),
        "{done}"
    );
    let returned = ana.client.reviews(&ana.store).await.unwrap();
    assert_eq!(returned[0].status, ReviewStatus::Returned);
    let signed = returned[0].opinion.as_ref().unwrap();
    assert_eq!(
        (signed.text.as_str(), signed.reviewer_name.as_str()),
        (opinion, "李经理")
    );

    // The rep plans the next contact and submits again; the manager marks it reviewed.
    let plan = AccountEdit::PlanFollowUp {
        due: now + chrono::Duration::days(2),
        method: ContactMethod::Visit,
        goal: "确认预算".into(),
        owner: None,
    };
    ana.store.edit_account(id, &plan, Utc::now()).unwrap();
    ana.sync().await;
    ana.client
        .submit_review(&ana.store, week, "Asia/Shanghai")
        .await
        .unwrap();
    browser.goto(&page).await;
    browser
        .wait_until(
            "the resubmitted week",
            &"没有不完整的记录。".to_owned(),
            async |b| {
                b.text_of(&format!("{card} [data-testid=review-count]"))
                    .await
            },
        )
        .await;
    let rounds = browser
        .text_of(&format!("{card} [data-testid=review-rounds]"))
        .await
        .unwrap();
    assert!(
        rounds.contains(opinion),
        "the earlier opinion shows: {rounds}"
    );
    browser
        .click(&format!("{card} [data-testid=review-mark-reviewed]"))
        .await;
    browser
        .click(&format!("{card} [data-testid=review-confirm-yes]"))
        .await;
    browser
        .wait_until(
            "the queue emptied",
            &"没有待审阅的周。".to_owned(),
            async |b| b.text_of("[data-testid=review-queue]").await,
        )
        .await;
    let reviewed = ana.client.reviews(&ana.store).await.unwrap();
    assert_eq!(reviewed[0].status, ReviewStatus::Reviewed);

    // The archive, searched by name in the page.
    browser.type_into("#review-q", "abc").await;
    browser.click("#review-search-submit").await;
    browser
        .wait_until(
            "the filed account",
            &"ABC公司_20240315".to_owned(),
            async |b| {
                b.text_of("[data-testid=review-archive-table] [data-testid=filed-as]")
                    .await
            },
        )
        .await;
    browser.type_into("#review-q", "没有这个客户").await;
    browser.click("#review-search-submit").await;
    browser
        .wait_until(
            "nothing found",
            &"没有符合条件的已审阅记录。".to_owned(),
            async |b| b.text_of("[data-testid=review-archive]").await,
        )
        .await;
}

/// One bad-input case: its name, the token sent (if any) and the body (if any).
type Case = (&'static str, Option<String>, Option<Vec<u8>>);

/// The review endpoints under the bad-input catalogue's cases: no token, an unknown or
/// malformed token, and bodies that are empty, cut, retyped, an array, not UTF-8 or
/// oversized each get a 4xx with a typed JSON error, and no review changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_review_endpoint_refuses_bad_input_with_a_typed_4xx_and_changes_nothing() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let mia = server.device_of("mia").await;
    let week = this_week();
    let (status, _) = post(
        &server,
        &ana,
        "/v1/reviews",
        &json!({"week": week.to_string(), "time_zone": "Asia/Shanghai"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let state = async || {
        (
            get(&server, &ana, "/v1/reviews").await,
            get(&server, &mia, "/v1/reviews/queue").await,
        )
    };
    let before = state().await;
    let submission = format!("{{\"week\":\"{week}\",\"time_zone\":\"Asia/Shanghai\"}}");
    let decision = "{\"decision\":\"returned\",\"opinion\":\"请补充\"}".to_owned();
    let endpoints: [(reqwest::Method, String, Option<String>); 5] = [
        (
            reqwest::Method::POST,
            "/v1/reviews".into(),
            Some(submission),
        ),
        (reqwest::Method::GET, "/v1/reviews".into(), None),
        (reqwest::Method::GET, "/v1/reviews/queue".into(), None),
        (reqwest::Method::GET, "/v1/reviews/archive".into(), None),
        (
            reqwest::Method::POST,
            decision_path("ana", week),
            Some(decision),
        ),
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut checked = 0;
    for (method, path, body) in &endpoints {
        let good = body.clone().map(String::into_bytes);
        let mut cases: Vec<Case> = vec![
            ("no token", None, good.clone()),
            ("unknown token", Some("ab".repeat(32)), good.clone()),
            ("malformed token", Some("not a token".into()), good.clone()),
        ];
        if let Some(body) = body {
            let token = Some(mia.token());
            let retyped = body.replace(":\"", ":[\"").replace("\",", "\"],");
            cases.extend([
                ("empty body", token.clone(), Some(Vec::new())),
                (
                    "truncated",
                    token.clone(),
                    Some(body.as_bytes()[..body.len() / 2].to_vec()),
                ),
                ("wrong types", token.clone(), Some(retyped.into_bytes())),
                ("an array", token.clone(), Some(b"[1,2,3]".to_vec())),
                (
                    "not UTF-8",
                    token.clone(),
                    Some(vec![0xff, 0xfe, b'{', b'}']),
                ),
                (
                    "oversized",
                    token.clone(),
                    Some(format!("{{\"opinion\":\"{}\"}}", "x".repeat(3 << 20)).into_bytes()),
                ),
            ]);
        }
        for (case, token, body) in cases {
            let mut request = client.request(method.clone(), format!("{}{path}", server.url()));
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let what = format!("{method} {path} ({case})");
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if case == "oversized" && e.is_request() => continue,
                Err(e) => panic!("{what}: {e}"),
            };
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(status.is_client_error(), "{what}: {status} {text}");
            let reply: outpost_protocol::ErrorReply = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{what}: not a typed error ({e}): {text}"));
            assert!(!reply.message.is_empty(), "{what}");
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} requests");
    assert_eq!(state().await, before, "bad input changed a review");
}
