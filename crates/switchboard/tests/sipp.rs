//! End to end against SIPp (Debian's `sip-tester`), an independent SIP implementation:
//! `switchboard serve` answers OPTIONS and refuses what it cannot serve with the right
//! status over UDP, TCP and TLS, and retransmits a final response whose ACK never comes on
//! the RFC 3261 schedule.
//!
//! Debian's SIPp is built without OpenSSL, so the TLS runs put stunnel (Debian's
//! `stunnel4`, OpenSSL) in front of it: SIPp speaks its scenario over TCP to a local
//! stunnel in client mode, which carries it over TLS to the server's TLS port and checks
//! the server's certificate (pinned: the certificate the server generated, for 127.0.0.1).
//!
//! Every test starts its own server on free loopback ports with a temporary data
//! directory, waits for `/health` to say ready (no fixed sleeps), and kills the server by
//! its pid when done. SIPp's exit status says whether each scenario passed; the scenarios
//! check headers with `check_it="true"`, so a missing header fails the call.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `switchboard serve`, killed (by pid) when dropped.
struct Server {
    child: Child,
    sip_port: u16,
    tls_port: u16,
    http_port: u16,
    dir: tempdir::Dir,
}

mod tempdir {
    use std::path::{Path, PathBuf};

    /// A directory under the system temp dir, removed on drop.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let base = std::env::temp_dir().join(format!(
                "sb-sipp-{tag}-{}-{}",
                std::process::id(),
                super::unique()
            ));
            std::fs::create_dir_all(&base).expect("create temp dir");
            Dir(base)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    for _ in 0..200 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

impl Server {
    fn start(tag: &str) -> Server {
        let dir = tempdir::Dir::new(tag);
        let sip_port = free_port();
        let tls_port = free_port();
        let ws_port = free_port();
        let http_port = free_port();
        let config = format!(
            r#"
[sip]
udp = ["127.0.0.1:{sip_port}"]
tcp = ["127.0.0.1:{sip_port}"]
tls = ["127.0.0.1:{tls_port}"]
ws = ["127.0.0.1:{ws_port}"]
domains = ["127.0.0.1"]

[http]
listen = "127.0.0.1:{http_port}"
"#
        );
        let config_path = dir.path().join("switchboard.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--data")
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start switchboard");
        let mut server = Server {
            child,
            sip_port,
            tls_port,
            http_port,
            dir,
        };
        server.wait_ready();
        server
    }

