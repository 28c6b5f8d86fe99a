//! Guards the device library's promises through its public API: refused edits write nothing,
//! compaction loses no change across a reopen, id prefixes resolve as documented, and the
//! sans-IO sync engine sends honest requests and applies replies without losing changes or
//! moving its checkpoint past what it stored.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, Change, ROOT, ReadDoc};
use chrono::{DateTime, Utc};
use outpost_client::store::COMPACT_AFTER;
use outpost_client::sync::{MAX_ROUND_TRIPS, PUSH_BUDGET};
use outpost_client::{
    AccountEdit, ContactMethod, EditError, InvalidField, LookupError, NewAccount, NewFollowUp,
    Store, SyncError, SyncReport, SyncSession,
};
use outpost_protocol::{
    DeviceId, DocId, DocUpdate, Head, PROTOCOL_VERSION, PushOutcome, PushResult, Seq, SyncReply,
    SyncRequest, UpdateAction, decode, encode,
};
use tempfile::TempDir;

mod common;
use common::observe;

// Fixtures.

const DB_FILE: &str = "device.redb";

/// Where a store under test keeps its database.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Memory,
    Disk,
}

const BACKENDS: [Backend; 2] = [Backend::Memory, Backend::Disk];

/// A store under test; `dir` keeps an on-disk database alive so the test can reopen it.
struct Fixture {
    store: Store,
    dir: Option<TempDir>,
}

impl Backend {
    fn open(self) -> Fixture {
        match self {
            Backend::Memory => Fixture {
                store: Store::in_memory().unwrap(),
                dir: None,
            },
            Backend::Disk => {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(dir.path().join(DB_FILE)).unwrap();
                Fixture {
                    store,
                    dir: Some(dir),
                }
            }
        }
    }
}

impl Fixture {
    /// Closes and reopens the database, as after an app restart; an in-memory store has no
    /// restart to survive and is returned as it is.
    fn reopen(self) -> Fixture {
        let Fixture { store, dir } = self;
        let Some(dir) = dir else {
            return Fixture { store, dir: None };
        };
        drop(store);
        let store = Store::open(dir.path().join(DB_FILE)).unwrap();
        Fixture {
            store,
            dir: Some(dir),
        }
    }
}

/// A whole-second instant (the precision automerge change times keep), `minute` minutes in.
fn at(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + minute * 60, 0).unwrap()
}

fn acme() -> NewAccount {
    NewAccount {
        name: "Acme Hardware".into(),
        owner: "dana".into(),
        region: Some("North".into()),
        ..NewAccount::default()
    }
}

fn named(name: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        owner: "dana".into(),
        ..NewAccount::default()
    }
}

fn follow_up(occurred_at: DateTime<Utc>, summary: &str) -> AccountEdit {
    AccountEdit::LogFollowUp(NewFollowUp::new(occurred_at, ContactMethod::Phone, summary))
}

/// One character more than a text field may hold.
fn too_long() -> String {
    "x".repeat(2_001)
}

// Validation: refused input writes nothing.

/// Something a rep tries to write.
#[derive(Debug, Clone)]
enum Attempt {
    Create(Box<NewAccount>),
    /// Edits applied together to the fixture's existing account.
    Edit(Vec<AccountEdit>),
}

/// Whether an invalid-field path matches `pattern`, where a `*` segment stands for the random
/// id of an entry (`follow_ups/*/summary`).
fn field_matches(pattern: &str, field: &str) -> bool {
    let (want, got): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), field.split('/').collect());
    want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| *w == *g || (*w == "*" && !g.is_empty()))
}

/// Checks that `attempt` is refused as an invalid `field` on every backend and that the store,
/// reopened where it can be, is exactly as before. `field` may hold `*` for an entry id.
fn check_rejected(attempt: Attempt, field: &str) {
    for backend in BACKENDS {
        let fixture = backend.open();
        let store = &fixture.store;
        let id = store.create_account(&acme(), at(0)).unwrap();
        store
            .edit_account(id, &follow_up(at(1), "intro call"), at(2))
            .unwrap();
        let before = observe(store);
        let result = match &attempt {
            Attempt::Create(new) => store.create_account(new, at(10)).map(drop),
            Attempt::Edit(edits) => store.edit_account_all(id, edits, at(10)).map(drop),
        };
        match result {
            Err(EditError::Invalid(InvalidField { field: got, .. })) => {
                assert!(
                    field_matches(field, &got),
                    "{attempt:?} on {backend:?}: expected invalid {field}, got {got}"
                )
            }
            other => panic!("{attempt:?} on {backend:?}: expected invalid {field}, got {other:?}"),
        }
        assert_eq!(observe(store), before, "{attempt:?} on {backend:?}");
        let fixture = fixture.reopen();
        assert_eq!(
            observe(&fixture.store),
            before,
            "{attempt:?} on {backend:?}"
        );
    }
}

#[test]
fn invalid_new_accounts_are_rejected_and_write_nothing() {
    let with = |name: &str, owner: &str, region: Option<&str>| {
        Attempt::Create(Box::new(NewAccount {
            name: name.into(),
            owner: owner.into(),
            region: region.map(Into::into),
            ..NewAccount::default()
        }))
    };
    let long = too_long();
    let cases = [
        (with("", "dana", None), "name"),
        (with("   ", "dana", None), "name"),
        (with(" \t\n ", "dana", Some("North")), "name"),
        (with(&long, "dana", None), "name"),
        (with(&"é".repeat(2_001), "dana", None), "name"),
        (with("Acme", "", None), "owner"),
        (with("Acme", "  ", None), "owner"),
        (with("Acme", &long, None), "owner"),
        (with("Acme", "dana", Some("")), "region"),
        (with("Acme", "dana", Some(" \t ")), "region"),
        (with("Acme", "dana", Some(&long)), "region"),
    ];
    for (attempt, field) in cases {
        check_rejected(attempt, field);
    }
}

