//! Malformed bodies, an unknown protocol version, an oversized request and a request without
//! (or with someone else's) device identity get clear 4xx errors with a typed reply, and
//! change nothing on the server.

use chrono::{TimeZone, Utc};
use outpost_client::NewAccount;
use outpost_client::http::DEVICE_HEADER;
use outpost_protocol::{
    CONTENT_TYPE, DeviceId, DocId, DocPush, ErrorCode, ErrorReply, MAX_MESSAGE_BYTES, Seq,
    SyncRequest, encode,
};
use outpost_tests::{Device, TestServer};

/// Name, device header, body, then the expected status, code and words of the message.
type Case = (
    &'static str,
    Option<DeviceId>,
    Vec<u8>,
    u16,
    ErrorCode,
    &'static str,
);

const SENDER: DeviceId = DeviceId::from_u128(7);

async fn send(server: &TestServer, device: Option<DeviceId>, body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .header("content-type", CONTENT_TYPE)
        .body(body);
    if let Some(device) = device {
        request = request.header(DEVICE_HEADER, device.to_string());
    }
    request.send().await.unwrap()
}

async fn post(server: &TestServer, device: Option<DeviceId>, body: Vec<u8>) -> (u16, ErrorReply) {
    let response = send(server, device, body).await;
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
        ..NewAccount::default()
    };
    device.store.create_account(&new, now).unwrap();
    device.sync().await;
    let head = server.storage().feed_head().unwrap();
    let documents = server.storage().documents().unwrap();

    let valid = encode(&SyncRequest {
        device: SENDER,
        checkpoint: Seq(0),
        pushes: vec![DocPush {
            doc: DocId::from_u128(9),
            changes: vec![vec![1, 2, 3]],
        }],
    });
    let mut future_version = valid.clone();
    future_version[4..6].copy_from_slice(&99u16.to_le_bytes());
    let cases: Vec<Case> = vec![
        (
            "garbage",
            Some(SENDER),
            b"hello server".to_vec(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "empty",
            Some(SENDER),
            Vec::new(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "truncated",
            Some(SENDER),
            valid[..valid.len() - 4].to_vec(),
            400,
            ErrorCode::Malformed,
            "malformed",
        ),
        (
            "trailing",
            Some(SENDER),
            [valid.as_slice(), b"xx"].concat(),
            400,
            ErrorCode::Malformed,
            "trailing",
        ),
        (
            "future version",
            Some(SENDER),
            future_version,
            400,
            ErrorCode::UnsupportedVersion,
            "upgrade the server",
        ),
        (
            "oversized",
            Some(SENDER),
            vec![0; MAX_MESSAGE_BYTES + 1],
            413,
            ErrorCode::TooLarge,
            "larger than",
        ),
        (
            "no device identity",
            None,
            valid.clone(),
            401,
            ErrorCode::Unauthenticated,
            "x-outpost-device",
        ),
        (
            "another device's request",
            Some(DeviceId::from_u128(8)),
            valid.clone(),
            401,
            ErrorCode::Unauthenticated,
            "speaks for device",
        ),
    ];
    for (name, device, body, status, code, words) in cases {
        let (got_status, reply) = post(&server, device, body).await;
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
    let response = send(&server, Some(SENDER), valid).await;
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
