//! The server: binds the listeners, then runs one event loop that owns the core.

use crate::core::{Core, Transmit};
use crate::transport::{self, transport_label, ConnCtx, Input, CONN_QUEUE};
use crate::via::{route_response, ResponseRoute};
use sb_sip_core::{ConnId, Peer, TransportKind};
use sb_sip_msg::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;

/// Listeners and limits.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    pub ws: Vec<SocketAddr>,
    pub wss: Vec<SocketAddr>,
    /// Needed when `tls` or `wss` is not empty.
    pub tls_config: Option<Arc<rustls::ServerConfig>>,
    /// Largest message accepted on any transport, in bytes.
    pub max_message_size: usize,
    /// Most stream connections open at once; further ones are refused at accept.
    pub max_connections: usize,
    /// A connection without traffic for this long is closed.
    pub idle_timeout: Duration,
    /// How long shutdown waits for in-flight transactions.
    pub shutdown_grace: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            ws: Vec::new(),
            wss: Vec::new(),
            tls_config: None,
            max_message_size: sb_sip_msg::DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(32),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error("cannot bind {transport} on {addr}: {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0} listeners need a TLS certificate")]
    NoTlsConfig(&'static str),
}

/// Starts a graceful shutdown when [`ShutdownHandle::shutdown`] is called. Cloneable.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Stop accepting, answer new requests 503, let in-flight transactions finish (up to
    /// the grace period), then close every connection. Idempotent.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// Work for the core from outside the loop (a new directory snapshot, a reload): run on
/// the loop, between inputs, with the loop's clock.
pub type Control<C> = Box<dyn FnOnce(&mut C, std::time::Instant) + Send>;

/// Sends [`Control`]s to a running server. Cloneable; sending after the server stopped
/// does nothing.
pub struct ControlHandle<C: Core>(mpsc::UnboundedSender<Control<C>>);

impl<C: Core> Clone for ControlHandle<C> {
    fn clone(&self) -> Self {
        ControlHandle(self.0.clone())
    }
}

impl<C: Core> ControlHandle<C> {
    /// Runs `f` on the core at the loop's next turn.
    pub fn send(&self, f: impl FnOnce(&mut C, std::time::Instant) + Send + 'static) {
        let _ = self.0.send(Box::new(f));
    }
}

/// A bound server. [`Server::run`] drives it until shutdown completes.
pub struct Server<C: Core> {
    core: C,
    control: (
        mpsc::UnboundedSender<Control<C>>,
        mpsc::UnboundedReceiver<Control<C>>,
    ),
    store: Option<Arc<dyn sb_store::Store>>,
    config: RuntimeConfig,
    udp: Vec<Arc<UdpSocket>>,
    listeners: Vec<(TransportKind, TcpListener)>,
    local_addrs: Vec<(TransportKind, SocketAddr)>,
    shutdown: Arc<watch::Sender<bool>>,
}