#[test]
fn invalid_edits_are_rejected_and_write_nothing() {
    let long = too_long();
    let cases = [
        (AccountEdit::SetName(String::new()), "name"),
        (AccountEdit::SetName("  ".into()), "name"),
        (AccountEdit::SetName(long.clone()), "name"),
        (AccountEdit::SetOwner(String::new()), "owner"),
        (AccountEdit::SetOwner("\t".into()), "owner"),
        (AccountEdit::SetOwner(long.clone()), "owner"),
        (AccountEdit::SetRegion(String::new()), "region"),
        (AccountEdit::SetRegion(" ".into()), "region"),
        (AccountEdit::SetRegion(long.clone()), "region"),
        (follow_up(at(5), ""), "follow_ups/*/summary"),
        (follow_up(at(5), " \n "), "follow_ups/*/summary"),
        (follow_up(at(5), &long), "follow_ups/*/summary"),
    ];
    for (edit, field) in cases {
        check_rejected(Attempt::Edit(vec![edit]), field);
    }
}

#[test]
fn a_batch_with_one_invalid_edit_writes_nothing() {
    let valid = || follow_up(at(5), "site visit booked");
    let cases = [
        (vec![valid(), AccountEdit::SetOwner("  ".into())], "owner"),
        (vec![AccountEdit::SetName(String::new()), valid()], "name"),
        (
            vec![
                AccountEdit::SetName("Acme Tools".into()),
                valid(),
                follow_up(at(6), &too_long()),
            ],
            "follow_ups/*/summary",
        ),
    ];
    for (edits, field) in cases {
        check_rejected(Attempt::Edit(edits), field);
    }
}

#[test]
fn text_at_the_length_limit_is_accepted_and_trimmed() {
    for backend in BACKENDS {
        let fixture = backend.open();
        let store = &fixture.store;
        // The limit counts characters, not bytes.
        let longest = "é".repeat(2_000);
        let id = store
            .create_account(
                &NewAccount {
                    name: longest.clone(),
                    owner: "  dana  ".into(),
                    region: Some(longest.clone()),
                    ..NewAccount::default()
                },
                at(0),
            )
            .unwrap();
        store
            .edit_account(id, &follow_up(at(1), &longest), at(1))
            .unwrap();
        let account = store.account(id).unwrap();
        assert_eq!(account.record.name, longest, "{backend:?}");
        assert_eq!(account.record.owner, "dana", "{backend:?}");
        assert_eq!(account.follow_ups()[0].1.summary, longest, "{backend:?}");
    }
}

#[test]
fn editing_a_missing_account_is_not_found_and_writes_nothing() {
    for backend in BACKENDS {
        let fixture = backend.open();
        let store = &fixture.store;
        store.create_account(&acme(), at(0)).unwrap();
        let before = observe(store);
        let missing = DocId::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let attempts: [&[AccountEdit]; 3] = [
            &[AccountEdit::SetName("Acme Tools".into())],
            &[follow_up(at(1), "left a voicemail")],
            &[AccountEdit::SetOwner("lee".into()), follow_up(at(1), "x")],
        ];
        for edits in attempts {
            match store.edit_account_all(missing, edits, at(2)) {
                Err(EditError::NotFound(id)) => assert_eq!(id, missing),
                other => panic!("{edits:?} on {backend:?}: expected NotFound, got {other:?}"),
            }
        }
        assert!(matches!(
            store.account(missing),
            Err(LookupError::NotFound(_))
        ));
        assert!(matches!(
            store.heads(missing),
            Err(LookupError::NotFound(_))
        ));
        assert_eq!(observe(store), before, "{backend:?}");
    }
}

// Compaction: rewriting chunks as a snapshot loses nothing.

/// Logs `count` follow-ups whose contact times are out of recording order, reopens the store,
/// and checks that the account, its heads and the changes a sync would push survived intact.
fn check_compaction(count: usize) {
    let fixture = Backend::Disk.open();
    let store = &fixture.store;
    let device = store.device();
    let id = store.create_account(&acme(), at(0)).unwrap();
    // Even edits happened later than recorded order suggests, odd ones earlier, so recorded
    // order and contact order differ throughout.
    let occurred = |i: usize| {
        let i = i64::try_from(i).unwrap();
        let n = i64::try_from(count).unwrap();
        at(if i % 2 == 0 { n + i } else { n - i })
    };
    for i in 0..count {
        let edit = follow_up(occurred(i), &format!("contact {i}"));
        store
            .edit_account(id, &edit, at(10_000 + i as i64))
            .unwrap();
    }
    store
        .edit_account(id, &AccountEdit::SetName("Acme Tools".into()), at(20_000))
        .unwrap();
    let before = observe(store);
    let account = store.account(id).unwrap();

    let fixture = fixture.reopen();
    let store = &fixture.store;
    assert_eq!(store.device(), device, "{count} edits");
    assert_eq!(observe(store), before, "{count} edits");
    assert_eq!(store.account(id).unwrap(), account, "{count} edits");

    let mut expected: Vec<usize> = (0..count).collect();
    expected.sort_by_key(|&i| occurred(i));
    let summaries: Vec<String> = account
        .follow_ups()
        .iter()
        .map(|(_, f)| f.summary.clone())
        .collect();
    let expected: Vec<String> = expected.iter().map(|i| format!("contact {i}")).collect();
    assert_eq!(summaries, expected, "{count} edits: by contact time");
    assert_eq!(account.record.name, "Acme Tools");

    // Every change is still there to push: a replica built from the push matches.
    let request = next_request(&mut SyncSession::new(), store);
    assert_eq!(request.pushes.len(), 1);
    let replica = doc_from_changes(&request.pushes[0].changes);
    assert_eq!(
        heads_of(&replica),
        store.heads(id).unwrap(),
        "{count} edits"
    );
    assert_eq!(text(&replica, "name").as_deref(), Some("Acme Tools"));
}

#[test]
fn compaction_keeps_every_follow_up_across_a_reopen() {
    let limit = usize::try_from(COMPACT_AFTER).unwrap();
    for count in [limit - 1, limit, limit + 1, 2 * limit + 3] {
        check_compaction(count);
    }
}

// Resolving ids and id prefixes.

/// What resolving a prefix should come to.
#[derive(Debug)]
enum Resolves {
    To(DocId),
    Ambiguous,
    NotFound,
}

