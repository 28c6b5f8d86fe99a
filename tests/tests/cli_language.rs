//! The `outpost` CLI speaks the rep's language, through the real binary and a real server:
//! the same week of work read with `LANG=zh_CN.UTF-8` shows Chinese headers, labels,
//! enumeration labels and errors, and with `LANG=en_US.UTF-8` the English ones (JSON keeps
//! the codes either way); stored text holding terminal control sequences (an account named
//! `ESC ] 0;pwned BEL`, `ESC [2J`, bidi overrides) prints escaped in `list`, `show` and
//! `search`, with tables aligned on what the terminal shows.

use chrono::{TimeDelta, Utc};
use chrono_tz::Tz;
use outpost_client::model::Contact;
use outpost_client::{AccountEdit, NewAccount, Store, SyncSession};
use outpost_protocol::{DocUpdate, Head, SyncReply, UpdateAction};
use outpost_tests::TestServer;
use outpost_tests::cli::{CHINESE, ENGLISH, Rep};

/// What a week of work printed, command by command.
struct Week {
    id: String,
    logged: String,
    moved: String,
    status: String,
    synced: String,
    list: String,
    show: String,
    search: String,
    today: String,
    sync_status: String,
    conflicts: String,
    empty_owner: String,
    unknown_account: String,
}

/// A time `ago` before now, typed as the CLI reads it (in UTC, as the rep runs `--tz UTC`).
fn typed_ago(ago: TimeDelta) -> String {
    (Utc::now() - ago).format("%Y-%m-%d %H:%M").to_string()
}

/// One rep's week, every command run in `rep`'s locale: a lead created, a visit logged late,
/// a decision maker added, an opportunity moved to negotiation, a call planned for two days
/// ago (so overdue), the lead taken into follow-up, a sync; then the reads.
async fn week(rep: &Rep, owner: &str) -> Week {
    let rep = rep.in_zone(Tz::UTC);
    let id = rep
        .create("华强电子", owner, &["--lead", "--priority", "a"])
        .await;
    let logged = rep
        .check(&[
            "log",
            &id,
            "--method",
            "visit",
            "--attitude",
            "positive",
            "--at",
            &typed_ago(TimeDelta::days(3)),
            "拜访王总，确认需求",
        ])
        .await;
    rep.check(&[
        "contact",
        "add",
        &id,
        "--name",
        "王总",
        "--role",
        "decision_maker",
        "--phone",
        "13800138000",
    ])
    .await;
    let opportunity = rep
        .check(&[
            "opportunity",
            "add",
            &id,
            "--name",
            "叉车项目",
            "--stage",
            "needs_confirmed",
        ])
        .await
        .trim()
        .to_owned();
    let moved = rep.check(&["move", &id, &opportunity, "negotiation"]).await;
    rep.check(&[
        "plan",
        &id,
        "--due",
        &typed_ago(TimeDelta::days(2) + TimeDelta::hours(1)),
        "--method",
        "phone",
        "回访",
    ])
    .await;
    let status = rep.check(&["status", &id, "following"]).await;
    let synced = rep.check(&["sync"]).await;
    Week {
        list: rep.check(&["list"]).await,
        show: rep.check(&["show", &id]).await,
        search: rep.check(&["search", "华强"]).await,
        today: rep.check(&["today"]).await,
        sync_status: rep.check(&["status"]).await,
        conflicts: rep.check(&["conflicts"]).await,
        empty_owner: rep.fails(&["set", &id, "--owner", ""]).await,
        unknown_account: rep.fails(&["show", "zzzz"]).await,
        id,
        logged,
        moved,
        status,
        synced,
    }
}

fn contains_all(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "`{w}` is missing from:\n{text}");
    }
}

fn contains_none(text: &str, unwanted: &[&str]) {
    for w in unwanted {
        assert!(!text.contains(w), "`{w}` should not be in:\n{text}");
    }
}

