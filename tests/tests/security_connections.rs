//! Issue 16, items 4 and 5, through the real server on real sockets: connections and event
//! streams are bounded, and a stream ends when its caller's access does.
//! - an idle socket (silent, or keep-alive after a request) is closed after the idle timeout;
//! - a request head trickled a byte at a time is cut at the header timeout (well before the
//!   idle timeout); a body trickled likewise is answered 408 at the body timeout;
//! - at the connection limit a new connection is answered 503 at once, an open one keeps
//!   working, and `/health` answers again once the idle ones are closed;
//! - one device, and one user's devices, hold at most their limit of event streams (429);
//! - disabling a user, revoking a device and removing a manager from a team each end that
//!   principal's open stream promptly, and leave other streams open;
//! - TLS handshakes under way are bounded, so silent clients cannot hold every open file.
//!
//! Timeouts are a second or two here so each test takes seconds; waits are bounded.

use std::time::{Duration, Instant};

use outpost_server::connections::Connections;
use outpost_tests::{Device, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Limits far from what the test in hand checks, so only its own limit acts.
fn relaxed() -> Connections {
    Connections {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        max_connections: 200,
        streams_per_device: 4,
        streams_per_user: 16,
    }
}

/// How a connection ended, as its client saw it.
#[derive(Debug)]
enum Ended {
    /// The server closed it (end of file, or reset), having sent these bytes.
    Closed(Vec<u8>),
    /// Still open at the deadline.
    Open,
}

/// Reads `stream` until the server closes it or `within` passes.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Ended {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Ended::Open,
            Ok(Ok(0)) | Ok(Err(_)) => return Ended::Closed(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP/1.1 response (head and a `content-length` body): its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    let status = head[9..12].parse().unwrap();
                    let body = String::from_utf8_lossy(&got[end + 4..end + 4 + length]);
                    return (status, body.into_owned());
                }
            }
            let n = stream.read(&mut buf).await.expect("read a response");
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a response within 10 s")
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: outpost\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let server = TestServer::start_with_connections(Connections {
        idle_timeout: idle,
        ..relaxed()
    })
    .await;
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let silent_since = Instant::now();
    let mut kept_alive = TcpStream::connect(server.addr()).await.unwrap();
    kept_alive.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut kept_alive).await.0, 200);
    let kept_alive_since = Instant::now();

    let within = idle + Duration::from_secs(3);
    let (silent_ended, kept_alive_ended) = tokio::join!(
        read_until_closed(&mut silent, within),
        read_until_closed(&mut kept_alive, within)
    );
    for (name, ended, since) in [
        ("silent", silent_ended, silent_since),
        ("kept alive", kept_alive_ended, kept_alive_since),
    ] {
        match ended {
            Ended::Closed(got) => {
                assert!(
                    got.is_empty(),
                    "{name}: {:?}",
                    String::from_utf8_lossy(&got)
                );
                let after = since.elapsed();
                assert!(
                    after >= idle,
                    "{name} closed after {after:?}, before the timeout"
                );
            }
            Ended::Open => panic!("the {name} connection was still open after {within:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_trickled_a_byte_at_a_time_is_cut_at_the_header_timeout() {
    let header = Duration::from_secs(1);
    // The idle timeout, which also bounds the whole head, is far off: the cut is the header
    // timeout's.
    let server = TestServer::start_with_connections(Connections {
        header_timeout: header,
        idle_timeout: Duration::from_secs(20),
        ..relaxed()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "GET /health HTTP/1.1\r\nhost: outpost\r\nx-padding: {}\r\n\r\n",
        "a".repeat(200)
    );
    let started = Instant::now();
    let (mut reading, mut writing) = stream.split();
    let trickle = async {
        for byte in head.as_bytes() {
            if writing.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut buf = [0u8; 1024];
    let closed = tokio::select! {
        () = trickle => unreachable!(),
        read = reading.read(&mut buf) => read,
        () = tokio::time::sleep(header + Duration::from_secs(4)) => {
            panic!("a trickled head was still read after {:?}", started.elapsed())
        }
    };
    let after = started.elapsed();
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "answered instead of cut: {:?}",
        closed.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
    assert!(
        after >= header,
        "cut after {after:?}, before the header timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_a_byte_at_a_time_is_cut_at_the_body_timeout() {
    let body = Duration::from_secs(1);
    let server = TestServer::start_with_connections(Connections {
        body_timeout: body,
        ..relaxed()
    })
    .await;
    let device = server.device_of("ana").await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nhost: outpost\r\nauthorization: Bearer {}\r\n\
         content-type: {}\r\ncontent-length: 1000\r\n\r\n",
        device.token(),
        outpost_protocol::CONTENT_TYPE
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reading, mut writing) = stream.split();
    let trickle = async {
        loop {
            if writing.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::select! {
        () = trickle => unreachable!(),
        () = async {
            while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
                match reading.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => reply.extend_from_slice(&buf[..n]),
                }
            }
        } => {}
        () = tokio::time::sleep(body + Duration::from_secs(4)) => {
            panic!("a trickled body was still read after {:?}", started.elapsed())
        }
    }
    let after = started.elapsed();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        after >= body,
        "cut after {after:?}, before the body timeout"
    );
    // A body that arrives in time is read as before.
    assert!(device.try_sync().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_limit_new_connections_are_refused_until_idle_ones_close() {
    let (limit, idle) = (50, Duration::from_secs(2));
    let server = TestServer::start_with_connections(Connections {
        max_connections: limit,
        idle_timeout: idle,
        ..relaxed()
    })
    .await;
    // The first connection is used, so it is known to be served; the others stay silent.
    let mut used = TcpStream::connect(server.addr()).await.unwrap();
    used.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut used).await.0, 200);
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 1..limit {
        silent.push(TcpStream::connect(server.addr()).await.unwrap());
    }
    // Accepted in order, so this one comes after all of them: over the limit.
    let mut over = TcpStream::connect(server.addr()).await.unwrap();
    over.write_all(HEALTH).await.unwrap();
    let (status, body) = read_response(&mut over).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("as many connections open as it allows"),
        "{body}"
    );
    assert!(
        opened.elapsed() < idle,
        "refusing took {:?}",
        opened.elapsed()
    );
    // A connection already open keeps working.
    used.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut used).await.0, 200);

    // Once the idle ones are closed, there is room again.
    let deadline = Instant::now() + idle + Duration::from_secs(5);
    loop {
        let mut fresh = TcpStream::connect(server.addr()).await.unwrap();
        fresh.write_all(HEALTH).await.unwrap();
        if read_response(&mut fresh).await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "/health still refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        opened.elapsed() >= idle,
        "room again after {:?}, before any idle connection was closed",
        opened.elapsed()
    );
    assert!(matches!(
        read_until_closed(&mut silent[0], Duration::from_secs(1)).await,
        Ended::Closed(..)
    ));
}

/// Opens an event stream with `device`'s token: the response (streaming on success).
async fn open_stream(server: &TestServer, device: &Device) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/v1/events", server.url()))
        .bearer_auth(device.token())
        .send()
        .await
        .unwrap()
}

