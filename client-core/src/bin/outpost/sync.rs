//! Syncing with the server, once or continuously, and what this device has not synced yet.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use outpost_client::{HttpClient, Store, SyncReport, TlsOptions};
use outpost_protocol::DocId;

use crate::args::{LoginArgs, Output, RejectedArgs, ShowArgs};
use crate::format::{minutes, print_json, short};
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
    out!("device      {}", status.device);
    out!("unsynced    {} account(s)", status.unsynced.len());
    for id in &status.unsynced {
        out!(
            "  {}  {}",
            short(*id),
            names.get(id).map_or("", String::as_str)
        );
    }
    out!("checkpoint  {}", status.checkpoint);
    let last_sync = status.last_sync.map_or_else(|| "never".to_owned(), minutes);
    out!("last sync   {last_sync}");
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
                std::fs::read(path)
                    .with_context(|| format!("cannot read the certificate {}", path.display()))
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
        .with_context(|| format!("sync with {server} failed"))?;
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
                result.with_context(|| format!("watching {server} failed"))
            }
            stop = tokio::signal::ctrl_c() => stop.context("cannot listen for Ctrl-C"),
        }
    })
}

/// Follows the server's live stream, syncing whenever it announces changes this device lacks.
/// The store is open only while it is read or synced, never while waiting for news.
async fn follow(client: &HttpClient, dir: &Path) -> Result<()> {
    // Subscribing before the first sync means a change committed in between is announced
    // rather than missed until the next one.
    let mut notifications = client.subscribe(&open_store_async(dir).await?).await?;
    let store = open_store_async(dir).await?;
    let report = client.sync(&store).await?;
    // Closed before the line is printed: a script that reads it may use the store at once.
    drop(store);
    out!("{}", describe(&report));
    while let Some(seq) = notifications.next().await? {
        let store = match open_store_async(dir).await {
            Ok(store) => store,
            Err(e) => {
                // Whatever this sync would have fetched, the next one fetches too.
                eprintln!("warning: skipped a sync: {e:#}; will sync at the server's next change");
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
    out!("The server closed the live stream.");
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

/// One line saying what a sync did.
fn describe(report: &SyncReport) -> String {
    let trips = if report.round_trips == 1 {
        "round trip"
    } else {
        "round trips"
    };
    let refused: String = report
        .refused
        .iter()
        .map(|(id, reason)| format!("; refused {}: {reason}", short(*id)))
        .chain(report.rejected.iter().map(|(id, reason)| {
            format!(
                "; NOT ACCEPTED {}: {reason} (your edit is kept: `outpost rejected`)",
                short(*id)
            )
        }))
        .chain(
            report
                .dropped
                .iter()
                .map(|id| format!("; {} is no longer yours and was removed", short(*id))),
        )
        .collect();
    format!(
        "synced in {} {trips}: pushed {}, received {}, refused {}; {} bytes sent, {} received{refused}",
        report.round_trips,
        report.pushed.len(),
        report.received.len(),
        report.refused.len(),
        report.bytes_sent,
        report.bytes_received,
    )
}

pub(crate) fn login(store: &Store, remote: &Remote, args: LoginArgs) -> Result<()> {
    let server = &remote.url;
    let password =
        outpost_client::read_password().context("cannot read the password from standard input")?;
    let label = args.label.unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| "outpost device".to_owned())
    });
    let user = runtime()?
        .block_on(remote.client.login(store, &args.user, &password, &label))
        .with_context(|| format!("login to {server} failed"))?;
    out!(
        "logged in to {server} as {} ({}); this device is {}",
        user.login,
        user.role,
        store.device()
    );
    Ok(())
}

pub(crate) fn rejected(store: &Store, args: RejectedArgs) -> Result<()> {
    match args.dismiss.as_slice() {
        [] => {}
        [verb, n] if verb == "dismiss" => {
            let n: u64 = n
                .parse()
                .context("N is the number `outpost rejected` shows")?;
            if !store.dismiss_rejected(n)? {
                bail!("there is no refused edit {n}");
            }
            out!("refused edit {n} dismissed");
            return Ok(());
        }
        _ => bail!("use `outpost rejected` or `outpost rejected dismiss N`"),
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
        out!("no refused edits");
    }
    for edit in edits {
        out!(
            "{}  {} {}  {}\n   why: {}\n   changed: {}",
            edit.id,
            short(edit.account),
            edit.name,
            minutes(edit.rejected_at),
            edit.reason,
            edit.fields.join(", ")
        );
    }
    Ok(())
}

pub(crate) fn history(store: &Store, remote: &Remote, args: ShowArgs) -> Result<()> {
    let server = &remote.url;
    let id = store.resolve(&args.id)?;
    let entries = runtime()?
        .block_on(remote.client.history(store, id))
        .with_context(|| format!("history from {server} failed"))?;
    if args.output.json {
        return print_json(&entries);
    }
    for entry in entries {
        let device = entry
            .device
            .map_or_else(|| "the server".to_owned(), |d| d.to_string());
        out!(
            "#{}  {}  {} from {device}",
            entry.seq,
            minutes(entry.server_time),
            entry.user
        );
        for change in entry.changes {
            out!(
                "    made {}: {}",
                minutes(change.device_time),
                change.fields.join(", ")
            );
        }
    }
    Ok(())
}