impl<C: Core> Server<C> {
    /// Binds every configured listener (port 0 picks a free port; see
    /// [`Server::local_addrs`]).
    pub async fn bind(config: RuntimeConfig, core: C) -> Result<Self, RuntimeError> {
        let mut local_addrs = Vec::new();
        let mut udp = Vec::new();
        for &addr in &config.udp {
            let s = UdpSocket::bind(addr)
                .await
                .map_err(|source| RuntimeError::Bind {
                    transport: "udp",
                    addr,
                    source,
                })?;
            local_addrs.push((TransportKind::Udp, s.local_addr().unwrap_or(addr)));
            udp.push(Arc::new(s));
        }
        if config.tls_config.is_none() {
            if !config.tls.is_empty() {
                return Err(RuntimeError::NoTlsConfig("tls"));
            }
            if !config.wss.is_empty() {
                return Err(RuntimeError::NoTlsConfig("wss"));
            }
        }
        let mut listeners = Vec::new();
        let streams = [
            (TransportKind::Tcp, &config.tcp),
            (TransportKind::Tls, &config.tls),
            (TransportKind::Ws, &config.ws),
            (TransportKind::Wss, &config.wss),
        ];
        for (kind, addrs) in streams {
            for &addr in addrs {
                let transport = transport_label(kind);
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|source| RuntimeError::Bind {
                        transport,
                        addr,
                        source,
                    })?;
                local_addrs.push((kind, l.local_addr().unwrap_or(addr)));
                listeners.push((kind, l));
            }
        }
        let (tx, _) = watch::channel(false);
        Ok(Server {
            core,
            control: mpsc::unbounded_channel(),
            store: None,
            config,
            udp,
            listeners,
            local_addrs,
            shutdown: Arc::new(tx),
        })
    }

    /// The store the core's queries and writes go to. Without one, every query fails
    /// (the core answers 503) and writes are dropped.
    pub fn with_store(mut self, store: Arc<dyn sb_store::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The bound addresses, per transport, in configuration order.
    pub fn local_addrs(&self) -> &[(TransportKind, SocketAddr)] {
        &self.local_addrs
    }

    /// The core, to finish configuring it once the bound addresses are known.
    pub fn core_mut(&mut self) -> &mut C {
        &mut self.core
    }

    /// A handle that runs work on the core while the server runs.
    pub fn control_handle(&self) -> ControlHandle<C> {
        ControlHandle(self.control.0.clone())
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown.clone())
    }

    /// Runs until a shutdown has completed; returns the core (tests inspect it).
    pub async fn run(self) -> C {
        let Server {
            core,
            control,
            store,
            config,
            udp,
            listeners,
            shutdown,
            ..
        } = self;
        let (inputs_tx, inputs_rx) = mpsc::channel(4096);
        let ctx = ConnCtx {
            inputs: inputs_tx.clone(),
            max_message_size: config.max_message_size,
            idle_timeout: config.idle_timeout,
            permits: Arc::new(Semaphore::new(config.max_connections)),
            next_conn: Arc::new(AtomicU64::new(1)),
            tls: config
                .tls_config
                .clone()
                .map(tokio_rustls::TlsAcceptor::from),
        };
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        for s in &udp {
            let fut = transport::udp_loop(s.clone(), inputs_tx.clone(), config.max_message_size);
            tasks.push(tokio::spawn(fut));
        }
        for (kind, l) in listeners {
            let fut = transport::accept_loop(l, kind, ctx.clone(), shutdown.subscribe());
            tasks.push(tokio::spawn(fut));
        }
        drop(inputs_tx);
        let (writer, writer_task) = store.clone().map(crate::store_io::spawn_writer).unzip();
        let mut ev = EventLoop {
            core,
            store,
            writer,
            udp,
            conns: HashMap::new(),
            by_addr: HashMap::new(),
            ctx,
        };
        let (control_tx, control_rx) = control;
        drop(control_tx);
        ev.run(
            inputs_rx,
            control_rx,
            shutdown.subscribe(),
            config.shutdown_grace,
        )
        .await;
        for t in &tasks {
            t.abort();
        }
        // The bindings the last REGISTERs changed reach the store before run() returns.
        ev.writer = None;
        if let Some(w) = writer_task {
            if tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .is_err()
            {
                tracing::warn!("binding writes still pending at exit");
            }
        }
        ev.core
    }
}

/// A live connection as the event loop sees it.
struct ConnEntry {
    peer: Peer,
    tx: mpsc::Sender<Vec<u8>>,
}

struct EventLoop<C: Core> {
    core: C,
    store: Option<Arc<dyn sb_store::Store>>,
    /// Binding writes, in order, to the one writer task.
    writer: Option<mpsc::UnboundedSender<sb_frontend::Effect>>,
    udp: Vec<Arc<UdpSocket>>,
    conns: HashMap<ConnId, ConnEntry>,
    /// Connection reuse (RFC 3261 §18.1.1, §18.2.2): by transport and remote address.
    by_addr: HashMap<(TransportKind, SocketAddr), ConnId>,
    ctx: ConnCtx,
}

