//! The server's handling of an incoming sync message, as `POST /v1/sync` does it after
//! decoding: the input is decoded as a request from a logged-in rep's device (messages that
//! do not decode are the HTTP layer's 400) and handed to `exchange`, the real writer and an
//! in-memory store. It must answer or refuse with a client error, never panic or fail with a
//! server error, and every push it accepted must be stored.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use outpost_protocol::api::{NewUser, Role};
use outpost_protocol::{DeviceId, PushOutcome, SyncRequest, decode};
use outpost_server::exchange::exchange;
use outpost_server::{Config, Principal, Storage, Writer};
use tokio::runtime::Runtime;

struct Server {
    runtime: Runtime,
    storage: Arc<Storage>,
    writer: Writer,
    ana: Principal,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let storage = Storage::in_memory().expect("in-memory store");
        storage.add_team("field").expect("team");
        storage
            .add_user(&NewUser {
                login: "ana".into(),
                password: "fuzzing-password".into(),
                role: Role::Rep,
                team: Some("field".into()),
            })
            .expect("user");
        let storage = Arc::new(storage);
        let (events, _) = tokio::sync::broadcast::channel(16);
        // The writer thread lives as long as the process.
        let (writer, _thread) = Writer::spawn(storage.clone(), &Config::default(), events);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let ana = Principal {
            login: "ana".into(),
            role: Role::Rep,
            team: Some("field".into()),
            leads: Vec::new(),
            device: DeviceId::from_u128(0x0a0a),
        };
        Server {
            runtime,
            storage,
            writer,
            ana,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut request) = decode::<SyncRequest>(data) else {
        return;
    };
    let server = server();
    // Speak for the logged-in device, so the request reaches the writer.
    request.device = server.ana.device;
    let pushes = request.pushes.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let answer = server.runtime.block_on(exchange(
        &server.storage,
        &server.writer,
        server.ana.clone(),
        request,
        now,
    ));
    match answer {
        Ok(reply) => {
            assert_eq!(reply.pushed.len(), pushes.len());
            for (push, result) in pushes.iter().zip(&reply.pushed) {
                if result.outcome == PushOutcome::Accepted {
                    assert!(server.storage.document(push.doc).unwrap().is_some());
                }
            }
        }
        Err(error) => {
            let status = error.into_response().status();
            assert!(status.is_client_error(), "{status}");
        }
    }
});
