//! The parties of a call through `switchboard serve`, played by SIPp ([`SippPeer`]
//! processes running side by side): devices that register with a password and then
//! answer, ring or refuse, a gateway at a `[[trunks]]` address, and the caller; and a
//! reader for SIPp's message traces with their time stamps.
//!
//! SIPp ties every message to a call by Call-ID, so one SIPp process cannot register and
//! then take a call with a new Call-ID. A device is therefore two runs on one UDP port:
//! `dev_register.xml` signs the user in from that port and exits, then the device's
//! scenario listens there. Over UDP the server reaches a device at the address its
//! REGISTER came from, which is that port.

use std::process::{Command, Stdio};

use super::sipp_peer::SippPeer;
use super::{free_port, scenario, Dir, Site};

/// Signs `user@127.0.0.1` in from a fresh UDP port with SIPp's own digest answer to the
/// server's 401, and returns the port, free again for the device's scenario.
pub fn register_with_password(site: &Site, user: &str, password: &str) -> u16 {
    let work = Dir::new("sipp-register");
    let port = free_port();
    let out = Command::new("sipp")
        .current_dir(work.path())
        .arg("-sf")
        .arg(scenario("routing/dev_register.xml"))
        .args(["-t", "u1", "-m", "1", "-nostdin"])
        .args(["-timeout", "30s", "-timeout_error"])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-s", user, "-au", user, "-ap", password])
        .args(["-trace_err", "-error_file"])
        .arg(work.path().join("errors.log"))
        .arg(format!("127.0.0.1:{}", site.sip_port))
        .stdin(Stdio::null())
        .output()
        .expect("run sipp (install Debian's sip-tester)");
    assert!(
        out.status.success(),
        "{user} did not register from port {port}: {}\n{}\n{}",
        out.status,
        std::fs::read_to_string(work.path().join("errors.log")).unwrap_or_default(),
        String::from_utf8_lossy(&out.stdout),
    );
    port
}

/// A SIPp device of `user`: registered, then running `tests/sipp/routing/SCENARIO` on the
/// registered port.
pub fn device(site: &Site, user: &str, password: &str, scenario_name: &str) -> SippPeer {
    let port = register_with_password(site, user, password);
    SippPeer::uas(&format!("routing/{scenario_name}"), port, &[])
}

/// The caller: `dev_call.xml` to `callee` (the user part of `sip:CALLEE@127.0.0.1`).
pub fn call(site: &Site, callee: &str) -> SippPeer {
    SippPeer::uac("routing/dev_call.xml", site.sip_port, &[("callee", callee)])
}

/// One message of a SIPp trace.
#[derive(Debug, Clone)]
pub struct TraceMsg {
    /// Seconds since midnight, from the trace's time stamp.
    pub at: f64,
    pub received: bool,
    pub text: String,
}

impl TraceMsg {
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// The value of the first header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.text.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// Every value of header `name`, in order.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.text
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
            })
            .collect()
    }

    /// A response to a request of `method`: its status.
    pub fn status_for(&self, method: &str) -> Option<u16> {
        let code = self
            .first_line()
            .strip_prefix("SIP/2.0 ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let cseq = self.header("CSeq")?;
        (cseq.split_whitespace().nth(1) == Some(method)).then_some(code)
    }

    pub fn is_request(&self, method: &str) -> bool {
        self.first_line().starts_with(&format!("{method} "))
    }

    /// The `tag` parameter of the To header.
    pub fn to_tag(&self) -> Option<&str> {
        let to = self.header("To")?;
        to.split(';')
            .find_map(|p| p.trim().strip_prefix("tag="))
            .map(str::trim)
    }
}

/// The messages of a SIPp `-trace_msg` file, sent and received, in order.
pub fn trace(messages: &str) -> Vec<TraceMsg> {
    let mut out = Vec::new();
    let mut current: Option<TraceMsg> = None;
    let mut stamp = 0.0;
    for line in messages.lines() {
        if let Some(rest) = line.strip_prefix("-----------------------------------------------") {
            out.extend(current.take());
            // "----... 2026-11-25 03:45:17.222070"
            if let Some(t) = rest.split_whitespace().nth(1) {
                let parts: Vec<f64> = t.split(':').filter_map(|p| p.parse().ok()).collect();
                if let [h, m, s] = parts[..] {
                    stamp = h * 3600.0 + m * 60.0 + s;
                }
            }
        } else if line.contains("message received") || line.contains("message sent") {
            current = Some(TraceMsg {
                at: stamp,
                received: line.contains("message received"),
                text: String::new(),
            });
        } else if let Some(m) = current.as_mut() {
            if !(m.text.is_empty() && line.trim().is_empty()) {
                m.text.push_str(line.trim_end_matches('\r'));
                m.text.push('\n');
            }
        }
    }
    out.extend(current);
    out
}