fn now() -> std::time::Instant {
    // tokio's clock, so tests that pause time drive the cores' timers too.
    TokioInstant::now().into_std()
}

impl<C: Core> EventLoop<C> {
    async fn run(
        &mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut control: mpsc::UnboundedReceiver<Control<C>>,
        mut shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let mut deadline: Option<TokioInstant> = None;
        // What the core produced before the loop started (removals of bindings that
        // lapsed while the server was down) goes out now, not at the first input.
        self.flush().await;
        loop {
            let wake = self.core.poll_timeout().map(TokioInstant::from_std);
            tokio::select! {
                biased;
                _ = transport::stopped(&mut shutdown), if deadline.is_none() => {
                    tracing::info!(transactions = self.core.transactions(), "shutting down");
                    deadline = Some(TokioInstant::now() + grace);
                    self.core.begin_shutdown(now());
                }
                _ = sleep_until_opt(deadline) => {
                    tracing::warn!(in_flight = self.core.in_flight(), "shutdown grace period over");
                    break;
                }
                _ = sleep_until_opt(wake) => self.core.handle_timeout(now()),
                Some(f) = control.recv() => f(&mut self.core, now()),
                input = inputs.recv() => match input {
                    Some(i) => self.on_input(i),
                    None => break,
                },
            }
            self.flush().await;
            metrics::gauge!("sip_transactions").set(self.core.transactions() as f64);
            if deadline.is_some() && self.core.in_flight() == 0 {
                break;
            }
        }
        // Dropping the senders ends every connection task after it wrote what it had.
        self.conns.clear();
        self.by_addr.clear();
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Message { from, msg } => {
                if let Message::Request(r) = &msg {
                    metrics::counter!("sip_requests_received_total", "method" => method_label(&r.method))
                        .increment(1);
                }
                self.core.handle_message(now(), from, msg);
            }
            Input::Malformed { from, bytes, err } => {
                tracing::debug!(%from, reason = %err, "unparsable message");
                self.core.handle_malformed(now(), from, &bytes, &err);
            }
            Input::Opened { conn, peer, tx } => {
                self.by_addr.insert((peer.transport, peer.addr), conn);
                self.conns.insert(conn, ConnEntry { peer, tx });
            }
            Input::Closed { conn } => self.forget(conn),
            Input::QueryResult { id, result } => self.core.handle_query_result(now(), id, result),
        }
    }

    fn forget(&mut self, conn: ConnId) {
        if let Some(e) = self.conns.remove(&conn) {
            let key = (e.peer.transport, e.peer.addr);
            if self.by_addr.get(&key) == Some(&conn) {
                self.by_addr.remove(&key);
            }
            self.core.handle_connection_lost(now(), conn);
        }
    }

    async fn flush(&mut self) {
        loop {
            while let Some(t) = self.core.poll_transmit() {
                self.send(t).await;
            }
            while let Some(w) = self.core.poll_write() {
                if let Some(tx) = &self.writer {
                    let _ = tx.send(w);
                }
            }
            let Some(q) = self.core.poll_query() else {
                break;
            };
            self.start_query(q);
        }
    }

    /// Runs a query in its own task; the answer comes back as an input. Without a store
    /// the query fails at once.
    fn start_query(&mut self, q: sb_frontend::Query) {
        let id = q.id();
        let Some(store) = self.store.clone() else {
            let err = sb_frontend::QueryError::Store("no store configured".into());
            self.core.handle_query_result(now(), id, Err(err));
            return;
        };
        let inputs = self.ctx.inputs.clone();
        tokio::spawn(async move {
            let result = crate::store_io::run_query(store.as_ref(), &q).await;
            let _ = inputs.send(Input::QueryResult { id, result }).await;
        });
    }

    async fn send(&mut self, t: Transmit) {
        let (bytes, route) = match &t.message {
            Message::Response(r) => {
                metrics::counter!("sip_responses_sent_total", "status" => r.status.code().to_string())
                    .increment(1);
                (r.to_bytes(), route_response(r, t.peer))
            }
            Message::Request(r) => {
                let route = if t.peer.is_reliable() {
                    ResponseRoute::Connection {
                        peer: t.peer,
                        addr: t.peer.addr,
                    }
                } else {
                    ResponseRoute::Datagram(t.peer.addr)
                };
                (r.to_bytes(), route)
            }
        };
        match route {
            ResponseRoute::Datagram(to) => self.send_datagram(to, &bytes).await,
            ResponseRoute::Connection { peer, addr } => self.send_stream(peer, addr, bytes),
        }
    }

    async fn send_datagram(&self, to: SocketAddr, bytes: &[u8]) {
        let socket = self
            .udp
            .iter()
            .find(|s| s.local_addr().is_ok_and(|l| l.is_ipv4() == to.is_ipv4()))
            .or(self.udp.first());
        let Some(socket) = socket else {
            tracing::warn!(%to, "no UDP socket to send from");
            return;
        };
        if let Err(e) = socket.send_to(bytes, to).await {
            tracing::debug!(%to, error = %e, "udp send failed");
        }
    }

    /// §18.2.2: the connection the request came on; else one already open to the target;
    /// else, for TCP, a new one. TLS and WebSocket clients are not dialled back: a TLS
    /// client has no certificate for us to verify and a browser cannot accept connections.
    fn send_stream(&mut self, peer: Peer, addr: SocketAddr, bytes: Vec<u8>) {
        let open = peer
            .conn
            .filter(|c| self.conns.contains_key(c))
            .or_else(|| self.by_addr.get(&(peer.transport, addr)).copied())
            .or_else(|| self.by_addr.get(&(peer.transport, peer.addr)).copied());
        if let Some((conn, entry)) = open.and_then(|c| self.conns.get(&c).map(|e| (c, e))) {
            // try_send: a stalled peer must not stall the loop that serves everyone else.
            match entry.tx.try_send(bytes) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!("sip_undeliverable_total", "transport" => transport_label(peer.transport))
                        .increment(1);
                    tracing::warn!(%peer, "connection queue full; message dropped");
                }
                Err(mpsc::error::TrySendError::Closed(b)) => {
                    // Closed under us: the loop has not seen its Closed input yet. Fall
                    // through to dialling a new connection like any closed one.
                    self.forget(conn);
                    return self.send_stream(Peer { conn: None, ..peer }, addr, b);
                }
            }
            return;
        }
        if peer.transport != TransportKind::Tcp {
            metrics::counter!("sip_undeliverable_total", "transport" => transport_label(peer.transport))
                .increment(1);
            tracing::debug!(%peer, "connection gone; response dropped");
            return;
        }
        let conn = self.ctx.alloc_conn();
        let target = Peer::new(TransportKind::Tcp, addr).with_conn(conn);
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        let _ = tx.try_send(bytes);
        self.by_addr.insert((TransportKind::Tcp, addr), conn);
        self.conns.insert(
            conn,
            ConnEntry {
                peer: target,
                tx: tx.clone(),
            },
        );
        tokio::spawn(transport::connect_tcp(target, self.ctx.clone(), tx, rx));
    }
}

/// The method as a metric label. Extension methods share one label: their names come from
/// peers, and one label per name would let a peer grow the metrics without bound.
fn method_label(m: &sb_sip_msg::Method) -> &'static str {
    use sb_sip_msg::Method::*;
    match m {
        Invite => "INVITE",
        Ack => "ACK",
        Bye => "BYE",
        Cancel => "CANCEL",
        Register => "REGISTER",
        Options => "OPTIONS",
        Info => "INFO",
        Update => "UPDATE",
        Prack => "PRACK",
        Subscribe => "SUBSCRIBE",
        Notify => "NOTIFY",
        Publish => "PUBLISH",
        Refer => "REFER",
        Message => "MESSAGE",
        Extension(_) => "other",
    }
}

async fn sleep_until_opt(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
