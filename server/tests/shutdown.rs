//! The real `outpost-server` process: it serves `/health`, and SIGTERM or SIGINT stop it
//! cleanly even while a device holds the live event stream open, releasing its database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use outpost_server::Storage;

struct Process {
    child: Child,
    addr: SocketAddr,
}

fn start(data: &std::path::Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start outpost-server");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .expect("listen address");
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    Process { child, addr }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
    }
}

fn request(addr: SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "{head}\r\nHost: outpost\r\n\r\n").unwrap();
    stream
}

fn check(signal: &str) {
    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path());

    let mut health = String::new();
    request(server.addr, "GET /health HTTP/1.0")
        .read_to_string(&mut health)
        .unwrap();
    assert!(health.starts_with("HTTP/1.0 200 OK"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");

    // A subscriber holds the event stream open; read its response headers so the stream is
    // certainly established before the signal.
    let device = "0123456789abcdef0123456789abcdef";
    let events = request(
        server.addr,
        &format!("GET /v1/events HTTP/1.1\r\nx-outpost-device: {device}"),
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
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    check("-TERM");
}

#[test]
fn sigint_stops_the_server_cleanly() {
    check("-INT");
}
