//! The limits on what one sync request may carry, set by `outpost-server serve` flags: a body
//! too large or too many accounts in one request is a 413; an account pushed with too many
//! bytes, a change that inflates past the limit (a deflate bomb, refused before it is
//! expanded) or a document that would grow past its operation limit is refused with the
//! reason, and none of it is stored. Devices never send more than the protocol's
//! [`MAX_PUSHES`] accounts per request, so a big backlog goes in several round trips.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use chrono::{TimeZone, Utc};
use outpost_client::{NewAccount, SyncError};
use outpost_protocol::{DocId, DocPush, ErrorCode, MAX_PUSHES, PushOutcome, SyncReply};
use outpost_tests::{ADMIN, Device, ServerProcess, TestServer};

/// One change by `device` whose notes hold `text`: compressed by automerge when it is large.
fn change_with_text(device: &Device, text: &str) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(device.store.device().to_bytes()));
    let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
    doc.splice_text(&notes, 0, 0, text).unwrap();
    let mut change = doc.get_last_local_change().unwrap().clone();
    change.bytes().into_owned()
}

fn refusal(reply: &SyncReply) -> &str {
    match &reply.pushed[..] {
        [one] => match &one.outcome {
            PushOutcome::Rejected { reason } => reason,
            other => panic!("not refused: {other:?}"),
        },
        other => panic!("one push expected: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_limits_refuse_oversized_requests_and_pushes_and_store_none_of_them() {
    let data = TestServer::start().await.stop().await;
    let server = ServerProcess::start(
        data.path(),
        &[
            "--max-request-bytes",
            "1000000",
            "--max-docs-per-request",
            "5",
            "--max-push-bytes",
            "100000",
            "--max-change-bytes",
            "300000",
            "--max-doc-ops",
            "5000",
        ],
    );
    let url = format!("http://{}", server.addr);
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let ana = Device::logged_in(&url, "ana").await;
    let account = |i: usize| NewAccount {
        name: format!("Limit Co {i}"),
        owner: "ana".into(),
        ..NewAccount::default()
    };
    // Within the limits: synced as usual.
    for i in 0..3 {
        ana.store.create_account(&account(i), now).unwrap();
    }
    assert_eq!(ana.sync().await.pushed.len(), 3);

    let small = change_with_text(&ana, "a visit");
    let new_doc = |changes| DocPush {
        doc: DocId::from_u128(rand::random()),
        changes,
    };
    let too_many: Vec<DocPush> = (0..6).map(|_| new_doc(vec![small.clone()])).collect();
    let (status, reply) = ana.push_raw(&url, too_many).await;
    let error = reply.unwrap_err();
    assert_eq!((status, error.code), (413, ErrorCode::TooLarge));
    assert!(
        error
            .message
            .contains("pushes 6 accounts; this server takes at most 5"),
        "{}",
        error.message
    );

    let (status, reply) = ana.post_sync(&url, vec![0; 1_000_001]).await;
    let error = reply.unwrap_err();
    assert_eq!((status, error.code), (413, ErrorCode::TooLarge));
    assert!(
        error.message.contains("larger than 1000000 bytes"),
        "{}",
        error.message
    );

    // 250 KB of random letters: about 150 KB compressed, over the push limit as sent.
    let noise: String = (0..250_000)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    let (status, reply) = ana
        .push_raw(&url, vec![new_doc(vec![change_with_text(&ana, &noise)])])
        .await;
    let reply = reply.unwrap();
    assert_eq!(status, 200);
    assert!(
        refusal(&reply).contains(
            "bytes of changes to one account in one sync; this server takes at most 100000"
        ),
        "{}",
        refusal(&reply)
    );

    // A million repeated letters compress to a few kilobytes and would inflate to a megabyte.
    let bomb = change_with_text(&ana, &"a".repeat(1_000_000));
    assert!(bomb.len() < 100_000, "{} bytes as sent", bomb.len());
    let (_, reply) = ana.push_raw(&url, vec![new_doc(vec![bomb])]).await;
    let reply = reply.unwrap();
    assert!(
        refusal(&reply).contains("change 0: a change inflates to more than 300000 bytes"),
        "{}",
        refusal(&reply)
    );

    // 6,000 letters are 6,000 operations: more than an account may hold here.
    let (_, reply) = ana
        .push_raw(
            &url,
            vec![new_doc(vec![change_with_text(&ana, &"b".repeat(6_000))])],
        )
        .await;
    let reply = reply.unwrap();
    assert!(
        refusal(&reply).contains("would hold 6001 operations; this server keeps at most 5000"),
        "{}",
        refusal(&reply)
    );

    // A real device with more unsynced accounts than this server takes per request is told
    // why, and keeps them all.
    for i in 3..9 {
        ana.store.create_account(&account(i), now).unwrap();
    }
    match ana.try_sync().await {
        Err(SyncError::Refused { status, reply }) => {
            assert_eq!(status, 413);
            assert!(reply.message.contains("at most 5"), "{}", reply.message);
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(ana.store.status().unwrap().unsynced.len(), 6);

    // Nothing refused was stored: the admin sees ana's three synced accounts only.
    let admin = Device::logged_in(&url, ADMIN).await;
    admin.sync().await;
    let mut names: Vec<String> = admin
        .store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    assert_eq!(names, ["Limit Co 0", "Limit Co 1", "Limit Co 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_one_request_goes_in_several() {
    let server = TestServer::start().await;
    let device = server.device_of("ben").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let accounts: Vec<NewAccount> = (0..MAX_PUSHES + 10)
        .map(|i| NewAccount {
            name: format!("Backlog {i}"),
            owner: "ben".into(),
            ..NewAccount::default()
        })
        .collect();
    device
        .store
        .create_accounts(&accounts, now, 500, &mut |_| {})
        .unwrap();
    let report = device.sync().await;
    assert_eq!(report.pushed.len(), MAX_PUSHES + 10);
    assert_eq!(report.round_trips, 2, "{MAX_PUSHES} accounts, then 10");
    assert!(device.store.status().unwrap().unsynced.is_empty());
}
