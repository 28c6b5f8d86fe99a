//! The mature-account scenario: key accounts with two years of history (each follow-up, note
//! edit and opportunity its own change) beside today's 20-follow-up accounts, for what one
//! more change costs: a device's edit, its push, the apply on another device, and the
//! server's durable pushes/s.
//!
//! The history is made through the device library, one `edit_account` per change, on
//! in-memory devices (one per core) that then push every mature account to the real server:
//! as cheap as the honest way gets (the documents are what two years of single edits make).

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use outpost_client::{Store, SyncSession};
use outpost_protocol::{CONTENT_TYPE, DocId};

use super::workload::Workload;
use crate::{ADMIN, Device, TestServer};

/// Accounts of both kinds on one server, and the devices that hold them.
#[derive(Debug)]
pub struct Accounts {
    /// Today's workload accounts (20 follow-ups, a two-change history).
    pub fresh: Vec<DocId>,
    /// Two-year accounts ([`Workload::mature_history`]).
    pub mature: Vec<DocId>,
    /// Changes in one mature account's history, counted on the server.
    pub mature_changes: usize,
    /// How long making and pushing the mature accounts took.
    pub built_in: Duration,
}

/// Creates `count` fresh and `count` mature accounts on `server` and pushes them all. The
/// mature ones are made one edit at a time on in-memory devices, one per core, each making
/// its share (the edits of one account are sequential, as a rep's are).
pub async fn build(
    server: &TestServer,
    workload: &mut Workload,
    count: usize,
    started: Instant,
) -> anyhow::Result<Accounts> {
    let began = Instant::now();
    let now = workload.now();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let makers: Vec<Store> = (0..cores.min(count).max(1))
        .map(|_| Store::in_memory())
        .collect::<Result<_, _>>()?;
    let mut fresh = Vec::with_capacity(count);
    for _ in 0..count {
        let spec = workload.account();
        let id = makers[0].create_account_anyway(&spec.new, now)?;
        makers[0].edit_account_all(id, &spec.edits, now)?;
        fresh.push(id);
    }
    // The content is drawn here, in order, so it is the seed's whatever the core count.
    let specs: Vec<_> = (0..count)
        .map(|_| {
            let spec = workload.account();
            let history = workload.mature_history(&spec.new.owner);
            (spec.new, history)
        })
        .collect();
    let made = std::sync::atomic::AtomicUsize::new(0);
    let stride = makers.len();
    let mature: Vec<Vec<(usize, DocId)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = makers
            .iter()
            .enumerate()
            .map(|(worker, maker)| {
                let (specs, made) = (&specs, &made);
                scope.spawn(move || -> anyhow::Result<Vec<(usize, DocId)>> {
                    let mut ids = Vec::new();
                    for i in (worker..specs.len()).step_by(stride) {
                        let (new, history) = &specs[i];
                        let created = history.first().map_or(now, |(at, _)| *at);
                        let id = maker.create_account_anyway(new, created)?;
                        for (at, edit) in history {
                            maker.edit_account(id, edit, *at)?;
                        }
                        ids.push((i, id));
                        let done = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        super::progress(
                            started,
                            format!(
                                "mature account {done} of {} made ({:.1} s so far)",
                                specs.len(),
                                began.elapsed().as_secs_f64()
                            ),
                        );
                    }
                    Ok(ids)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("maker thread"))
            .collect::<anyhow::Result<_>>()
    })?;
    let mut mature: Vec<(usize, DocId)> = mature.into_iter().flatten().collect();
    mature.sort_unstable();
    let mature: Vec<DocId> = mature.into_iter().map(|(_, id)| id).collect();

    for maker in &makers {
        let client = outpost_client::HttpClient::new(&server.url());
        server.log_in(maker, &client, ADMIN).await;
        let report = client.sync(maker).await?;
        ensure!(
            report.rejected.is_empty() && report.refused.is_empty(),
            "generated accounts refused: {:?} {:?}",
            report.rejected,
            report.refused
        );
        ensure!(
            maker.status()?.unsynced.is_empty(),
            "every generated account is on the server"
        );
    }
    let doc = server
        .storage()
        .document(mature[0])?
        .context("mature account on the server")?;
    Ok(Accounts {
        fresh,
        mature,
        mature_changes: doc.get_changes(&[]).len(),
        built_in: began.elapsed(),
    })
}

/// Timings of single changes made on one device and applied on another, one kind of account.
#[derive(Debug, Default)]
pub struct Single {
    /// `Store::edit_account` adding one follow-up (a durable commit of the device's store).
    pub edit: Vec<Duration>,
    /// The sync that pushed it (one round trip: the push and its acknowledgement).
    pub push: Vec<Duration>,
    /// Applying the reply that carried the change on a device holding the account
    /// (`SyncSession::handle_reply`: decode and apply, durable).
    pub apply: Vec<Duration>,
}

/// `runs` single changes to each kind, alternating fresh and mature so both see the same
/// machine: `writer` logs a follow-up and syncs; `reader`'s next sync reply carries it.
pub async fn single_changes(
    server: &TestServer,
    writer: &Device,
    reader: &Device,
    accounts: &Accounts,
    workload: &mut Workload,
    runs: usize,
) -> anyhow::Result<(Single, Single)> {
    let now = workload.now();
    let http = crate::http();
    let url = format!("{}/v1/sync", server.url());
    let token = reader.token();
    let (mut fresh, mut mature) = (Single::default(), Single::default());
    for i in 0..runs {
        for (ids, into) in [
            (&accounts.fresh, &mut fresh),
            (&accounts.mature, &mut mature),
        ] {
            let id = ids[i % ids.len()];
            let edit = workload.day_edit();
            let started = Instant::now();
            writer.store.edit_account(id, &edit, now)?;
            into.edit.push(started.elapsed());
            let started = Instant::now();
            let report = writer.try_sync().await?;
            into.push.push(started.elapsed());
            ensure!(
                report.pushed == [id] && report.round_trips == 1,
                "one push in one round trip: {report:?}"
            );

            let mut session = SyncSession::new();
            let body = session
                .next_request(&reader.store)?
                .context("a sync request")?;
            let reply = http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .bearer_auth(&token)
                .body(body)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            let started = Instant::now();
            session.handle_reply(&reader.store, &reply, now)?;
            into.apply.push(started.elapsed());
            let report = session.finish();
            ensure!(
                report.received == [id],
                "the reply carried the one change: {report:?}"
            );
        }
    }
    ensure!(
        writer.store.heads(accounts.mature[0])? == reader.store.heads(accounts.mature[0])?,
        "writer and reader agree"
    );
    Ok((fresh, mature))
}
