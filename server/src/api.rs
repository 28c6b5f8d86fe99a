//! The JSON API beside sync: login, the caller's own devices, administration of users, teams
//! and devices (admins), handovers (managers and admins), shares, and account history.
//!
//! Every handler that names an account answers "not found" for one outside the caller's
//! scope, exactly as for one that does not exist, so nothing outside it can be probed.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use automerge::{ChangeHash, ReadDoc};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use outpost_client::conflicts::changed_fields;
use outpost_client::model::{Archived, At, Comment};
use outpost_protocol::api::{
    AccountRef, BackupFile, Offboard, OffboardReply, PasswordReset, ShareInfo,
};
use outpost_protocol::api::{
    DeviceInfo, DisplayNameChange, Handover, HandoverReply, HistoryChange, HistoryEntry,
    LoginReply, LoginRequest, Merge, NewComment, NewUserRequest, PasswordChange, Person, Role,
    Share, TeamInfo, UserInfo,
};
use outpost_protocol::{DeviceId, DocId, PushOutcome, PushResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::access::{reader_scopes, sees};
use crate::auth::{Caller, PoolError};
use crate::backup::BackupInfo;
use crate::directory::{DirectoryError, Principal, shown_name};
use crate::http::AppError;
use crate::storage::{SERVER_DEVICE, Storage};
use crate::views::{self, Filters, Format, Tables};

fn json<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::BadJson(e.to_string()))
}

