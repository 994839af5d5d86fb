//! Socket tasks: one per UDP socket, one accept loop per stream listener, one task per
//! connection. They parse and frame, then hand messages to the event loop over a channel;
//! they never touch a core.

use crate::via::stamp_received;
use sb_sip_core::{ConnId, Peer, TransportKind};
use sb_sip_msg::{Framed, Message, ParseError, StreamFramer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

/// What socket tasks tell the event loop.
#[derive(Debug)]
pub(crate) enum Input {
    Message {
        from: Peer,
        msg: Message,
    },
    Malformed {
        from: Peer,
        bytes: Vec<u8>,
        err: ParseError,
    },
    Opened {
        conn: ConnId,
        peer: Peer,
        tx: mpsc::Sender<Vec<u8>>,
    },
    Closed {
        conn: ConnId,
    },
    /// The store answered a query.
    QueryResult {
        id: sb_frontend::QueryId,
        result: sb_frontend::QueryResult,
    },
}

/// What every connection task needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct ConnCtx {
    pub inputs: mpsc::Sender<Input>,
    pub max_message_size: usize,
    pub idle_timeout: Duration,
    pub permits: Arc<Semaphore>,
    pub next_conn: Arc<AtomicU64>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ConnCtx {
    pub fn alloc_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }
}

/// Outbound messages queued per connection; beyond it the event loop drops (and counts)
/// rather than wait on one slow peer.
pub(crate) const CONN_QUEUE: usize = 256;

/// How long a TLS or WebSocket handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn transport_label(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
    }
}

/// Parses one datagram-like unit (a UDP datagram, a WebSocket message) and reports it.
pub(crate) async fn deliver_datagram(inputs: &mpsc::Sender<Input>, from: Peer, bytes: &[u8]) {
    // CRLF keep-alives are specified for streams (RFC 5626 §3.5.1), but some clients send
    // them in datagrams and WebSocket messages too: nothing to parse, nothing to answer.
    if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return;
    }
    let input = match sb_sip_msg::parse_datagram(bytes) {
        Ok(msg) => Input::Message {
            from,
            msg: stamp(msg, from),
        },
        Err(err) => {
            metrics::counter!("sip_parse_errors_total", "transport" => transport_label(from.transport))
                .increment(1);
            Input::Malformed {
                from,
                bytes: bytes.to_vec(),
                err,
            }
        }
    };
    let _ = inputs.send(input).await;
}

fn stamp(mut msg: Message, from: Peer) -> Message {
    if let Message::Request(r) = &mut msg {
        stamp_received(r, from.addr);
    }
    msg
}

/// Receives datagrams on one UDP socket until the task is aborted.
pub(crate) async fn udp_loop(socket: Arc<UdpSocket>, inputs: mpsc::Sender<Input>, max: usize) {
    // One byte more than allowed, so an oversized datagram is recognisable as such.
    let mut buf = vec![0u8; max + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port unreachable surfaces here on some systems; not fatal.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        let peer = Peer::udp(from);
        if n > max {
            let err = ParseError {
                kind: sb_sip_msg::ParseErrorKind::TooLarge,
                header: None,
                reason: format!("datagram larger than {max} bytes"),
                is_request: !buf.starts_with(b"SIP/"),
            };
            metrics::counter!("sip_parse_errors_total", "transport" => "udp").increment(1);
            let _ = inputs
                .send(Input::Malformed {
                    from: peer,
                    bytes: buf[..max].to_vec(),
                    err,
                })
                .await;
            continue;
        }
        deliver_datagram(&inputs, peer, &buf[..n]).await;
    }
}

/// Accepts connections until shutdown starts; refuses them beyond the connection limit.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    transport: TransportKind,
    ctx: ConnCtx,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, from) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let Ok(permit) = ctx.permits.clone().try_acquire_owned() else {
            metrics::counter!("sip_connections_refused_total", "transport" => transport_label(transport))
                .increment(1);
            tracing::debug!(%from, "connection limit reached; refusing");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let conn = ctx.alloc_conn();
            let peer = Peer::new(transport, from).with_conn(conn);
            serve_accepted(tcp, peer, ctx, permit).await;
        });
    }
}

async fn serve_accepted(tcp: TcpStream, peer: Peer, ctx: ConnCtx, permit: OwnedSemaphorePermit) {
    let (tx, rx) = mpsc::channel(CONN_QUEUE);
    match peer.transport {
        TransportKind::Tcp => run_stream(tcp, peer, ctx, tx, rx, permit).await,
        TransportKind::Tls | TransportKind::Wss => {
            let Some(acceptor) = ctx.tls.clone() else {
                return;
            };
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            if peer.transport == TransportKind::Tls {
                run_stream(tls, peer, ctx, tx, rx, permit).await;
            } else {
                crate::ws::run_ws(tls, peer, ctx, tx, rx, permit).await;
            }
        }
        TransportKind::Ws => crate::ws::run_ws(tcp, peer, ctx, tx, rx, permit).await,
        TransportKind::Udp => {}
    }
}

