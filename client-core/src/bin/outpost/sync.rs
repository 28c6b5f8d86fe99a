//! Syncing with the server, once or continuously, and what this device has not synced yet.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use outpost_client::{HttpClient, Store, SyncError, SyncReport, TlsOptions, text};
use outpost_protocol::DocId;

use crate::args::{LoginArgs, Output, RejectedArgs, ShowArgs};
use crate::format::{minutes, pad, print_json, short, visible};
use crate::store::open_store_async;

pub(crate) fn status(store: &Store, output: Output) -> Result<()> {
    let status = store.status()?;
    if output.json {
        return print_json(&status);
    }
    let names: HashMap<DocId, String> = store
        .accounts()?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let labels = [
        t!("status-device"),
        t!("status-unsynced"),
        t!("status-checkpoint"),
        t!("status-last-sync"),
    ];
    // Every label padded to the widest (by terminal columns), so the values line up.
    let width = labels.iter().map(|l| text::width(l)).max().unwrap_or(0) + 2;
    let line = |label: &str, value: &str| out!("{}{value}", pad(label, width));
    line(&labels[0], &status.device.to_string());
    line(
        &labels[1],
        &t!("status-accounts", count = status.unsynced.len()),
    );
    for id in &status.unsynced {
        out!(
            "  {}  {}",
            short(*id),
            visible(names.get(id).map_or("", String::as_str))
        );
    }
    line(&labels[2], &status.checkpoint.to_string());
    let last_sync = status.last_sync.map_or_else(|| t!("status-never"), minutes);
    line(&labels[3], &last_sync);
    Ok(())
}

/// The server this device talks to, and how.
#[derive(Debug)]
pub(crate) struct Remote {
    pub(crate) url: String,
    pub(crate) client: HttpClient,
}

