//! Registration with digest authentication, end to end: `switchboard serve` with users
//! provisioned by `switchboard user add`, driven by SIPp (Debian's `sip-tester`) and, for
//! what SIPp cannot send (a replayed nonce-count, a SHA-256 answer, a second source
//! address), by a small UDP client here.
//!
//! Debian's SIPp 3.6 answers only MD5 challenges and reads the first WWW-Authenticate, so
//! the servers that SIPp authenticates against offer MD5 alone (the default); an offer of
//! SHA-256 then MD5 is checked on its own server, and a SHA-256 answer is computed with
//! coreutils' `sha256sum`, independently of the server's hashing.
//!
//! Bindings surviving a restart are checked on SQLite here and on PostgreSQL (a throw-away
//! server started by the test) when Debian's `postgresql` is installed.

mod support;

use sb_sip_auth::{
    parse_challenge, request_digest, AuthValue, Challenge, Credentials, Ha1, QopParts,
};
use std::net::UdpSocket;
use std::time::Duration;
use support::{assert_sipp, received, Site, Transport};

/// MD5 only (for SIPp), nonces that live 2 s (for the stale check).
const MD5_SHORT_NONCES: &str = "[auth]\nalgorithms = [\"MD5\"]\nnonce_lifetime_s = 2\n";

fn md5_site(tag: &str) -> Site {
    let site = Site::new(tag, MD5_SHORT_NONCES);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    site
}

/// Status line and header names of a SIP message, in order: the shape of an answer.
fn shape(msg: &str) -> Vec<String> {
    let mut lines = msg.lines();
    let mut out = vec![lines.next().unwrap_or_default().to_string()];
    for l in lines {
        if l.is_empty() {
            break;
        }
        if let Some((name, _)) = l.split_once(':') {
            out.push(name.to_string());
        }
    }
    out
}

