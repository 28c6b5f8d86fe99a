//! The manager dashboard in a real browser: Debian's headless Chromium, driven through
//! chromedriver's W3C WebDriver HTTP API, opens `/dashboard` on a real server, logs in, and
//! shows the same figures as `GET /v1/views/pipeline` for the manager's team only; a filter
//! changes them to the filtered view's; and a rep's offline edit appears, with the rep's
//! fresher sync time, when the rep syncs, without a reload. Also: the page and its assets are
//! served with their content types and load nothing from elsewhere.
//!
//! Chromium and chromedriver come from Debian (`.ci/run` installs them); without them the
//! browser test fails rather than passes unseen.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use outpost_client::model::{Money, Stage};
use outpost_client::{AccountEdit, NewAccount, NewOpportunity};
use outpost_tests::browser::{Browser, DriverError};
use outpost_tests::{Device, PASSWORD, TestServer, http};
use serde_json::{Value, json};

/// The figures the dashboard shows of a pipeline view.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Figures {
    accounts: u64,
    opportunities: u64,
    /// Currency → total, and → weighted total, in minor units.
    total: BTreeMap<String, i64>,
    weighted: BTreeMap<String, i64>,
    /// Rep → opportunities.
    reps: BTreeMap<String, u64>,
}

/// What the page should show for a `GET /v1/views/pipeline` reply.
fn expected(view: &Value) -> Figures {
    let cells = |key: &str| view[key].as_array().unwrap().clone();
    let mut figures = Figures {
        accounts: view["accounts"].as_u64().unwrap(),
        opportunities: cells("total")
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum(),
        total: BTreeMap::new(),
        weighted: BTreeMap::new(),
        reps: BTreeMap::new(),
    };
    // The money tiles show the open pipeline (won business has its own tile).
    for cell in cells("open") {
        if let Some(currency) = cell["currency"].as_str() {
            *figures.total.entry(currency.to_owned()).or_default() +=
                cell["total_minor"].as_i64().unwrap();
            *figures.weighted.entry(currency.to_owned()).or_default() +=
                cell["weighted_minor"].as_i64().unwrap();
        }
    }
    for cell in cells("by_rep") {
        *figures
            .reps
            .entry(cell["rep"].as_str().unwrap().to_owned())
            .or_default() += cell["count"].as_u64().unwrap();
    }
    figures
}

/// The digits of a displayed count ("1,234" → 1234).
fn count(text: &str) -> Result<u64, DriverError> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .map_err(|_| DriverError(format!("not a count: {text:?}")))
}

fn minor(text: &str) -> Result<i64, DriverError> {
    text.parse()
        .map_err(|_| DriverError(format!("not minor units: {text:?}")))
}

/// The figures the page shows now.
async fn shown(browser: &Browser) -> Result<Figures, DriverError> {
    let one = async |css: &str| {
        let found = browser.find_all(css).await?;
        let element = found
            .first()
            .ok_or_else(|| DriverError(format!("no {css}")))?;
        browser.text(element).await
    };
    let amounts = async |testid: &str| {
        let mut by_currency = BTreeMap::new();
        for element in browser.find_all(&format!("[data-testid={testid}]")).await? {
            by_currency.insert(
                browser.attribute(&element, "data-currency").await?,
                minor(&browser.attribute(&element, "data-minor").await?)?,
            );
        }
        Ok::<_, DriverError>(by_currency)
    };
    let mut reps = BTreeMap::new();
    for row in browser
        .find_all("[data-testid=pipeline-reps] tbody tr")
        .await?
    {
        let cell = browser
            .find_in(&format!("/element/{}", row.0), "[data-testid=rep-count]")
            .await?;
        let cell = cell.first().ok_or_else(|| DriverError("no count".into()))?;
        reps.insert(
            browser.attribute(&row, "data-rep").await?,
            count(&browser.text(cell).await?)?,
        );
    }
    Ok(Figures {
        accounts: count(&one("[data-testid=accounts]").await?)?,
        opportunities: count(&one("[data-testid=pipeline-total-count]").await?)?,
        total: amounts("pipeline-total-value").await?,
        weighted: amounts("pipeline-weighted-value").await?,
        reps,
    })
}

