//! The dashboard's actions in real headless Chromium, in Chinese and in English: a manager
//! comments on an account from its page, merges a duplicate picked side by side, and
//! off-boards a departing rep; an admin adds a user. Each result is checked through the API
//! and on a rep's device after it syncs.

use std::time::{Duration, Instant};

use chrono::Utc;
use outpost_client::model::Contact;
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_protocol::DocId;
use outpost_tests::browser::{Browser, PATIENCE};
use outpost_tests::{Device, PASSWORD, TestServer};
use serde_json::Value;

/// What the page says when each action is done, in one language.
struct Words {
    lang: &'static str,
    /// Whether the manager comments on a follow-up (else on the whole account).
    on_follow_up: bool,
    comment_done: &'static str,
    merge_done: &'static str,
    offboard_done: &'static str,
    user_done: &'static str,
}

const ZH: Words = Words {
    lang: "zh-CN",
    on_follow_up: true,
    comment_done: "评语已保存，销售代表下次同步时会看到。",
    merge_done: "已并入 Acme Tools Ltd。",
    offboard_done: "已完成：1 个客户交给 dee；用户已停用；吊销 1 台设备。",
    user_done: "已添加用户 gus。",
};

const EN: Words = Words {
    lang: "en-US",
    on_follow_up: false,
    comment_done: "Comment saved; the rep sees it at their next sync.",
    merge_done: "Merged into Acme Tools Ltd.",
    offboard_done: "Done: 1 account to dee; user disabled; 1 device revoked.",
    user_done: "User gus added.",
};

/// An account of the device's rep with one contact and one follow-up, synced; its id.
async fn account(device: &Device, rep: &str, name: &str, contact: Contact) -> DocId {
    let now = Utc::now();
    let new = NewAccount {
        name: name.into(),
        owner: rep.into(),
        contact: Some(contact),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, now).unwrap();
    let visit = NewFollowUp::new(
        now - chrono::Duration::hours(1),
        ContactMethod::Visit,
        &format!("{rep} visited {name}"),
    );
    device
        .store
        .edit_account(id, &AccountEdit::LogFollowUp(visit), now)
        .unwrap();
    device.sync().await;
    id
}