fn check_resolve(store: &Store, prefix: &str, expected: Resolves) {
    match (store.resolve(prefix), &expected) {
        (Ok(id), Resolves::To(want)) => assert_eq!(id, *want, "`{prefix}`"),
        (Err(LookupError::Ambiguous { prefix: p, count }), Resolves::Ambiguous) => {
            assert_eq!(p, prefix);
            assert!(count >= 2, "`{prefix}` ambiguous among {count}");
        }
        (Err(LookupError::NotFound(p)), Resolves::NotFound) => assert_eq!(p, prefix),
        (got, _) => panic!("`{prefix}`: expected {expected:?}, got {got:?}"),
    }
}

#[test]
fn ids_resolve_from_full_ids_and_unique_prefixes_only() {
    let store = Store::in_memory().unwrap();
    // Create accounts until two share their first four hex digits (about 300 on average).
    let mut by_prefix: BTreeMap<String, Vec<DocId>> = BTreeMap::new();
    let pair = loop {
        assert!(by_prefix.len() < 20_000, "no shared 4-digit prefix found");
        // The same name on purpose: the duplicate warning is not what is tested here.
        let id = store.create_account_anyway(&named("Acme"), at(0)).unwrap();
        let ids = by_prefix.entry(id.to_string()[..4].to_owned()).or_default();
        ids.push(id);
        if ids.len() == 2 {
            break (ids[0], ids[1]);
        }
    };
    let ids: Vec<DocId> = store.accounts().unwrap().iter().map(|s| s.id).collect();
    let shared = pair.0.to_string()[..4].to_owned();
    let unused = (0..=0xffff_u32)
        .map(|p| format!("{p:04x}"))
        .find(|p| !by_prefix.contains_key(p))
        .unwrap();
    let (a, b) = (pair.0.to_string(), pair.1.to_string());
    let differ = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap();

    let mut cases = vec![
        (shared.clone(), Resolves::Ambiguous),
        (a[..differ].to_owned(), Resolves::Ambiguous),
        (a[..=differ].to_owned(), Resolves::To(pair.0)),
        (b[..=differ].to_owned(), Resolves::To(pair.1)),
        (a[..=differ].to_uppercase(), Resolves::To(pair.0)),
        (unused.clone(), Resolves::NotFound),
        (String::new(), Resolves::NotFound),
        (shared[..3].to_owned(), Resolves::NotFound),
        ("acmé".into(), Resolves::NotFound),
        ("xyz0".into(), Resolves::NotFound),
        (format!("+{}", &a[..4]), Resolves::NotFound),
        (format!("{}g", &a[..differ + 1]), Resolves::NotFound),
        (format!("{a}0"), Resolves::NotFound),
        (format!("{}g", &a[..31]), Resolves::NotFound),
    ];
    for &id in &ids {
        let text = id.to_string();
        cases.push((text.clone(), Resolves::To(id)));
        // The shortest unique prefix of at least four digits, as the CLI would show it.
        let unique = (4..32)
            .map(|len| &text[..len])
            .find(|p| ids.iter().filter(|i| i.to_string().starts_with(p)).count() == 1)
            .unwrap();
        cases.push((unique.to_owned(), Resolves::To(id)));
    }
    for (prefix, expected) in cases {
        check_resolve(&store, &prefix, expected);
    }
}

// The sync engine, driven by hand.

fn next_request(session: &mut SyncSession, store: &Store) -> SyncRequest {
    let body = session
        .next_request(store)
        .unwrap()
        .expect("the session wants another round trip");
    decode(&body).unwrap()
}

fn handle(session: &mut SyncSession, store: &Store, reply: &SyncReply, now: DateTime<Utc>) {
    session.handle_reply(store, &encode(reply), now).unwrap();
}

fn doc_from_changes(changes: &[Vec<u8>]) -> Automerge {
    let mut doc = Automerge::new();
    doc.apply_changes(
        changes
            .iter()
            .map(|c| Change::from_bytes(c.clone()).unwrap()),
    )
    .unwrap();
    doc
}

/// How a conflict names the device that wrote a value: its automerge actor, in hex.
fn device_hex(device: DeviceId) -> String {
    ActorId::from(device.to_bytes().as_slice()).to_hex_string()
}

fn heads_of(doc: &Automerge) -> Vec<Head> {
    doc.get_heads().iter().map(|h| Head(h.0)).collect()
}

fn text(doc: &Automerge, field: &str) -> Option<String> {
    let (value, _) = doc.get(ROOT, field).unwrap()?;
    value.as_str().map(str::to_owned)
}

fn result(doc: DocId, outcome: PushOutcome) -> PushResult {
    PushResult { doc, outcome }
}

fn update(doc: DocId, heads: Vec<Head>) -> DocUpdate {
    DocUpdate {
        action: UpdateAction::Merge,
        doc,
        snapshot: None,
        changes: Vec::new(),
        heads,
    }
}

/// A reply accepting every push of `request` at the store's current heads.
fn accept_all(store: &Store, request: &SyncRequest, checkpoint: u64) -> SyncReply {
    SyncReply {
        checkpoint: Seq(checkpoint),
        more: false,
        pushed: request
            .pushes
            .iter()
            .map(|p| result(p.doc, PushOutcome::Accepted))
            .collect(),
        updates: request
            .pushes
            .iter()
            .map(|p| update(p.doc, store.heads(p.doc).unwrap()))
            .collect(),
    }
}

#[test]
fn a_fresh_store_asks_from_checkpoint_zero_with_nothing_to_push() {
    for backend in BACKENDS {
        let fixture = backend.open();
        let store = &fixture.store;
        let request = next_request(&mut SyncSession::new(), store);
        assert_eq!(
            request,
            SyncRequest {
                device: store.device(),
                checkpoint: Seq::ZERO,
                pushes: Vec::new(),
            },
            "{backend:?}"
        );
    }
}

