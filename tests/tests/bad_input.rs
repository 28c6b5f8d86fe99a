//! Malformed bodies, an unknown protocol version and an oversized request get clear 4xx
//! errors with a typed reply, and change nothing on the server.

use chrono::{TimeZone, Utc};
use outpost_client::NewAccount;
use outpost_protocol::{
    CONTENT_TYPE, DeviceId, DocId, DocPush, ErrorCode, ErrorReply, MAX_MESSAGE_BYTES, Seq,
    SyncRequest, encode,
};
use outpost_tests::{Device, TestServer};

async fn post(server: &TestServer, body: Vec<u8>) -> (u16, ErrorReply) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .header("content-type", CONTENT_TYPE)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly_and_change_nothing() {
    let server = TestServer::start().await;
    let device = Device::new(&server.url());
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let new = NewAccount {
        name: "Kite Labs".into(),
        owner: "eve".into(),
        region: None,
    };
    device.store.create_account(&new, now).unwrap();
    device.sync().await;
    let head = server.storage().feed_head().unwrap();
    let documents = server.storage().documents().unwrap();

    let valid = encode(&SyncRequest {
        device: DeviceId::from_u128(7),
        checkpoint: Seq(0),
        pushes: vec![DocPush {
            doc: DocId::from_u128(9),
            changes: vec![vec![1, 2, 3]],
        }],
    });
    let mut future_version = valid.clone();
    future_version[4..6].copy_from_slice(&99u16.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, u16, ErrorCode, &str)> = vec![
        (
            "garbage",
            b"hello server".to_vec(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "empty",
            Vec::new(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "truncated",
            valid[..valid.len() - 4].to_vec(),
            400,
            ErrorCode::Malformed,
            "malformed",
        ),
        (
            "trailing",
            [valid.as_slice(), b"xx"].concat(),
            400,
            ErrorCode::Malformed,
            "trailing",
        ),
        (
            "future version",
            future_version,
            400,
            ErrorCode::UnsupportedVersion,
            "upgrade the server",
        ),
        (
            "oversized",
            vec![0; MAX_MESSAGE_BYTES + 1],
            413,
            ErrorCode::TooLarge,
            "larger than",
        ),
    ];
    for (name, body, status, code, words) in cases {
        let (got_status, reply) = post(&server, body).await;
        assert_eq!(
            (got_status, reply.code),
            (status, code),
            "{name}: {reply:?}"
        );
        assert!(reply.message.contains(words), "{name}: {}", reply.message);
        assert_eq!(
            server.storage().feed_head().unwrap(),
            head,
            "{name} changed the feed"
        );
        assert_eq!(
            server.storage().documents().unwrap(),
            documents,
            "{name} stored a document"
        );
    }

    // A well-formed request carrying bytes that are not automerge changes is refused per
    // document, and nothing of it is stored.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .body(valid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let reply: outpost_protocol::SyncReply =
        outpost_protocol::decode(&response.bytes().await.unwrap()).unwrap();
    assert!(matches!(
        reply.pushed[0].outcome,
        outpost_protocol::PushOutcome::Invalid { .. }
    ));
    assert_eq!(server.storage().feed_head().unwrap(), head);
    assert_eq!(server.storage().documents().unwrap(), documents);

    let health = reqwest::get(format!("{}/health", server.url()))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap(), r#"{"status":"ok"}"#);
}