async fn record(server: &TestServer, device: &Device, id: DocId) -> Value {
    let (status, body) = server.get_json(device, &format!("/v1/accounts/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["record"].clone()
}

async fn log_in(browser: &Browser, login: &str, password: &str) {
    browser.type_into("#login-name", login).await;
    browser.type_into("#login-password", password).await;
    browser.click("#login-submit").await;
}

/// Goes through the open dialog: `Next` if it asks for input, waits for the list of what it
/// will do (which must contain `affected`), confirms, and waits for `done`.
async fn confirm(browser: &Browser, form: bool, affected: &str, done: &str) {
    if form {
        browser.click("#action-confirm").await;
    }
    browser
        .wait_until("what the action will do", &true, async |b| {
            Ok(b.text_of("[data-testid=action-affected]")
                .await?
                .contains(affected))
        })
        .await;
    browser.click("#action-confirm").await;
    browser
        .wait_until("the action's result", &done.to_owned(), async |b| {
            b.text_of("#action-result").await
        })
        .await;
    browser.click("#action-cancel").await;
}

/// Sets a `<select>` (or input) by script, as picking an option does, once it has `value`.
async fn choose(browser: &Browser, css: &str, value: &str) {
    let started = Instant::now();
    let script = format!(
        "const e = document.querySelector({css:?}); \
         if (!e || ![...(e.options ?? [])].some((o) => o.value === {value:?})) return false; \
         e.value = {value:?}; e.dispatchEvent(new Event('change')); return true;"
    );
    while browser.script(&script).await != true {
        assert!(
            started.elapsed() < PATIENCE,
            "no option {value} in {css}:\n{}",
            browser.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_manager_and_an_admin_act_in_the_dashboard(words: &Words) {
    let server = TestServer::start().await;
    let (ana, ben, cai, dee) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("cai").await,
        server.device_of("dee").await,
    );
    let li_na = Contact {
        name: "Li Na".into(),
        phone: Some("138 0013 8000".into()),
        ..Contact::default()
    };
    let survivor = account(&ana, "ana", "Acme Tools Ltd", li_na.clone()).await;
    let duplicate = account(
        &ben,
        "ben",
        "ACME tools",
        Contact {
            name: "li na".into(),
            phone: Some("+86 13800138000".into()),
            email: Some("li.na@acme.example".into()),
            ..Contact::default()
        },
    )
    .await;
    let departing = account(&cai, "cai", "Cedar Mills", li_na).await;

    let browser = Browser::start_in(words.lang, "Asia/Shanghai").await;
    browser.goto(&format!("{}/dashboard", server.url())).await;
    // Everything the actions draw stays within the page's Content-Security-Policy.
    browser
        .script(
            "window.violations = []; document.addEventListener('securitypolicyviolation', \
             (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));",
        )
        .await;
    log_in(&browser, "mia", PASSWORD).await;

    // A comment, from the account's page (reached from the duplicates table).
    browser
        .click(&format!("#duplicates a[data-account=\"{survivor}\"]"))
        .await;
    browser
        .wait_until(
            "the account page",
            &"Acme Tools Ltd".to_owned(),
            async |b| b.text_of("[data-testid=account-name]").await,
        )
        .await;
    browser.click("[data-testid=comment]").await;
    let text = "请本周内确认预算 — confirm the budget this week";
    browser.type_into("#comment-text", text).await;
    // In one language on the account's follow-up, in the other on the whole account.
    let follow_up = if words.on_follow_up {
        let before = record(&server, &ana, survivor).await;
        let id = before["follow_ups"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        choose(&browser, "#comment-about", &id).await;
        Value::String(id)
    } else {
        Value::Null
    };
    confirm(&browser, true, text, words.comment_done).await;
    browser
        .wait_until("the comment on the page", &true, async |b| {
            Ok(b.text_of("[data-testid=account-comments]")
                .await?
                .contains(text))
        })
        .await;
    let comments = record(&server, &ana, survivor).await["comments"].clone();
    let written: Vec<&Value> = comments.as_object().unwrap().values().collect();
    assert_eq!(written.len(), 1, "{comments}");
    assert_eq!(written[0]["text"], text);
    assert_eq!(written[0]["author"], "mia");
    assert_eq!(written[0]["follow_up"], follow_up);
    ana.sync().await;
    let on_device = ana.store.account(survivor).unwrap().record;
    assert_eq!(
        on_device
            .comments
            .values()
            .map(|c| (c.text.as_str(), c.follow_up.clone()))
            .collect::<Vec<_>>(),
        [(text, follow_up.as_str().map(str::to_owned))]
    );

    // The duplicates side by side; ana's is kept.
    browser.click("#account-back").await;
    browser
        .click("#duplicates tr[data-key=\"name:acmetools\"] [data-testid=merge]")
        .await;
    browser
        .click(&format!(
            ".candidate[data-account=\"{survivor}\"] input[type=radio]"
        ))
        .await;
    confirm(&browser, true, "ACME tools", words.merge_done).await;
    let merged = record(&server, &ben, duplicate).await;
    assert_eq!(merged["merged_into"], survivor.to_string());
    let kept = record(&server, &ana, survivor).await;
    let contacts: Vec<&Value> = kept["contacts"].as_object().unwrap().values().collect();
    assert_eq!(contacts.len(), 1, "the same person, once: {contacts:?}");
    assert_eq!(contacts[0]["email"], "li.na@acme.example");
    ana.sync().await;
    let on_device = ana.store.account(survivor).unwrap().record;
    assert_eq!(on_device.contacts.len(), 1);
    assert_eq!(on_device.follow_ups.len(), 2, "ben's visit came along");
    ben.sync().await;
    assert_eq!(
        ben.store.account(duplicate).unwrap().record.merged_into,
        Some(survivor.to_string())
    );

    // The board redraws without the merged pair (so nothing moves under the next click).
    browser
        .wait_until("the duplicate merged away", &0, async |b| {
            let css = format!("#duplicates li[data-account=\"{duplicate}\"]");
            Ok(b.find_all(&css).await?.len())
        })
        .await;

    // Cai leaves: the whole book to dee, cai disabled, the device revoked.
    browser
        .click("#people tr[data-rep=cai] [data-testid=offboard]")
        .await;
    choose(&browser, "#offboard-to", "dee").await;
    confirm(&browser, true, "Cedar Mills", words.offboard_done).await;
    browser
        .find("#people tr[data-rep=cai] [data-testid=disabled]")
        .await;
    assert_eq!(record(&server, &dee, departing).await["owner"], "dee");
    let root = server.device().await;
    let (_, users) = server.get_json(&root, "/v1/admin/users").await;
    let user = |login: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == login)
            .cloned()
    };
    assert_eq!(user("cai").unwrap()["disabled"], true);
    assert!(cai.try_sync().await.is_err(), "cai's device is refused");
    dee.sync().await;
    assert_eq!(
        dee.store.account(departing).unwrap().record.owner,
        "dee",
        "dee's device has the book"
    );

    // The admin adds a rep to mia's team, who then logs in and syncs on a device.
    browser.click("[data-testid=logout]").await;
    log_in(&browser, "root", PASSWORD).await;
    browser.click("#admin-link").await;
    let password = "lantern-orchard-57-quiet";
    browser.type_into("#new-login", "gus").await;
    browser.type_into("#new-display-name", "顾晓").await;
    browser.type_into("#new-password", password).await;
    choose(&browser, "#new-role", "rep").await;
    choose(&browser, "#new-team", "field").await;
    browser.click("#add-user-submit").await;
    confirm(&browser, false, "gus", words.user_done).await;
    browser
        .wait_until("the new user in the table", &true, async |b| {
            Ok(b.text_of("#admin-users").await?.contains("顾晓"))
        })
        .await;
    let (_, users) = server.get_json(&root, "/v1/admin/users").await;
    let gus = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "gus")
        .cloned()
        .expect("gus was added");
    assert_eq!(gus["display_name"], "顾晓");
    assert_eq!(gus["role"], "rep");
    assert_eq!(gus["team"], "field");
    let device = Device::new(&server.url());
    device
        .client
        .login(&device.store, "gus", password, "gus's phone")
        .await
        .expect("gus logs in");
    device.sync().await;
    let (status, teams) = server
        .get_json(&server.device_of("mia").await, "/v1/admin/teams")
        .await;
    assert_eq!(status, 200);
    assert!(
        teams[0]["members"]
            .as_array()
            .unwrap()
            .contains(&"gus".into()),
        "{teams}"
    );
    assert_eq!(
        browser.script("return window.violations;").await,
        serde_json::json!([]),
        "CSP violations"
    );
    drop(browser);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_comments_merges_and_offboards_and_an_admin_adds_a_user_in_chinese() {
    a_manager_and_an_admin_act_in_the_dashboard(&ZH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_comments_merges_and_offboards_and_an_admin_adds_a_user_in_english() {
    a_manager_and_an_admin_act_in_the_dashboard(&EN).await;
}

/// The text of the account page's section `testid` contains `want`, soon.
async fn section_shows(browser: &Browser, testid: &str, want: &str, yes: bool) {
    browser
        .wait_until(&format!("{want} in {testid}"), &yes, async |b| {
            Ok(b.text_of(&format!("[data-testid={testid}]"))
                .await?
                .contains(want))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_shows_the_record_and_its_history_and_shares_archives_and_hands_over() {
    let server = TestServer::start().await;
    server
        .storage()
        .set_display_name("ana", "张伟")
        .expect("rename ana");
    let (ana, ben, eve) = (
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("eve").await,
    );
    let wang = Contact {
        name: "王总".into(),
        phone: Some("139 1234 5678".into()),
        ..Contact::default()
    };
    let id = account(&ana, "ana", "莲花贸易有限公司", wang).await;
    ana.store
        .edit_account(
            id,
            &AccountEdit::MarkLost {
                reason: "价格太高".into(),
            },
            Utc::now(),
        )
        .unwrap();
    ana.sync().await;

    let browser = Browser::start_in("zh-CN", "Asia/Shanghai").await;
    browser.goto(&format!("{}/dashboard", server.url())).await;
    log_in(&browser, "mia", PASSWORD).await;
    browser.find("[data-testid=people-table]").await;
    browser
        .goto(&format!("{}/dashboard#account={id}", server.url()))
        .await;
    browser
        .wait_until(
            "the account page",
            &"莲花贸易有限公司".to_owned(),
            async |b| b.text_of("[data-testid=account-name]").await,
        )
        .await;
    section_shows(&browser, "account-profile", "价格太高", true).await;
    section_shows(&browser, "account-contacts", "139 1234 5678", true).await;
    section_shows(&browser, "account-follow-ups", "ana visited", true).await;
    // The history names the rep by display name, and her device by its label.
    section_shows(&browser, "account-history", "张伟", true).await;
    section_shows(&browser, "account-history", "test device", true).await;

    // A follow-up the rep logs and syncs appears on the open page, through the live stream.
    browser
        .wait_until("the live stream", &"on".to_owned(), async |b| {
            let live = b.find_all("[data-testid=live]").await?;
            b.attribute(&live[0], "data-state").await
        })
        .await;
    let call = NewFollowUp::new(Utc::now(), ContactMethod::Phone, "电话回访：再谈价格");
    ana.store
        .edit_account(id, &AccountEdit::LogFollowUp(call), Utc::now())
        .unwrap();
    ana.sync().await;
    section_shows(&browser, "account-follow-ups", "电话回访：再谈价格", true).await;

    // Shared with eve for writing, then no longer.
    browser.click("[data-testid=share]").await;
    choose(&browser, "#share-with", "eve").await;
    choose(&browser, "#share-write", "true").await;
    confirm(&browser, true, "eve", "共享已更新。").await;
    section_shows(&browser, "account-shares", "eve", true).await;
    let shares_path = format!("/v1/accounts/{id}/shares");
    let (_, shares) = server.get_json(&ana, &shares_path).await;
    assert_eq!(shares[0]["login"], "eve");
    assert_eq!(shares[0]["write"], true);
    eve.sync().await;
    assert!(
        eve.store.account(id).is_ok(),
        "eve's device has the account"
    );
    browser
        .click("[data-testid=account-shares] tr[data-login=eve] button")
        .await;
    confirm(&browser, false, "eve", "共享已更新。").await;
    section_shows(&browser, "account-shares", "eve", false).await;
    let (_, shares) = server.get_json(&ana, &shares_path).await;
    assert_eq!(shares, serde_json::json!([]));
    eve.sync().await;
    assert!(eve.store.account(id).is_err(), "gone from eve's device");

    // Archived, then restored.
    browser.click("[data-testid=archive-one]").await;
    confirm(&browser, false, "莲花贸易有限公司", "已归档。").await;
    browser.find("[data-testid=account-archived]").await;
    assert_eq!(record(&server, &ana, id).await["archived"]["by"], "mia");
    ana.sync().await;
    assert!(ana.store.account(id).unwrap().record.archived.is_some());
    browser.click("[data-testid=restore]").await;
    confirm(&browser, false, "莲花贸易有限公司", "已恢复。").await;
    browser.find("[data-testid=archive-one]").await;
    assert_eq!(record(&server, &ana, id).await["archived"], Value::Null);
    ana.sync().await;
    assert!(ana.store.account(id).unwrap().record.archived.is_none());

    // Archived by someone else while the dialog waits for the confirmation: the server's
    // refusal is shown, in the page's language with the server's own words.
    browser.click("[data-testid=archive-one]").await;
    browser.find("[data-testid=action-affected]").await;
    let mia = server.device_of("mia").await;
    let response = outpost_tests::http()
        .post(format!("{}/v1/accounts/{id}/archive", server.url()))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    browser.click("#action-confirm").await;
    browser
        .wait_until(
            "the refusal",
            &"操作未完成：服务器拒绝了此操作（服务器：莲花贸易有限公司 is archived already）"
                .to_owned(),
            async |b| b.text_of("#action-result").await,
        )
        .await;
    browser.click("#action-cancel").await;

    // Handed over to ben.
    browser.click("[data-testid=handover-one]").await;
    choose(&browser, "#handover-one-to", "ben").await;
    confirm(
        &browser,
        true,
        "莲花贸易有限公司",
        "已把 1 个客户交给 ben。",
    )
    .await;
    assert_eq!(record(&server, &ben, id).await["owner"], "ben");
    ben.sync().await;
    assert_eq!(ben.store.account(id).unwrap().record.owner, "ben");
    section_shows(&browser, "account-history", "服务器（代经理操作）", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_pages_reset_a_password_lead_a_team_revoke_a_device_and_take_a_backup() {
    let server = TestServer::start().await;
    let fay = server.device_of("fay").await;
    let root = server.device().await;
    let browser = Browser::start_in("en-US", "UTC").await;
    browser.goto(&format!("{}/dashboard", server.url())).await;
    log_in(&browser, "root", PASSWORD).await;
    browser.click("#admin-link").await;

    // Fay forgot her password.
    browser
        .click("#admin-users tr[data-login=fay] [data-testid=reset-password-button]")
        .await;
    let password = "willow-harbour-83-amber";
    browser.type_into("#reset-password", password).await;
    confirm(&browser, true, "fay", "Password reset.").await;
    let phone = Device::new(&server.url());
    phone
        .client
        .login(&phone.store, "fay", password, "fay's new phone")
        .await
        .expect("fay logs in with the new password");
    phone.sync().await;

    // max also leads the field team.
    choose(&browser, "#lead-field", "max").await;
    browser
        .click("#admin-teams tr[data-team=field] [data-testid=add-manager]")
        .await;
    confirm(&browser, false, "max", "Team managers updated.").await;
    let (_, teams) = server.get_json(&root, "/v1/admin/teams").await;
    let field = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "field")
        .unwrap();
    assert!(
        field["managers"]
            .as_array()
            .unwrap()
            .contains(&"max".into()),
        "{field}"
    );
    let max = server.device_of("max").await;
    let (status, _) = server.get_json(&max, "/v1/views/pipeline?team=field").await;
    assert_eq!(status, 200);

    // Fay's old device is revoked: it is refused at its next sync.
    browser
        .click(&format!(
            "#admin-devices tr[data-device=\"{}\"] button",
            fay.store.device()
        ))
        .await;
    confirm(&browser, false, "fay", "Device revoked.").await;
    assert!(
        fay.try_sync().await.is_err(),
        "the revoked device is refused"
    );
    phone.sync().await;

    // A backup now, listed with its size.
    browser.click("#backup-now").await;
    browser
        .wait_until("the backup plan", &true, async |b| {
            Ok(b.text_of("[data-testid=action-affected]")
                .await?
                .contains("backup"))
        })
        .await;
    browser.click("#action-confirm").await;
    browser
        .wait_until("the backup", &true, async |b| {
            Ok(b.text_of("#action-result")
                .await?
                .starts_with("Backup outpost-"))
        })
        .await;
    browser.click("#action-cancel").await;
    let (_, list) = server.get_json(&root, "/v1/admin/backups").await;
    let file = list[0]["file"].as_str().expect("one backup").to_owned();
    browser
        .wait_until("the backup listed", &true, async |b| {
            Ok(b.text_of("[data-testid=backups-table]")
                .await?
                .contains(&file))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_of_the_page_is_written_in_both_languages() {
    let server = TestServer::start().await;
    let browser = Browser::start_in("zh-CN", "UTC").await;
    browser.goto(&format!("{}/dashboard", server.url())).await;
    browser.find("#login-form").await;
    let missing = browser
        .script(
            "const zh = new Set(Object.keys(MESSAGES.zh)), en = new Set(Object.keys(MESSAGES.en)); \
             const used = [...document.querySelectorAll('[data-i18n]')].map((e) => e.dataset.i18n); \
             return { zh: [...en, ...used].filter((k) => !zh.has(k)), \
                      en: [...zh, ...used].filter((k) => !en.has(k)) };",
        )
        .await;
    assert_eq!(missing, serde_json::json!({ "zh": [], "en": [] }));
}
