//! A loopback TCP proxy that forwards everything untouched and counts what crosses it, so
//! both systems' wire figures are taken at the same place: TCP payload bytes, every header
//! and frame included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the stream is framed, for counting messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Not counted (HTTP: the client reports its own round trips).
    Opaque,
    /// A 4-byte big-endian length before each frame (tokio's `LengthDelimitedCodec`, which
    /// samod's TCP transport uses).
    LengthDelimited,
}

/// What crossed the proxy since the last [`CountingProxy::take`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Client to server.
    pub up: u64,
    /// Server to client.
    pub down: u64,
    /// Frames client to server and server to client (zero for [`Framing::Opaque`]).
    pub frames_up: u64,
    pub frames_down: u64,
}

impl Traffic {
    pub fn bytes(&self) -> u64 {
        self.up + self.down
    }

    pub fn frames(&self) -> u64 {
        self.frames_up + self.frames_down
    }
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    frames_up: AtomicU64,
    frames_down: AtomicU64,
}

/// The proxy; it stops accepting when dropped.
#[derive(Debug)]
pub struct CountingProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: SocketAddr, framing: Framing) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, framing, shared.clone()));
            }
        });
        CountingProxy {
            addr,
            counters,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The traffic since the last call, resetting the counters.
    pub fn take(&self) -> Traffic {
        let c = &self.counters;
        Traffic {
            up: c.up.swap(0, Ordering::SeqCst),
            down: c.down.swap(0, Ordering::SeqCst),
            frames_up: c.frames_up.swap(0, Ordering::SeqCst),
            frames_down: c.frames_down.swap(0, Ordering::SeqCst),
        }
    }

    /// Waits until nothing has crossed for `quiet` (at most `limit`), then takes the traffic,
    /// so trailing messages of an exchange are counted with it.
    pub async fn take_settled(&self, quiet: Duration, limit: Duration) -> Traffic {
        let total = || {
            let c = &self.counters;
            c.up.load(Ordering::SeqCst) + c.down.load(Ordering::SeqCst)
        };
        let started = tokio::time::Instant::now();
        let mut last = total();
        while started.elapsed() < limit {
            tokio::time::sleep(quiet).await;
            let now = total();
            if now == last {
                break;
            }
            last = now;
        }
        self.take()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, framing: Framing, counters: Arc<Counters>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        client_read,
        server_write,
        framing,
        &counters.up,
        &counters.frames_up,
    );
    let down = pump(
        server_read,
        client_write,
        framing,
        &counters.down,
        &counters.frames_down,
    );
    tokio::join!(up, down);
}

/// Copies one direction, counting bytes (before forwarding them, so a reply is counted by the
/// time its reader has it) and frames; closes the write side when the read side ends.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    framing: Framing,
    bytes: &AtomicU64,
    frames: &AtomicU64,
) {
    let mut frame = FrameCounter::default();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::SeqCst);
        if framing == Framing::LengthDelimited {
            frames.fetch_add(frame.feed(&buf[..n]), Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Follows 4-byte big-endian length prefixes across reads.
#[derive(Debug, Default)]
struct FrameCounter {
    header: [u8; 4],
    header_len: usize,
    remaining: u64,
}

impl FrameCounter {
    /// Consumes `data`; returns how many frames started in it.
    fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut started = 0;
        while !data.is_empty() {
            if self.remaining > 0 {
                let skip = data
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= skip as u64;
                data = &data[skip..];
                continue;
            }
            let take = (4 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            if self.header_len == 4 {
                self.header_len = 0;
                self.remaining = u64::from(u32::from_be_bytes(self.header));
                started += 1;
            }
        }
        started
    }
}
