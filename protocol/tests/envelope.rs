//! Round trips and rejections of the versioned envelope, driven through one `check` helper.

use outpost_protocol::{
    DecodeError, DeviceId, DocId, DocPush, DocUpdate, Head, MAX_MESSAGE_BYTES, PROTOCOL_VERSION,
    PushOutcome, PushResult, Seq, SyncReply, SyncRequest, decode, encode,
};

fn request() -> SyncRequest {
    SyncRequest {
        device: DeviceId::from_u128(7),
        checkpoint: Seq(41),
        pushes: vec![
            DocPush {
                doc: DocId::from_u128(1),
                changes: vec![vec![1, 2, 3], vec![4]],
            },
            DocPush {
                doc: DocId::from_u128(u128::MAX),
                changes: vec![],
            },
        ],
    }
}

fn reply() -> SyncReply {
    SyncReply {
        checkpoint: Seq(99),
        more: true,
        pushed: vec![
            PushResult {
                doc: DocId::from_u128(1),
                outcome: PushOutcome::Accepted,
            },
            PushResult {
                doc: DocId::from_u128(2),
                outcome: PushOutcome::Invalid {
                    reason: "bad change".into(),
                },
            },
            PushResult {
                doc: DocId::from_u128(3),
                outcome: PushOutcome::MissingDependencies,
            },
        ],
        updates: vec![DocUpdate {
            action: outpost_protocol::UpdateAction::Merge,
            doc: DocId::from_u128(1),
            snapshot: Some(vec![9; 10]),
            changes: vec![vec![5; 3]],
            heads: vec![Head([3; 32])],
        }],
    }
}

#[test]
fn messages_round_trip() {
    let req = request();
    assert_eq!(decode::<SyncRequest>(&encode(&req)).unwrap(), req);
    let rep = reply();
    assert_eq!(decode::<SyncReply>(&encode(&rep)).unwrap(), rep);
    let empty = SyncRequest {
        pushes: vec![],
        ..request()
    };
    assert!(encode(&empty).len() < 32, "an idle request must stay tiny");
}

/// Decodes `bytes` as a request and checks the error matches `expected`.
fn check(bytes: &[u8], expected: fn(&DecodeError) -> bool) {
    let err = decode::<SyncRequest>(bytes).unwrap_err();
    assert!(expected(&err), "unexpected error: {err}");
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = encode(&request());
    for len in 0..bytes.len() {
        check(&bytes[..len], |e| {
            matches!(e, DecodeError::NotOutpost | DecodeError::Malformed(_))
        });
    }
}

#[test]
fn garbage_trailing_bytes_and_bad_magic_are_rejected() {
    check(b"GET / HTTP/1.1\r\n", |e| {
        matches!(e, DecodeError::NotOutpost)
    });
    let mut bytes = encode(&request());
    bytes.push(0);
    check(
        &bytes,
        |e| matches!(e, DecodeError::Malformed(m) if m.contains("trailing")),
    );
    let mut bytes = encode(&request());
    bytes.truncate(6);
    bytes.extend_from_slice(&[0xff; 40]);
    check(&bytes, |e| matches!(e, DecodeError::Malformed(_)));
}

#[test]
fn unknown_versions_say_which_side_to_upgrade() {
    let mut bytes = encode(&request());
    bytes[4..6].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    check(&bytes, |e| {
        matches!(e, DecodeError::UnsupportedVersion { .. })
            && e.to_string().contains("upgrade the server")
    });
    bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
    check(&bytes, |e| e.to_string().contains("upgrade the app"));
}

#[test]
fn oversized_input_is_rejected_before_decoding() {
    let mut bytes = encode(&request());
    bytes.resize(MAX_MESSAGE_BYTES + 1, 0);
    check(&bytes, |e| matches!(e, DecodeError::TooLarge { .. }));
}
