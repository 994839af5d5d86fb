//! A small SIP test client over real loopback sockets. Every wait has a deadline.
#![allow(dead_code)]

use sb_runtime::{
    ConnId, Core, Peer, RuntimeConfig, Server, ServerCore, ShutdownHandle, Transmit, TransportKind,
};
use sb_sip_msg::{Message, ParseError, Request, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest any single exchange may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(5);

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn options(branch: &str, transport: &str, extra: &str) -> String {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} client.invalid:5060;branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         Call-ID: {branch}@client\r\n\
         CSeq: 1 OPTIONS\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

pub fn status_of(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub struct Running {
    pub addrs: Vec<(TransportKind, SocketAddr)>,
    pub stop: ShutdownHandle,
    pub task: tokio::task::JoinHandle<ServerCore>,
    pub cert_der: Vec<u8>,
}

impl Running {
    pub fn addr(&self, t: TransportKind) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, a)| *a)
            .expect("transport bound")
    }
}

/// A self-signed certificate for localhost and the rustls server config using it.
pub fn tls_config() -> (Arc<rustls::ServerConfig>, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    (Arc::new(cfg), cert.to_vec())
}

pub fn tls_connector(cert_der: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Starts a server on loopback with every transport and the given limits.
pub async fn start(tweak: impl FnOnce(&mut RuntimeConfig)) -> Running {
    let (tls, cert_der) = tls_config();
    let mut config = RuntimeConfig {
        udp: vec![loopback()],
        tcp: vec![loopback()],
        tls: vec![loopback()],
        ws: vec![loopback()],
        wss: vec![loopback()],
        tls_config: Some(tls),
        ..Default::default()
    };
    tweak(&mut config);
    let fe = sb_frontend::Frontend::new(sb_frontend::FrontendConfig {
        domains: vec!["example.com".into()],
        tag_seed: 1,
        ..Default::default()
    });
    let core = ServerCore::new(Default::default(), 7, fe);
    let server = Server::bind(config, core).await.expect("bind");
    let addrs = server.local_addrs().to_vec();
    let stop = server.shutdown_handle();
    let task = tokio::spawn(server.run());
    Running {
        addrs,
        stop,
        task,
        cert_der,
    }
}

/// Reads one SIP message (headers + Content-Length body) from a stream, or fails at the
/// deadline.
pub async fn read_message<S: AsyncRead + Unpin>(s: &mut S) -> String {
    tokio::time::timeout(DEADLINE, async {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = s.read(&mut byte).await.expect("read");
            assert!(
                n > 0,
                "connection closed before a whole message; got {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
            if buf.ends_with(b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf).to_string();
                let cl = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Content-Length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; cl];
                s.read_exact(&mut body).await.expect("body");
                return head + &String::from_utf8_lossy(&body);
            }
        }
    })
    .await
    .expect("no message before the deadline")
}

/// Waits until the peer closes the stream (read returns 0 or an error).
pub async fn expect_closed<S: AsyncRead + Unpin>(s: &mut S, within: Duration) {
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .expect("connection still open at the deadline");
}

/// Answers each request with 100 at once and 200 after `delay` (never, if `None`); after
/// shutdown begins, answers new requests with 503.
pub struct SlowCore {
    pub delay: Option<Duration>,
    pub pending: Vec<(Instant, Peer, Request)>,
    pub out: Vec<Transmit>,
    pub stopping: bool,
}

impl SlowCore {
    pub fn new(delay: Option<Duration>) -> Self {
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