#[test]
fn accepted_pushes_leave_nothing_unsynced() {
    for backend in BACKENDS {
        let fixture = backend.open();
        let store = &fixture.store;
        let first = store.create_account(&acme(), at(0)).unwrap();
        let second = store.create_account(&named("Birch Supply"), at(1)).unwrap();
        store
            .edit_account(second, &follow_up(at(2), "quote sent"), at(3))
            .unwrap();

        let mut session = SyncSession::new();
        let body = session.next_request(store).unwrap().unwrap();
        let request: SyncRequest = decode(&body).unwrap();
        assert_eq!(request.device, store.device());
        assert_eq!(request.checkpoint, Seq::ZERO);
        let pushed: BTreeSet<DocId> = request.pushes.iter().map(|p| p.doc).collect();
        assert_eq!(pushed, BTreeSet::from([first, second]), "{backend:?}");
        for push in &request.pushes {
            let replica = doc_from_changes(&push.changes);
            let account = store.account(push.doc).unwrap();
            assert_eq!(heads_of(&replica), store.heads(push.doc).unwrap());
            assert_eq!(text(&replica, "name"), Some(account.record.name));
            assert_eq!(text(&replica, "owner"), Some(account.record.owner));
        }

        let now = at(60);
        let reply = encode(&accept_all(store, &request, 2));
        session.handle_reply(store, &reply, now).unwrap();
        let status = store.status().unwrap();
        assert_eq!(status.unsynced, Vec::<DocId>::new(), "{backend:?}");
        assert_eq!(status.checkpoint, Seq(2));
        assert_eq!(status.last_sync, Some(now));
        assert!(session.next_request(store).unwrap().is_none());
        let mut report = session.finish();
        report.pushed.sort();
        let mut both = vec![first, second];
        both.sort();
        assert_eq!(
            report,
            SyncReport {
                round_trips: 1,
                bytes_sent: body.len(),
                bytes_received: reply.len(),
                pushed: both,
                received: Vec::new(),
                refused: Vec::new(),
                rejected: Vec::new(),
                dropped: Vec::new(),
            },
            "{backend:?}"
        );

        // The outcome is durable, and the next sync starts from it with nothing to push.
        let fixture = fixture.reopen();
        assert_eq!(fixture.store.status().unwrap(), status, "{backend:?}");
        let request = next_request(&mut SyncSession::new(), &fixture.store);
        assert_eq!(request.checkpoint, Seq(2));
        assert!(request.pushes.is_empty());
    }
}

#[test]
fn a_cut_reply_makes_the_engine_ask_again_from_its_checkpoint() {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&acme(), at(0)).unwrap();
    let mut session = SyncSession::new();
    let request = next_request(&mut session, &store);
    let mut reply = accept_all(&store, &request, 1);
    reply.more = true;
    handle(&mut session, &store, &reply, at(1));

    let again = next_request(&mut session, &store);
    assert_eq!(again.checkpoint, Seq(1));
    assert!(again.pushes.is_empty(), "the push was accepted already");
    handle(&mut session, &store, &accept_all(&store, &again, 3), at(2));
    assert!(session.next_request(&store).unwrap().is_none());
    let report = session.finish();
    assert_eq!(report.round_trips, 2);
    assert_eq!(report.pushed, vec![id]);
    assert_eq!(store.status().unwrap().checkpoint, Seq(3));
}

