//! Local time through the real server, real device stores and the `outpost` CLI: a rep in
//! Asia/Shanghai and a manager in Europe/Berlin. Instants are stored as UTC; the CLI reads
//! and prints the rep's zone (`--tz`), `today` ends at local midnight, late logging counts
//! from a locally typed time, a follow-up dated in the future is refused (on the device by
//! its clock, on the server by its receive time), and the weekly activity view counts the
//! same instants into the weeks of the team's zone, or of the `tz` parameter, across
//! midnight and week boundaries.

use std::collections::BTreeMap;
use std::process::Command;

use chrono::{DateTime, Days, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use outpost_client::{AccountEdit, ContactMethod, NewAccount, NewFollowUp};
use outpost_tests::cli::Rep;
use outpost_tests::{Device, TestServer, binary};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SHANGHAI: Tz = Tz::Asia__Shanghai;
const BERLIN: Tz = Tz::Europe__Berlin;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn day(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap()
}

/// `(rep, week) → follow-ups` of the activity view.
fn weeks(view: &Value) -> BTreeMap<(String, NaiveDate), u64> {
    view["weeks"]
        .as_array()
        .expect("weeks")
        .iter()
        .map(|w| {
            (
                (
                    w["rep"].as_str().unwrap().to_owned(),
                    w["week"].as_str().unwrap().parse().unwrap(),
                ),
                w["follow_ups"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `PUT path` with `device`'s token and a JSON body: the status and the reply.
async fn put(server: &TestServer, device: &Device, path: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .put(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_weekly_activity_falls_in_the_weeks_of_the_teams_zone_or_the_tz_parameter() {
    let server = TestServer::start().await;
    let admin = server.device().await;
    let ana = server.device_of("ana").await;
    let mia = server.device_of("mia").await;

    // Three follow-ups around the night from Sunday 2026-11-29 to Monday 2026-11-30:
    //   15:30 UTC: Sunday 23:30 in Shanghai, Sunday 16:30 in Berlin;
    //   16:30 UTC: Monday 00:30 in Shanghai, Sunday 17:30 in Berlin;
    //   23:30 UTC (still Sunday in UTC): Monday 07:30 in Shanghai, Monday 00:30 in Berlin.
    let calls = [
        utc(2026, 11, 29, 15, 30),
        utc(2026, 11, 29, 16, 30),
        utc(2026, 11, 29, 23, 30),
    ];
    let created = utc(2026, 11, 20, 2, 0);
    let id = ana
        .store
        .create_account_anyway(
            &NewAccount {
                name: "深圳市华强电子科技有限公司".into(),
                owner: "ana".into(),
                ..NewAccount::default()
            },
            created,
        )
        .unwrap();
    for at in calls {
        ana.store
            .edit_account(
                id,
                &AccountEdit::LogFollowUp(NewFollowUp::new(at, ContactMethod::Phone, "电话")),
                at + Duration::minutes(2),
            )
            .unwrap();
    }
    ana.sync().await;
    let (week_23, week_30) = (day(2026, 11, 23), day(2026, 11, 30));
    let ana_weeks = |counts: &[(NaiveDate, u64)]| -> BTreeMap<(String, NaiveDate), u64> {
        counts
            .iter()
            .map(|(week, n)| (("ana".to_owned(), *week), *n))
            .collect()
    };

    // The test server's own zone is UTC, and team `field` has none yet.
    let (status, view) = server.get_json(&mia, "/v1/views/activity").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["time_zone"], "UTC");
    assert_eq!(weeks(&view), ana_weeks(&[(week_23, 3)]));

    // The admin sets the team's zone; a name that is not a zone is refused by name.
    let (status, team) = put(
        &server,
        &admin,
        "/v1/admin/teams/field",
        json!({"time_zone": "Asia/Shanghai"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert_eq!(team["time_zone"], "Asia/Shanghai");
    let (status, refused) = put(
        &server,
        &admin,
        "/v1/admin/teams/field",
        json!({"time_zone": "Beijing"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("Beijing"),
        "{refused}"
    );
    let (status, _) = put(
        &server,
        &mia,
        "/v1/admin/teams/field",
        json!({"time_zone": "UTC"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only an admin sets a team's zone"
    );
    let (status, _) = put(
        &server,
        &admin,
        "/v1/admin/teams/nope",
        json!({"time_zone": "UTC"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, teams) = server.get_json(&admin, "/v1/admin/teams").await;
    let zones: BTreeMap<&str, &Value> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), &t["time_zone"]))
        .collect();
    assert_eq!(zones["field"], "Asia/Shanghai");
    assert_eq!(zones["south"], &Value::Null);

    // Mia leads `field`: her views count Shanghai's weeks. The Sunday 23:30 call is in the
    // week of Nov 23, the two Monday ones in the week of Nov 30.
    let (_, view) = server.get_json(&mia, "/v1/views/activity").await;
    assert_eq!(view["time_zone"], "Asia/Shanghai");
    assert_eq!(weeks(&view), ana_weeks(&[(week_23, 1), (week_30, 2)]));
    // Read from Berlin: only the 23:30 UTC call is on Monday.
    let (_, view) = server
        .get_json(&mia, "/v1/views/activity?tz=Europe/Berlin")
        .await;
    assert_eq!(view["time_zone"], "Europe/Berlin");
    assert_eq!(weeks(&view), ana_weeks(&[(week_23, 2), (week_30, 1)]));
    // The CSV of the same view agrees.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/views/activity?tz=Europe/Berlin&format=csv",
            server.url()
        ))
        .bearer_auth(mia.token())
        .send()
        .await
        .unwrap();
    let csv = response.text().await.unwrap();
    assert!(
        csv.contains("ana,2026-11-23,2") && csv.contains("ana,2026-11-30,1"),
        "{csv}"
    );
    // The admin (no team of their own) gets the server's zone, or the selected team's.
    let (_, view) = server.get_json(&admin, "/v1/views/activity").await;
    assert_eq!(view["time_zone"], "UTC");
    let (_, view) = server
        .get_json(&admin, "/v1/views/activity?team=field")
        .await;
    assert_eq!(view["time_zone"], "Asia/Shanghai");
    assert_eq!(weeks(&view), ana_weeks(&[(week_23, 1), (week_30, 2)]));
    // Every view names its zone; an unknown `tz` is a typed 400.
    for name in [
        "pipeline",
        "follow-ups",
        "funnel",
        "lost-reasons",
        "won-profile",
        "duplicates",
    ] {
        let (status, view) = server
            .get_json(&mia, &format!("/v1/views/{name}?tz=Europe/Berlin"))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {view}");
        assert_eq!(view["time_zone"], "Europe/Berlin", "{name}");
        let (status, error) = server
            .get_json(&mia, &format!("/v1/views/{name}?tz=Mars/Olympus"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            error["message"].as_str().unwrap().contains("Mars/Olympus"),
            "{error}"
        );
    }

    // `from` counts from the start of the local day: the account was entered 2026-11-20
    // 02:00 UTC, which is the 20th in Shanghai but the 19th in Los Angeles.
    let (_, view) = server
        .get_json(&mia, "/v1/views/pipeline?from=2026-11-20")
        .await;
    assert_eq!(view["accounts"], 1, "{view}");
    let (_, view) = server
        .get_json(
            &mia,
            "/v1/views/pipeline?from=2026-11-20&tz=America/Los_Angeles",
        )
        .await;
    assert_eq!(view["accounts"], 0, "{view}");
    let (_, view) = server
        .get_json(&mia, "/v1/views/pipeline?to=2026-11-19")
        .await;
    assert_eq!(view["accounts"], 0, "{view}");

    // The team's zone outlives a restart of a stopped server, set from the console.
    let dir = server.stop().await;
    let output = Command::new(binary("outpost-server"))
        .env_remove("OUTPOST_DATA")
        .args(["team", "tz", "south", "Europe/Berlin", "--data"])
        .arg(dir.path())
        .output()
        .expect("run outpost-server");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Europe/Berlin"));
    let refused = Command::new(binary("outpost-server"))
        .env_remove("OUTPOST_DATA")
        .args(["team", "tz", "south", "Berlin", "--data"])
        .arg(dir.path())
        .output()
        .expect("run outpost-server");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("IANA"));
    let server = TestServer::open(dir).await;
    let max = server.device_of("max").await;
    let (_, view) = server.get_json(&max, "/v1/views/activity").await;
    assert_eq!(view["time_zone"], "Europe/Berlin");
    let mia = server.device_of("mia").await;
    let (_, view) = server.get_json(&mia, "/v1/views/activity").await;
    assert_eq!(view["time_zone"], "Asia/Shanghai");
}

#[tokio::test]
async fn the_server_refuses_a_follow_up_in_the_future_of_its_own_clock() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let now = Utc::now();
    let id = ana
        .store
        .create_account_anyway(
            &NewAccount {
                name: "Müller GmbH".into(),
                owner: "ana".into(),
                ..NewAccount::default()
            },
            now - Duration::days(3),
        )
        .unwrap();
    // Logged offline two days ago and synced now: in the past for the server, kept.
    ana.store
        .edit_account(
            id,
            &AccountEdit::LogFollowUp(NewFollowUp::new(
                now - Duration::days(2),
                ContactMethod::Visit,
                "offline visit",
            )),
            now - Duration::days(2),
        )
        .unwrap();
    ana.sync().await;
    assert!(ana.store.rejected().unwrap().is_empty());
    // A device whose clock runs two days ahead logs a call "now": its own rule passes, the
    // server's receive time refuses it, and the device keeps the refused edit.
    let ahead = now + Duration::days(2);
    ana.store
        .edit_account(
            id,
            &AccountEdit::LogFollowUp(NewFollowUp::new(ahead, ContactMethod::Phone, "call")),
            ahead,
        )
        .unwrap();
    ana.sync().await;
    let rejected = ana.store.rejected().unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].reason.contains("in the future"), "{rejected:?}");
    let admin = server.device().await;
    admin.sync().await;
    assert_eq!(admin.store.account(id).unwrap().record.follow_ups.len(), 1);
    // Within the tolerance (a clock a minute fast) is kept.
    let fast = Utc::now() + Duration::minutes(1);
    ana.store
        .edit_account(
            id,
            &AccountEdit::LogFollowUp(NewFollowUp::new(fast, ContactMethod::Phone, "call")),
            fast,
        )
        .unwrap();
    ana.sync().await;
    assert_eq!(ana.store.rejected().unwrap().len(), 1);
    admin.sync().await;
    assert_eq!(admin.store.account(id).unwrap().record.follow_ups.len(), 2);
}

/// `t` as typed in `tz`: "YYYY-MM-DD HH:MM".
fn typed(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// When the local day after the one `now` falls on begins in `tz`.
fn local_tomorrow(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let tomorrow = now.with_timezone(&tz).date_naive() + Days::new(1);
    tz.from_local_datetime(&tomorrow.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn parse(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn the_cli_reads_and_prints_local_time_and_today_ends_at_local_midnight() {
    let server = TestServer::start().await;
    let ana = Rep::with_label(&server, "ana", "phone")
        .await
        // The --tz flag each command gets wins over the variable.
        .with_env("OUTPOST_TZ", "America/Los_Angeles");
    let id = ana
        .in_zone(SHANGHAI)
        .check(&["create", "--name", "华强电子", "--owner", "ana"])
        .await
        .trim()
        .to_owned();

    // A follow-up typed as Sunday 23:30 in Shanghai is stored as 15:30 UTC and shown as
    // local time in each zone.
    let out = ana
        .in_zone(SHANGHAI)
        .check(&[
            "log",
            &id,
            "--method",
            "visit",
            "--at",
            "2026-11-29 23:30",
            "拜访",
        ])
        .await;
    assert!(out.contains("flagged late"), "{out}");
    let shown = ana.in_zone(SHANGHAI).json(&["show", &id, "--json"]).await;
    let follow_ups = shown["follow_ups"].as_object().unwrap();
    let stored: Vec<DateTime<Utc>> = follow_ups
        .values()
        .map(|f| parse(f["occurred_at"].as_str().unwrap()))
        .collect();
    assert_eq!(stored, [utc(2026, 11, 29, 15, 30)]);
    let text = ana.in_zone(SHANGHAI).check(&["show", &id]).await;
    assert!(text.contains("2026-11-29 23:30 CST"), "{text}");
    let text = ana.in_zone(BERLIN).check(&["show", &id]).await;
    assert!(text.contains("2026-11-29 16:30 CET"), "{text}");

    // A demo planned for 10:00 tomorrow in Shanghai is 02:00 UTC.
    let now = Utc::now();
    let tomorrow = (now.with_timezone(&SHANGHAI).date_naive() + Days::new(1)).to_string();
    let due = format!("{tomorrow} 10:00");
    ana.in_zone(SHANGHAI)
        .check(&["plan", &id, "--due", &due, "--method", "visit", "演示"])
        .await;
    let shown = ana.in_zone(SHANGHAI).json(&["show", &id, "--json"]).await;
    let plan = shown["plans"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let stored = parse(plan["due"].as_str().unwrap());
    assert_eq!(stored.format("%H:%M").to_string(), "02:00");
    assert_eq!(typed(stored, SHANGHAI), due);

    // Late logging counts from the locally typed time: 25 h ago is late, 23 h ago is not
    // (read as UTC, Shanghai's typed times would be 8 h later and neither would be late).
    for (hours, late) in [(25, true), (23, false)] {
        let at = typed(Utc::now() - Duration::hours(hours), SHANGHAI);
        let out = ana
            .in_zone(SHANGHAI)
            .check(&["log", &id, "--at", &at, "call"])
            .await;
        assert_eq!(out.contains("flagged late"), late, "{hours} h: {out}");
    }
    // A follow-up typed for an hour from now is refused, and nothing is written.
    let future = typed(Utc::now() + Duration::hours(1), SHANGHAI);
    let output = ana
        .in_zone(SHANGHAI)
        .run(&["log", &id, "--at", &future, "call"])
        .await;
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("in the future"), "{error}");
    let shown = ana.in_zone(SHANGHAI).json(&["show", &id, "--json"]).await;
    assert_eq!(shown["follow_ups"].as_object().unwrap().len(), 3);

    // `today` ends at local midnight: one account due a minute before Shanghai's next
    // midnight, one a minute after.
    let now = Utc::now();
    let midnight = local_tomorrow(now, SHANGHAI);
    let mut planned = Vec::new();
    for (name, at) in [
        ("before midnight", midnight - Duration::minutes(1)),
        ("after midnight", midnight + Duration::minutes(1)),
    ] {
        let account = ana
            .in_zone(SHANGHAI)
            .check(&["create", "--name", name, "--owner", "ana"])
            .await
            .trim()
            .to_owned();
        // Logged just now so the cadence is two weeks away; the plan decides.
        ana.in_zone(SHANGHAI)
            .check(&["log", &account, "call"])
            .await;
        let due = typed(at, SHANGHAI);
        ana.in_zone(SHANGHAI)
            .check(&["plan", &account, "--due", &due, "--method", "phone", "回访"])
            .await;
        planned.push((account, at));
    }
    let listed = |today: &Value| -> Vec<String> {
        today
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .filter(|a| planned.iter().any(|(p, _)| p == a))
            .collect()
    };
    let today = ana.in_zone(SHANGHAI).json(&["today", "--json"]).await;
    assert_eq!(listed(&today), [planned[0].0.clone()], "{today}");
    // From Berlin the same instants fall on Berlin's days.
    let berlin_midnight = local_tomorrow(Utc::now(), BERLIN);
    let expected: Vec<String> = planned
        .iter()
        .filter(|(_, at)| *at < berlin_midnight)
        .map(|(a, _)| a.clone())
        .collect();
    let today = ana.in_zone(BERLIN).json(&["today", "--json"]).await;
    assert_eq!(listed(&today), expected, "{today}");
    // The table shows the due time in the zone with its abbreviation.
    let table = ana.in_zone(SHANGHAI).check(&["today"]).await;
    assert!(
        table.contains(&format!("{} CST", typed(planned[0].1, SHANGHAI))),
        "{table}"
    );
    // An unknown zone is a clear error, from the flag or the variable.
    let output = Command::new(binary("outpost"))
        .env("OUTPOST_TZ", "Beijing")
        .arg("--store")
        .arg(ana.store_dir())
        .arg("today")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Asia/Shanghai"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