/// Runs a directory operation off the async threads (argon2 and redb commits block).
async fn blocking<T: Send + 'static>(
    state: &AppState,
    op: impl FnOnce(&Storage) -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, AppError> {
    let storage = state.storage.clone();
    Ok(tokio::task::spawn_blocking(move || op(&storage)).await??)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Runs a directory operation that hashes or checks a password on the password pool: at
/// once refused with 503 and `Retry-After` when the pool and its queue are full.
async fn hashing<T: Send + 'static>(
    state: &AppState,
    op: impl FnOnce(&Storage) -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, AppError> {
    let storage = state.storage.clone();
    match state.passwords.run(move || op(&storage)).await {
        Ok(result) => Ok(result?),
        Err(PoolError::Busy) => Err(AppError::PasswordsBusy { seconds: 1 }),
        Err(PoolError::Stopped) => {
            // Only a job that panicked loses its answer; the next one may well succeed.
            tracing::error!("a password job failed");
            Err(AppError::PasswordsBusy { seconds: 1 })
        }
    }
}

/// Checks a password with the limiter: the attempt is counted before `op` checks it, given
/// back if the password was right or never checked, and kept if it was wrong.
async fn limited<T: Send + 'static>(
    state: &AppState,
    login: &str,
    address: IpAddr,
    device: DeviceId,
    op: impl FnOnce(&Storage) -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, AppError> {
    let attempt = state
        .limiter
        .begin(login, address, device, Instant::now())
        .map_err(|refused| AppError::RateLimited {
            login: login.to_owned(),
            seconds: refused.wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    let result = hashing(state, op).await;
    match &result {
        Ok(_) => state.limiter.succeeded(attempt, Instant::now()),
        Err(AppError::Directory(DirectoryError::BadCredentials)) => {
            state.limiter.failed(attempt);
        }
        Err(_) => state.limiter.not_checked(attempt),
    }
    result
}

/// `POST /v1/login`: password → device token.
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<LoginReply>, AppError> {
    let request: LoginRequest = json(&body)?;
    let login = request.login.clone();
    let device = request.device;
    let result = limited(&state, &login, address.ip(), device, move |s| {
        s.login(&request, Utc::now())
    })
    .await;
    match result {
        Ok((token, user)) => {
            state.metrics.login(true);
            tracing::info!(login, %device, "device logged in");
            Ok(Json(LoginReply { token, user }))
        }
        Err(e) => {
            if matches!(
                e,
                AppError::Directory(DirectoryError::BadCredentials) | AppError::RateLimited { .. }
            ) {
                state.metrics.login(false);
                tracing::warn!(login, %device, %address, error = %e, "login refused");
            }
            Err(e)
        }
    }
}

/// `POST /v1/me/password`: the caller changes their own password, giving the current one
/// (limited like a login, since it is a password check). Their devices keep their tokens.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Json<UserInfo>, AppError> {
    let PasswordChange {
        old_password,
        new_password,
    } = json(&body)?;
    let login = who.login.clone();
    let user = limited(&state, &who.login, address.ip(), who.device, move |s| {
        s.change_password(&login, &old_password, &new_password)
    })
    .await
    .map_err(|e| match e {
        // Here the caller is known: say which password was wrong.
        AppError::Directory(DirectoryError::BadCredentials) => {
            AppError::Forbidden("the current password is wrong; nothing was changed".into())
        }
        e => e,
    })?;
    tracing::info!(login = user.login, device = %who.device, "password changed");
    Ok(Json(user))
}

/// `GET /v1/me`.
pub(crate) async fn me(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<UserInfo>, AppError> {
    Ok(Json(blocking(&state, move |s| s.user(&who.login)).await?))
}

/// `GET /v1/me/devices`.
pub(crate) async fn my_devices(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<Vec<DeviceInfo>>, AppError> {
    Ok(Json(
        blocking(&state, move |s| s.devices(Some(&who.login))).await?,
    ))
}

/// `DELETE /v1/me/devices/{device}`: a user revokes one of their own devices.
pub(crate) async fn revoke_my_device(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(device): Path<DeviceId>,
) -> Result<StatusCode, AppError> {
    blocking(&state, move |s| s.revoke_device(device, Some(&who.login))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/admin/users`.
pub(crate) async fn users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserInfo>>, AppError> {
    caller.require(Role::Admin)?;
    Ok(Json(blocking(&state, |s| s.users()).await?))
}

/// `GET /v1/people`: the active users, for any logged-in user (owners must be users).
pub(crate) async fn people(
    State(state): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<Vec<Person>>, AppError> {
    let users = blocking(&state, |s| s.users()).await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| Person {
                login: u.login,
                display_name: u.display_name,
                role: u.role,
                team: u.team,
            })
            .collect(),
    ))
}

/// `POST /v1/admin/users`.
pub(crate) async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<UserInfo>), AppError> {
    caller.require(Role::Admin)?;
    let NewUserRequest { user, display_name } = json(&body)?;
    let user = hashing(&state, move |s| {
        s.add_named_user(&user, display_name.as_deref())
    })
    .await?;
    tracing::info!(login = user.login, role = %user.role, by = caller.0.login, "user added");
    Ok((StatusCode::CREATED, Json(user)))
}

async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    login: String,
    disabled: bool,
) -> Result<Json<UserInfo>, AppError> {
    caller.require(Role::Admin)?;
    let user = blocking(state, move |s| s.set_disabled(&login, disabled)).await?;
    tracing::info!(
        login = user.login,
        disabled,
        by = caller.0.login,
        "user updated"
    );
    Ok(Json(user))
}

/// `PATCH` or `PUT /v1/admin/users/{login}` with `{"display_name": "张伟"}`: renames the
/// user for people; the login stays. A bad name is refused and nothing changes.
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
    body: Bytes,
) -> Result<Json<UserInfo>, AppError> {
    caller.require(Role::Admin)?;
    let DisplayNameChange { display_name } = json(&body)?;
    let user = match display_name {
        Some(name) => blocking(&state, move |s| s.set_display_name(&login, &name)).await?,
        None => blocking(&state, move |s| s.user(&login)).await?,
    };
    tracing::info!(login = user.login, by = caller.0.login, "user renamed");
    Ok(Json(user))
}

/// `POST /v1/admin/users/{login}/disable`.
pub(crate) async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<UserInfo>, AppError> {
    set_disabled(&state, &caller, login, true).await
}

/// `POST /v1/admin/users/{login}/enable`.
pub(crate) async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
) -> Result<Json<UserInfo>, AppError> {
    set_disabled(&state, &caller, login, false).await
}

/// `GET /v1/admin/teams`: every team for an admin, the teams they lead for a manager.
pub(crate) async fn teams(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TeamInfo>>, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let mut teams = blocking(&state, |s| s.teams()).await?;
    if who.role != Role::Admin {
        teams.retain(|t| who.leads.contains(&t.name));
    }
    Ok(Json(teams))
}

/// `POST /v1/admin/teams` with `{"name": "..."}`.
pub(crate) async fn add_team(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<TeamInfo>), AppError> {
    caller.require(Role::Admin)?;
    #[derive(serde::Deserialize)]
    struct NewTeam {
        name: String,
        #[serde(default)]
        display_name: Option<String>,
    }
    let NewTeam { name, display_name } = json(&body)?;
    let team = blocking(&state, move |s| {
        s.add_named_team(&name, display_name.as_deref())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `PATCH /v1/admin/teams/{team}` with `{"display_name": "华南销售部"}`: renames the team
/// for people; its key stays.
pub(crate) async fn update_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
    body: Bytes,
) -> Result<Json<TeamInfo>, AppError> {
    caller.require(Role::Admin)?;
    let DisplayNameChange { display_name } = json(&body)?;
    let team = blocking(&state, move |s| match display_name {
        Some(name) => s.set_team_display_name(&team, &name),
        None => s
            .teams()?
            .into_iter()
            .find(|t| t.name == team)
            .ok_or_else(|| DirectoryError::NotFound(format!("no team named {team}"))),
    })
    .await?;
    tracing::info!(team = team.name, by = caller.0.login, "team renamed");
    Ok(Json(team))
}

/// `PUT /v1/admin/teams/{team}` with `{"time_zone": "Asia/Shanghai"}` (an IANA name; `null`
/// returns the team to the server's zone): the zone the team's views count days in.
pub(crate) async fn set_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<String>,
    body: Bytes,
) -> Result<Json<TeamInfo>, AppError> {
    caller.require(Role::Admin)?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TeamSettings {
        time_zone: Option<String>,
    }
    let TeamSettings { time_zone } = json(&body)?;
    Ok(Json(
        blocking(&state, move |s| {
            s.set_team_zone(&team, time_zone.as_deref())
        })
        .await?,
    ))
}

/// The time zone a view counts days in: the `tz` parameter; else the zone of the team the
/// query selects (if the caller sees it), else of the first team the caller leads, else the
/// server's.
fn view_zone(
    storage: &Storage,
    who: &crate::Principal,
    filters: &Filters,
    server_zone: chrono_tz::Tz,
) -> Result<chrono_tz::Tz, AppError> {
    if let Some(name) = &filters.tz {
        return Ok(outpost_client::facts::zone(name)?);
    }
    let zones = storage.team_zones()?;
    let selected = filters
        .team
        .as_ref()
        .filter(|team| who.role == Role::Admin || who.leads.contains(team));
    Ok(selected
        .or(who.leads.first())
        .and_then(|team| zones.get(team).copied())
        .unwrap_or(server_zone))
}

async fn set_lead(
    state: &AppState,
    caller: &Caller,
    (team, login): (String, String),
    leads: bool,
) -> Result<Json<UserInfo>, AppError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        blocking(state, move |s| s.set_lead(&team, &login, leads)).await?,
    ))
}

/// `PUT /v1/admin/teams/{team}/managers/{login}`.
pub(crate) async fn add_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(names): Path<(String, String)>,
) -> Result<Json<UserInfo>, AppError> {
    set_lead(&state, &caller, names, true).await
}

/// `DELETE /v1/admin/teams/{team}/managers/{login}`.
pub(crate) async fn remove_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(names): Path<(String, String)>,
) -> Result<Json<UserInfo>, AppError> {
    set_lead(&state, &caller, names, false).await
}

/// `GET /v1/admin/devices`.
pub(crate) async fn devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DeviceInfo>>, AppError> {
    caller.require(Role::Admin)?;
    Ok(Json(blocking(&state, |s| s.devices(None)).await?))
}

/// `POST /v1/admin/backups`: writes a backup of the store as it is now into the server's
/// backup directory (older ones beyond the retention are deleted) and answers with its file
/// name, size and feed position. Pushes keep being committed while it is written.
pub(crate) async fn backup(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<BackupInfo>), AppError> {
    caller.require(Role::Admin)?;
    let Some(backups) = state.backups.clone() else {
        return Err(AppError::NotFound(
            "this server has no backup directory".into(),
        ));
    };
    let info = tokio::task::spawn_blocking(move || {
        backups.write(&state.storage, &state.syncs, &state.metrics)
    })
    .await??;
    tracing::info!(file = info.file, by = caller.0.login, "backup asked for");
    Ok((StatusCode::CREATED, Json(info)))
}

/// `DELETE /v1/admin/devices/{device}`.
pub(crate) async fn revoke_device(
    State(state): State<AppState>,
    caller: Caller,
    Path(device): Path<DeviceId>,
) -> Result<StatusCode, AppError> {
    caller.require(Role::Admin)?;
    blocking(&state, move |s| s.revoke_device(device, None)).await?;
    tracing::info!(%device, by = caller.0.login, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `who` sees `doc`; "not found" otherwise, as for a document that does not exist.
async fn visible(state: &AppState, who: &Principal, doc: DocId) -> Result<(), AppError> {
    let storage = state.storage.clone();
    let scopes = reader_scopes(who);
    let meta = tokio::task::spawn_blocking(move || storage.read()?.meta(doc)).await??;
    if !meta.heads.is_empty() && sees(scopes.as_deref(), &meta.scopes) {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no account {doc}")))
    }
}

fn refusal(results: &[PushResult]) -> Option<AppError> {
    results.iter().find_map(|r| match &r.outcome {
        PushOutcome::Rejected { reason } | PushOutcome::Invalid { reason } => {
            Some(AppError::Forbidden(reason.clone()))
        }
        _ => None,
    })
}

/// `ok` if the writer did what was asked, or why it refused.
fn answer(result: &PushResult, ok: StatusCode) -> Result<StatusCode, AppError> {
    match refusal(std::slice::from_ref(result)) {
        Some(refused) => Err(refused),
        None => Ok(ok),
    }
}

/// `POST /v1/handover`: moves named accounts, or the whole book, of one rep to another.
pub(crate) async fn handover(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<HandoverReply>, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let Handover {
        from,
        to,
        accounts,
        dry_run,
    } = json(&body)?;
    let (from_user, to_user) = {
        let (f, t) = (from.clone(), to.clone());
        blocking(&state, move |s| Ok((s.user(&f)?, s.user(&t)?))).await?
    };
    let leads = |u: &UserInfo| {
        who.role == Role::Admin || u.team.as_ref().is_some_and(|t| who.leads.contains(t))
    };
    if !leads(&from_user) {
        return Err(AppError::NotFound(format!(
            "no user {from} in a team you lead"
        )));
    }
    if !leads(&to_user) {
        return Err(AppError::NotFound(format!(
            "no user {to} in a team you lead"
        )));
    }
    let docs = match accounts {
        Some(docs) => {
            for doc in &docs {
                visible(&state, &who, *doc).await?;
            }
            docs
        }
        None => {
            let storage = state.storage.clone();
            let from = from.clone();
            tokio::task::spawn_blocking(move || storage.owned_by(&from)).await??
        }
    };
    if dry_run {
        return Ok(Json(HandoverReply {
            accounts: account_refs(&state.storage, &docs),
            moved: docs,
        }));
    }
    let results = state
        .writer
        .reassign(who.clone(), docs, to.clone(), now_ms())
        .await?;
    if let Some(refused) = refusal(&results) {
        return Err(refused);
    }
    tracing::info!(
        from,
        to,
        accounts = results.len(),
        by = who.login,
        "handover"
    );
    let moved: Vec<DocId> = results.into_iter().map(|r| r.doc).collect();
    Ok(Json(HandoverReply {
        accounts: account_refs(&state.storage, &moved),
        moved,
    }))
}

async fn set_share(
    state: &AppState,
    who: Principal,
    doc: DocId,
    login: String,
    write: Option<bool>,
) -> Result<StatusCode, AppError> {
    visible(state, &who, doc).await?;
    let result = state.writer.share(who, doc, login, write, now_ms()).await?;
    answer(&result, StatusCode::NO_CONTENT)
}

/// `POST /v1/accounts/{id}/shares`.
pub(crate) async fn share(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(doc): Path<DocId>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let Share { login, write } = json(&body)?;
    set_share(&state, who, doc, login, Some(write)).await
}

/// `DELETE /v1/accounts/{id}/shares/{login}`.
pub(crate) async fn unshare(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((doc, login)): Path<(DocId, String)>,
) -> Result<StatusCode, AppError> {
    set_share(&state, who, doc, login, None).await
}

/// `POST /v1/accounts/{id}/merge {"from": ID}`: merges the duplicate `from` into `{id}`
/// (managers and admins; both accounts in the caller's reach).
pub(crate) async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(survivor): Path<DocId>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let Merge { from } = json(&body)?;
    visible(&state, &who, survivor).await?;
    visible(&state, &who, from).await?;
    let result = state.writer.merge(who, survivor, from, now_ms()).await?;
    answer(&result, StatusCode::NO_CONTENT)
}

/// The longest review comment, in characters.
const MAX_COMMENT_CHARS: usize = 4000;

/// `POST /v1/accounts/{id}/comments {"text", "follow_up"?}`: a manager's review comment,
/// which reaches the rep's device at its next sync.
pub(crate) async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<DocId>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let NewComment { text, follow_up } = json(&body)?;
    let text = text.trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::Invalid(format!(
            "a comment has 1 to {MAX_COMMENT_CHARS} characters"
        )));
    }
    outpost_client::rules::controls("text", &text, outpost_client::rules::Lines::Many)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    visible(&state, &who, doc).await?;
    let comment = Comment {
        author: who.login.clone(),
        at: At(Utc::now()),
        text,
        follow_up,
    };
    let result = state.writer.comment(who, doc, comment, now_ms()).await?;
    answer(&result, StatusCode::CREATED)
}

/// `POST /v1/accounts/{id}/archive`: a manager (or admin) takes a lost account out of the
/// team views; it is kept, with its history, and reaches the rep's device marked archived.
/// `DELETE` restores it.
pub(crate) async fn archive(
    State(state): State<AppState>,
    method: Method,
    caller: Caller,
    Path(doc): Path<DocId>,
) -> Result<StatusCode, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    visible(&state, &who, doc).await?;
    let archived = (method == Method::POST).then(|| Archived {
        by: who.login.clone(),
        at: At(Utc::now()),
    });
    let result = state.writer.archive(who, doc, archived, now_ms()).await?;
    answer(&result, StatusCode::OK)
}

/// `GET /v1/accounts/{id}/history`: every commit, who made it, from which device, when (by
/// the device's clock and the server's), and which fields each change touched.
pub(crate) async fn history(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(doc): Path<DocId>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    visible(&state, &who, doc).await?;
    let storage = state.storage.clone();
    let entries = tokio::task::spawn_blocking(move || {
        let tables = storage.read()?;
        let Some(document) = tables.document(doc)? else {
            return Ok(Vec::new());
        };
        let history = tables.history(doc)?;
        let names = storage.display_names()?;
        let labels = storage.device_labels(history.iter().map(|(_, r)| r.device))?;
        let mut entries = Vec::new();
        for (seq, record) in history {
            let changes = record
                .hashes
                .iter()
                .filter_map(|hash| document.get_change_by_hash(&ChangeHash(*hash)))
                .map(|change| HistoryChange {
                    hash: change.hash().to_string(),
                    device_time: DateTime::from_timestamp(change.timestamp(), 0)
                        .unwrap_or_default(),
                    fields: {
                        let mut after = change.deps().to_vec();
                        after.push(change.hash());
                        changed_fields(&document, change.deps(), &after)
                    },
                })
                .collect();
            entries.push(HistoryEntry {
                seq,
                server_time: DateTime::from_timestamp_millis(record.received_at_ms)
                    .unwrap_or_default(),
                device: (record.device != SERVER_DEVICE).then_some(record.device),
                display_name: shown_name(&names, &record.user),
                device_label: labels.get(&record.device).cloned(),
                user: record.user,
                changes,
            });
        }
        Ok::<_, AppError>(entries)
    })
    .await??;
    Ok(Json(entries))
}

/// The route of one team view: `GET` with [`Filters`] as query parameters, answered from the
/// projection rows the caller may see (managers their teams, admins every team; reps none),
/// as JSON or, with `format=csv`, one of the view's tables as CSV.
pub(crate) fn team_view<T>(build: views::Build<T>) -> MethodRouter<AppState>
where
    T: Serialize + Tables + Send + 'static,
{
    get(
        move |State(state): State<AppState>,
              caller: Caller,
              query: Result<Query<Filters>, QueryRejection>| async move {
            let who = caller.require(Role::Manager)?.clone();
            let Query(mut filters) = query.map_err(|e| AppError::BadQuery(e.body_text()))?;
            let table = match (&filters.format, &filters.table) {
                (Format::Json, None) => None,
                (Format::Json, Some(_)) => {
                    return Err(AppError::BadQuery("`table` needs `format=csv`".into()));
                }
                (Format::Csv, table) => {
                    let table = table.as_deref().unwrap_or(T::TABLES[0]);
                    if !T::TABLES.contains(&table) {
                        return Err(AppError::BadQuery(format!(
                            "no table `{table}` in this view; it has: {}",
                            T::TABLES.join(", ")
                        )));
                    }
                    Some(table.to_owned())
                }
            };
            let (storage, syncs) = (state.storage.clone(), state.syncs.clone());
            let server_zone = state.time_zone;
            let view = tokio::task::spawn_blocking(move || {
                let tz = view_zone(&storage, &who, &filters, server_zone)?;
                let last_syncs = syncs.last_syncs(&storage)?;
                filters.display_names = storage.display_names()?;
                let teams = (who.role != Role::Admin).then_some(who.leads.as_slice());
                let now = Utc::now();
                Ok::<_, AppError>(
                    storage.with_rows(|rows| build(rows, teams, &filters, &last_syncs, now, tz)),
                )
            })
            .await??;
            Ok::<_, AppError>(match table {
                None => Json(view).into_response(),
                Some(table) => {
                    // With a UTF-8 BOM: without one Excel (Chinese Excel above all) reads the
                    // file in the system's code page and shows mojibake.
                    let csv = format!(
                        "{}{}",
                        outpost_client::csv_io::BOM,
                        view.csv(&table).expect("the table name was checked")
                    );
                    let disposition = format!("attachment; filename=\"{table}.csv\"");
                    (
                        [
                            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                            (header::CONTENT_DISPOSITION, disposition),
                        ],
                        csv,
                    )
                        .into_response()
                }
            })
        },
    )
}

/// The customer names of `docs` as the projection index holds them (the id alone for one it
/// lacks), in the order given.
fn account_refs(storage: &Storage, docs: &[DocId]) -> Vec<AccountRef> {
    let wanted: std::collections::HashSet<DocId> = docs.iter().copied().collect();
    let names: std::collections::HashMap<DocId, String> = storage.with_rows(|index| {
        (0..index.len())
            .map(|i| index.account(i))
            .filter(|(doc, _)| wanted.contains(doc))
            .map(|(doc, name)| (doc, name.to_owned()))
            .collect()
    });
    docs.iter()
        .map(|doc| AccountRef {
            id: *doc,
            name: names.get(doc).cloned().unwrap_or_default(),
        })
        .collect()
}

/// `POST /v1/people/{login}/offboard {"to", "dry_run"?}`: a departing rep's whole book is
/// handed over to `to`, then the rep is disabled and their devices revoked. A manager may
/// off-board a rep of a team they lead (to a user of a team they lead); an admin anyone.
///
/// Each step is idempotent and they run in this order, so a request interrupted half way is
/// finished by sending it again: accounts already moved are no longer the rep's, a disabled
/// user stays disabled and revoked devices are skipped. The reply says what this request did.
pub(crate) async fn offboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
    body: Bytes,
) -> Result<Json<OffboardReply>, AppError> {
    let who = caller.require(Role::Manager)?.clone();
    let Offboard { to, dry_run } = json(&body)?;
    let (user, to_user) = {
        let (l, t) = (login.clone(), to.clone());
        blocking(&state, move |s| Ok((s.user(&l)?, s.user(&t)?))).await?
    };
    let admin = who.role == Role::Admin;
    let leads = |u: &UserInfo| admin || u.team.as_ref().is_some_and(|t| who.leads.contains(t));
    if !leads(&user) {
        return Err(AppError::NotFound(format!(
            "no user {login} in a team you lead"
        )));
    }
    if !admin && user.role != Role::Rep {
        return Err(AppError::Forbidden(format!(
            "only an admin may off-board {login}, who is a {}",
            user.role
        )));
    }
    if !leads(&to_user) {
        return Err(AppError::NotFound(format!(
            "no user {to} in a team you lead"
        )));
    }
    if to == login {
        return Err(AppError::Invalid(
            "the book must go to someone other than the departing user".into(),
        ));
    }
    if login == who.login {
        return Err(AppError::Invalid("you cannot off-board yourself".into()));
    }
    if to_user.disabled {
        return Err(AppError::Invalid(format!(
            "{to} is disabled and cannot take over the book"
        )));
    }
    let storage = state.storage.clone();
    let from = login.clone();
    let (docs, devices) = tokio::task::spawn_blocking(move || {
        let docs = storage.owned_by(&from)?;
        let devices = storage.devices(Some(&from))?;
        Ok::<_, AppError>((docs, devices))
    })
    .await??;
    let open: Vec<DeviceId> = devices
        .iter()
        .filter(|d| !d.revoked)
        .map(|d| d.device)
        .collect();
    if dry_run {
        return Ok(Json(OffboardReply {
            moved: account_refs(&state.storage, &docs),
            disabled: !user.disabled,
            revoked: open,
            login,
            to,
            dry_run,
        }));
    }
    let results = state
        .writer
        .reassign(who.clone(), docs, to.clone(), now_ms())
        .await?;
    if let Some(refused) = refusal(&results) {
        return Err(refused);
    }
    // Every account still the rep's when this request read the book: a retry finds only
    // what an interrupted one left.
    let moved: Vec<DocId> = results.iter().map(|r| r.doc).collect();
    let disabled = !user.disabled;
    if disabled {
        let l = login.clone();
        blocking(&state, move |s| s.set_disabled(&l, true)).await?;
    }
    for device in &open {
        let device = *device;
        blocking(&state, move |s| s.revoke_device(device, None)).await?;
    }
    tracing::info!(
        login,
        to,
        accounts = moved.len(),
        devices = open.len(),
        by = who.login,
        "off-boarded"
    );
    Ok(Json(OffboardReply {
        moved: account_refs(&state.storage, &moved),
        disabled,
        revoked: open,
        login,
        to,
        dry_run,
    }))
}

/// `POST /v1/admin/users/{login}/password {"new_password"}`: an admin resets the password
/// of a user who lost theirs (checked for strength like any other).
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(login): Path<String>,
    body: Bytes,
) -> Result<Json<UserInfo>, AppError> {
    caller.require(Role::Admin)?;
    let PasswordReset { new_password } = json(&body)?;
    let user = hashing(&state, move |s| s.set_password(&login, &new_password)).await?;
    tracing::info!(login = user.login, by = caller.0.login, "password reset");
    Ok(Json(user))
}

/// `GET /v1/admin/backups`: the backup files in the server's backup directory, newest
/// first, with when each was written and its size.
pub(crate) async fn list_backups(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BackupFile>>, AppError> {
    caller.require(Role::Admin)?;
    let Some(backups) = state.backups.clone() else {
        return Err(AppError::NotFound(
            "this server has no backup directory".into(),
        ));
    };
    Ok(Json(
        tokio::task::spawn_blocking(move || backups.list()).await??,
    ))
}

/// `GET /v1/accounts/{id}/shares`: who the account is shared with, and whether for writing.
pub(crate) async fn shares(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(doc): Path<DocId>,
) -> Result<Json<Vec<ShareInfo>>, AppError> {
    visible(&state, &who, doc).await?;
    let storage = state.storage.clone();
    let shares = tokio::task::spawn_blocking(move || {
        let names = storage.display_names()?;
        let shares = storage.shares_of(doc)?;
        Ok::<_, AppError>(
            shares
                .into_iter()
                .map(|(login, write)| ShareInfo {
                    display_name: shown_name(&names, &login),
                    login,
                    write,
                })
                .collect::<Vec<_>>(),
        )
    })
    .await??;
    Ok(Json(shares))
}

/// `GET /v1/accounts/{id}`: the whole record as the server holds it (profile, contacts,
/// follow-ups, plans, opportunities, deals, service, comments), with the display names of
/// the users it names. 404 for an account the caller does not see, as for a missing one.
pub(crate) async fn account(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(doc): Path<DocId>,
) -> Result<Json<AccountRecord>, AppError> {
    visible(&state, &who, doc).await?;
    let storage = state.storage.clone();
    let record = tokio::task::spawn_blocking(move || {
        let Some(document) = storage.document(doc)? else {
            return Err(AppError::NotFound(format!("no account {doc}")));
        };
        let record = outpost_client::account::hydrate(&document, doc)
            .map_err(|e| AppError::Invalid(format!("account {doc} cannot be read: {e}")))?;
        let names = storage.display_names()?;
        let mut logins = vec![record.owner.clone()];
        logins.extend(record.plans.values().map(|p| p.owner.clone()));
        logins.extend(record.opportunities.values().map(|o| o.owner.clone()));
        logins.extend(record.comments.values().map(|c| c.author.clone()));
        logins.extend(record.archived.iter().map(|a| a.by.clone()));
        let display_names = logins
            .into_iter()
            .map(|login| {
                let name = shown_name(&names, &login);
                (login, name)
            })
            .collect();
        Ok(AccountRecord {
            id: doc,
            record,
            display_names,
        })
    })
    .await??;
    Ok(Json(record))
}

/// The answer of `GET /v1/accounts/{id}`.
#[derive(Debug, Serialize)]
pub(crate) struct AccountRecord {
    id: DocId,
    record: outpost_client::AccountDoc,
    /// Display names of the users the record names (owner, plan and opportunity owners,
    /// comment authors), by login.
    display_names: std::collections::BTreeMap<String, String>,
}
