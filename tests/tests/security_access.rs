//! What a push tells a device about accounts it may not see, and how long a handover lets the
//! old owner write, through the real server (issue 16, items 11 and 12):
//! - a push to an account the pusher cannot see answered with the owner's login and the
//!   account's heads, and an empty push answered differently for an existing id and a random
//!   one; invisible and missing now answer alike;
//! - after a handover the old owner's device kept pushing edits built on its old copy, all
//!   accepted; they are now taken only until the server has told that device of the handover
//!   (its first sync after it), whatever checkpoint the device claims later, and across a
//!   restart.

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use chrono::Utc;
use outpost_client::NewAccount;
use outpost_protocol::{DocId, DocPush, PushOutcome, SyncReply, UpdateAction};
use outpost_tests::{Device, TestServer, put_change};

async fn create(device: &Device, name: &str, owner: &str) -> DocId {
    let new = NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    };
    let id = device
        .store
        .create_account_anyway(&new, Utc::now())
        .unwrap();
    assert_eq!(device.sync().await.pushed, [id]);
    id
}

/// One change on `doc` by `device`'s actor, setting the region.
fn change_by(doc: &Automerge, device: &Device, region: &str) -> (Vec<u8>, Automerge) {
    put_change(doc, &device.store.device().to_bytes(), "region", region)
}

/// The outcome and the update a push of `changes` to `doc` gets, with the id taken out so
/// two documents' answers compare.
async fn answer(
    server: &TestServer,
    device: &Device,
    doc: DocId,
    changes: Vec<Vec<u8>>,
) -> (String, String) {
    let (status, reply) = device
        .push_raw(&server.url(), vec![DocPush { doc, changes }])
        .await;
    assert_eq!(status, 200);
    let reply: SyncReply = reply.unwrap();
    let outcome = format!("{:?}", reply.pushed[0].outcome).replace(&doc.to_string(), "ID");
    let update = reply.updates.iter().find(|u| u.doc == doc).map(|u| {
        format!(
            "{:?} {:?} {:?} {:?}",
            u.action, u.snapshot, u.changes, u.heads
        )
    });
    (outcome, format!("{update:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_and_missing_accounts_answer_alike() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let sol = server.device_of("sol").await;
    let anas = create(&ana, "Ana Account", "ana").await;
    let random = DocId::from_u128(0x0bad_5eed_0000_0000_0000_0000_0000_0001);
    let stored = server.storage().document(anas).unwrap().unwrap();
    let heads = server.storage().heads(anas).unwrap();
    let (on_anas, _) = change_by(&stored, &sol, "Sol was here");
    let (on_nothing, _) = change_by(&Automerge::new(), &sol, "anywhere");
    let mut unknown_base = Automerge::new();
    let mut tx = unknown_base.transaction();
    tx.put(ROOT, "name", "elsewhere").unwrap();
    tx.commit();
    let (unknown_deps, _) = change_by(&unknown_base, &sol, "x");

    // Empty, garbage and unknown-dependency pushes: the same answer for Ana's account and for
    // an id nobody holds.
    for changes in [vec![], vec![b"not a change".to_vec()], vec![unknown_deps]] {
        let invisible = answer(&server, &sol, anas, changes.clone()).await;
        let missing = answer(&server, &sol, random, changes).await;
        assert_eq!(invisible, missing);
    }
    // A change built on the account's real heads is refused without naming its owner, and
    // the reply carries nothing of the account: a bare Drop, as for an id nobody holds.
    let (outcome, update) = answer(&server, &sol, anas, vec![on_anas]).await;
    assert!(
        outcome.contains("you may not change account ID"),
        "{outcome}"
    );
    assert!(!outcome.contains("ana"), "{outcome}");
    assert_eq!(update, format!("{:?}", Some("Drop None [] []")));
    let (_, missing) = answer(&server, &sol, random, vec![b"junk".to_vec()]).await;
    assert_eq!(update, missing);
    assert_eq!(server.storage().heads(anas).unwrap(), heads);
    // A change on nothing is a new account under that id only where none exists.
    let (outcome, _) = answer(&server, &sol, anas, vec![on_nothing]).await;
    assert!(
        outcome.contains("you may not change account ID"),
        "{outcome}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_owner_writes_only_until_told_of_the_handover() {
    let mut server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let ben = server.device_of("ben").await;
    let mia = server.device_of("mia").await;
    let anas = create(&ana, "Ana Account", "ana").await;
    // The copy Ana's device holds before the handover.
    let old = server.storage().document(anas).unwrap().unwrap();

    let response = reqwest::Client::new()
        .post(format!("{}/v1/handover", server.url()))
        .bearer_auth(mia.token())
        .json(&serde_json::json!({"from": "ana", "to": "ben"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Her first sync after the handover: an edit made on her old copy, before she heard of
    // it, is taken (it reaches Ben), and the reply tells her of the handover.
    let (first, copy) = change_by(&old, &ana, "Before she heard");
    let (status, reply) = ana
        .push_raw(
            &server.url(),
            vec![DocPush {
                doc: anas,
                changes: vec![first],
            }],
        )
        .await;
    assert_eq!(status, 200);
    let reply = reply.unwrap();
    assert_eq!(reply.pushed[0].outcome, PushOutcome::Accepted);
    let update = reply.updates.iter().find(|u| u.doc == anas).unwrap();
    assert_eq!(update.action, UpdateAction::Drop);
    ben.sync().await;
    assert_eq!(
        ben.store.account(anas).unwrap().record.region.as_deref(),
        Some("Before she heard")
    );

    // Told now: more edits on the old copy are refused, though she claims checkpoint 0 again.
    let heads = server.storage().heads(anas).unwrap();
    let (second, _) = change_by(&copy, &ana, "After she heard");
    let (_, reply) = ana
        .push_raw(
            &server.url(),
            vec![DocPush {
                doc: anas,
                changes: vec![second],
            }],
        )
        .await;
    match &reply.unwrap().pushed[0].outcome {
        PushOutcome::Rejected { reason } => {
            assert!(reason.contains("you may not change"), "{reason}")
        }
        other => panic!("an edit after the handover was told was {other:?}"),
    }
    assert_eq!(server.storage().heads(anas).unwrap(), heads);

    // The server remembers what it told her across a restart.
    server.restart().await;
    let (third, _) = change_by(&copy, &ana, "After a restart");
    let (_, reply) = ana
        .push_raw(
            &server.url(),
            vec![DocPush {
                doc: anas,
                changes: vec![third],
            }],
        )
        .await;
    assert!(
        matches!(
            reply.unwrap().pushed[0].outcome,
            PushOutcome::Rejected { .. }
        ),
        "refused after a restart too"
    );
    assert_eq!(server.storage().heads(anas).unwrap(), heads);
}