impl Remote {
    pub(crate) fn new(url: &str, ca_cert: Option<&Path>, require_tls: bool) -> Result<Remote> {
        let ca_cert = ca_cert
            .map(|path| {
                std::fs::read(path).with_context(|| {
                    t!("cannot-read-certificate", path = path.display().to_string())
                })
            })
            .transpose()?;
        let tls = TlsOptions {
            ca_cert,
            require_tls,
        };
        let client = HttpClient::with_tls(url, &tls)?;
        Ok(Remote {
            url: url.to_owned(),
            client,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn client(&self) -> &HttpClient {
        &self.client
    }
}

pub(crate) fn sync(store: &Store, remote: &Remote, output: Output) -> Result<()> {
    let server = &remote.url;
    let report = runtime()?
        .block_on(remote.client.sync(store))
        .with_context(|| t!("sync-failed", server = server))?;
    if output.json {
        return print_json(&report);
    }
    out!("{}", describe(&report));
    Ok(())
}

pub(crate) fn watch(dir: &Path, remote: &Remote) -> Result<()> {
    let server = &remote.url;
    runtime()?.block_on(async {
        tokio::select! {
            result = follow(&remote.client, dir) => {
                result.with_context(|| t!("watch-failed", server = server))
            }
            stop = tokio::signal::ctrl_c() => stop.with_context(|| t!("cannot-listen-ctrl-c")),
        }
    })
}

/// The first wait before `watch` reconnects; each failed attempt in a row doubles it, up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Follows the server's live stream for as long as it runs: when the stream ends (the server
/// restarted, the network dropped, or the server ended it because this user's access
/// changed) it waits and connects again, so a rep's device keeps syncing. It stops only when
/// the server will not take this device any more (logged out, revoked, disabled) or on an
/// error retrying cannot mend.
async fn follow(client: &HttpClient, dir: &Path) -> Result<()> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut synced = false;
        let ended = follow_once(client, dir, &mut synced).await;
        if synced {
            backoff = FIRST_BACKOFF;
        }
        let seconds = backoff.as_secs();
        match ended {
            Ok(()) => note!("{}", t!("watch-closed", seconds = seconds)),
            Err(e) if transient(&e) => note!(
                "{}",
                t!(
                    "watch-lost",
                    reason = crate::i18n::error(&e),
                    seconds = seconds
                )
            ),
            Err(e) => return Err(e),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Whether connecting again may succeed: the server was unreachable, busy or failing, not
/// refusing this device.
fn transient(e: &anyhow::Error) -> bool {
    e.chain()
        .find_map(|cause| cause.downcast_ref::<SyncError>())
        .is_some_and(|e| match e {
            SyncError::Transport(_) => true,
            SyncError::Refused { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        })
}

/// One live stream, from subscribing until it ends; `synced` is set once its first sync is
/// done (the connection works, so the next reconnect starts with a short wait).
/// The store is open only while it is read or synced, never while waiting for news.
async fn follow_once(client: &HttpClient, dir: &Path, synced: &mut bool) -> Result<()> {
    // Subscribing before the first sync means a change committed in between is announced
    // rather than missed until the next one.
    let mut notifications = client.subscribe(&open_store_async(dir).await?).await?;
    let store = open_store_async(dir).await?;
    let report = client.sync(&store).await?;
    // Closed before the line is printed: a script that reads it may use the store at once.
    drop(store);
    *synced = true;
    out!("{}", describe(&report));
    while let Some(seq) = notifications.next().await? {
        let store = match open_store_async(dir).await {
            Ok(store) => store,
            Err(e) => {
                // Whatever this sync would have fetched, the next one fetches too.
                note!("{}", t!("watch-skipped", reason = crate::i18n::error(&e)));
                continue;
            }
        };
        // A position the checkpoint already covers (often our own push, echoed back) holds
        // nothing new.
        if seq <= store.status()?.checkpoint {
            continue;
        }
        let report = client.sync(&store).await?;
        drop(store);
        out!("{}", describe(&report));
    }
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .with_context(|| t!("cannot-start-runtime"))
}

/// One line saying what a sync did.
fn describe(report: &SyncReport) -> String {
    let refused: String = report
        .refused
        .iter()
        .map(|(id, reason)| t!("sync-refused", id = short(*id), reason = reason))
        .chain(
            report
                .rejected
                .iter()
                .map(|(id, reason)| t!("sync-not-accepted", id = short(*id), reason = reason)),
        )
        .chain(
            report
                .dropped
                .iter()
                .map(|id| t!("sync-dropped", id = short(*id))),
        )
        .collect();
    let summary = t!(
        "sync-summary",
        trips = report.round_trips,
        pushed = report.pushed.len(),
        received = report.received.len(),
        refused = report.refused.len(),
        sent_bytes = report.bytes_sent,
        received_bytes = report.bytes_received
    );
    format!("{summary}{refused}")
}

pub(crate) fn login(store: &Store, remote: &Remote, args: LoginArgs) -> Result<()> {
    let server = &remote.url;
    let password = outpost_client::read_password().with_context(|| t!("cannot-read-password"))?;
    let label = args.label.unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| "outpost device".to_owned())
    });
    let user = runtime()?
        .block_on(remote.client.login(store, &args.user, &password, &label))
        .with_context(|| t!("login-failed", server = server))?;
    out!(
        "{}",
        t!(
            "logged-in",
            server = server,
            login = &user.login,
            role = role(&user.role.to_string()),
            device = store.device().to_string()
        )
    );
    Ok(())
}

pub(crate) fn rejected(store: &Store, args: RejectedArgs) -> Result<()> {
    match args.dismiss.as_slice() {
        [] => {}
        [verb, n] if verb == "dismiss" => {
            let n: u64 = n.parse().with_context(|| t!("rejected-n"))?;
            if !store.dismiss_rejected(n)? {
                bail!(t!("rejected-none-numbered", n = n));
            }
            out!("{}", t!("rejected-dismissed", n = n));
            return Ok(());
        }
        _ => bail!(t!("rejected-usage")),
    }
    let edits = store.rejected()?;
    if args.output.json {
        // Everything but the raw change bytes, which are for tools, not people.
        let listed: Vec<serde_json::Value> = edits
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id,
                    "account": e.account,
                    "name": e.name,
                    "reason": e.reason,
                    "rejected_at": e.rejected_at,
                    "fields": e.fields,
                })
            })
            .collect();
        return print_json(&listed);
    }
    if edits.is_empty() {
        out!("{}", t!("rejected-empty"));
    }
    for edit in edits {
        out!(
            "{}  {} {}  {}",
            edit.id,
            short(edit.account),
            visible(&edit.name),
            minutes(edit.rejected_at)
        );
        out!("   {}", t!("rejected-why", reason = &edit.reason));
        out!(
            "   {}",
            t!("rejected-changed", fields = edit.fields.join(", "))
        );
    }
    Ok(())
}

pub(crate) fn history(store: &Store, remote: &Remote, args: ShowArgs) -> Result<()> {
    let server = &remote.url;
    let id = store.resolve(&args.id)?;
    let entries = runtime()?
        .block_on(remote.client.history(store, id))
        .with_context(|| t!("history-failed", server = server))?;
    if args.output.json {
        return print_json(&entries);
    }
    for entry in entries {
        let from = match entry.device {
            Some(device) => t!(
                "history-from-device",
                user = &entry.user,
                device = device.to_string()
            ),
            None => t!("history-from-server", user = &entry.user),
        };
        out!("#{}  {}  {from}", entry.seq, minutes(entry.server_time));
        for change in entry.changes {
            out!(
                "    {}",
                t!(
                    "history-made",
                    at = minutes(change.device_time),
                    fields = change.fields.join(", ")
                )
            );
        }
    }
    Ok(())
}

/// A role (`rep`, `manager`, `admin`) in the rep's language.
fn role(code: &str) -> String {
    crate::i18n::try_tr(&format!("role-{code}"), None).unwrap_or_else(|| code.to_owned())
}