#[test]
fn sipp_register_flows_over_udp() {
    let site = md5_site("udp");
    let server = site.start();
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Udp);
    assert_sipp(
        &site,
        &server,
        "register-nonce-reuse-200.xml",
        Transport::Udp,
    );
    // Two runs from two SIPp ports: two bindings of alice.
    assert_eq!(server.metric("sip_registrations"), Some(2.0));
    assert_sipp(&site, &server, "register-too-brief-423.xml", Transport::Udp);
    assert_sipp(
        &site,
        &server,
        "register-star-removes-all.xml",
        Transport::Udp,
    );
    // `Contact: *` removed them all, the two above included.
    assert_eq!(server.metric("sip_registrations"), Some(0.0));
    assert_sipp(
        &site,
        &server,
        "register-expired-nonce-401.xml",
        Transport::Udp,
    );

    // A wrong password and an unknown user get answers of the same shape: same status
    // line, same headers in the same order.
    let wrong = assert_sipp(
        &site,
        &server,
        "register-wrong-password-401.xml",
        Transport::Udp,
    );
    let unknown = assert_sipp(
        &site,
        &server,
        "register-unknown-user-401.xml",
        Transport::Udp,
    );
    let last = |r: &support::SippRun| received(&r.messages).pop().expect("a response");
    let (w, u) = (last(&wrong), last(&unknown));
    assert_eq!(
        shape(&w),
        shape(&u),
        "wrong password:\n{w}\nunknown user:\n{u}"
    );
    assert!(w.starts_with("SIP/2.0 401 Unauthorized"), "{w}");

    // What the metrics say about it: 200s for ok (1), nonce reuse (2) and star (2); one
    // 423; two bad answers (wrong password, unknown user); one stale nonce.
    let m = |s: &str| server.metric(s);
    let metrics = server.metrics();
    assert_eq!(
        m("sip_register_total{status=\"200\"}"),
        Some(5.0),
        "{metrics}"
    );
    assert_eq!(
        m("sip_register_total{status=\"423\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        m("sip_auth_failures_total{reason=\"bad_credentials\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        m("sip_auth_failures_total{reason=\"stale\"}"),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn sipp_register_over_tcp_and_tls() {
    let site = md5_site("streams");
    let server = site.start();
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Tcp);
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Tls);
}

#[test]
fn sipp_challenge_offers_sha256_then_md5() {
    let site = Site::new("challenge", "[auth]\nalgorithms = [\"SHA-256\", \"MD5\"]\n");
    let server = site.start();
    assert_sipp(&site, &server, "register-challenge-401.xml", Transport::Udp);
}

/// A REGISTER over UDP from a plain socket, optionally with an Authorization header.
fn register_raw(sock: &UdpSocket, server: u16, cseq: u32, auth: Option<&Credentials>) -> String {
    register_for(sock, server, cseq, 600, auth)
}

/// [`register_raw`] asking for `expires` seconds.
fn register_for(
    sock: &UdpSocket,
    server: u16,
    cseq: u32,
    expires: u32,
    auth: Option<&Credentials>,
) -> String {
    let local = sock.local_addr().unwrap();
    let mut msg = format!(
        "REGISTER sip:127.0.0.1:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-replay-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=r1\r\nTo: <sip:alice@127.0.0.1>\r\n\
         Call-ID: replay-test\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:alice@{local}>\r\nExpires: {expires}\r\n"
    );
    if let Some(c) = auth {
        msg.push_str(&format!("Authorization: {c}\r\n"));
    }
    msg.push_str("Content-Length: 0\r\n\r\n");
    sock.send_to(msg.as_bytes(), ("127.0.0.1", server)).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("a response within 5 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn challenge_of(resp: &str) -> Challenge {
    resp.lines()
        .find_map(|l| {
            let v = l.strip_prefix("WWW-Authenticate:")?;
            match parse_challenge(v) {
                Ok(AuthValue::Digest(c)) => Some(c),
                _ => None,
            }
        })
        .unwrap_or_else(|| panic!("no challenge in:\n{resp}"))
}

/// alice's answer to `ch` with `password` and nonce-count `nc`.
fn digest(ch: &Challenge, server_port: u16, password: &str, nc: u32) -> Credentials {
    let uri = format!("sip:127.0.0.1:{server_port}");
    let ha1 = Ha1::compute(ch.algorithm().unwrap(), "alice", &ch.realm, password);
    let nc = format!("{nc:08x}");
    let q = QopParts {
        qop: "auth",
        nc: &nc,
        cnonce: "feed01",
    };
    Credentials {
        username: "alice".into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.clone(),
        response: request_digest(&ha1, &ch.nonce, Some(q), "REGISTER", &uri),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("feed01".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some(nc),
        other: Vec::new(),
    }
}

fn client(ip: &str) -> UdpSocket {
    let sock = UdpSocket::bind((ip, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock
}

#[test]
fn repeated_wrong_passwords_throttle_that_address_only() {
    let site = Site::new(
        "throttle",
        "[auth]\nalgorithms = [\"MD5\"]\nthrottle_max_failures = 3\nthrottle_backoff_s = 120\n",
    );
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let guesser = client("127.0.0.1");
    let ch = challenge_of(&register_raw(&guesser, site.sip_port, 1, None));
    for i in 0..3 {
        let creds = digest(&ch, site.sip_port, "guess", i + 1);
        let resp = register_raw(&guesser, site.sip_port, i + 2, Some(&creds));
        assert!(resp.starts_with("SIP/2.0 401 "), "{resp}");
    }
    // The fourth attempt, even the right password, is refused for a while.
    let creds = digest(&ch, site.sip_port, "pw-alice-1", 9);
    let refused = register_raw(&guesser, site.sip_port, 9, Some(&creds));
    assert!(
        refused.starts_with("SIP/2.0 403 Forbidden (too many failed attempts)\r\n"),
        "{refused}"
    );
    let retry: u64 = refused
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in:\n{refused}"));
    assert!((100..=120).contains(&retry), "{refused}");
    assert_eq!(server.metric("sip_auth_throttled_total"), Some(1.0));
    assert_eq!(
        server.metric("sip_auth_failures_total{reason=\"bad_credentials\"}"),
        Some(3.0)
    );
    // The real user on another address registers as usual.
    let phone = client("127.0.0.2");
    let ch = challenge_of(&register_raw(&phone, site.sip_port, 1, None));
    let ok = register_raw(
        &phone,
        site.sip_port,
        2,
        Some(&digest(&ch, site.sip_port, "pw-alice-1", 1)),
    );
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
}

#[test]
fn a_disabled_user_gets_the_same_401_as_a_wrong_password() {
    let site = md5_site("disabled");
    let server = site.start();
    let sock = client("127.0.0.1");
    let ch = challenge_of(&register_raw(&sock, site.sip_port, 1, None));
    let ok = register_raw(
        &sock,
        site.sip_port,
        2,
        Some(&digest(&ch, site.sip_port, "pw-alice-1", 1)),
    );
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let wrong = register_raw(
        &sock,
        site.sip_port,
        3,
        Some(&digest(&ch, site.sip_port, "nope", 2)),
    );
    site.cli(&["user", "set", "sip:alice@127.0.0.1", "--disable"]);
    let ch = challenge_of(&register_raw(&sock, site.sip_port, 4, None));
    let disabled = register_raw(
        &sock,
        site.sip_port,
        5,
        Some(&digest(&ch, site.sip_port, "pw-alice-1", 1)),
    );
    assert!(
        disabled.starts_with("SIP/2.0 401 "),
        "{disabled}\n{}",
        server.log()
    );
    assert_eq!(shape(&wrong), shape(&disabled), "{wrong}\n{disabled}");
    assert!(!challenge_of(&disabled).stale);
}

/// SHA-256 of `text` in hex, by coreutils' `sha256sum`: a hash implementation
/// independent of the server's.
fn sha256_hex(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn register_with_sha256_digest_computed_independently() {
    let site = Site::new("sha256", "[auth]\nalgorithms = [\"SHA-256\", \"MD5\"]\n");
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let sock = client("127.0.0.1");
    let first = register_raw(&sock, site.sip_port, 1, None);
    let ch = challenge_of(&first);
    assert_eq!(ch.algorithm.as_deref(), Some("SHA-256"), "{first}");
    // RFC 7616 §3.4.1 with qop=auth, every hash by sha256sum.
    let uri = format!("sip:127.0.0.1:{}", site.sip_port);
    let ha1 = sha256_hex(&format!("alice:{}:pw-alice-1", ch.realm));
    let ha2 = sha256_hex(&format!("REGISTER:{uri}"));
    let response = sha256_hex(&format!("{ha1}:{}:00000001:0a4f113b:auth:{ha2}", ch.nonce));
    let creds = Credentials {
        username: "alice".into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri,
        response,
        algorithm: Some("SHA-256".into()),
        cnonce: Some("0a4f113b".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        other: Vec::new(),
    };
    let ok = register_raw(&sock, site.sip_port, 2, Some(&creds));
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}\n{}", server.log());
    let contact = format!("<sip:alice@{}>;expires=600", sock.local_addr().unwrap());
    assert!(ok.contains(&contact), "{ok}");
}

#[test]
fn a_replayed_nonce_count_is_refused_with_a_stale_challenge() {
    let site = md5_site("replay");
    let server = site.start();
    let sock = client("127.0.0.1");
    let first = register_raw(&sock, site.sip_port, 1, None);
    assert!(first.starts_with("SIP/2.0 401 "), "{first}");
    let ch = challenge_of(&first);
    let creds = digest(&ch, site.sip_port, "pw-alice-1", 1);
    let ok = register_raw(&sock, site.sip_port, 2, Some(&creds));
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}\n{}", server.log());
    // The very same credentials in a new request (new branch, next CSeq): a replay.
    let replay = register_raw(&sock, site.sip_port, 3, Some(&creds));
    assert!(replay.starts_with("SIP/2.0 401 "), "{replay}");
    let fresh = challenge_of(&replay);
    assert!(fresh.stale, "{replay}");
    assert_ne!(fresh.nonce, ch.nonce);
}

#[test]
fn a_password_changed_while_the_server_runs_applies_to_the_next_register() {
    let site = md5_site("passwd");
    let server = site.start();
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Udp);
    site.cli(&[
        "user",
        "set",
        "sip:alice@127.0.0.1",
        "--password",
        "changed-pw",
    ]);
    // The server notices the change through the store's generation counter.
    support::wait_for(
        "the server to see the change",
        Duration::from_secs(5),
        || {
            server
                .log()
                .contains("provisioning changed in the store")
                .then_some(())
        },
    );
    // The old password no longer works (the scenario's 200 becomes a 401)...
    let run = support::sipp(&site, "register-ok-200.xml", Transport::Udp);
    assert!(!run.ok, "the old password still works:\n{}", run.output);
    let last = received(&run.messages).pop().unwrap_or_default();
    assert!(last.starts_with("SIP/2.0 401 "), "{}", run.output);
}

#[test]
fn an_empty_store_gets_the_first_start_hint_and_a_provisioned_one_does_not() {
    let site = Site::new("hint", "");
    let server = site.start();
    let log = server.stop();
    assert!(log.contains("No users yet"), "{log}");
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let log = site.start().stop();
    assert!(!log.contains("No users yet"), "{log}");
}

#[test]
fn bindings_survive_a_restart_on_sqlite() {
    let site = md5_site("restart");
    let server = site.start();
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Udp);
    let log = server.stop();
    assert!(log.contains("stopped"), "{log}");
    // Listed by the CLI from the store while the server is down...
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(shown.contains("sip:alice@127.0.0.1:"), "{shown}");
    // ...and by the restarted server: a REGISTER without Contact lists the bindings.
    let server = site.start();
    assert!(
        server
            .log()
            .contains("registrations restored stored=1 live=1"),
        "{}",
        server.log()
    );
    assert_eq!(server.metric("sip_registrations"), Some(1.0));
    assert_sipp(&site, &server, "register-fetch-200.xml", Transport::Udp);
}

#[test]
fn bindings_that_lapse_while_the_server_is_down_are_dropped_at_start() {
    let site = Site::new(
        "lapse",
        "[auth]\nalgorithms = [\"MD5\"]\n[registrar]\nmin_expires = 2\n",
    );
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let (short, long) = (client("127.0.0.1"), client("127.0.0.1"));
    for (sock, expires) in [(&short, 2), (&long, 600)] {
        let ch = challenge_of(&register_for(sock, site.sip_port, 1, expires, None));
        let creds = digest(&ch, site.sip_port, "pw-alice-1", 1);
        let ok = register_for(sock, site.sip_port, 2, expires, Some(&creds));
        assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    }
    let registered = std::time::Instant::now();
    server.stop();
    // Wait out the short binding's 2 s (by the clock, not by a guess).
    while registered.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = site.start();
    assert!(
        server
            .log()
            .contains("registrations restored stored=2 live=1"),
        "{}",
        server.log()
    );
    // The lapsed one is removed from the store too.
    support::wait_for("the store to forget it", Duration::from_secs(5), || {
        site.cli(&["user", "show", "sip:alice@127.0.0.1"])
            .contains("registrations: 1")
            .then_some(())
    });
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(
        shown.contains(&long.local_addr().unwrap().to_string()),
        "{shown}"
    );
}

mod pg {
    //! A throw-away PostgreSQL server: `initdb` into a temporary directory, `pg_ctl start`
    //! on a free loopback port, stopped (fast shutdown, then SIGKILL) on drop.
    use super::support::{free_port, wait_for, Dir};
    use std::path::PathBuf;
    use std::process::Command;
    use std::time::Duration;

    pub struct Pg {
        pub port: u16,
        bin: PathBuf,
        dir: Dir,
    }

    fn is_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    fn run(tool: &PathBuf, args: &[&str]) -> Result<(), String> {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        let out = cmd.args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {args:?}: {}{}",
                tool.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `None` when PostgreSQL is not installed (outside CI, where it is required).
    pub fn start() -> Option<Pg> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required in CI (Debian package postgresql)");
            }
            eprintln!("!!! SKIPPING the PostgreSQL restart test: postgresql is not installed");
            return None;
        };
        let dir = Dir::new("pg");
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the PostgreSQL directory");
        }
        let data = dir.path().join("data");
        let data_s = data.to_str().unwrap().to_string();
        run(
            &bin.join("initdb"),
            &["-D", &data_s, "-U", "postgres", "--auth=trust", "--no-sync"],
        )
        .expect("initdb");
        let port = free_port();
        let dir_s = dir.path().to_str().unwrap().to_string();
        let opts = format!("-k {dir_s} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off");
        let log = format!("{dir_s}/pg.log");
        run(
            &bin.join("pg_ctl"),
            &[
                "-D", &data_s, "-l", &log, "-w", "-t", "60", "-o", &opts, "start",
            ],
        )
        .expect("pg_ctl start");
        wait_for("PostgreSQL to accept", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(drop)
        });
        Some(Pg { port, bin, dir })
    }

    impl Drop for Pg {
        fn drop(&mut self) {
            let data = self.dir.path().join("data");
            let _ = run(
                &self.bin.join("pg_ctl"),
                &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
            );
        }
    }
}