/// The freshness cell of `rep`: (its sync time attribute, its text).
async fn freshness_of(browser: &Browser, rep: &str) -> Result<(String, String), DriverError> {
    let css = format!("[data-testid=freshness-table] tr[data-rep={rep}] [data-testid=last-sync]");
    let found = browser.find_all(&css).await?;
    let cell = found
        .first()
        .ok_or_else(|| DriverError(format!("no freshness for {rep}")))?;
    Ok((
        browser.attribute(cell, "data-last-sync").await?,
        browser.text(cell).await?,
    ))
}

/// A token of `login` from `POST /v1/login`, as any client gets one.
async fn token(server: &TestServer, login: &str) -> String {
    let device = format!("{:032x}", rand::random::<u128>());
    let reply: Value = http()
        .post(format!("{}/v1/login", server.url()))
        .json(&json!({ "login": login, "password": PASSWORD, "device": device, "label": "test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().expect("logged in").to_owned()
}

async fn pipeline(server: &TestServer, token: &str, query: &str) -> Value {
    let response = http()
        .get(format!("{}/v1/views/pipeline{query}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn last_sync(view: &Value, rep: &str) -> String {
    view["freshness"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rep"] == rep)
        .and_then(|f| f["last_sync"].as_str())
        .unwrap_or_else(|| panic!("{rep} has synced: {view}"))
        .to_owned()
}

fn opportunity(owner: &str, stage: Stage, minor: i64, currency: &str) -> AccountEdit {
    AccountEdit::AddOpportunity(NewOpportunity {
        name: format!("{owner} deal"),
        stage,
        probability: None,
        amount: Some(Money {
            minor,
            currency: currency.into(),
        }),
        expected_close: None,
        owner: owner.into(),
    })
}

/// A rep's accounts (name, industry, opportunities), created offline, then synced.
async fn book(device: &Device, rep: &str, accounts: &[(&str, &str, Vec<AccountEdit>)]) {
    let now = Utc::now();
    for (name, industry, opportunities) in accounts {
        let new = NewAccount {
            name: (*name).into(),
            owner: rep.into(),
            industry: Some((*industry).into()),
            ..NewAccount::default()
        };
        let id = device.store.create_account_anyway(&new, now).unwrap();
        for edit in opportunities {
            device.store.edit_account(id, edit, now).unwrap();
        }
    }
    device.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_views_and_follows_a_reps_sync() {
    let began = Instant::now();
    let server = TestServer::start().await;
    let (ana, ben, sol) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("sol").await,
    );
    book(
        &ana,
        "ana",
        &[
            (
                "Harbor Foods",
                "C14",
                vec![
                    opportunity("ana", Stage::Potential, 1_000_000, "EUR"),
                    opportunity("ana", Stage::Negotiation, 250_000, "EUR"),
                ],
            ),
            (
                "Kite Labs",
                "Information Technology",
                vec![opportunity("ana", Stage::NeedsConfirmed, 90_000, "USD")],
            ),
        ],
    )
    .await;
    book(
        &ben,
        "ben",
        &[(
            "Mill Works",
            "Manufacturing",
            vec![opportunity(
                "ben",
                Stage::SolutionAccepted,
                4_200_000,
                "EUR",
            )],
        )],
    )
    .await;
    book(
        &sol,
        "sol",
        &[(
            "Southern Sun",
            "Energy",
            vec![opportunity("sol", Stage::Negotiation, 77_700_000, "EUR")],
        )],
    )
    .await;

    let mia = token(&server, "mia").await;
    let team = pipeline(&server, &mia, "").await;
    let everyone = pipeline(&server, &token(&server, "root").await, "").await;
    assert!(expected(&everyone).reps.contains_key("sol"), "{everyone}");
    assert!(!expected(&team).reps.contains_key("sol"), "{team}");

    let browser = Browser::start().await;
    let started = began.elapsed();
    browser.goto(&format!("{}/dashboard", server.url())).await;

    // A rep logs in and is told the dashboard is not for them; then logs out.
    browser.type_into("#login-name", "ana").await;
    browser.type_into("#login-password", PASSWORD).await;
    browser.click("#login-submit").await;
    let notice = browser.find("[data-testid=notice] h2").await;
    browser
        .wait_until(
            "a rep's notice",
            &"The dashboard is for managers".to_owned(),
            async |b| b.text(&notice).await,
        )
        .await;
    browser.click("[data-testid=logout]").await;

    // The manager sees her team's pipeline, exactly as the API gives it, and nothing of sol.
    browser.type_into("#login-name", "mia").await;
    browser.type_into("#login-password", PASSWORD).await;
    browser.click("#login-submit").await;
    browser
        .wait_until("mia's team", &expected(&team), shown)
        .await;
    assert!(
        browser.find_all("[data-rep=sol]").await.unwrap().is_empty(),
        "sol is in another team:\n{}",
        browser.page_text().await
    );
    let ana_synced = last_sync(&team, "ana");
    browser
        .wait_until("ana's freshness", &ana_synced, async |b| {
            Ok(freshness_of(b, "ana").await?.0)
        })
        .await;

    // A filter: only ana's accounts, as the filtered view gives them.
    browser.type_into("#filter-rep", "ana").await;
    browser.click("#apply").await;
    let anas = pipeline(&server, &mia, "?rep=ana").await;
    assert_ne!(expected(&anas), expected(&team));
    browser
        .wait_until("filtered on ana", &expected(&anas), shown)
        .await;

    // Ana, offline, adds an opportunity and syncs; the open page shows it without a reload.
    browser
        .wait_until("the live stream", &"on".to_owned(), async |b| {
            let live = b.find_all("[data-testid=live]").await?;
            b.attribute(&live[0], "data-state").await
        })
        .await;
    browser
        .script("window.outpostTestMarker = 'no reload';")
        .await;
    let id = ana.store.accounts().unwrap()[0].id;
    ana.store
        .edit_account(
            id,
            &opportunity("ana", Stage::Negotiation, 3_300_000, "EUR"),
            Utc::now(),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    ana.sync().await;
    let after = pipeline(&server, &mia, "?rep=ana").await;
    assert_eq!(
        expected(&after).opportunities,
        expected(&anas).opportunities + 1
    );
    browser
        .wait_until("ana's sync, live", &expected(&after), shown)
        .await;
    let resynced = last_sync(&after, "ana");
    assert!(resynced > ana_synced, "{after}");
    browser
        .wait_until("ana's newer sync", &resynced, async |b| {
            Ok(freshness_of(b, "ana").await?.0)
        })
        .await;
    let (_, text) = freshness_of(&browser, "ana").await.unwrap();
    assert!(text.starts_with("last sync"), "{text}");
    assert_eq!(
        browser
            .script("return window.outpostTestMarker ?? null;")
            .await,
        "no reload",
        "the page was reloaded"
    );
    eprintln!(
        "dashboard test: setup {:.1} s, in the browser {:.1} s",
        started.as_secs_f64(),
        (began.elapsed() - started).as_secs_f64()
    );
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_by_the_server_itself() {
    let server = TestServer::start().await;
    let client = http();
    for (path, content_type) in [
        ("/dashboard", "text/html"),
        ("/dashboard/dashboard.js", "text/javascript"),
        ("/dashboard/dashboard.css", "text/css"),
    ] {
        let response = client
            .get(format!("{}{path}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let served_as = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(served_as.starts_with(content_type), "{path}: {served_as}");
        let body = response.text().await.unwrap();
        assert!(body.len() > 1000, "{path} is served whole");
        // The SVG namespace is a name, not an address anything is loaded from.
        let own = body.replace("http://www.w3.org/2000/svg", "");
        for external in ["http://", "https://", "//cdn", "@import"] {
            assert!(!own.contains(external), "{path} refers to {external}");
        }
        if path == "/dashboard" {
            assert!(body.contains(r#"src="/dashboard/dashboard.js""#));
            assert!(body.contains(r#"href="/dashboard/dashboard.css""#));
        }
    }
}

/// A day as the page writes it in Chinese (`2026年11月30日`) and in English (`Nov 30,
/// 2026`).
fn written_day(day: chrono::NaiveDate) -> (String, String) {
    use chrono::Datelike;
    (
        format!("{}年{}月{}日", day.year(), day.month(), day.day()),
        format!("{} {}, {}", day.format("%b"), day.day(), day.year()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_speaks_chinese_and_english_and_remembers_the_choice() {
    use chrono::{Duration as Span, Timelike};
    let server = TestServer::start().await;
    server
        .storage()
        .set_display_name("ana", "张伟")
        .expect("rename ana");
    server
        .storage()
        .set_team_display_name("field", "华东销售部")
        .expect("rename the team");
    // A lead not contacted since it came in: due 24 h after, at the latest 12:00 UTC at
    // least a day ago, so it is overdue by exactly one day, on the same date from UTC-11
    // to UTC+11 (whichever zone the page counts in).
    let now = Utc::now();
    let noon = now.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let due = if now.hour() >= 12 {
        noon - Span::days(1)
    } else {
        noon - Span::days(2)
    };
    let ana = server.device_of("ana").await;
    let id = ana
        .store
        .create_account_anyway(
            &NewAccount {
                name: "深圳市华强电子科技有限公司".into(),
                owner: "ana".into(),
                kind: outpost_client::model::Kind::Lead,
                industry: Some("C".into()),
                ..NewAccount::default()
            },
            due - Span::days(1),
        )
        .unwrap();
    ana.store
        .edit_account(
            id,
            &opportunity("ana", Stage::Negotiation, 50_000_000, "CNY"),
            now,
        )
        .unwrap();
    ana.sync().await;

    let mia = token(&server, "mia").await;
    let team = pipeline(&server, &mia, "").await;
    assert_eq!(expected(&team).total["CNY"], 50_000_000, "{team}");
    let follow_ups: Value = http()
        .get(format!("{}/v1/views/follow-ups", server.url()))
        .bearer_auth(&mia)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let overdue = &follow_ups["overdue"][0];
    assert_eq!(overdue["rep"], "ana", "{follow_ups}");
    assert_eq!(overdue["display_name"], "张伟");
    let next_due: chrono::DateTime<Utc> = overdue["next_due"].as_str().unwrap().parse().unwrap();
    assert_eq!(next_due, due);
    let (due_zh, due_en) = written_day(due.date_naive());

    let browser = Browser::start_in("zh-CN", "Asia/Shanghai").await;
    browser.goto(&format!("{}/dashboard", server.url())).await;
    // The browser's language decides, before any choice: Chinese, and the page says so
    // (date pickers follow `<html lang>`).
    let heading = browser.find("#login-panel h2").await;
    browser
        .wait_until(
            "the login form in Chinese",
            &"登录".to_owned(),
            async |b| b.text(&heading).await,
        )
        .await;
    assert_eq!(
        browser
            .script("return [document.documentElement.lang, navigator.languages[0]];")
            .await,
        json!(["zh-CN", "zh-CN"])
    );
    assert_eq!(browser.text_of("#lang-toggle").await.unwrap(), "English");
    browser.type_into("#login-name", "mia").await;
    browser.type_into("#login-password", PASSWORD).await;
    browser.click("#login-submit").await;
    browser
        .wait_until("the figures of the API", &expected(&team), shown)
        .await;
    // Labels, headings and table headers in Chinese; stage and industry labels from the
    // server's vocabulary.
    for (css, text) in [
        ("[data-i18n='tile.accounts']", "客户数"),
        ("[data-i18n='panel.pipeline']", "各阶段商机"),
        ("[data-i18n='filter.from']", "创建日期从"),
        ("[data-testid=logout]", "退出登录"),
        ("[data-testid=pipeline-reps] thead th", "销售代表"),
        (
            "[data-testid=pipeline-chart] g[data-stage=negotiation] text",
            "商务谈判",
        ),
        ("#industry-chart .pie-legend li button", "制造业"),
    ] {
        browser
            .wait_until(css, &text.to_owned(), async |b| b.text_of(css).await)
            .await;
    }
    // The rep by her display name, the login kept as the row's key.
    for css in [
        "[data-testid=pipeline-reps] tr[data-rep=ana] [data-testid=rep-name]",
        "[data-testid=freshness-table] tr[data-rep=ana] [data-testid=rep-name]",
        "[data-testid=overdue] tr[data-rep=ana] td:nth-child(2)",
    ] {
        // Waited for, not read once: a live redraw may replace the row under the query.
        browser
            .wait_until(css, &"张伟".to_owned(), async |b| b.text_of(css).await)
            .await;
    }
    assert!(
        browser.text_of("#user").await.unwrap().ends_with("· 经理"),
        "{}",
        browser.page_text().await
    );
    // Money in yuan, 500,000 as 50万; dates and "overdue by" in Chinese.
    assert_eq!(
        browser
            .text_of("[data-testid=pipeline-total-value]")
            .await
            .unwrap(),
        "¥50万"
    );
    assert_eq!(browser.text_of("[data-testid=due]").await.unwrap(), due_zh);
    assert_eq!(
        browser.text_of("[data-testid=overdue-by]").await.unwrap(),
        "1 天"
    );
    assert_eq!(
        browser.text_of("[data-testid=accounts]").await.unwrap(),
        "1"
    );
    let shot = "/tmp/outpost-dashboard-zh-CN.png";
    browser.screenshot(shot).await;
    eprintln!("screenshot of the Chinese dashboard: {shot}");

    // Switched to English: every label, the money in CN¥, English plurals and dates.
    browser.click("#lang-toggle").await;
    let english = async |b: &Browser| {
        Ok(vec![
            b.script("return document.documentElement.lang;").await,
            // The tiles' labels are upper-cased by the stylesheet: read the text itself.
            b.script("return document.querySelector(\"[data-i18n='tile.accounts']\").textContent;")
                .await,
            json!(b.text_of("[data-i18n='panel.pipeline']").await?),
            json!(b.text_of("[data-testid=pipeline-reps] thead th").await?),
            json!(
                b.text_of("[data-testid=pipeline-chart] g[data-stage=negotiation] text")
                    .await?
            ),
            json!(b.text_of("[data-testid=pipeline-total-value]").await?),
            json!(b.text_of("[data-testid=due]").await?),
            json!(b.text_of("[data-testid=overdue-by]").await?),
            json!(
                b.text_of("[data-testid=freshness-table] tr[data-rep=ana] [data-testid=rep-name]")
                    .await?
            ),
            json!(b.text_of("#lang-toggle").await?),
        ])
    };
    let want = vec![
        json!("en"),
        json!("Accounts"),
        json!("Pipeline by stage"),
        json!("Rep"),
        json!("Negotiation"),
        json!("CN¥500,000.00"),
        json!(due_en),
        json!("1 day"),
        json!("张伟"),
        json!("中文"),
    ];
    browser
        .wait_until("the page in English", &want, english)
        .await;
    browser
        .wait_until("the figures, in English", &expected(&team), shown)
        .await;
    let shot = "/tmp/outpost-dashboard-en.png";
    browser.screenshot(shot).await;
    eprintln!("screenshot of the English dashboard: {shot}");

    // Remembered: a reload of the page (same session) comes back in English.
    browser.goto(&format!("{}/dashboard", server.url())).await;
    browser
        .wait_until("English after a reload", &want, english)
        .await;
    assert_eq!(
        browser
            .script("return localStorage.getItem('outpost.dashboard.lang');")
            .await,
        "en"
    );
}

#[tokio::test]
async fn the_vocabulary_serves_every_label_in_both_languages() {
    use outpost_client::model::{Lang, Source};
    let server = TestServer::start().await;
    // No token needed: labels only.
    let vocabulary: Value = http()
        .get(format!("{}/v1/vocabulary", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let label = |kind: &str, code: &str| {
        vocabulary[kind]
            .as_array()
            .unwrap_or_else(|| panic!("no {kind} in {vocabulary}"))
            .iter()
            .find(|term| term["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {code}"))
    };
    assert_eq!(
        label("stage", "negotiation"),
        json!({"code": "negotiation", "zh": "商务谈判", "en": "negotiation"})
    );
    assert_eq!(label("method", "messaging")["zh"], "微信");
    assert_eq!(label("status", "intent")["zh"], "意向客户");
    assert_eq!(label("level", "key")["zh"], "重点客户");
    assert_eq!(
        label("industry", "I")["zh"],
        "信息传输、软件和信息技术服务业"
    );
    assert_eq!(label("industry", "C")["en"], "Manufacturing");
    assert_eq!(vocabulary["industry"].as_array().unwrap().len(), 20);
    assert_eq!(
        vocabulary["source"].as_array().unwrap().len(),
        Source::KNOWN.len()
    );
    for (term, source) in vocabulary["source"]
        .as_array()
        .unwrap()
        .iter()
        .zip(Source::KNOWN)
    {
        assert_eq!(term["code"], source.as_str());
        assert_eq!(term["zh"], source.label(Lang::Zh).as_ref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_panels_show_open_and_won_apart_stages_reached_hygiene_and_the_archive() {
    use outpost_client::model::{Contact, Day, Deal, Payment, Status};
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let now = Utc::now();
    let phone = |p: &str| {
        Some(Contact {
            name: "王总".into(),
            phone: Some(p.into()),
            ..Contact::default()
        })
    };
    let create = |name: &str, contact: Option<Contact>| {
        let new = NewAccount {
            name: name.into(),
            owner: "ana".into(),
            contact,
            ..NewAccount::default()
        };
        ana.store.create_account_anyway(&new, now).unwrap()
    };
    let cny = |yuan: i64| Money {
        minor: yuan * 100,
        currency: "CNY".into(),
    };
    // Won by a deal, with one more opportunity still open.
    let harbor = create("深圳市华强电子科技有限公司", phone("138 0013 8000"));
    let add = |stage: Stage, yuan: i64| {
        AccountEdit::AddOpportunity(NewOpportunity {
            name: format!("{stage}"),
            stage,
            probability: None,
            amount: Some(cny(yuan)),
            expected_close: None,
            owner: "ana".into(),
        })
    };
    let added = ana
        .store
        .edit_account_all(
            harbor,
            &[
                add(Stage::Negotiation, 100_000),
                add(Stage::Negotiation, 500_000),
            ],
            now,
        )
        .unwrap();
    let signed = Day(now.date_naive());
    let win = [
        AccountEdit::MoveOpportunity {
            id: added[1].clone().unwrap(),
            stage: Stage::Won,
            probability: None,
            amount: Some(cny(500_000)),
            signed_on: Some(signed),
            lost_reason: None,
        },
        AccountEdit::RecordDeal(Deal {
            closed_on: signed,
            amount: cny(500_000),
            products: "生产线".into(),
            payment: Payment::Instalments,
            notes: None,
        }),
    ];
    ana.store.edit_account_all(harbor, &win, now).unwrap();
    // Reached intent, then lost, then archived.
    let lost = create("广州市白云五金有限公司", phone("138 0013 8001"));
    let intent = AccountEdit::SetStatus(Status::Intent);
    ana.store.edit_account(lost, &intent, now).unwrap();
    let reason = AccountEdit::MarkLost {
        reason: "价格过高".into(),
    };
    ana.store.edit_account(lost, &reason, now).unwrap();
    // No way to reach anyone there.
    let dead = create("无名贸易有限公司", None);
    // Lost, and no way to reach anyone: the clean-up archives it.
    let gone = create("杭州市停业商行", None);
    let closed = AccountEdit::MarkLost {
        reason: "已停业".into(),
    };
    ana.store.edit_account(gone, &closed, now).unwrap();
    ana.sync().await;
    let mia = token(&server, "mia").await;
    let archived = http()
        .post(format!("{}/v1/accounts/{lost}/archive", server.url()))
        .bearer_auth(&mia)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(archived.status().is_success());

    for (lang, hygiene_title, open_label) in [
        ("zh-CN", "数据清理", "打开"),
        ("en-US", "Data hygiene", "Open"),
    ] {
        let browser = Browser::start_in(lang, "Asia/Shanghai").await;
        browser.goto(&format!("{}/dashboard", server.url())).await;
        browser.type_into("#login-name", "mia").await;
        browser.type_into("#login-password", PASSWORD).await;
        browser.click("#login-submit").await;
        // Open pipeline and won business in their own tiles.
        browser
            .wait_until("the won tile", &"50000000".to_owned(), async |b| {
                b.attribute_of("[data-testid=pipeline-won-value]", "data-minor")
                    .await
            })
            .await;
        assert_eq!(
            browser
                .attribute_of("[data-testid=pipeline-total-value]", "data-minor")
                .await
                .unwrap(),
            "10000000"
        );
        // The funnel counts the archived account lost after intent as having reached it.
        let row = "[data-testid=funnel-by-rep] tr[data-rep=ana]";
        let mut cells = Vec::new();
        for cell in ["intent", "won", "lost", "dormant"] {
            cells.push(
                browser
                    .text_of(&format!("{row} [data-testid=funnel-row-{cell}]"))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(cells, ["2", "1", "2", "0"]);
        // Hygiene: the dead record, with its action and account id.
        assert_eq!(
            browser.text_of("[data-panel=hygiene] h2").await.unwrap(),
            hygiene_title
        );
        let action = format!(
            "[data-testid=hygiene-table] tr[data-account=\"{dead}\"][data-problem=no_contact_info] .action"
        );
        browser
            .wait_until(
                "the dead record's action",
                &open_label.to_owned(),
                async |b| b.text_of(&action).await,
            )
            .await;
        assert_eq!(
            browser.attribute_of(&action, "data-action").await.unwrap(),
            "open"
        );
        // The archive lists the archived account with its reason.
        let archived = browser
            .text_of(&format!(
                "[data-testid=archive-table] tr[data-account=\"{lost}\"]"
            ))
            .await
            .unwrap();
        assert!(archived.contains("价格过高"), "{archived}");
        // A lost account without contact information is archived from its hygiene row
        // (once: the first language's page does it, the second finds it in the archive).
        if lang == "zh-CN" {
            browser
                .click(&format!(
                    "[data-testid=hygiene-table] tr[data-account=\"{gone}\"] .action"
                ))
                .await;
            browser
                .wait_until("what archiving will do", &true, async |b| {
                    Ok(b.text_of("[data-testid=action-affected]")
                        .await?
                        .contains("杭州市停业商行"))
                })
                .await;
            browser.click("#action-confirm").await;
            browser
                .wait_until(
                    "the archive's result",
                    &"已归档。".to_owned(),
                    async |b| b.text_of("#action-result").await,
                )
                .await;
            browser.click("#action-cancel").await;
            let record: Value = http()
                .get(format!("{}/v1/accounts/{gone}", server.url()))
                .bearer_auth(&mia)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(record["record"]["archived"]["by"], "mia", "{record}");
        } else {
            browser
                .wait_until("the archived account in the archive", &true, async |b| {
                    Ok(b.find_all(&format!(
                        "[data-testid=archive-table] tr[data-account=\"{gone}\"]"
                    ))
                    .await?
                    .len()
                        == 1)
                })
                .await;
        }
        // The hygiene row's action opens the account's page.
        browser.click(&action).await;
        browser
            .wait_until(
                "the dead record's page",
                &"无名贸易有限公司".to_owned(),
                async |b| b.text_of("[data-testid=account-name]").await,
            )
            .await;
    }
}
