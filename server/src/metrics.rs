//! Operational counters, served at `GET /metrics` in Prometheus' text format (series
//! prefixed `outpost_`): syncs and their latency, the writer's group commits and their time,
//! pushed documents by outcome, logins, open
//! event streams, backups by result and the time of the last one, and the sizes of the feed, the projection index and the writer's cache
//! budget. Counters are plain atomics bumped on the request path; the gauges that describe
//! storage are read when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use outpost_protocol::PushOutcome;

use crate::storage::PageCache;

/// Counters since the server started.
#[derive(Debug, Default)]
pub struct Metrics {
    syncs: AtomicU64,
    sync_micros: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    invalid: AtomicU64,
    missing_dependencies: AtomicU64,
    logins: AtomicU64,
    failed_logins: AtomicU64,
    streams: AtomicU64,
    backups: AtomicU64,
    failed_backups: AtomicU64,
    /// Unix time of the last backup written (0: none since the start).
    last_backup: AtomicU64,
    /// The writer's group commits (each one durable transaction) and their time.
    commits: AtomicU64,
    commit_micros: AtomicU64,
}

/// What the scrape reads from storage.
#[derive(Debug)]
pub struct Gauges {
    pub feed_head: u64,
    pub indexed_accounts: u64,
    pub cache_docs: u64,
    pub page_cache: PageCache,
}

impl Metrics {
    /// One completed sync that took `took`, with its pushes' outcomes.
    pub fn synced<'a>(&self, took: Duration, outcomes: impl Iterator<Item = &'a PushOutcome>) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sync_micros.fetch_add(micros, Ordering::Relaxed);
        for outcome in outcomes {
            let counter = match outcome {
                PushOutcome::Accepted => &self.accepted,
                PushOutcome::Rejected { .. } => &self.rejected,
                PushOutcome::Invalid { .. } => &self.invalid,
                PushOutcome::MissingDependencies => &self.missing_dependencies,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One group commit of the writer that took `took`, from its first job to the durable
    /// commit returning.
    pub fn committed(&self, took: Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commit_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// One login attempt.
    pub fn login(&self, ok: bool) {
        let counter = if ok {
            &self.logins
        } else {
            &self.failed_logins
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A backup written at `unix_seconds`.
    pub fn backup_written(&self, unix_seconds: i64) {
        self.backups.fetch_add(1, Ordering::Relaxed);
        let at = u64::try_from(unix_seconds).unwrap_or(0);
        self.last_backup.fetch_max(at, Ordering::Relaxed);
    }

    /// A backup that failed.
    pub fn backup_failed(&self) {
        self.failed_backups.fetch_add(1, Ordering::Relaxed);
    }

    /// An event stream opened; it counts as open until the guard is dropped.
    pub fn stream_opened(self: &std::sync::Arc<Self>) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.clone())
    }

    /// The text exposition of every series.
    pub fn render(&self, gauges: &Gauges) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed).to_string();
        let seconds =
            |micros: &AtomicU64| (micros.load(Ordering::Relaxed) as f64 / 1e6).to_string();
        let cache = &gauges.page_cache;
        let all: [Series<'_>; 16] = [
            (
                "syncs_total",
                "counter",
                "Completed sync round trips.",
                vec![("", get(&self.syncs))],
            ),
            (
                "sync_seconds_total",
                "counter",
                "Time spent answering syncs.",
                vec![("", seconds(&self.sync_micros))],
            ),
            (
                "commits_total",
                "counter",
                "The writer's group commits (durable transactions, each holding one or more \
                 pushes).",
                vec![("", get(&self.commits))],
            ),
            (
                "commit_seconds_total",
                "counter",
                "Time the writer spent in group commits, applying and checking the pushes \
                 included.",
                vec![("", seconds(&self.commit_micros))],
            ),
            (
                "pushes_total",
                "counter",
                "Pushed documents, by outcome.",
                vec![
                    ("{outcome=\"accepted\"}", get(&self.accepted)),
                    ("{outcome=\"rejected\"}", get(&self.rejected)),
                    ("{outcome=\"invalid\"}", get(&self.invalid)),
                    (
                        "{outcome=\"missing_dependencies\"}",
                        get(&self.missing_dependencies),
                    ),
                ],
            ),
            (
                "logins_total",
                "counter",
                "Login attempts, by result.",
                vec![
                    ("{result=\"ok\"}", get(&self.logins)),
                    ("{result=\"failed\"}", get(&self.failed_logins)),
                ],
            ),
            (
                "event_streams",
                "gauge",
                "Devices connected to the live event stream.",
                vec![("", get(&self.streams))],
            ),
            (
                "backups_total",
                "counter",
                "Backups written since the start, by result.",
                vec![
                    ("{result=\"ok\"}", get(&self.backups)),
                    ("{result=\"failed\"}", get(&self.failed_backups)),
                ],
            ),
            (
                "last_backup_timestamp_seconds",
                "gauge",
                "Unix time of the last backup written since the start (0: none).",
                vec![("", get(&self.last_backup))],
            ),
            (
                "feed_head",
                "gauge",
                "Position of the last commit in the change feed.",
                vec![("", gauges.feed_head.to_string())],
            ),
            (
                "indexed_accounts",
                "gauge",
                "Accounts in the in-memory projection index.",
                vec![("", gauges.indexed_accounts.to_string())],
            ),
            (
                "writer_cache_capacity",
                "gauge",
                "Documents the writer keeps loaded at most.",
                vec![("", gauges.cache_docs.to_string())],
            ),
            (
                "page_cache_capacity_bytes",
                "gauge",
                "The bound of the database's page cache (--cache-mb).",
                vec![("", cache.capacity_bytes.to_string())],
            ),
            (
                "page_cache_bytes",
                "gauge",
                "Bytes the database's page cache holds now.",
                vec![("", cache.used_bytes.to_string())],
            ),
            (
                "page_cache_reads_total",
                "counter",
                "Page reads, by whether the page cache held the page.",
                vec![
                    ("{result=\"hit\"}", cache.hits.to_string()),
                    ("{result=\"miss\"}", cache.misses.to_string()),
                ],
            ),
            (
                "page_cache_evictions_total",
                "counter",
                "Pages evicted from the page cache to stay within its bound.",
                vec![("", cache.evictions.to_string())],
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, samples) in all {
            let _ = writeln!(out, "# HELP outpost_{name} {help}");
            let _ = writeln!(out, "# TYPE outpost_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "outpost_{name}{labels} {value}");
            }
        }
        out
    }
}

/// One series: name, type, help, and its samples as (labels, value).
type Series<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>);

/// Keeps one event stream counted as open.
#[derive(Debug)]
pub struct StreamGuard(std::sync::Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}
