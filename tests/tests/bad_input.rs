//! Malformed bodies, an unknown protocol version, an oversized request, and a request without
//! a token, with an unknown token or speaking for another device get clear 4xx errors with a
//! typed reply, and change nothing on the server.

use chrono::{TimeZone, Utc};
use outpost_client::NewAccount;
use outpost_protocol::{
    CONTENT_TYPE, DeviceId, DocId, DocPush, ErrorCode, ErrorReply, MAX_MESSAGE_BYTES, Seq,
    SyncRequest, encode,
};
use outpost_tests::TestServer;

/// Name, token, body, then the expected status, code and words of the message.
type Case = (
    &'static str,
    Option<String>,
    Vec<u8>,
    u16,
    ErrorCode,
    &'static str,
);

async fn send(server: &TestServer, token: Option<String>, body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .header("content-type", CONTENT_TYPE)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn post(server: &TestServer, token: Option<String>, body: Vec<u8>) -> (u16, ErrorReply) {
    let response = send(server, token, body).await;
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
    let device = server.device_of("eve").await;
    let token = device.store.credentials().unwrap().map(|(_, token)| token);
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
        device: device.store.device(),
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
            token.clone(),
            b"hello server".to_vec(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "empty",
            token.clone(),
            Vec::new(),
            400,
            ErrorCode::Malformed,
            "not an Outpost",
        ),
        (
            "truncated",
            token.clone(),
            valid[..valid.len() - 4].to_vec(),
            400,
            ErrorCode::Malformed,
            "malformed",
        ),
        (
            "trailing",
            token.clone(),
            [valid.as_slice(), b"xx"].concat(),
            400,
            ErrorCode::Malformed,
            "trailing",
        ),
        (
            "future version",
            token.clone(),
            future_version,
            400,
            ErrorCode::UnsupportedVersion,
            "upgrade the server",
        ),
        (
            "oversized",
            token.clone(),
            vec![0; MAX_MESSAGE_BYTES + 1],
            413,
            ErrorCode::TooLarge,
            "larger than",
        ),
        (
            "no token",
            None,
            valid.clone(),
            401,
            ErrorCode::Unauthenticated,
            "log in",
        ),
        (
            "unknown token",
            Some("00".repeat(32)),
            valid.clone(),
            401,
            ErrorCode::Unauthenticated,
            "unknown or was revoked",
        ),
        (
            "another device's request",
            token.clone(),
            encode(&SyncRequest {
                device: DeviceId::from_u128(8),
                checkpoint: Seq(0),
                pushes: Vec::new(),
            }),
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
    let response = send(&server, token.clone(), valid).await;
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