#[test]
fn a_server_that_always_has_more_is_abandoned() {
    let store = Store::in_memory().unwrap();
    let mut session = SyncSession::new();
    let mut trips = 0;
    let error = loop {
        match session.next_request(&store) {
            Ok(Some(_)) => {
                trips += 1;
                let reply = SyncReply {
                    checkpoint: Seq(trips),
                    more: true,
                    pushed: Vec::new(),
                    updates: Vec::new(),
                };
                handle(&mut session, &store, &reply, at(0));
            }
            Ok(None) => panic!("the server never said it was done"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, SyncError::NoProgress(n) if n == MAX_ROUND_TRIPS),
        "{error:?}"
    );
    assert_eq!(trips, u64::from(MAX_ROUND_TRIPS));
}

#[test]
fn a_sync_that_keeps_moving_may_take_more_round_trips_than_the_stuck_limit() {
    // Another device's accounts, arriving one per reply, each reply saying there is more.
    let other = Store::in_memory().unwrap();
    let count = MAX_ROUND_TRIPS as usize + 4;
    for n in 0..count {
        other
            .create_account(&named(&format!("Account {n}")), at(0))
            .unwrap();
    }
    let pushes = next_request(&mut SyncSession::new(), &other).pushes;
    assert_eq!(pushes.len(), count);
    let store = Store::in_memory().unwrap();
    let mut session = SyncSession::new();
    let mut trips = 0;
    while session.next_request(&store).unwrap().is_some() {
        let push = &pushes[trips];
        trips += 1;
        let reply = SyncReply {
            checkpoint: Seq(trips as u64),
            more: trips < count,
            pushed: Vec::new(),
            updates: vec![DocUpdate {
                action: UpdateAction::Merge,
                doc: push.doc,
                snapshot: None,
                changes: push.changes.clone(),
                heads: heads_of(&doc_from_changes(&push.changes)),
            }],
        };
        handle(&mut session, &store, &reply, at(1));
    }
    let report = session.finish();
    assert_eq!(report.round_trips as usize, count);
    assert_eq!(report.received.len(), count);
    assert_eq!(store.accounts().unwrap().len(), count);
}

#[test]
fn a_refused_push_stays_unsynced_and_is_not_resent_in_the_same_sync() {
    let store = Store::in_memory().unwrap();
    let refused = store.create_account(&acme(), at(0)).unwrap();
    let retried = store.create_account(&named("Birch Supply"), at(0)).unwrap();
    let mut session = SyncSession::new();
    let request = next_request(&mut session, &store);
    assert_eq!(request.pushes.len(), 2);
    let reason = "change 3 does not decode".to_owned();
    let reply = SyncReply {
        checkpoint: Seq::ZERO,
        more: false,
        pushed: vec![
            result(
                refused,
                PushOutcome::Invalid {
                    reason: reason.clone(),
                },
            ),
            result(retried, PushOutcome::MissingDependencies),
        ],
        // The server holds neither document.
        updates: vec![update(refused, Vec::new()), update(retried, Vec::new())],
    };
    handle(&mut session, &store, &reply, at(1));
    let unsynced: BTreeSet<DocId> = store.status().unwrap().unsynced.into_iter().collect();
    assert_eq!(unsynced, BTreeSet::from([refused, retried]));

    let again = next_request(&mut session, &store);
    let docs: Vec<DocId> = again.pushes.iter().map(|p| p.doc).collect();
    assert_eq!(docs, vec![retried], "the refused document is skipped");
    let replica = doc_from_changes(&again.pushes[0].changes);
    assert_eq!(heads_of(&replica), store.heads(retried).unwrap());
    handle(&mut session, &store, &accept_all(&store, &again, 1), at(2));
    assert!(session.next_request(&store).unwrap().is_none());

    let report = session.finish();
    assert_eq!(report.pushed, vec![retried]);
    assert_eq!(report.refused, vec![(refused, reason)]);
    assert_eq!(store.status().unwrap().unsynced, vec![refused]);
    // A refusal lasts one sync: the next one offers the document again.
    let next = next_request(&mut SyncSession::new(), &store);
    let docs: Vec<DocId> = next.pushes.iter().map(|p| p.doc).collect();
    assert_eq!(docs, vec![refused]);
}

#[test]
fn an_unreadable_reply_is_a_bad_reply_and_changes_nothing() {
    let valid = SyncReply {
        checkpoint: Seq(7),
        more: false,
        pushed: Vec::new(),
        updates: Vec::new(),
    };
    let mut trailing = encode(&valid);
    trailing.push(0);
    let mut future = encode(&valid);
    future[4..6].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    let mut truncated = encode(&SyncReply {
        updates: vec![update(DocId::from_u128(1), vec![Head([1; 32])])],
        ..valid.clone()
    });
    truncated.truncate(truncated.len() - 5);
    let bodies: [(&str, Vec<u8>); 6] = [
        ("empty", Vec::new()),
        ("html", b"<html>502 Bad Gateway</html>".to_vec()),
        ("trailing bytes", trailing),
        ("newer version", future),
        ("truncated", truncated),
        (
            "header only",
            [&b"OPST"[..], &PROTOCOL_VERSION.to_le_bytes()].concat(),
        ),
    ];
    for (what, body) in bodies {
        let store = Store::in_memory().unwrap();
        let id = store.create_account(&acme(), at(0)).unwrap();
        let mut session = SyncSession::new();
        let request = next_request(&mut session, &store);
        let before = observe(&store);
        match session.handle_reply(&store, &body, at(1)) {
            Err(SyncError::BadReply(_)) => {}
            other => panic!("{what}: expected BadReply, got {other:?}"),
        }
        assert_eq!(observe(&store), before, "{what}");
        // The session is not spoiled: the real reply still lands.
        handle(
            &mut session,
            &store,
            &accept_all(&store, &request, 1),
            at(2),
        );
        assert!(session.next_request(&store).unwrap().is_none());
        let report = session.finish();
        assert_eq!(report.round_trips, 1, "{what}: only the good reply counts");
        assert_eq!(report.pushed, vec![id]);
    }
}

#[test]
fn an_edit_made_during_a_sync_stays_unsynced() {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&acme(), at(0)).unwrap();
    let mut session = SyncSession::new();
    let request = next_request(&mut session, &store);
    let pushed_heads = heads_of(&doc_from_changes(&request.pushes[0].changes));
    store
        .edit_account(id, &follow_up(at(1), "called back"), at(1))
        .unwrap();
    let reply = SyncReply {
        updates: vec![update(id, pushed_heads.clone())],
        ..accept_all(&store, &request, 1)
    };
    handle(&mut session, &store, &reply, at(2));
    assert_eq!(store.status().unwrap().unsynced, vec![id]);

    // The next sync pushes only the change made after the acknowledged heads.
    let next = next_request(&mut SyncSession::new(), &store);
    assert_eq!(next.pushes.len(), 1);
    assert_eq!(next.pushes[0].changes.len(), 1);
    let change = Change::from_bytes(next.pushes[0].changes[0].clone()).unwrap();
    let deps: Vec<Head> = change.deps().iter().map(|h| Head(h.0)).collect();
    assert_eq!(deps, pushed_heads);
}

#[test]
fn pushes_beyond_the_budget_go_in_a_second_round_trip() {
    // Text that automerge cannot shrink, so each account's size is predictable.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = |len: usize| -> String {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect()
    };
    let store = Store::in_memory().unwrap();
    let mut big = || NewAccount {
        name: noise(2_000),
        owner: noise(2_000),
        region: Some(noise(2_000)),
        ..NewAccount::default()
    };
    // Noise names never match, but skip the duplicate scan: hundreds of accounts follow.
    store.create_account_anyway(&big(), at(0)).unwrap();
    let probe = next_request(&mut SyncSession::new(), &store);
    let each: usize = probe.pushes[0].changes.iter().map(Vec::len).sum();
    for _ in 0..PUSH_BUDGET / each + 10 {
        store.create_account_anyway(&big(), at(0)).unwrap();
    }
    let all: BTreeSet<DocId> = store.status().unwrap().unsynced.into_iter().collect();

    let mut session = SyncSession::new();
    let first = next_request(&mut session, &store);
    let size: usize = first
        .pushes
        .iter()
        .flat_map(|p| &p.changes)
        .map(Vec::len)
        .sum();
    assert!(size <= PUSH_BUDGET, "{size} bytes in one request");
    assert!(first.pushes.len() < all.len());
    handle(&mut session, &store, &accept_all(&store, &first, 1), at(1));
    let second = next_request(&mut session, &store);
    handle(&mut session, &store, &accept_all(&store, &second, 2), at(2));
    assert!(session.next_request(&store).unwrap().is_none());

    let firsts: BTreeSet<DocId> = first.pushes.iter().map(|p| p.doc).collect();
    let seconds: BTreeSet<DocId> = second.pushes.iter().map(|p| p.doc).collect();
    assert!(firsts.is_disjoint(&seconds));
    assert_eq!(&firsts | &seconds, all);
    assert!(store.status().unwrap().unsynced.is_empty());
    assert_eq!(session.finish().round_trips, 2);
}

// Two devices through a stand-in server.

/// Just enough of a server to relay changes between stores in one process: it accepts every
/// push, keeps a feed of who pushed what, and answers with what the asking device lacks.
#[derive(Default)]
struct Relay {
    docs: BTreeMap<DocId, Automerge>,
    /// One entry per commit: document, pushing device, raw changes.
    feed: Vec<(DocId, DeviceId, Vec<Vec<u8>>)>,
    /// Answer with each changed document whole (a compacted save, as a server does for a
    /// document it compacted or one entering the device's scope) instead of its changes.
    whole: bool,
}

