//! Instructions per push, fresh and mature: the figure to compare across runs on a shared,
//! noisy machine, where times swing but instruction counts do not.
//!
//! The bench binary re-executes itself under `valgrind --tool=callgrind` ([`COUNT_ARG`]): the
//! child serves the server's data directory in process (the real server on 127.0.0.1),
//! opens a device store holding a fresh and a mature account, and pushes one follow-up at a
//! time over HTTP. Callgrind zeroes its counters when [`push_window_opens`] is entered and
//! dumps them when [`push_window_closes`] is (`--zero-before` / `--dump-before`, which count
//! every thread: the HTTP client, the server's handlers and its writer thread), so each dump
//! holds exactly one push: the request sent, validated, committed, answered and read. The
//! device's edit and its apply of the reply happen outside the windows.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};
use outpost_client::{AccountEdit, ContactMethod, NewFollowUp, Store, SyncSession};
use outpost_protocol::{CONTENT_TYPE, DocId};
use outpost_server::{Config, Server, Storage};

/// The long option that makes the bench binary run [`count_main`].
pub const COUNT_ARG: &str = "count-pushes";
const VALGRIND: &str = "/usr/bin/valgrind";

/// Instructions of each measured push, in order.
#[derive(Debug)]
pub struct Counts {
    pub fresh: Vec<u64>,
    pub mature: Vec<u64>,
}

/// Why there are no counts: valgrind is not installed.
pub fn missing() -> Option<String> {
    (!Path::new(VALGRIND).exists()).then(|| format!("not measured: no {VALGRIND}"))
}

/// Runs the child under callgrind on the closed server directory `data` and device store
/// `store`, `pushes` pushes to each of `fresh` and `mature` (after one unmeasured push each,
/// which loads the document into the server's cache).
pub fn count(
    data: &Path,
    store: &Path,
    fresh: DocId,
    mature: DocId,
    pushes: usize,
) -> anyhow::Result<Counts> {
    let out = tempfile::TempDir::new()?;
    let file = out.path().join("callgrind.out");
    let output = Command::new(VALGRIND)
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg("--zero-before=*push_window_opens*")
        .arg("--dump-before=*push_window_closes*")
        .arg(super::own_exe()?)
        .arg(format!("--{COUNT_ARG}"))
        .arg(data)
        .arg(store)
        .arg(fresh.to_string())
        .arg(mature.to_string())
        .arg(pushes.to_string())
        .output()?;
    ensure!(
        output.status.success(),
        "callgrind run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Dumps are numbered in order: the fresh pushes, then the mature ones; the file without a
    // number is the program's end.
    let mut totals = Vec::with_capacity(2 * pushes);
    for n in 1..=2 * pushes {
        let path = PathBuf::from(format!("{}.{n}", file.display()));
        let text = std::fs::read_to_string(&path).with_context(|| {
            let files: Vec<String> = std::fs::read_dir(out.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            format!("callgrind dump {} (found {files:?})", path.display())
        })?;
        totals.push(total(&text).with_context(|| format!("totals in {}", path.display()))?);
    }
    ensure!(
        !Path::new(&format!("{}.{}", file.display(), 2 * pushes + 1)).exists(),
        "more callgrind dumps than pushes"
    );
    let mature = totals.split_off(pushes);
    Ok(Counts {
        fresh: totals,
        mature,
    })
}

/// The instruction total of one callgrind dump (its `totals:` or `summary:` line).
fn total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Callgrind zeroes its counters on entering this function. The two markers' bodies differ
/// so that the compiler cannot fold them into one function (callgrind knows them by name).
#[inline(never)]
pub fn push_window_opens() {
    std::hint::black_box(1u8);
}

/// Callgrind dumps its counters on entering this function.
#[inline(never)]
pub fn push_window_closes() {
    std::hint::black_box(2u8);
}

/// The child: `args` are the data directory, the store, the fresh and mature account ids and
/// the number of pushes to each.
pub fn count_main(args: &[String]) -> anyhow::Result<()> {
    let [data, store, fresh, mature, pushes] = args else {
        anyhow::bail!("--{COUNT_ARG} DATA STORE FRESH MATURE PUSHES");
    };
    let ids: [DocId; 2] = [fresh.parse()?, mature.parse()?];
    let pushes: usize = pushes.parse()?;
    let store = Store::open(store)?;
    let storage = Storage::open(Path::new(data).join("outpost.redb"))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let server = Server::new(storage, &Config::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/v1/sync", listener.local_addr()?);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = tokio::spawn(server.serve(listener, async {
                let _ = stopped.await;
            }));
            let (_, token) = store.credentials()?.context("the store is logged in")?;
            let http = crate::http();
            let now = chrono::Utc::now();
            for id in ids {
                for push in 0..=pushes {
                    let edit = AccountEdit::LogFollowUp(NewFollowUp::new(
                        now,
                        ContactMethod::Phone,
                        &format!("Counted push {push}: called about the next order."),
                    ));
                    store.edit_account(id, &edit, now)?;
                    let mut session = SyncSession::new();
                    let body = session.next_request(&store)?.context("a request")?;
                    let request = http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                        .bearer_auth(&token)
                        .body(body);
                    // The first push to each account is not measured (it loads the document).
                    if push > 0 {
                        push_window_opens();
                    }
                    let reply = request.send().await?.error_for_status()?.bytes().await?;
                    if push > 0 {
                        push_window_closes();
                    }
                    session.handle_reply(&store, &reply, now)?;
                    let report = session.finish();
                    ensure!(report.pushed == [id], "push accepted: {report:?}");
                }
            }
            let _ = stop.send(());
            serving.await??;
            anyhow::Ok(())
        })
}

#[cfg(test)]
mod tests {
    use super::total;

    /// The figure is the dump's total of its one event (instructions), whichever of the two
    /// summary lines callgrind wrote.
    #[test]
    fn reads_a_dumps_instruction_total() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\npid: 42\ncmd: bench\npart: 2\n\
                    desc: Trigger: --dump-before=*push_window_closes*\n\nevents: Ir\n\
                    summary: 1234567\n\nfl=(1) x.rs\nfn=(1) f\n10 5\ntotals: 1234567\n";
        assert_eq!(total(dump), Some(1_234_567));
        assert_eq!(total("events: Ir\ntotals: 99\n"), Some(99));
        assert_eq!(total("events: Ir\n"), None);
    }
}
