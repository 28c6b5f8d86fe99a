//! Bounded connections: the server's own accept loop over hyper's HTTP/1 connections (axum's
//! `serve` sets no timeouts), with
//! - an idle timeout: a connection must send the head of its next request within it of
//!   becoming ready for one (hyper's `header_read_timeout`, which starts when hyper waits for
//!   a request), so idle keep-alive sockets are closed;
//! - a header timeout: once the first byte of a request head arrived, the whole head must
//!   follow within it ([`HeadTimed`]), so a trickled head is cut sooner than an idle socket;
//! - a body timeout: a request body must arrive whole within it of the head
//!   ([`body_deadline`]; `tower_http`'s body timeout restarts at every frame, which a body
//!   trickled a byte at a time never trips);
//! - a connection limit: beyond it a new connection is answered 503 and closed at once, and
//!   those already open keep working;
//! - limits on open event streams per device and per user ([`StreamSlots`]).
//!
//! [`raise_open_files`] lifts the open-file soft limit to the hard limit at start, which the
//! connection limit must stay below so the server can still accept `/health`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use outpost_protocol::DeviceId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::AppState;
use crate::directory::Principal;
use crate::http::AppError;

/// How connections and event streams are bounded (part of [`crate::Config`]; `serve` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connections {
    /// How long a connection may take to send a request's head once its first byte arrived.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, from its head.
    pub body_timeout: Duration,
    /// How long a connection may wait, ready for a request, before its head is complete:
    /// an idle keep-alive connection is closed after it.
    pub idle_timeout: Duration,
    /// Connections open at once; beyond, a new one is answered 503 and closed.
    pub max_connections: usize,
    /// Event streams one device (one token) may hold open.
    pub streams_per_device: usize,
    /// Event streams one user's devices may hold open together.
    pub streams_per_user: usize,
}

/// Open files the server keeps for itself beyond its connections (the database, backups,
/// logs, connections being refused), when the default connection limit is derived from the
/// open-file limit.
pub const RESERVED_FILES: u64 = 128;

impl Connections {
    /// The default connection limit under an open-file limit of `open_files`: room for
    /// the server's own files stays, so `/health` is still accepted at the limit.
    pub fn max_connections_for(open_files: u64) -> usize {
        let room = open_files.saturating_sub(RESERVED_FILES).max(16);
        usize::try_from(room).unwrap_or(usize::MAX).min(10_000)
    }
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_timeout: Duration::from_secs(10),
            // A 4 MiB sync request over a slow field connection (1 Mbit/s) takes about 35 s.
            body_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            // Below the common 1,024 open-file limit with room to spare.
            max_connections: 768,
            streams_per_device: 4,
            streams_per_user: 16,
        }
    }
}

