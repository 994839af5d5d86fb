//! SIPp processes that run beside each other during one call (a caller, devices, gateways,
//! a PBX desk phone), each with its own message trace, killed by pid when dropped; and a
//! device registration sent from the port a SIPp device then listens on, so the server
//! reaches that device over the REGISTER's own UDP flow (RFC 3261 §10.2, RFC 5626 §5).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, received, scenario, Dir};

/// One SIPp run in the background: `-m 1` call of a scenario under `tests/sipp/`.
pub struct SippPeer {
    child: Child,
    work: Dir,
    pub name: String,
    /// Its local UDP port on 127.0.0.1.
    pub port: u16,
}

/// How a finished run went.
pub struct SippOutcome {
    pub ok: bool,
    /// Exit status, SIPp's error log, the message trace and stderr, for failure messages.
    pub report: String,
    /// The message trace (`-trace_msg`).
    pub messages: String,
}

impl SippOutcome {
    /// The messages received, in order (see [`received`]).
    pub fn received(&self) -> Vec<String> {
        received(&self.messages)
    }

    /// When (UTC seconds since the epoch, from the trace's stamps) the first message
    /// `sent` (else received) whose first line starts with `start` was traced.
    pub fn traced_at(&self, sent: bool, start: &str) -> Option<f64> {
        let want = if sent {
            "message sent"
        } else {
            "message received"
        };
        let mut stamp = None;
        let mut armed = false;
        for line in self.messages.lines() {
            if line.starts_with("-----") {
                stamp = parse_stamp(line.trim_start_matches('-').trim());
                armed = false;
            } else if line.contains("message sent") || line.contains("message received") {
                armed = line.contains(want);
            } else if armed && !line.trim().is_empty() {
                if line.starts_with(start) {
                    return stamp;
                }
                armed = false;
            }
        }
        None
    }

    /// The received requests of `method`, each as its full text, retransmissions left
    /// out: a request whose topmost Via (so its branch, RFC 3261 §17.2.3) equals an earlier
    /// one's is the same request again. A new branch is a new request, as a second fork
    /// to the same device would be.
    pub fn requests(&self, method: &str) -> Vec<String> {
        let start = format!("{method} ");
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for m in self
            .received()
            .into_iter()
            .filter(|m| m.starts_with(&start))
        {
            let via = m
                .lines()
                .find(|l| {
                    let l = l.to_ascii_lowercase();
                    l.starts_with("via:") || l.starts_with("v:")
                })
                .unwrap_or_default()
                .to_string();
            if !seen.contains(&via) {
                seen.push(via);
                out.push(m);
            }
        }
        out
    }
}

/// `2026-11-25 06:08:58.371101` (UTC) as seconds since the epoch.
fn parse_stamp(s: &str) -> Option<f64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<f64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    Some(days_from_civil(y, m, day) as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl SippPeer {
    /// A UAS scenario listening on 127.0.0.1:`port`; returns once SIPp holds the port.
    /// `keys` become `-key NAME VALUE` (the scenario's `[NAME]`).
    pub fn uas(scenario_name: &str, port: u16, keys: &[(&str, &str)]) -> SippPeer {
        let peer = SippPeer::spawn(scenario_name, port, None, keys);
        let deadline = Instant::now() + Duration::from_secs(30);
        // SIPp has bound its socket once the port is no longer free.
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "SIPp {scenario_name} did not bind 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        peer
    }

    /// A UAC scenario from a free local port to 127.0.0.1:`remote`.
    pub fn uac(scenario_name: &str, remote: u16, keys: &[(&str, &str)]) -> SippPeer {
        SippPeer::spawn(scenario_name, free_port(), Some(remote), keys)
    }

    fn spawn(
        scenario_name: &str,
        port: u16,
        remote: Option<u16>,
        keys: &[(&str, &str)],
    ) -> SippPeer {
        let work = Dir::new("sipp-peer");
        let mut cmd = Command::new("sipp");
        // Trace stamps in UTC, whatever the machine's zone, so tests can compare them.
        cmd.current_dir(work.path())
            .env("TZ", "UTC")
            .arg("-sf")
            .arg(scenario(scenario_name))
            .args(["-t", "u1", "-m", "1", "-nostdin"])
            .args(["-timeout", "90s", "-timeout_error"])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-trace_msg", "-message_file"])
            .arg(work.path().join("messages.log"))
            .args(["-trace_err", "-error_file"])
            .arg(work.path().join("errors.log"));
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        if let Some(r) = remote {
            cmd.arg(format!("127.0.0.1:{r}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("run sipp (install Debian's sip-tester)");
        SippPeer {
            child,
            work,
            name: scenario_name.to_string(),
            port,
        }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Waits for SIPp to finish its call (up to `within`; killed after that) and reports.
    pub fn finish(&mut self, within: Duration) -> SippOutcome {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let messages = self.file("messages.log");
        let report = format!(
            "SIPp {} on port {}: {}\n--- sipp errors ---\n{}\n--- stderr ---\n{}\n--- messages ---\n{messages}",
            self.name,
            self.port,
            match status {
                Some(s) => format!("exit {:?}", s.code()),
                None => format!("still running after {within:?}, killed"),
            },
            self.file("errors.log"),
            self.file("stderr.log"),
        );
        SippOutcome {
            ok: status.is_some_and(|s| s.success()),
            report,
            messages,
        }
    }
}

impl Drop for SippPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers `sip:USER@127.0.0.1` at the server on `server_port` with Contact
/// `sip:USER@127.0.0.1:PORT`, sent from that very port (so the binding's flow is the
/// device's; a SIPp device then binds the port). Needs `[auth] enabled = false`.
pub fn register_device(server_port: u16, user: &str, port: u16) {
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind the device's port");
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let call_id = format!("reg-{user}-{port}");
    let msg = format!(
        "REGISTER sip:127.0.0.1:{server_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bK-reg-{port}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{port}\r\n\
         To: <sip:{user}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    // Retransmit as a client transaction would (Timer E), until a final answer.
    loop {
        sock.send_to(msg.as_bytes(), ("127.0.0.1", server_port))
            .unwrap();
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            let resp = String::from_utf8_lossy(&buf[..n]).into_owned();
            if resp.starts_with("SIP/2.0 1") {
                continue;
            }
            assert!(
                resp.starts_with("SIP/2.0 200 "),
                "REGISTER of {user} from port {port} refused:\n{resp}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no answer to the REGISTER of {user}"
        );
    }
}
