//! `switchboard serve` as a user runs it: a config file with port 0 everywhere, a temp data
//! directory, and a small SIP client over UDP, TCP and TLS. The process is killed by pid
//! when the test ends, whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

/// Kills the server when dropped, so a failing assertion never leaves it running.
struct ServerGuard {
    child: Child,
    dir: PathBuf,
    addrs: Vec<(String, SocketAddr)>,
    banner: Vec<String>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ServerGuard {
    fn addr(&self, what: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(k, _)| k == what)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {what} in {:?}", self.banner))
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "switchboard-serve-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const CONFIG: &str = r#"
[sip]
udp = ["127.0.0.1:0"]
tcp = ["127.0.0.1:0"]
tls = ["127.0.0.1:0"]
ws = ["127.0.0.1:0"]
domains = ["example.com"]

[http]
listen = "127.0.0.1:0"

[log]
level = "warn"
"#;

fn start(config: &str, extra: &[&str]) -> ServerGuard {
    let dir = temp_dir();
    std::fs::write(dir.join("switchboard.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .arg("--config")
        .arg(dir.join("switchboard.toml"))
        .arg("--data")
        .arg(dir.join("data"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start switchboard");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut guard = ServerGuard {
        child,
        dir,
        addrs: Vec::new(),
        banner: Vec::new(),
    };
    let until = Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no 'ready' line; got {:?}", guard.banner));
        guard.banner.push(line.clone());
        if line == "ready" {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["listening", "sip", kind, addr] => {
                guard.addrs.push((kind.to_string(), addr.parse().unwrap()))
            }
            ["listening", "http", addr, ..] => {
                guard.addrs.push(("http".into(), addr.parse().unwrap()))
            }
            _ => {}
        }
    }
    guard
}

fn request(method: &str, ruri: &str, transport: &str, branch: &str, extra: &str) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} client.invalid;branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         From: <sip:alice@client.invalid>;tag=t{branch}\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap_or("")
}

fn status(resp: &str) -> u16 {
    status_line(resp)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends `msg` and returns the first final answer (an INVITE gets 100 Trying first).
fn udp(server: SocketAddr, msg: &str) -> String {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.send_to(msg.as_bytes(), server).unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = s
            .recv_from(&mut buf)
            .expect("an answer over UDP before the deadline");
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

/// Reads one message (headers, then Content-Length octets of body).
fn read_message(s: &mut impl Read) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut b).expect("read before the deadline");
        assert!(
            n == 1,
            "closed mid-message: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(b[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let cl: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Content-Length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; cl];
    s.read_exact(&mut body).unwrap();
    head
}

fn tcp_stream(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, DEADLINE).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

#[test]
fn options_is_answered_200_over_udp_tcp_and_tls() {
    let srv = start(CONFIG, &[]);
    let r = udp(
        srv.addr("udp"),
        &request("OPTIONS", "sip:example.com", "UDP", "u1", ""),
    );
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains("Allow:"), "{r}");
    assert!(r.contains("Accept: application/sdp"), "{r}");

    let mut t = tcp_stream(srv.addr("tcp"));
    t.write_all(request("OPTIONS", "sip:example.com", "TCP", "t1", "").as_bytes())
        .unwrap();
    let r = read_message(&mut t);
    assert_eq!(status(&r), 200, "{r}");

    // TLS, trusting the certificate the server generated in its data directory.
    let pem = std::fs::read(srv.dir.join("data/tls/cert.pem"))
        .expect("certificate generated under DATA/tls");
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp_stream(srv.addr("tls")));
    tls.write_all(request("OPTIONS", "sip:example.com", "TLS", "s1", "").as_bytes())
        .unwrap();
    let r = read_message(&mut tls);
    assert_eq!(status(&r), 200, "{r}");
}

#[test]
fn error_statuses_over_udp() {
    let srv = start(CONFIG, &[]);
    let to = srv.addr("udp");
    let mf0 = |r: String| r.replace("Max-Forwards: 70", "Max-Forwards: 0");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "unknown URI scheme",
            request("OPTIONS", "nobody:x", "UDP", "e1", ""),
            416,
        ),
        (
            "unsupported Require",
            request(
                "OPTIONS",
                "sip:example.com",
                "UDP",
                "e2",
                "Require: foo\r\n",
            ),
            420,
        ),
        (
            "Max-Forwards 0, other domain",
            mf0(request("OPTIONS", "sip:bob@elsewhere.net", "UDP", "e3", "")),
            483,
        ),
        (
            "Max-Forwards 0, our domain",
            mf0(request("OPTIONS", "sip:example.com", "UDP", "e4", "")),
            200,
        ),
        (
            "extension method",
            request("FOO", "sip:example.com", "UDP", "e5", ""),
            501,
        ),
        (
            "a call to nobody",
            request("INVITE", "sip:nobody@example.com", "UDP", "e6", ""),
            404,
        ),
        (
            "CANCEL matching nothing",
            request("CANCEL", "sip:bob@example.com", "UDP", "e7", ""),
            481,
        ),
        (
            "unparsable",
            request("OPTIONS", "sip:example.com", "UDP", "e8", "")
                .replace("Content-Length: 0", "Content-Length: -1"),
            400,
        ),
        (
            "CSeq method mismatch",
            request("OPTIONS", "sip:example.com", "UDP", "e9", "")
                .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
            400,
        ),
        (
            "bad version",
            request("OPTIONS", "sip:example.com", "UDP", "ea", "").replacen(
                "SIP/2.0\r\n",
                "SIP/3.0\r\n",
                1,
            ),
            505,
        ),
    ];
    for (name, msg, want) in cases {
        let r = udp(to, &msg);
        assert_eq!(status(&r), want, "{name}: {}", status_line(&r));
    }
    let r = udp(
        to,
        &request("OPTIONS", "sip:example.com", "UDP", "eb", "")
            .replace("Content-Length: 0", "Content-Length: -1"),
    );
    assert_eq!(status(&r), 400, "{r}");
    let warning = r.lines().find(|l| l.starts_with("Warning: 399 "));
    assert!(
        warning.is_some_and(|w| w.contains("Content-Length")),
        "the 400 says why in a Warning: {r}"
    );
}

