//! baresip (Debian's `baresip` 1.0) as a user's device in call tests: it registers with a
//! password over UDP or TCP, rings, and either answers by itself (`answermode=auto`) or
//! keeps ringing until the call is cancelled. What it sent and received is read back from
//! its SIP trace (`-s`), so a test can assert what the phone saw.
//!
//! No sound card: `aubridge` is both source and player. baresip puts the host's address
//! in its SDP (it will not use `lo` for media); these tests check signalling only, and
//! nothing is sent anywhere but loopback because no peer here sends it media.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, Dir, Site};

/// How the device's SIP reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tr {
    Udp,
    Tcp,
}

impl Tr {
    pub fn name(self) -> &'static str {
        match self {
            Tr::Udp => "udp",
            Tr::Tcp => "tcp",
        }
    }
}

/// Whether the phone picks up by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answers every call at once with 200.
    Auto,
    /// Rings until the caller (or the proxy) gives up.
    Never,
}

/// One SIP message in baresip's trace.
#[derive(Debug, Clone)]
pub struct Traced {
    /// `true` when baresip received it.
    pub received: bool,
    /// `HOST:PORT` of the other side.
    pub peer: String,
    /// `HOST:PORT` of baresip's own side (over TCP, its end of the connection).
    pub local: String,
    pub text: String,
}

impl Traced {
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

    /// The CSeq method (for responses: which request they answer).
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq")?.split_whitespace().nth(1)
    }

    /// A request of `method` (`INVITE`, `CANCEL`, ...).
    pub fn is_request(&self, method: &str) -> bool {
        self.first_line().starts_with(&format!("{method} "))
    }

    /// A response with `status` to a request of `method`.
    pub fn is_response(&self, status: u16, method: &str) -> bool {
        self.first_line().starts_with(&format!("SIP/2.0 {status} "))
            && self.cseq_method() == Some(method)
    }
}

/// A running baresip, killed by pid on drop.
pub struct Baresip {
    child: Child,
    dir: Dir,
    /// The port in baresip's Contact.
    pub port: u16,
    pub user: String,
    /// `127.0.0.1:PORT` of the server, its only peer.
    server: String,
}

impl Baresip {
    /// Starts baresip signed in as `user@127.0.0.1` with `password`, reaching the site's
    /// server over `tr` (its own outbound proxy, so every request goes there).
    pub fn start(site: &Site, user: &str, password: &str, tr: Tr, answer: Answer) -> Baresip {
        let dir = Dir::new("baresip");
        let port = free_port();
        let config = format!(
            "module_path /usr/lib/baresip/modules\n\
             sip_listen 127.0.0.1:{port}\n\
             module g711.so\n\
             module aubridge.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             audio_player aubridge,nil\n\
             audio_alert aubridge,nil\n\
             audio_source aubridge,nil\n"
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let t = tr.name();
        let mode = match answer {
            Answer::Auto => "auto",
            Answer::Never => "manual",
        };
        let account = format!(
            "<sip:{user}@127.0.0.1;transport={t}>;auth_pass={password};regint=600;\
             answermode={mode};outbound=\"sip:127.0.0.1:{server};transport={t}\"\n",
            server = site.sip_port,
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baresip (install Debian's baresip)");
        Baresip {
            child,
            dir,
            port,
            user: user.to_string(),
            server: format!("127.0.0.1:{}", site.sip_port),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("baresip.log")
    }

    /// The SIP messages of its trace, in order. A trace entry is a line
    /// `UDP|TCP A -> B`, the message, and a line with a terminal colour escape. Over TCP
    /// baresip's side of the connection has a port of its own, so what it received is
    /// told by the sender being the server.
    pub fn messages(&self) -> Vec<Traced> {
        let log = self.log();
        let mut out = Vec::new();
        let mut current: Option<Traced> = None;
        for line in log.lines() {
            let marker = line
                .strip_prefix("UDP ")
                .or_else(|| line.strip_prefix("TCP "))
                .and_then(|rest| rest.split_once(" -> "));
            if let Some((from, to)) = marker {
                out.extend(current.take());
                let received = from.trim() == self.server;
                let (peer, local) = if received { (from, to) } else { (to, from) };
                current = Some(Traced {
                    received,
                    peer: peer.trim().to_string(),
                    local: local.trim().to_string(),
                    text: String::new(),
                });
            } else if line.contains('\u{1b}') {
                out.extend(current.take());
            } else if let Some(m) = current.as_mut() {
                m.text.push_str(line.trim_end_matches('\r'));
                m.text.push('\n');
            }
        }
        out.extend(current);
        out
    }

    /// Messages it received that satisfy `f`.
    pub fn received(&self, f: impl Fn(&Traced) -> bool) -> Vec<Traced> {
        self.messages()
            .into_iter()
            .filter(|m| m.received && f(m))
            .collect()
    }

    /// Messages it sent that satisfy `f`.
    pub fn sent(&self, f: impl Fn(&Traced) -> bool) -> Vec<Traced> {
        self.messages()
            .into_iter()
            .filter(|m| !m.received && f(m))
            .collect()
    }

    /// Whether a REGISTER of its own with a non-zero expiry has been accepted.
    pub fn registered(&self) -> bool {
        self.received(|m| m.is_response(200, "REGISTER"))
            .iter()
            .any(|m| !m.text.contains("expires=0"))
    }

    /// Waits until [`Baresip::registered`], failing with its log at the deadline.
    pub fn wait_registered(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.registered() {
            assert!(
                Instant::now() < deadline,
                "baresip {} not registered within {within:?}:\n{}",
                self.user,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