/// Opens an outbound TCP connection for a response whose connection is gone (RFC 3261
/// §18.2.2) and runs it like an accepted one; the bytes queued in `rx` go out first.
pub(crate) async fn connect_tcp(
    peer: Peer,
    ctx: ConnCtx,
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
) {
    let conn = peer.conn.expect("outbound peers are given a connection id");
    let permit = ctx.permits.clone().try_acquire_owned();
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(peer.addr)).await;
    match (permit, stream) {
        (Ok(permit), Ok(Ok(tcp))) => {
            let _ = tcp.set_nodelay(true);
            run_stream(tcp, peer, ctx, tx, rx, permit).await;
        }
        _ => {
            tracing::debug!(%peer, "outbound connection failed");
            let _ = ctx.inputs.send(Input::Closed { conn }).await;
        }
    }
}

/// Counts a connection in `sip_connections{transport}` for as long as it lives, and tells
/// the event loop when it ends, however the task ends.
pub(crate) struct ConnGuard {
    pub conn: ConnId,
    pub transport: TransportKind,
    pub inputs: mpsc::Sender<Input>,
    pub _permit: OwnedSemaphorePermit,
}

impl ConnGuard {
    pub async fn open(
        peer: Peer,
        ctx: &ConnCtx,
        tx: mpsc::Sender<Vec<u8>>,
        permit: OwnedSemaphorePermit,
    ) -> ConnGuard {
        let conn = peer.conn.expect("connection peers carry their id");
        metrics::gauge!("sip_connections", "transport" => transport_label(peer.transport))
            .increment(1.0);
        let _ = ctx.inputs.send(Input::Opened { conn, peer, tx }).await;
        ConnGuard {
            conn,
            transport: peer.transport,
            inputs: ctx.inputs.clone(),
            _permit: permit,
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        metrics::gauge!("sip_connections", "transport" => transport_label(self.transport))
            .decrement(1.0);
        // try_send: Drop cannot await; if the loop's queue is full or gone, the loop also
        // learns of the closure when its next send to this connection fails.
        let _ = self.inputs.try_send(Input::Closed { conn: self.conn });
    }
}

/// Reads, frames and writes one TCP or TLS connection (RFC 3261 §18.3) until the peer
/// closes it, framing is lost, it idles out, or the event loop drops its sender.
pub(crate) async fn run_stream<S>(
    mut stream: S,
    peer: Peer,
    ctx: ConnCtx,
    tx: mpsc::Sender<Vec<u8>>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _guard = ConnGuard::open(peer, &ctx, tx, permit).await;
    let mut framer = StreamFramer::new(ctx.max_message_size);
    // The framer hands out parsed messages only; a copy of the unframed bytes lets a
    // message that failed to parse be answered from its raw headers.
    let mut raw: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let idle = tokio::time::sleep(ctx.idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                idle.as_mut().reset(tokio::time::Instant::now() + ctx.idle_timeout);
                framer.push(&buf[..n]);
                raw.extend_from_slice(&buf[..n]);
                if !drain_framer(&mut framer, &mut raw, peer, &ctx, &mut stream).await {
                    break;
                }
            }
            out = rx.recv() => {
                let Some(bytes) = out else { break };
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
                idle.as_mut().reset(tokio::time::Instant::now() + ctx.idle_timeout);
            }
            _ = &mut idle => {
                tracing::debug!(%peer, "closing idle connection");
                break;
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Hands every complete item to the event loop; `false` when the connection must close.
async fn drain_framer<S: AsyncWrite + Unpin>(
    framer: &mut StreamFramer,
    raw: &mut Vec<u8>,
    peer: Peer,
    ctx: &ConnCtx,
    stream: &mut S,
) -> bool {
    loop {
        let before = framer.buffered();
        let item = match framer.next() {
            Ok(Some(item)) => item,
            Ok(None) => return true,
            Err(e) => {
                metrics::counter!("sip_parse_errors_total", "transport" => transport_label(peer.transport))
                    .increment(1);
                tracing::debug!(%peer, error = %e, "stream framing lost; closing");
                return false;
            }
        };
        let used = before.saturating_sub(framer.buffered()).min(raw.len());
        let bytes: Vec<u8> = raw.drain(..used).collect();
        let input = match item {
            // RFC 5626 §4.4.1: a CRLF CRLF ping is answered with a CRLF pong.
            Framed::Ping => {
                if stream.write_all(b"\r\n").await.is_err() {
                    return false;
                }
                continue;
            }
            Framed::Pong => continue,
            Framed::Message(Ok(msg)) => Input::Message {
                from: peer,
                msg: stamp(msg, peer),
            },
            Framed::Message(Err(err)) => {
                metrics::counter!("sip_parse_errors_total", "transport" => transport_label(peer.transport))
                    .increment(1);
                Input::Malformed {
                    from: peer,
                    bytes,
                    err,
                }
            }
        };
        if ctx.inputs.send(input).await.is_err() {
            return false;
        }
    }
}

/// Resolves once shutdown has been requested (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    // The guard that wait_for returns is not Send; drop it here, not across an await.
    let _ = rx.wait_for(|s| *s).await;
}
