//! Team-view figures: how long the team's manager waits for a view over every account the
//! benchmark generated, through the real server (HTTP, token check, projection rows).

use std::time::{Duration, Instant};

use crate::{PASSWORD, TestServer};
use anyhow::ensure;
use outpost_protocol::api::{NewUser, Role};

/// The manager of the benchmark's team.
pub const MANAGER: &str = "bench-lead";

/// Makes [`MANAGER`] the manager of `team`.
pub fn add_manager(server: &TestServer, team: &str) -> anyhow::Result<()> {
    server.storage().add_user(&NewUser {
        login: MANAGER.into(),
        password: PASSWORD.into(),
        role: Role::Manager,
        team: None,
    })?;
    server.storage().set_lead(team, MANAGER, true)?;
    Ok(())
}

/// Every team view: its name and path.
pub const VIEWS: [(&str, &str); 7] = [
    ("pipeline", "/v1/views/pipeline"),
    ("follow-ups", "/v1/views/follow-ups"),
    ("funnel", "/v1/views/funnel"),
    ("activity", "/v1/views/activity"),
    ("lost reasons", "/v1/views/lost-reasons"),
    ("won profile", "/v1/views/won-profile"),
    ("duplicates", "/v1/views/duplicates"),
];

/// Times `runs` requests of the view at `path` (such as `/v1/views/pipeline`) by the
/// manager, checking each covers `accounts` accounts (where the view counts them).
pub async fn view_times(
    server: &TestServer,
    path: &str,
    accounts: usize,
    runs: usize,
) -> anyhow::Result<Vec<Duration>> {
    let manager = server.device_of(MANAGER).await;
    let token = manager.token();
    let http = reqwest::Client::new();
    let url = format!("{}{path}", server.url());
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let body: serde_json::Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        times.push(started.elapsed());
        ensure!(body["computed_at"].is_string(), "a view of {path}: {body}");
        ensure!(
            path != VIEWS[0].1 || body["accounts"].as_u64() == Some(accounts as u64),
            "the pipeline covers every account: {}",
            body["accounts"]
        );
    }
    Ok(times)
}