#[test]
fn bindings_survive_a_restart_on_postgresql() {
    let Some(pg) = pg::start() else {
        return;
    };
    let extra = format!(
        "{MD5_SHORT_NONCES}\n[store]\nbackend = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{}/postgres\"\n",
        pg.port
    );
    let site = Site::new("pgrestart", &extra);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    assert_sipp(&site, &server, "register-ok-200.xml", Transport::Udp);
    server.stop();
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(shown.contains("sip:alice@127.0.0.1:"), "{shown}");
    let server = site.start();
    assert!(
        server
            .log()
            .contains("registrations restored stored=1 live=1"),
        "{}",
        server.log()
    );
    assert_sipp(&site, &server, "register-fetch-200.xml", Transport::Udp);

    // The database goes away: a REGISTER that needs the password gets 503 with
    // Retry-After within the store timeout, not silence.
    drop(pg);
    let sock = client("127.0.0.1");
    let ch = challenge_of(&register_raw(&sock, site.sip_port, 1, None));
    let creds = digest(&ch, site.sip_port, "pw-alice-1", 1);
    let resp = register_raw(&sock, site.sip_port, 2, Some(&creds));
    assert!(resp.starts_with("SIP/2.0 503 "), "{resp}\n{}", server.log());
    assert!(resp.contains("\r\nRetry-After: 5\r\n"), "{resp}");
}
