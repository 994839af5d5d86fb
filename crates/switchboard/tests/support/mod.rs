//! Shared by the registration end-to-end tests: a `switchboard serve` on free loopback
//! ports with its own data directory (stopped by pid), the `switchboard` CLI, SIPp runs,
//! a stunnel TLS client, and HTTP probes. No fixed sleeps: every wait polls with a deadline.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct Dir(PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        // /tmp rather than TMPDIR: a PostgreSQL server running as another user must reach it.
        let base =
            PathBuf::from("/tmp").join(format!("sb-reg-{tag}-{}-{}", std::process::id(), unique()));
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

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

/// Polls `f` every 50 ms until it returns `Some`, or fails with `what` at the deadline.
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The configuration and data of one server; it can be started, stopped and started again.
pub struct Site {
    pub dir: Dir,
    pub sip_port: u16,
    pub tls_port: u16,
    pub http_port: u16,
    pub config: PathBuf,
}

impl Site {
    /// A site for domain 127.0.0.1 with `extra` TOML appended (sections other than
    /// `[sip]` and `[http]`).
    pub fn new(tag: &str, extra: &str) -> Site {
        let dir = Dir::new(tag);
        let sip_port = free_port();
        let tls_port = free_port();
        let http_port = free_port();
        let text = format!(
            "[sip]\nudp = [\"127.0.0.1:{sip_port}\"]\ntcp = [\"127.0.0.1:{sip_port}\"]\n\
             tls = [\"127.0.0.1:{tls_port}\"]\nws = []\ndomains = [\"127.0.0.1\"]\n\n\
             [http]\nlisten = \"127.0.0.1:{http_port}\"\n\n{extra}\n"
        );
        let config = dir.path().join("switchboard.toml");
        std::fs::write(&config, text).unwrap();
        Site {
            dir,
            sip_port,
            tls_port,
            http_port,
            config,
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `switchboard ARGS --config .. --data ..`; panics unless it succeeds.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_output(args);
        assert!(
            out.status.success(),
            "switchboard {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cli_output(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data")
            .arg(self.data())
            .stdin(Stdio::null())
            .output()
            .expect("run switchboard")
    }

    pub fn add_user(&self, address: &str, password: &str) {
        self.cli(&["user", "add", address, "--password", password]);
    }

    pub fn start(&self) -> Server {
        let n = unique();
        let log_path = self.dir.path().join(format!("server-{n}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .arg("--data")
            .arg(self.data())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start switchboard");
        let mut server = Server {
            child,
            log_path,
            http: ([127, 0, 0, 1], self.http_port).into(),
        };
        server.wait_ready();
        server
    }

    /// The certificate the server generated on first start.
    pub fn cert(&self) -> PathBuf {
        self.data().join("tls").join("cert.pem")
    }
}

/// A running `switchboard serve`, killed (by pid) when dropped.
pub struct Server {
    child: Child,
    log_path: PathBuf,
    http: SocketAddr,
}

impl Server {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("switchboard exited early ({status}):\n{}", self.log());
            }
            if http_get(self.http, "/health").is_some_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("switchboard not ready within 60 s:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `/metrics` as text.
    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The value of one metric line (`name{labels}`), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
    }

    /// SIGTERM, then waits for a graceful exit (bindings written, store closed).
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "switchboard did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over HTTP/1.1: status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
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
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

pub struct SippRun {
    pub ok: bool,
    pub output: String,
    pub messages: String,
}

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A stunnel client: plain TCP in on `port`, TLS out to the server; killed on drop.
/// Debian's SIPp has no TLS, so TLS runs go through it.
pub struct Stunnel {
    child: Child,
    pub port: u16,
    dir: Dir,
}

impl Stunnel {
    pub fn start(site: &Site) -> Stunnel {
        let dir = Dir::new("stunnel");
        let port = free_port();
        let conf = format!(
            "foreground = yes\npid =\noutput = {log}\ndebug = 5\n\n[sip-tls]\nclient = yes\n\
             accept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{tls}\nCAfile = {cert}\n\
             verifyPeer = yes\ncheckIP = 127.0.0.1\n",
            log = dir.path().join("stunnel.log").display(),
            tls = site.tls_port,
            cert = site.cert().display(),
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
        let tunnel = Stunnel { child, port, dir };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for("stunnel to listen", Duration::from_secs(30), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(drop)
        });
        tunnel
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stunnel.log")).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one SIPp call of `scenario_name` against the site's server.
pub fn sipp(site: &Site, scenario_name: &str, transport: Transport) -> SippRun {
    sipp_within(site, scenario_name, transport, "30s")
}

/// [`sipp`] with SIPp's overall `-timeout` (for scenarios that pause long on purpose).
pub fn sipp_within(
    site: &Site,
    scenario_name: &str,
    transport: Transport,
    timeout: &str,
) -> SippRun {
    let work = Dir::new("sippwork");
    let tunnel = match transport {
        Transport::Tls => Some(Stunnel::start(site)),
        _ => None,
    };
    let port = tunnel.as_ref().map_or(site.sip_port, |t| t.port);
    let flag = match transport {
        Transport::Udp => "u1",
        Transport::Tcp | Transport::Tls => "t1",
    };
    let local_port = free_port();
    let out = Command::new("sipp")
        .current_dir(work.path())
        .arg("-sf")
        .arg(scenario(scenario_name))
        .args(["-t", flag])
        .args(["-m", "1", "-nostdin", "-timeout", timeout, "-timeout_error"])
        .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
        .args(["-trace_msg", "-message_file"])
        .arg(work.path().join("messages.log"))
        .args(["-trace_err", "-error_file"])
        .arg(work.path().join("errors.log"))
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run sipp (install Debian's sip-tester)");
    let messages = std::fs::read_to_string(work.path().join("messages.log")).unwrap_or_default();
    let errors = std::fs::read_to_string(work.path().join("errors.log")).unwrap_or_default();
    let tunnel_log = tunnel.as_ref().map(Stunnel::log).unwrap_or_default();
    if let (Transport::Tls, true) = (transport, out.status.success()) {
        assert!(
            tunnel_log.contains("Certificate accepted"),
            "stunnel did not verify the server's certificate:\n{tunnel_log}"
        );
    }
    SippRun {
        ok: out.status.success(),
        output: format!(
            "exit {:?}\n--- sipp errors ---\n{errors}\n--- messages ---\n{messages}\n--- stderr ---\n{}\n--- stunnel ---\n{tunnel_log}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ),
        messages,
    }
}

/// Runs a scenario and fails with SIPp's and the server's account when it does not pass.
pub fn assert_sipp(site: &Site, server: &Server, name: &str, transport: Transport) -> SippRun {
    let run = sipp(site, name, transport);
    assert!(
        run.ok,
        "SIPp scenario {name} over {transport:?} failed:\n{}\n--- server log ---\n{}",
        run.output,
        server.log()
    );
    run
}

/// The received messages in a SIPp message trace, in order.
pub fn received(messages: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in messages.lines() {
        if line.starts_with("----------------------------------------------") {
            if let Some(m) = current.take() {
                out.push(m);
            }
        } else if line.contains("message received") {
            current = Some(String::new());
        } else if let Some(m) = current.as_mut() {
            m.push_str(line);
            m.push('\n');
        }
    }
    out.extend(current);
    out.into_iter().map(|m| m.trim().to_string()).collect()
}

pub mod baresip;
pub mod calls;
pub mod kamailio;
pub mod mediation;
pub mod presence;
pub mod sipp_peer;
pub mod softphone;