#[tokio::test]
async fn the_same_week_reads_in_chinese_with_a_chinese_locale_and_in_english_with_an_english_one() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await.in_locale(CHINESE);
    let ben = Rep::new(&server, "ben").await.in_locale(ENGLISH);
    let zh = week(&ana, "ana").await;
    let en = week(&ben, "ben").await;

    // Chinese: headers, labels, enumeration labels, plurals without "s", errors.
    contains_all(&zh.logged, &["已记录与 华强电子 的上门拜访", "补录"]);
    contains_all(&zh.moved, &["叉车项目", "商务谈判", "90 %"]);
    contains_all(&zh.status, &["华强电子 现在是跟进中"]);
    contains_all(&zh.synced, &["同步完成", "推送 1"]);
    for table in [&zh.list, &zh.search] {
        contains_all(
            table,
            &["编号", "名称", "负责人", "状态", "跟进次数", "跟进中"],
        );
        contains_none(table, &["OWNER", "following"]);
    }
    contains_all(
        &zh.show,
        &[
            "线索 · 跟进中",
            "负责人",
            "跟进周期",
            "联系人",
            "决策人",
            "跟进记录",
            "上门拜访",
            "态度：积极关注",
            "补录：记录于",
            "跟进计划",
            "商机",
            "商务谈判",
            "优先级 A",
        ],
    );
    contains_none(
        &zh.show,
        &["owner", "cadence", "Opportunities", "negotiation", "LATE"],
    );
    contains_all(
        &zh.today,
        &["逾期（1）", "应跟进时间", "逾期 2 天", "跟进中"],
    );
    contains_all(&zh.sync_status, &["设备", "未同步", "0 个客户", "最近同步"]);
    contains_all(&zh.conflicts, &["没有冲突。"]);
    contains_all(&zh.empty_owner, &["错误：负责人无效：不能为空"]);
    contains_all(&zh.unknown_account, &["错误：没有与 `zzzz` 匹配的客户"]);

    // English, with English plurals.
    contains_all(&en.logged, &["logged visit with 华强电子, flagged late"]);
    contains_all(&en.moved, &["to negotiation, 90 %"]);
    contains_all(&en.status, &["华强电子 is now following"]);
    contains_all(&en.synced, &["synced in 1 round trip", "pushed 1"]);
    for table in [&en.list, &en.search] {
        contains_all(
            table,
            &["CODE", "NAME", "OWNER", "STATUS", "FOLLOW-UPS", "following"],
        );
    }
    contains_all(
        &en.show,
        &[
            "lead · following",
            "owner",
            "cadence",
            "Contacts",
            "decision maker",
            "visit",
            "attitude positive",
            "LATE: logged",
            "Planned contacts",
            "Opportunities",
            "negotiation 90 %",
            "priority A",
        ],
    );
    contains_none(&en.show, &["负责人", "商机", "decision_maker"]);
    contains_all(&en.today, &["Overdue (1)", "DUE", "(2 days late)"]);
    contains_all(&en.sync_status, &["device", "unsynced", "0 accounts"]);
    contains_all(&en.conflicts, &["No conflicts."]);
    contains_all(
        &en.empty_owner,
        &["error: invalid owner: must not be empty"],
    );
    contains_all(&en.unknown_account, &["error: no account matches `zzzz`"]);

    // JSON is for programs: codes, whatever the locale.
    for (rep, week) in [(&ana, &zh), (&ben, &en)] {
        let listed = rep.json(&["list", "--json"]).await;
        assert_eq!(listed[0]["status"], "following", "{listed}");
        assert_eq!(listed[0]["kind"], "lead", "{listed}");
        let shown = rep.show(&week.id).await;
        let stages: Vec<&str> = shown["opportunities"]
            .as_object()
            .unwrap()
            .values()
            .map(|o| o["stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["negotiation"], "{shown}");
    }
    // A value clap refuses is worded in the locale too (clap's own frame stays English).
    let refused = ana
        .fails(&["log", &zh.id, "--at", "2026/11/3", "call"])
        .await;
    contains_all(&refused, &["应为“YYYY-MM-DD HH:MM”"]);
}

/// What stored text becomes on the terminal.
const HOSTILE_NAME: &str = "\u{1b}]0;pwned\u{7}Evil\u{1b}[2J Co";
const SHOWN_NAME: &str = "\\u{1b}]0;pwned\\u{7}Evil\\u{1b}[2J Co";

fn no_raw_controls(text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(raw.is_empty(), "raw control characters {raw:?} in:\n{text}");
}

#[tokio::test]
async fn stored_control_sequences_print_escaped_in_list_show_and_search() {
    let server = TestServer::start().await;
    let ana = Rep::new(&server, "ana").await.in_locale(ENGLISH);
    // The record rules refuse control characters, so such text reaches a device only in a
    // document written before them: it comes here in a sync reply carrying the account as an
    // older server would hold it, with the hostile text put in by raw automerge operations.
    let benign = "Evil Co";
    let id = {
        let store = Store::open(ana.store_dir().join("store.redb")).unwrap();
        let new = NewAccount {
            name: benign.into(),
            owner: "ana".into(),
            contact: Some(Contact {
                name: "Wang".into(),
                title: Some("CEO".into()),
                ..Contact::default()
            }),
            ..NewAccount::default()
        };
        let id = store.create_account(&new, Utc::now()).unwrap();
        store
            .edit_account(id, &AccountEdit::SetNotes("first line".into()), Utc::now())
            .unwrap();
        id
    };
    ana.check(&["sync"]).await;
    let mut legacy = server.storage().document(id).unwrap().unwrap().fork();
    {
        use automerge::transaction::Transactable;
        use automerge::{ROOT, ReadDoc};
        let mut tx = legacy.transaction();
        tx.put(ROOT, "name", HOSTILE_NAME).unwrap();
        let (_, notes) = tx.get(ROOT, "notes").unwrap().unwrap();
        let length = tx.length(&notes);
        tx.splice_text(&notes, length, 0, "\n\u{1b}[31mred\u{1b}[0m\tand a tab")
            .unwrap();
        let (_, contacts) = tx.get(ROOT, "contacts").unwrap().unwrap();
        let key = tx.keys(&contacts).next().unwrap();
        let (_, contact) = tx.get(&contacts, &key).unwrap().unwrap();
        tx.put(&contact, "name", "\u{202e}Wang").unwrap();
        tx.put(&contact, "title", "CEO\u{9b}31m").unwrap();
        tx.commit();
    }
    {
        let store = Store::open(ana.store_dir().join("store.redb")).unwrap();
        let mut session = SyncSession::new();
        let body = session.next_request(&store).unwrap().unwrap();
        let (_, token) = store.credentials().unwrap().unwrap();
        let reply = outpost_tests::http()
            .post(format!("{}/v1/sync", server.url()))
            .header("content-type", outpost_protocol::CONTENT_TYPE)
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut reply: SyncReply = outpost_protocol::decode(&reply).unwrap();
        reply.updates.push(DocUpdate {
            doc: id,
            action: UpdateAction::Replace,
            snapshot: Some(legacy.save()),
            changes: Vec::new(),
            heads: legacy.get_heads().iter().map(|h| Head(h.0)).collect(),
        });
        session
            .handle_reply(&store, &outpost_protocol::encode(&reply), Utc::now())
            .unwrap();
    }
    let id = id.to_string();

    let list = ana.check(&["list"]).await;
    let search = ana.check(&["search", "Evil"]).await;
    for table in [&list, &search] {
        no_raw_controls(table);
        contains_all(table, &[SHOWN_NAME]);
        // Widths count the escaped form: the OWNER column starts where its header does.
        let lines: Vec<&str> = table.lines().collect();
        let header = lines[0].find("OWNER").unwrap();
        let row = lines[1].find(" ana ").unwrap() + 1;
        assert_eq!(header, row, "{table}");
    }
    let show = ana.check(&["show", &id]).await;
    no_raw_controls(&show.replace('\t', ""));
    contains_all(
        &show,
        &[
            SHOWN_NAME,
            "\\u{1b}[31mred\\u{1b}[0m\tand a tab",
            "\\u{202e}Wang · CEO\\u{9b}31m",
        ],
    );

    // JSON keeps the stored text exactly, in escapes that are JSON's own.
    let raw = ana.check(&["show", &id, "--json"]).await;
    no_raw_controls(&raw);
    let shown: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(shown["name"], HOSTILE_NAME);
    let contact = shown["contacts"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(contact["name"], "\u{202e}Wang");
}