impl Relay {
    fn answer(&mut self, body: &[u8]) -> Vec<u8> {
        let request: SyncRequest = decode(body).unwrap();
        let mut pushed = Vec::new();
        for push in &request.pushes {
            let doc = self.docs.entry(push.doc).or_default();
            let before = doc.get_heads();
            doc.apply_changes(
                push.changes
                    .iter()
                    .map(|c| Change::from_bytes(c.clone()).unwrap()),
            )
            .unwrap();
            if doc.get_heads() != before {
                self.feed
                    .push((push.doc, request.device, push.changes.clone()));
            }
            pushed.push(result(push.doc, PushOutcome::Accepted));
        }
        let mut changes: BTreeMap<DocId, Vec<Vec<u8>>> = BTreeMap::new();
        let start = usize::try_from(request.checkpoint.0).unwrap();
        for (doc, origin, bytes) in &self.feed[start..] {
            if *origin != request.device {
                changes.entry(*doc).or_default().extend_from_slice(bytes);
            }
        }
        for push in &request.pushes {
            changes.entry(push.doc).or_default();
        }
        let updates = changes
            .into_iter()
            .map(|(doc, changes)| {
                let whole = self.whole && !changes.is_empty();
                DocUpdate {
                    action: UpdateAction::Merge,
                    doc,
                    snapshot: whole.then(|| self.docs[&doc].save()),
                    changes: if whole { Vec::new() } else { changes },
                    heads: heads_of(&self.docs[&doc]),
                }
            })
            .collect();
        encode(&SyncReply {
            checkpoint: Seq(self.feed.len() as u64),
            more: false,
            pushed,
            updates,
        })
    }

    fn sync(&mut self, store: &Store, now: DateTime<Utc>) -> SyncReport {
        let mut session = SyncSession::new();
        while let Some(body) = session.next_request(store).unwrap() {
            let reply = self.answer(&body);
            session.handle_reply(store, &reply, now).unwrap();
        }
        session.finish()
    }
}

#[test]
fn two_devices_converge_through_the_engine() {
    let (alice, bob) = (Store::in_memory().unwrap(), Store::in_memory().unwrap());
    let mut relay = Relay::default();
    let id = alice.create_account(&acme(), at(0)).unwrap();
    relay.sync(&alice, at(1));
    let report = relay.sync(&bob, at(1));
    assert_eq!(report.received, vec![id]);
    assert_eq!(bob.account(id).unwrap(), alice.account(id).unwrap());
    assert!(bob.status().unwrap().unsynced.is_empty());

    // Offline on both sides: a follow-up on one, a rename and a follow-up on the other.
    bob.edit_account(id, &follow_up(at(5), "visit: wants a quote"), at(6))
        .unwrap();
    alice
        .edit_account_all(
            id,
            &[
                AccountEdit::SetName("Acme Tools".into()),
                follow_up(at(3), "phone: asked about prices"),
            ],
            at(7),
        )
        .unwrap();
    let request = next_request(&mut SyncSession::new(), &bob);
    assert_eq!(request.pushes[0].changes.len(), 1, "only the new change");
    for store in [&bob, &alice, &bob] {
        relay.sync(store, at(8));
    }
    let account = alice.account(id).unwrap();
    assert_eq!(bob.account(id).unwrap(), account);
    assert_eq!(account.record.name, "Acme Tools");
    let summaries: Vec<&str> = account
        .follow_ups()
        .iter()
        .map(|(_, f)| &*f.summary)
        .collect();
    assert_eq!(
        summaries,
        ["phone: asked about prices", "visit: wants a quote"]
    );
    assert_eq!(bob.heads(id).unwrap(), alice.heads(id).unwrap());

    // Concurrent owner changes surface as a conflict, the same on both devices.
    alice
        .edit_account(id, &AccountEdit::SetOwner("lee".into()), at(9))
        .unwrap();
    bob.edit_account(id, &AccountEdit::SetOwner("sam".into()), at(9))
        .unwrap();
    for store in [&alice, &bob, &alice] {
        relay.sync(store, at(10));
    }
    let account = alice.account(id).unwrap();
    assert_eq!(bob.account(id).unwrap(), account);
    assert_eq!(account.conflicts.len(), 1, "{:?}", account.conflicts);
    let conflict = &account.conflicts[0];
    assert_eq!(conflict.path, "owner");
    let values: BTreeSet<&str> = conflict.values.iter().map(|v| &*v.value).collect();
    assert_eq!(values, BTreeSet::from(["lee", "sam"]));
    assert_eq!(
        conflict.values[0].value, account.record.owner,
        "the shown value first"
    );
    let devices: BTreeSet<String> = conflict.values.iter().map(|v| v.device.clone()).collect();
    let expected: BTreeSet<String> = [&alice, &bob]
        .iter()
        .map(|s| device_hex(s.device()))
        .collect();
    assert_eq!(devices, expected, "who set each value");
    assert!(
        conflict.values.iter().all(|v| v.at == Some(at(9))),
        "when each was set"
    );
    for store in [&alice, &bob] {
        let status = store.status().unwrap();
        assert!(status.unsynced.is_empty());
        assert_eq!(status.checkpoint, Seq(relay.feed.len() as u64));
        // Nothing to do is one small round trip.
        let report = relay.sync(store, at(11));
        assert_eq!((report.round_trips, report.pushed.len()), (1, 0));
    }
}

#[test]
fn a_snapshot_update_brings_in_what_the_device_lacks() {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&acme(), at(0)).unwrap();
    let mut session = SyncSession::new();
    let request = next_request(&mut session, &store);
    // The server merged another device's rename and compacted the document.
    let mut server = doc_from_changes(&request.pushes[0].changes).with_actor(ActorId::random());
    let mut tx = server.transaction();
    tx.put(ROOT, "name", "Acme Tools").unwrap();
    tx.commit();
    let reply = SyncReply {
        checkpoint: Seq(2),
        more: false,
        pushed: vec![result(id, PushOutcome::Accepted)],
        updates: vec![DocUpdate {
            action: UpdateAction::Merge,
            doc: id,
            snapshot: Some(server.save()),
            changes: Vec::new(),
            heads: heads_of(&server),
        }],
    };
    handle(&mut session, &store, &reply, at(1));
    assert_eq!(store.account(id).unwrap().record.name, "Acme Tools");
    assert_eq!(store.heads(id).unwrap(), heads_of(&server));
    assert!(store.status().unwrap().unsynced.is_empty());
    assert_eq!(session.finish().received, vec![id]);
}