#[test]
fn metrics_and_health_are_served() {
    let srv = start(CONFIG, &[]);
    let r = udp(
        srv.addr("udp"),
        &request("OPTIONS", "sip:example.com", "UDP", "m1", ""),
    );
    assert_eq!(status(&r), 200);
    let bad = request("OPTIONS", "sip:example.com", "UDP", "m2", "")
        .replace("Content-Length: 0", "Content-Length: x");
    assert_eq!(status(&udp(srv.addr("udp"), &bad)), 400);
    let ext = request("XYZZY", "sip:example.com", "UDP", "m4", "");
    assert_eq!(status(&udp(srv.addr("udp"), &ext)), 501);
    // A TCP connection that stays open while we read the gauge.
    let mut held = tcp_stream(srv.addr("tcp"));
    held.write_all(request("OPTIONS", "sip:example.com", "TCP", "m3", "").as_bytes())
        .unwrap();
    assert_eq!(status(&read_message(&mut held)), 200);
    let get = |path: &str| {
        let mut s = tcp_stream(srv.addr("http"));
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let health = get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = get("/metrics");
    assert!(
        metrics.contains("sip_requests_received_total{method=\"OPTIONS\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sip_responses_sent_total{status=\"200\"}"),
        "{metrics}"
    );
    for want in [
        "sip_responses_sent_total{status=\"400\"}",
        "sip_parse_errors_total{transport=\"udp\"} 1",
        "sip_connections{transport=\"tcp\"} 1",
        "sip_transactions",
        // Extension methods share one label, so peers cannot mint label values.
        "sip_requests_received_total{method=\"other\"} 1",
    ] {
        assert!(metrics.contains(want), "{want} in {metrics}");
    }
    assert!(!metrics.contains("XYZZY"), "{metrics}");
    drop(held);
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut srv = start(CONFIG, &["--log-format", "json", "--log-level", "info"]);
    let pid = srv.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let until = Instant::now() + DEADLINE;
    let code = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < until, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "exit status {code}");
    let mut err = String::new();
    srv.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let shutdown_line = err
        .lines()
        .find(|l| l.contains("shutting down"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        shutdown_line.trim_start().starts_with('{'),
        "JSON log lines: {shutdown_line}"
    );
}

#[test]
fn the_banner_says_where_data_lives_and_what_listens() {
    let srv = start(CONFIG, &[]);
    let b = srv.banner.join("\n");
    assert!(
        b.contains(&format!(
            "data directory: {}",
            srv.dir.join("data").canonicalize().unwrap().display()
        )),
        "{b}"
    );
    assert!(
        b.contains("tls certificate:") && b.contains("generated"),
        "{b}"
    );
    for t in ["udp", "tcp", "tls", "ws", "http"] {
        let _ = srv.addr(t);
    }
}

#[test]
fn a_config_typo_is_named_and_exits_nonzero() {
    let dir = temp_dir();
    std::fs::write(dir.join("bad.toml"), "[sip]\nmax_mesage_size = 10\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(dir.join("bad.toml"))
        .arg("--data")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_mesage_size"), "{err}");
}