/// Raises the open-file soft limit to the hard limit; the soft limit now in force.
pub fn raise_open_files() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets each
/// open connection finish its request and waits for them all.
pub(crate) async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Connections,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: Clone + Debug + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender; `recv` answers `None` once all are gone.
    let (open, mut all_closed) = mpsc::channel::<Infallible>(1);
    let mut shutdown = pin!(shutdown);
    // Logged once per spell at the limit, not once per refused connection.
    let mut refusing = false;
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            if !refusing {
                refusing = true;
                tracing::warn!(
                    peer = ?addr,
                    limit = limits.max_connections,
                    "connection limit reached; refusing new connections (503)"
                );
            }
            tokio::spawn(refuse(io));
            continue;
        };
        if refusing {
            refusing = false;
            tracing::info!("below the connection limit again");
        }
        let (app, limits, mut stopping, open) =
            (app.clone(), limits.clone(), stopping.clone(), open.clone());
        tokio::spawn(async move {
            let clock = Arc::new(HeadClock::default());
            let io = TokioIo::new(HeadTimed::new(io, clock.clone(), limits.header_timeout));
            let service = hyper::service::service_fn(move |request| {
                // Told here, as hyper hands the request over, not when the handler first runs.
                clock.request_started();
                handle(app.clone(), clock.clone(), addr.clone(), request)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle_timeout)
                .keep_alive(true);
            let mut connection = pin!(builder.serve_connection(io, service));
            let mut graceful = false;
            loop {
                tokio::select! {
                    served = connection.as_mut() => {
                        if let Err(e) = served {
                            tracing::debug!(error = %e, "connection ended");
                        }
                        break;
                    }
                    _ = stopping.wait_for(|stop| *stop), if !graceful => {
                        graceful = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop((permit, open));
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    all_closed.recv().await;
    Ok(())
}

/// One request of a connection: the peer's address for the handlers, and the head clock
/// told when the reply has been sent.
async fn handle<A: Clone + Send + Sync + 'static>(
    mut app: Router,
    clock: Arc<HeadClock>,
    addr: A,
    mut request: Request<hyper::body::Incoming>,
) -> Result<Response, Infallible> {
    request.extensions_mut().insert(ConnectInfo(addr));
    std::future::poll_fn(|cx| tower_service::Service::<Request>::poll_ready(&mut app, cx)).await?;
    let response = tower_service::Service::call(&mut app, request.map(Body::new)).await?;
    Ok(response.map(|body| {
        Body::new(Replying {
            body,
            _done: ReplyDone(clock),
        })
    }))
}

/// Answers a connection over the limit with a 503 and closes it, bounded in time so a
/// client that does not read cannot hold it.
async fn refuse<I: AsyncRead + AsyncWrite + Unpin>(mut io: I) {
    const BODY: &str = r#"{"code":"unavailable","message":"the server has as many connections open as it allows; retry shortly"}"#;
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        io.write_all(reply.as_bytes()).await?;
        io.shutdown().await?;
        // Reads what the client sent until it closes, so closing does not reset the
        // connection before the client has read the reply.
        let mut sink = [0u8; 1024];
        while io.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// What a connection's IO and its requests share: how many requests have started, and
/// whether one is being answered (its head is complete and its reply not yet sent).
#[derive(Debug, Default)]
struct HeadClock {
    requests: AtomicU64,
    answering: AtomicBool,
}

impl HeadClock {
    fn request_started(&self) {
        self.answering.store(true, Ordering::Release);
        self.requests.fetch_add(1, Ordering::AcqRel);
    }
}

/// Dropped with the reply's body, once hyper sent it (or the connection ended).
#[derive(Debug)]
struct ReplyDone(Arc<HeadClock>);

impl Drop for ReplyDone {
    fn drop(&mut self) {
        self.0.answering.store(false, Ordering::Release);
    }
}

/// A reply body that tells the head clock when it is done.
#[derive(Debug)]
struct Replying {
    body: Body,
    _done: ReplyDone,
}

impl hyper::body::Body for Replying {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's IO that fails a read once a request head has been arriving for longer
/// than the header timeout: the clock starts at the first byte read while no request is
/// being answered, and stops when the head is complete (a request started).
#[derive(Debug)]
struct HeadTimed<I> {
    io: I,
    clock: Arc<HeadClock>,
    timeout: Duration,
    /// The request count when the head being timed began to arrive.
    timing: Option<u64>,
    deadline: Pin<Box<Sleep>>,
}

impl<I> HeadTimed<I> {
    fn new(io: I, clock: Arc<HeadClock>, timeout: Duration) -> Self {
        HeadTimed {
            io,
            clock,
            timeout,
            timing: None,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for HeadTimed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let requests = this.clock.requests.load(Ordering::Acquire);
        let answering = this.clock.answering.load(Ordering::Acquire);
        if answering || this.timing.is_some_and(|at| at != requests) {
            // The head being timed is complete, or these are a body's bytes.
            this.timing = None;
        }
        let read_some = matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before;
        if read_some && !answering && this.timing.is_none() {
            this.timing = Some(requests);
            let deadline = Instant::now() + this.timeout;
            this.deadline.as_mut().reset(deadline);
        }
        if this.timing.is_some() && this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not arrive within the header timeout",
            )));
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HeadTimed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A request body did not arrive whole within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s, this server's body timeout", .0.as_secs_f64())]
pub struct BodyTimedOut(pub Duration);

/// Middleware: the request's body must arrive whole within the body timeout of its head.
pub(crate) async fn body_deadline(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.connections.body_timeout;
    let deadline = Instant::now() + limit;
    let request = request.map(|body| {
        Body::new(Deadline {
            body,
            limit,
            deadline,
            sleep: None,
        })
    });
    next.run(request).await
}

/// A request body that fails once its deadline passed before its end.
#[derive(Debug)]
struct Deadline {
    body: Body,
    limit: Duration,
    deadline: Instant,
    /// Made when the body first has to wait, so a body that arrives at once costs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(this.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Event streams open per device and per user, within their limits.
#[derive(Debug, Default)]
pub(crate) struct StreamSlots {
    open: Mutex<OpenStreams>,
}

#[derive(Debug, Default)]
struct OpenStreams {
    devices: HashMap<DeviceId, usize>,
    users: HashMap<String, usize>,
}

impl StreamSlots {
    /// A slot for one more stream of `who`, or why there is none.
    pub(crate) fn open(
        self: &Arc<Self>,
        who: &Principal,
        limits: &Connections,
    ) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let device = open.devices.get(&who.device).copied().unwrap_or(0);
        if device >= limits.streams_per_device {
            return Err(AppError::TooManyStreams(format!(
                "this device already has {device} event streams open, this server's limit \
                 per device; close one before opening another"
            )));
        }
        let user = open.users.get(&who.login).copied().unwrap_or(0);
        if user >= limits.streams_per_user {
            return Err(AppError::TooManyStreams(format!(
                "{}'s devices already have {user} event streams open, this server's limit \
                 per user; close one before opening another",
                who.login
            )));
        }
        *open.devices.entry(who.device).or_default() += 1;
        *open.users.entry(who.login.clone()).or_default() += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            device: who.device,
            login: who.login.clone(),
        })
    }
}

/// One open stream's place in [`StreamSlots`], given back when the stream is dropped.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    slots: Arc<StreamSlots>,
    device: DeviceId,
    login: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        let OpenStreams { devices, users } = &mut *open;
        release(devices, &self.device);
        release(users, &self.login);
    }
}

/// Counts one stream fewer under `key`, forgetting keys with none, so the maps stay small.
fn release<K, Q>(counts: &mut HashMap<Q, usize>, key: &K)
where
    K: std::hash::Hash + Eq + ?Sized,
    Q: std::hash::Hash + Eq + std::borrow::Borrow<K>,
{
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}