    /// Polls `/health` until it answers 200; fails with the server's log on a deadline.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr: SocketAddr = ([127, 0, 0, 1], self.http_port).into();
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("switchboard exited early ({status}):\n{}", self.log());
            }
            if http_status(addr, "/health") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("switchboard not ready within 60 s:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The certificate the server generated on first start (stunnel pins it).
    fn tls_files(&self) -> (PathBuf, PathBuf) {
        let tls = self.dir.path().join("data").join("tls");
        (tls.join("cert.pem"), tls.join("key.pem"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    fn flag(self) -> &'static str {
        match self {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
            // SIPp speaks TCP to the local stunnel, which speaks TLS to the server.
            Transport::Tls => "t1",
        }
    }
}

struct SippRun {
    ok: bool,
    /// What stunnel logged, for runs over TLS.
    tunnel_log: String,
    output: String,
    messages: String,
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A stunnel client: plain TCP in on `port`, TLS out to the server; killed on drop.
struct Stunnel {
    child: Child,
    port: u16,
    dir: tempdir::Dir,
}

impl Stunnel {
    fn start(server: &Server) -> Stunnel {
        let dir = tempdir::Dir::new("stunnel");
        let port = free_port();
        let (cert, _) = server.tls_files();
        let conf = format!(
            "foreground = yes\npid =\noutput = {log}\ndebug = 5\n\n[sip-tls]\nclient = yes\n\
             accept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{tls}\nCAfile = {cert}\n\
             verifyPeer = yes\ncheckIP = 127.0.0.1\n",
            log = dir.path().join("stunnel.log").display(),
            tls = server.tls_port,
            cert = cert.display(),
        );
        let conf_path = dir.path().join("stunnel.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("stunnel4")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start stunnel4 (install Debian's stunnel4)");
        let mut tunnel = Stunnel { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        loop {
            if let Some(status) = tunnel.child.try_wait().unwrap() {
                panic!("stunnel exited ({status}):\n{}", tunnel.log());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return tunnel;
            }
            assert!(
                Instant::now() < deadline,
                "stunnel not listening:\n{}",
                tunnel.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stunnel.log")).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one SIPp call of `scenario` against the server and returns what SIPp said.
fn sipp(server: &Server, scenario_name: &str, transport: Transport, timeout: &str) -> SippRun {
    let work = tempdir::Dir::new("sippwork");
    let tunnel = match transport {
        Transport::Tls => Some(Stunnel::start(server)),
        _ => None,
    };
    let port = match &tunnel {
        Some(t) => t.port,
        None => server.sip_port,
    };
    let local_port = free_port();
    let mut cmd = Command::new("sipp");
    cmd.current_dir(work.path())
        .arg("-sf")
        .arg(scenario(scenario_name))
        .args(["-t", transport.flag()])
        .args(["-m", "1", "-nostdin", "-timeout", timeout, "-timeout_error"])
        .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
        .args(["-trace_msg", "-message_file"])
        .arg(work.path().join("messages.log"))
        .args(["-trace_err", "-error_file"])
        .arg(work.path().join("errors.log"));
    cmd.arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .expect("run sipp (install Debian's sip-tester)");
    let messages = std::fs::read_to_string(work.path().join("messages.log")).unwrap_or_default();
    let errors = std::fs::read_to_string(work.path().join("errors.log")).unwrap_or_default();
    let tunnel_log = tunnel.as_ref().map(Stunnel::log).unwrap_or_default();
    SippRun {
        ok: out.status.success(),
        tunnel_log: tunnel_log.clone(),
        output: format!(
            "exit {:?}\n--- sipp errors ---\n{errors}\n--- messages ---\n{messages}\n--- stderr ---\n{}\n--- stunnel ---\n{tunnel_log}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ),
        messages,
    }
}

fn assert_scenario(server: &Server, name: &str, transport: Transport) {
    let run = sipp(server, name, transport, "30s");
    assert!(
        run.ok,
        "SIPp scenario {name} over {transport:?} failed:\n{}\n--- server log ---\n{}",
        run.output,
        server.log()
    );
    if let Transport::Tls = transport {
        // The scenario really crossed TLS, and stunnel verified the pinned certificate.
        assert!(
            run.tunnel_log.contains("Certificate accepted"),
            "stunnel did not verify the server's certificate:\n{}",
            run.tunnel_log
        );
    }
}

const STATUS_SCENARIOS: &[&str] = &[
    "options-200.xml",
    "unknown-scheme-416.xml",
    "bad-extension-420.xml",
    "unknown-method-501.xml",
    "overlarge-cseq-400.xml",
    "too-many-hops-483.xml",
    "foreign-domain-404.xml",
    "invite-refused.xml",
];

#[test]
fn sipp_statuses_over_udp() {
    let server = Server::start("udp");
    for s in STATUS_SCENARIOS {
        assert_scenario(&server, s, Transport::Udp);
    }
}

#[test]
fn sipp_statuses_over_tcp() {
    let server = Server::start("tcp");
    for s in STATUS_SCENARIOS {
        assert_scenario(&server, s, Transport::Tcp);
    }
}

#[test]
fn sipp_statuses_over_tls() {
    let server = Server::start("tls");
    for s in STATUS_SCENARIOS {
        assert_scenario(&server, s, Transport::Tls);
    }
}

/// Arrival times (seconds since the first) of every received response with `code`,
/// read from SIPp's message trace.
fn response_times(messages: &str, code: u16) -> Vec<f64> {
    let mut times = Vec::new();
    let mut stamp: Option<f64> = None;
    let mut received = false;
    let status_line = format!("SIP/2.0 {code} ");
    for line in messages.lines() {
        if let Some(rest) = line.strip_prefix("-----------------------------------------------") {
            // "----... 2026-11-25 03:45:17.222070"
            stamp = rest.split_whitespace().nth(1).and_then(|t| {
                let mut it = t.split(':');
                let h: f64 = it.next()?.parse().ok()?;
                let m: f64 = it.next()?.parse().ok()?;
                let s: f64 = it.next()?.parse().ok()?;
                Some(h * 3600.0 + m * 60.0 + s)
            });
            received = false;
        } else if line.contains("message received") {
            received = true;
        } else if received && line.starts_with(&status_line) {
            times.push(stamp.expect("trace line carries a time stamp"));
            received = false;
        }
    }
    let first = times.first().copied().unwrap_or(0.0);
    times.iter().map(|t| t - first).collect()
}

/// RFC 3261 §17.2.1: with T1 = 500 ms and T2 = 4 s over UDP, a final non-2xx response
/// whose ACK never comes is sent at 0, 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s and Timer H
/// (64*T1 = 32 s) ends it: eleven copies in all. Late timers on a busy machine are
/// tolerated (up to 0.9 s late); early ones, missing or extra copies are not.
#[test]
fn sipp_withheld_ack_shows_timer_g_schedule() {
    let server = Server::start("retrans");
    let run = sipp(&server, "invite-withhold-ack.xml", Transport::Udp, "60s");
    assert!(run.ok, "{}\n{}", run.output, server.log());
    let times = response_times(&run.messages, 405);
    let expected = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5];
    assert_eq!(
        times.len(),
        expected.len(),
        "copies of the 405 at {times:?}, expected at {expected:?}\n{}",
        run.output
    );
    for (got, want) in times.iter().zip(expected) {
        assert!(
            *got >= want - 0.05 && *got <= want + 0.9,
            "405 copy at {got:.3} s, expected {want} s (all: {times:?})"
        );
    }
    // Consecutive gaps double from T1 and then hold at T2.
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let want = (0.5 * 2f64.powi(i as i32)).min(4.0);
        assert!(
            (*gap - want).abs() <= 0.9,
            "gap {i} is {gap:.3} s, expected {want} s (gaps {gaps:?})"
        );
    }
}
