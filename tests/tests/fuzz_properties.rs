//! Property-based fuzzing of what arrives from the network, run in CI:
//! - protocol decoding: arbitrary bytes, and valid messages cut, extended or with bytes
//!   flipped, decode or fail with an error, never panic; what decodes re-encodes to a message
//!   that decodes to the same value;
//! - the server's handling of sync messages, through HTTP: requests with arbitrary
//!   checkpoints and pushes of random bytes, corrupted changes, and real automerge changes
//!   by the device that set arbitrary fields to arbitrary values (a document the rules or the
//!   model refuse). Every answer is a 200 with a reply that decodes or a typed 4xx, never a
//!   5xx; every push the server accepted is stored; the server keeps serving.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT, ScalarValue};
use outpost_protocol::{DocId, DocPush, PushOutcome, Seq, SyncReply, SyncRequest, decode, encode};
use outpost_tests::{Device, TestServer};
use proptest::prelude::*;

/// Fields of an account document and a few that are not.
const FIELDS: &[&str] = &[
    "schema",
    "name",
    "owner",
    "status",
    "region",
    "created_at",
    "follow_ups",
    "contacts",
    "lost_reason",
    "priority",
    "merged_into",
    "archived",
    "comments",
    "zz",
];

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9 ]{0,12}".prop_map(Value::Str),
        Just(Value::Str("ana".into())),
        Just(Value::Str("lost".into())),
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

/// How one pushed change is made.
#[derive(Debug, Clone)]
enum Change {
    /// Not a change at all.
    Noise(Vec<u8>),
    /// A real change by the device setting these fields; then byte `flip` (if any) is
    /// flipped.
    Fields {
        set: Vec<(usize, Value)>,
        flip: Option<usize>,
    },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Change::Noise),
        (
            proptest::collection::vec((0..FIELDS.len(), value()), 1..6),
            proptest::option::of(any::<usize>()),
        )
            .prop_map(|(set, flip)| Change::Fields { set, flip }),
    ]
}

fn bytes_of(change: &Change, actor: &ActorId) -> Vec<u8> {
    match change {
        Change::Noise(bytes) => bytes.clone(),
        Change::Fields { set, flip } => {
            let mut doc = AutoCommit::new().with_actor(actor.clone());
            for (field, value) in set {
                let value = match value {
                    Value::Str(s) => ScalarValue::Str(s.as_str().into()),
                    Value::Int(i) => ScalarValue::Int(*i),
                    Value::Bool(b) => ScalarValue::Boolean(*b),
                    Value::Null => ScalarValue::Null,
                };
                doc.put(ROOT, FIELDS[*field], value).unwrap();
            }
            let mut bytes = doc.save_after(&[]);
            if let Some(at) = flip {
                let at = at % bytes.len();
                bytes[at] ^= 0x5a;
            }
            bytes
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(request) = decode::<SyncRequest>(&bytes) {
            prop_assert_eq!(decode::<SyncRequest>(&encode(&request)).unwrap(), request);
        }
        if let Ok(reply) = decode::<SyncReply>(&bytes) {
            prop_assert_eq!(decode::<SyncReply>(&encode(&reply)).unwrap(), reply);
        }
    }

    #[test]
    fn decoding_damaged_messages_never_panics(
        pushes in proptest::collection::vec((any::<u128>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..4),
        checkpoint in any::<u64>(),
        cut in any::<usize>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        extra in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let request = SyncRequest {
            device: outpost_protocol::DeviceId::from_u128(7),
            checkpoint: Seq(checkpoint),
            pushes: pushes
                .into_iter()
                .map(|(doc, change)| DocPush { doc: DocId::from_u128(doc), changes: vec![change] })
                .collect(),
        };
        let mut bytes = encode(&request);
        prop_assert_eq!(&decode::<SyncRequest>(&bytes).unwrap(), &request);
        for (at, xor) in flips {
            let len = bytes.len();
            bytes[at % len] ^= xor;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        bytes.extend(extra);
        if let Ok(decoded) = decode::<SyncRequest>(&bytes) {
            prop_assert_eq!(decode::<SyncRequest>(&encode(&decoded)).unwrap(), decoded);
        }
    }
}

#[test]
fn the_server_answers_any_sync_message_without_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, ana) = runtime.block_on(async {
        let server = TestServer::start().await;
        let ana = server.device_of("ana").await;
        (server, ana)
    });
    let actor = ActorId::from(ana.store.device().to_bytes().as_slice());
    let strategy = (
        any::<u64>(),
        proptest::collection::vec((0..4u128, proptest::collection::vec(change(), 0..3)), 0..4),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    runner
        .run(&strategy, |(checkpoint, pushes)| {
            let request = SyncRequest {
                device: ana.store.device(),
                checkpoint: Seq(checkpoint),
                pushes: pushes
                    .iter()
                    .map(|(doc, changes)| DocPush {
                        doc: DocId::from_u128(0xf0_0000 + doc),
                        changes: changes.iter().map(|c| bytes_of(c, &actor)).collect(),
                    })
                    .collect(),
            };
            runtime.block_on(check(&server, &ana, request))
        })
        .unwrap();
    // Still serving: ana's device syncs as usual.
    runtime.block_on(async { ana.sync().await });
}

async fn check(
    server: &TestServer,
    ana: &Device,
    request: SyncRequest,
) -> Result<(), TestCaseError> {
    let pushes = request.pushes.clone();
    // A typed error or a reply, whatever the status; then the status must not be a 5xx.
    let (status, reply) = ana.post_sync(&server.url(), encode(&request)).await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(error) => {
            prop_assert!((400..500).contains(&status), "{status}: {error:?}");
            return Ok(());
        }
    };
    prop_assert_eq!(reply.pushed.len(), pushes.len());
    for (push, result) in pushes.iter().zip(&reply.pushed) {
        if result.outcome == PushOutcome::Accepted {
            let stored = server.storage().document(push.doc).unwrap();
            prop_assert!(stored.is_some(), "accepted {} is stored", push.doc);
        }
    }
    Ok(())
}

/// Found by the property above: a change claiming a sequence number its actor never reached
/// (a byte of it flipped) made automerge panic inside the writer thread, which then answered
/// every request with 503. It is refused; the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_with_an_impossible_sequence_number_is_refused_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let actor = ActorId::from(ana.store.device().to_bytes().as_slice());
    let change = Change::Fields {
        set: vec![(1, Value::Str("Skipped Ahead".into()))],
        flip: None,
    };
    let mut bytes = bytes_of(&change, &actor);
    // Magic, checksum, chunk type, length, no dependencies, the 16-byte actor, then the
    // sequence number: 1 becomes 5.
    const SEQ: usize = 4 + 4 + 1 + 1 + 1 + 1 + 16;
    assert_eq!(bytes[SEQ], 1, "{bytes:?}");
    bytes[SEQ] = 5;
    let push = DocPush {
        doc: DocId::from_u128(0xabc),
        changes: vec![bytes],
    };
    let (status, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(status, 200);
    let reply = reply.unwrap();
    match &reply.pushed[0].outcome {
        PushOutcome::Invalid { reason } => {
            assert!(
                reason.contains("contradict the account's history"),
                "{reason}"
            )
        }
        other => panic!("the impossible sequence number was {other:?}"),
    }
    // The writer is alive: a real edit syncs.
    let new = outpost_client::NewAccount {
        name: "After The Panic".into(),
        owner: "ana".into(),
        ..outpost_client::NewAccount::default()
    };
    let id = ana.store.create_account(&new, chrono::Utc::now()).unwrap();
    assert_eq!(ana.sync().await.pushed, vec![id]);
}