/// How an update in an otherwise well-formed reply can be broken.
#[derive(Debug, Clone, Copy)]
enum Broken {
    /// Bytes that are no automerge data, for a document the device does not hold.
    GarbageForNewDoc,
    /// Bytes that are no automerge data, for a document the device holds.
    Garbage,
    /// Two changes with the end of the second cut off.
    Truncated,
    /// The second of two changes without the first, which it depends on.
    MissingDependency,
}

/// Checks that a reply whose update the device cannot fully apply never moves the checkpoint
/// past changes the device did not store: either the checkpoint stays where it was, or the
/// device holds the document at the heads the reply announced. Returns what went wrong.
fn check_unappliable_update(broken: Broken) -> Option<String> {
    let store = Store::in_memory().unwrap();
    let id = store.create_account(&acme(), at(0)).unwrap();
    let mut session = SyncSession::new();
    let request = next_request(&mut session, &store);
    handle(
        &mut session,
        &store,
        &accept_all(&store, &request, 1),
        at(1),
    );

    let mut server = doc_from_changes(&request.pushes[0].changes).with_actor(ActorId::random());
    let mut commit = |field: &str, value: &str| {
        let mut tx = server.transaction();
        tx.put(ROOT, field, value).unwrap();
        tx.commit();
        let change = server.get_last_local_change().unwrap();
        change.raw_bytes().to_vec()
    };
    let (owner, name) = (commit("owner", "lee"), commit("name", "Acme Tools"));
    let (doc, changes, heads) = match broken {
        Broken::GarbageForNewDoc => (
            DocId::from_u128(42),
            vec![b"not automerge".to_vec()],
            vec![Head([9; 32])],
        ),
        Broken::Garbage => (id, vec![b"not automerge".to_vec()], heads_of(&server)),
        Broken::Truncated => {
            let mut name = name;
            name.truncate(name.len() - 8);
            (id, vec![owner, name], heads_of(&server))
        }
        Broken::MissingDependency => (id, vec![name], heads_of(&server)),
    };
    let before = store.status().unwrap();
    let reply = SyncReply {
        checkpoint: Seq(3),
        more: false,
        pushed: Vec::new(),
        updates: vec![DocUpdate {
            action: UpdateAction::Merge,
            doc,
            snapshot: None,
            changes,
            heads: heads.clone(),
        }],
    };
    let outcome = SyncSession::new().handle_reply(&store, &encode(&reply), at(2));
    let after = store.status().unwrap();
    let held = store.heads(doc).ok();
    let stored = after.checkpoint == before.checkpoint || held.as_ref() == Some(&heads);
    (!stored).then(|| {
        format!(
            "{broken:?}: handle_reply gave {outcome:?}; checkpoint moved {} -> {} although the \
             device holds {held:?}, not the announced {heads:?}",
            before.checkpoint, after.checkpoint,
        )
    })
}

/// Automerge's `load_incremental` returns `Ok` after a partial load and queues changes whose
/// dependencies are missing, so "no error" does not mean "stored".
#[test]
fn an_update_the_device_cannot_apply_does_not_advance_the_checkpoint() {
    let failures: Vec<String> = [
        Broken::GarbageForNewDoc,
        Broken::Garbage,
        Broken::Truncated,
        Broken::MissingDependency,
    ]
    .into_iter()
    .filter_map(check_unappliable_update)
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// The typed record kept beside a cached document.

/// A step of two devices working on one account.
#[derive(Debug, Clone)]
enum Step {
    /// An edit (of kind `kind`) on device `on`.
    Edit { on: usize, kind: u8 },
    /// Device `on` syncs; `whole`: the relay answers with compacted documents.
    Sync { on: usize, whole: bool },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize, 0..6u8).prop_map(|(on, kind)| Step::Edit { on, kind }),
        (0..2usize, any::<bool>()).prop_map(|(on, whole)| Step::Sync { on, whole }),
    ]
}

/// The edit of kind `kind` at step `n`, made at `now`.
fn edit_of(kind: u8, n: i64, now: DateTime<Utc>) -> AccountEdit {
    match kind {
        0 => follow_up(now - chrono::Duration::minutes(3), &format!("visit {n}")),
        1 => AccountEdit::SetName(format!("Acme {n}")),
        2 => AccountEdit::SetNotes(format!("notes of step {n}\nsecond line")),
        3 => AccountEdit::AddContact(outpost_client::model::Contact {
            name: format!("buyer {n}"),
            phone: Some(format!("138 0013 {n:04}")),
            ..outpost_client::model::Contact::default()
        }),
        4 => AccountEdit::SetRegion(format!("region {n}")),
        _ => AccountEdit::PlanFollowUp {
            due: now + chrono::Duration::days(2),
            method: ContactMethod::Visit,
            goal: format!("demo {n}"),
            owner: None,
        },
    }
}

