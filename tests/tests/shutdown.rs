//! The real `outpost-server` process: its first start creates the admin with a password in a
//! private file (never in the log), it serves `/health`, and SIGTERM or SIGINT stop it cleanly
//! even while a logged-in device holds the live event stream open, releasing its database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use outpost_server::Storage;
use outpost_tests::ServerProcess;

fn request(addr: SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "{head}\r\nHost: outpost\r\n\r\n").unwrap();
    stream
}

fn check(signal: &str) {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), &[]);

    let mut health = String::new();
    request(server.addr, "GET /health HTTP/1.0")
        .read_to_string(&mut health)
        .unwrap();
    assert!(health.starts_with("HTTP/1.0 200 OK"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");

    // The first start created the admin; its password is in a file only its owner reads.
    let file = data.path().join("admin-password");
    let password = std::fs::read_to_string(&file).expect("admin password file");
    let password = password.trim();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "only the owner may read {}",
            file.display()
        );
    }
    let body = format!(
        r#"{{"login":"admin","password":"{password}","device":"0123456789abcdef0123456789abcdef","label":"test"}}"#
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /v1/login HTTP/1.0\r\nHost: outpost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut login = String::new();
    stream.read_to_string(&mut login).unwrap();
    assert!(login.starts_with("HTTP/1.0 200"), "{login}");
    let token = login
        .split(r#""token":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token in the login reply");

    // A subscriber holds the event stream open; read its response headers so the stream is
    // certainly established before the signal.
    let events = request(
        server.addr,
        &format!("GET /v1/events HTTP/1.1\r\nauthorization: Bearer {token}"),
    );
    let mut events = BufReader::new(events);
    let mut status = String::new();
    events.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    let killed = Command::new("kill")
        .args([signal, &server.child.id().to_string()])
        .status();
    assert!(killed.unwrap().success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{signal}: {exit:?}");
    // The stream was ended by the server, and the database lock is released.
    let mut rest = String::new();
    events.read_to_string(&mut rest).unwrap();
    Storage::open(data.path().join("outpost.redb")).expect("database reopens after shutdown");
    let log = server.log();
    assert!(log.contains("first start"), "{log}");
    assert!(
        !log.contains(password),
        "the password must never be logged: {log}"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    check("-TERM");
}

#[test]
fn sigint_stops_the_server_cleanly() {
    check("-INT");
}
