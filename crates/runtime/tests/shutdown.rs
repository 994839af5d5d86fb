//! Graceful shutdown: new requests get 503, in-flight ones finish, then run() returns;
//! the grace period bounds the wait. Driven by a core that answers after a delay.

mod common;

use common::{loopback, options, status_of, DEADLINE};
use sb_runtime::{ConnId, Core, Peer, RuntimeConfig, Server, Transmit, TransportKind};
use sb_sip_msg::{Message, ParseError, Request, StatusCode};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Answers each request with 100 at once and 200 after `delay` (never, if `None`); after
/// shutdown begins, answers new requests with 503.
struct SlowCore {
    delay: Option<Duration>,
    pending: Vec<(Instant, Peer, Request)>,
    out: Vec<Transmit>,
    stopping: bool,
}

impl SlowCore {
    fn new(delay: Option<Duration>) -> Self {
        SlowCore {
            delay,
            pending: Vec::new(),
            out: Vec::new(),
            stopping: false,
        }
    }

    fn answer(&mut self, to: Peer, req: &Request, status: StatusCode) {
        let resp = sb_frontend::response_to(req, status, Some("t"));
        self.out.push(Transmit {
            peer: to,
            message: Message::Response(resp),
        });
    }
}

impl Core for SlowCore {
    fn handle_message(&mut self, now: Instant, from: Peer, msg: Message) {
        let Message::Request(req) = msg else { return };
        if self.stopping {
            self.answer(from, &req, StatusCode::SERVICE_UNAVAILABLE);
            return;
        }
        self.answer(from, &req, StatusCode::TRYING);
        let at = self
            .delay
            .map(|d| now + d)
            .unwrap_or(now + Duration::from_secs(3600));
        self.pending.push((at, from, req));
    }
    fn handle_malformed(&mut self, _: Instant, _: Peer, _: &[u8], _: &ParseError) {}
    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|p| p.0 <= now)
            .cloned()
            .collect();
        self.pending.retain(|p| p.0 > now);
        for (_, peer, req) in due {
            self.answer(peer, &req, StatusCode::OK);
        }
    }
    fn handle_connection_lost(&mut self, _: Instant, _: ConnId) {}
    fn begin_shutdown(&mut self, _: Instant) {
        self.stopping = true;
    }
    fn transactions(&self) -> usize {
        self.pending.len()
    }
    fn in_flight(&self) -> usize {
        self.pending.len()
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.0).min()
    }
}

async fn recv(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(DEADLINE, sock.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

async fn start(
    core: SlowCore,
    grace: Duration,
) -> (
    std::net::SocketAddr,
    sb_runtime::ShutdownHandle,
    tokio::task::JoinHandle<SlowCore>,
) {
    let config = RuntimeConfig {
        udp: vec![loopback()],
        shutdown_grace: grace,
        ..Default::default()
    };
    let server = Server::bind(config, core).await.unwrap();
    let addr = server
        .local_addrs()
        .iter()
        .find(|a| a.0 == TransportKind::Udp)
        .unwrap()
        .1;
    let stop = server.shutdown_handle();
    (addr, stop, tokio::spawn(server.run()))
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_ones_get_503() {
    let (addr, stop, task) = start(
        SlowCore::new(Some(Duration::from_millis(300))),
        Duration::from_secs(30),
    )
    .await;
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client
        .send_to(options("a", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    assert_eq!(
        status_of(&recv(&client).await),
        100,
        "the first request is in flight"
    );

    let begun = Instant::now();
    stop.shutdown();
    client
        .send_to(options("b", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    let mut statuses = vec![];
    for _ in 0..2 {
        let r = recv(&client).await;
        let branch = if r.contains("z9hG4bKa") { "a" } else { "b" };
        statuses.push((branch, status_of(&r)));
    }
    statuses.sort();
    assert_eq!(statuses, [("a", 200), ("b", 503)]);
    let core = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run() returns")
        .unwrap();
    assert!(core.pending.is_empty());
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "did not wait for the 30 s grace period"
    );
}

#[tokio::test]
async fn the_grace_period_bounds_the_wait() {
    let (addr, stop, task) = start(SlowCore::new(None), Duration::from_millis(200)).await;
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client
        .send_to(options("c", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    assert_eq!(status_of(&recv(&client).await), 100);
    stop.shutdown();
    let core = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run() returns after the grace period")
        .unwrap();
    assert_eq!(
        core.pending.len(),
        1,
        "the unanswered request was still pending when we gave up"
    );
}