/// Runs `steps` on two on-disk devices sharing one account through the relay, and after each
/// step checks that what each device answers (from the record its cache keeps, brought up to
/// date from patches) is what a whole read gives once the store is reopened from disk.
fn check_records_match_a_whole_read(steps: &[Step]) {
    let mut devices = [Backend::Disk.open(), Backend::Disk.open()];
    let mut relay = Relay::default();
    let id = devices[0].store.create_account(&acme(), at(0)).unwrap();
    relay.sync(&devices[0].store, at(0));
    relay.sync(&devices[1].store, at(0));
    for (n, step) in steps.iter().enumerate() {
        let n = n as i64 + 1;
        // Times finer than the stored milliseconds: the record must not keep them.
        let now = at(n) + chrono::Duration::nanoseconds(123_456_789);
        match *step {
            Step::Edit { on, kind } => {
                let store = &devices[on].store;
                // Warm the cache the way an app does: the account is shown before it is edited.
                store.account(id).unwrap();
                store.edit_account(id, &edit_of(kind, n, now), now).unwrap();
            }
            Step::Sync { on, whole } => {
                relay.whole = whole;
                relay.sync(&devices[on].store, now);
            }
        }
        for device in &mut devices {
            let cached = device.store.account(id).unwrap();
            let summaries = device.store.accounts().unwrap();
            let fixture = std::mem::replace(device, Backend::Memory.open());
            *device = fixture.reopen();
            assert_eq!(device.store.account(id).unwrap(), cached, "after {step:?}");
            assert_eq!(
                device.store.accounts().unwrap(),
                summaries,
                "after {step:?}"
            );
        }
    }
    // Synced both ways, both devices hold the same account.
    relay.whole = false;
    for on in [0, 1, 0] {
        relay.sync(&devices[on].store, at(100));
    }
    assert_eq!(
        devices[0].store.account(id).unwrap(),
        devices[1].store.account(id).unwrap()
    );
}

#[test]
fn the_kept_record_is_what_a_whole_read_gives_after_edits_and_replies() {
    use Step::{Edit, Sync};
    // Concurrent edits on both devices, merged from changes and from compacted documents.
    check_records_match_a_whole_read(&[
        Edit { on: 0, kind: 0 },
        Edit { on: 1, kind: 1 },
        Edit { on: 0, kind: 1 },
        Sync {
            on: 0,
            whole: false,
        },
        Sync {
            on: 1,
            whole: false,
        },
        Edit { on: 1, kind: 2 },
        Edit { on: 0, kind: 2 },
        Edit { on: 0, kind: 3 },
        Sync { on: 1, whole: true },
        Sync { on: 0, whole: true },
        Edit { on: 0, kind: 5 },
        Edit { on: 1, kind: 4 },
        Sync {
            on: 1,
            whole: false,
        },
        Sync {
            on: 0,
            whole: false,
        },
    ]);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 12,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    runner
        .run(&proptest::collection::vec(step(), 1..10), |steps| {
            check_records_match_a_whole_read(&steps);
            Ok(())
        })
        .unwrap();
}

/// A device that receives an account as one compacted document keeps the server's bytes as its
/// snapshot: the account reads back the same after a reopen, and the next change merges on it.
#[test]
fn a_new_document_from_a_snapshot_is_kept_as_sent() {
    let fixture = Backend::Disk.open();
    let origin = Store::in_memory().unwrap();
    let id = origin.create_account(&acme(), at(0)).unwrap();
    origin
        .edit_account(id, &follow_up(at(1), "visit"), at(2))
        .unwrap();
    let request = next_request(&mut SyncSession::new(), &origin);
    let server = doc_from_changes(&request.pushes[0].changes);
    let snapshot = server.save();
    let reply = SyncReply {
        checkpoint: Seq(1),
        more: false,
        pushed: Vec::new(),
        updates: vec![DocUpdate {
            action: UpdateAction::Merge,
            doc: id,
            snapshot: Some(snapshot),
            changes: Vec::new(),
            heads: heads_of(&server),
        }],
    };
    let mut session = SyncSession::new();
    next_request(&mut session, &fixture.store);
    handle(&mut session, &fixture.store, &reply, at(3));
    assert_eq!(session.finish().received, vec![id]);
    let account = fixture.store.account(id).unwrap();
    assert_eq!(account.record.follow_ups.len(), 1);
    let fixture = fixture.reopen();
    assert_eq!(fixture.store.account(id).unwrap(), account);
    assert_eq!(fixture.store.heads(id).unwrap(), heads_of(&server));
    assert!(fixture.store.status().unwrap().unsynced.is_empty());

    // A change after the snapshot, sent as a change, merges onto the stored snapshot.
    let mut server = server.with_actor(ActorId::random());
    let mut tx = server.transaction();
    tx.put(ROOT, "name", "Acme Tools").unwrap();
    tx.commit();
    let change = server.get_last_local_change().unwrap().raw_bytes().to_vec();
    let mut next = update(id, heads_of(&server));
    next.changes = vec![change];
    let reply = SyncReply {
        checkpoint: Seq(2),
        more: false,
        pushed: Vec::new(),
        updates: vec![next],
    };
    let mut session = SyncSession::new();
    next_request(&mut session, &fixture.store);
    handle(&mut session, &fixture.store, &reply, at(4));
    let renamed = fixture.store.account(id).unwrap();
    assert_eq!(renamed.record.name, "Acme Tools");
    let fixture = fixture.reopen();
    assert_eq!(fixture.store.account(id).unwrap(), renamed);
    assert_eq!(fixture.store.heads(id).unwrap(), heads_of(&server));
}

/// A first sync brings many new documents in one reply (they are made and read on several
/// threads): every one arrives whole, with its summary, and reads the same after a reopen.
#[test]
fn a_first_sync_of_many_accounts_keeps_every_one() {
    let origin = Store::in_memory().unwrap();
    let mut ids = BTreeSet::new();
    for i in 0..100 {
        let id = origin
            .create_account(&named(&format!("Shop {i}")), at(0))
            .unwrap();
        if i % 3 == 0 {
            origin
                .edit_account(id, &follow_up(at(1), &format!("visit {i}")), at(2))
                .unwrap();
        }
        ids.insert(id);
    }
    let mut relay = Relay::default();
    relay.sync(&origin, at(3));
    for whole in [false, true] {
        relay.whole = whole;
        let fixture = Backend::Disk.open();
        let report = relay.sync(&fixture.store, at(4));
        assert_eq!(
            report.received.iter().copied().collect::<BTreeSet<_>>(),
            ids
        );
        let fixture = fixture.reopen();
        assert_eq!(
            fixture.store.accounts().unwrap(),
            origin.accounts().unwrap()
        );
        for &id in &ids {
            assert_eq!(
                fixture.store.account(id).unwrap(),
                origin.account(id).unwrap()
            );
            assert_eq!(fixture.store.heads(id).unwrap(), origin.heads(id).unwrap());
        }
        assert!(fixture.store.status().unwrap().unsynced.is_empty());
    }
}