async fn refused_stream(server: &TestServer, device: &Device) -> String {
    let response = open_stream(server, device).await;
    assert_eq!(response.status(), 429);
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!(reply["code"], "rate_limited", "{reply}");
    reply["message"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_and_a_user_hold_a_bounded_number_of_event_streams() {
    let server = TestServer::start_with_connections(Connections {
        streams_per_device: 2,
        streams_per_user: 3,
        ..relaxed()
    })
    .await;
    let (phone, laptop) = (server.device_of("ana").await, server.device_of("ana").await);
    let mut phone_streams = Vec::new();
    for _ in 0..2 {
        let response = open_stream(&server, &phone).await;
        assert_eq!(response.status(), 200);
        phone_streams.push(response);
    }
    let message = refused_stream(&server, &phone).await;
    assert!(message.contains("limit per device"), "{message}");

    let laptop_stream = open_stream(&server, &laptop).await;
    assert_eq!(laptop_stream.status().as_u16(), 200);
    let message = refused_stream(&server, &laptop).await;
    assert!(
        message.contains("ana's devices") && message.contains("per user"),
        "{message}"
    );
    // Another user is not counted with ana.
    let ben = server.device_of("ben").await;
    assert_eq!(open_stream(&server, &ben).await.status(), 200);

    // A stream closed by its device gives its place back.
    drop(phone_streams.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = open_stream(&server, &laptop).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the stream ends (the server closes it) within `within`.
async fn ends_within(stream: &mut reqwest::Response, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.chunk()).await {
            Err(_) => return false,
            Ok(Ok(None)) | Ok(Err(_)) => return true,
            // Keep-alive comments or change events: still open.
            Ok(Ok(Some(_))) => {}
        }
    }
}

async fn admin(server: &TestServer, root: &Device, method: reqwest::Method, path: &str) {
    let status = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(root.token())
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{path}: {status}");
}

const PROMPTLY: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_open_streams() {
    let server = TestServer::start_with_connections(relaxed()).await;
    let root = server.device().await;
    let (ana, ben) = (server.device_of("ana").await, server.device_of("ben").await);
    let mut ana_stream = open_stream(&server, &ana).await;
    let mut ben_stream = open_stream(&server, &ben).await;
    assert_eq!(
        (ana_stream.status().as_u16(), ben_stream.status().as_u16()),
        (200, 200)
    );

    admin(
        &server,
        &root,
        reqwest::Method::POST,
        "/v1/admin/users/ana/disable",
    )
    .await;
    assert!(
        ends_within(&mut ana_stream, PROMPTLY).await,
        "ana's stream still open"
    );
    // Another user's stream is checked again and stays open.
    assert!(!ends_within(&mut ben_stream, Duration::from_millis(300)).await);
    assert_eq!(open_stream(&server, &ana).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_device_ends_its_open_streams() {
    let server = TestServer::start_with_connections(relaxed()).await;
    let root = server.device().await;
    let (phone, laptop) = (server.device_of("ana").await, server.device_of("ana").await);
    let mut phone_stream = open_stream(&server, &phone).await;
    let mut laptop_stream = open_stream(&server, &laptop).await;
    assert_eq!(
        (
            phone_stream.status().as_u16(),
            laptop_stream.status().as_u16()
        ),
        (200, 200)
    );

    let path = format!("/v1/admin/devices/{}", phone.store.device());
    admin(&server, &root, reqwest::Method::DELETE, &path).await;
    assert!(
        ends_within(&mut phone_stream, PROMPTLY).await,
        "the revoked device's stream is open"
    );
    // The same user's other device keeps its stream.
    assert!(!ends_within(&mut laptop_stream, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_manager_from_a_team_ends_their_open_streams() {
    let server = TestServer::start_with_connections(relaxed()).await;
    let root = server.device().await;
    let (mia, max) = (server.device_of("mia").await, server.device_of("max").await);
    let mut mia_stream = open_stream(&server, &mia).await;
    let mut max_stream = open_stream(&server, &max).await;
    assert_eq!(
        (mia_stream.status().as_u16(), max_stream.status().as_u16()),
        (200, 200)
    );

    let path = "/v1/admin/teams/field/managers/mia";
    admin(&server, &root, reqwest::Method::DELETE, path).await;
    assert!(
        ends_within(&mut mia_stream, PROMPTLY).await,
        "mia's stream still open"
    );
    assert!(!ends_within(&mut max_stream, Duration::from_millis(300)).await);
    // Her new stream reads what she may read now (no team), and is not ended again.
    let mut again = open_stream(&server, &mia).await;
    assert_eq!(again.status(), 200);
    assert!(!ends_within(&mut again, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_under_way_are_bounded() {
    use outpost_client::{HttpClient, Store, TlsOptions};
    use outpost_protocol::api::{NewUser, Role};
    use outpost_server::{Config, Server, Storage, tls};

    let dir = tempfile::TempDir::new().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let storage = Storage::open(dir.path().join("outpost.redb")).unwrap();
    storage
        .add_user(&NewUser {
            login: "root".into(),
            password: outpost_tests::PASSWORD.into(),
            role: Role::Admin,
            team: None,
        })
        .unwrap();
    let server = Server::new(storage, &Config::default());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = tls::TlsListener::new(tcp, tls::config(&cert, &key).unwrap()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    // Clients that open a connection and never start their handshake, as many as the
    // listener handshakes with at once (they are accepted in order).
    let mut silent = Vec::new();
    for _ in 0..256 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // The next is closed at once, not after the 10 s a handshake may take.
    let mut over = TcpStream::connect(addr).await.unwrap();
    assert!(matches!(
        read_until_closed(&mut over, Duration::from_secs(3)).await,
        Ended::Closed(_)
    ));
    // Once they give up, a real client is served.
    drop(silent);
    let trusting = TlsOptions {
        ca_cert: Some(certified.cert.pem().into_bytes()),
        require_tls: true,
    };
    let client =
        HttpClient::with_tls(&format!("https://localhost:{}", addr.port()), &trusting).unwrap();
    let store = Store::in_memory().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(e) = client
        .login(&store, "root", outpost_tests::PASSWORD, "tls test")
        .await
    {
        assert!(Instant::now() < deadline, "not served: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
