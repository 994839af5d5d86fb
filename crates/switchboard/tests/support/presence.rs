//! Presence end to end (issue 6): baresip as a presence client (it PUBLISHes its own
//! state and SUBSCRIBEs to the buddies of its contacts file through the server), a raw
//! SIP-over-TCP watcher that answers digest challenges and NOTIFYs (for list
//! subscriptions, whose full-state NOTIFY is far larger than a UDP datagram), an
//! authenticated SIPp caller, and the check of every presence document by parsers other
//! than ours: `xmllint --schema` against the RFC 3863 schema and Python's `xml.etree` and
//! `email` (`support/pidf/check_presence.py`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sb_sip_auth::{parse_challenge, request_digest, AuthValue, Credentials, Ha1, QopParts};

use super::sipp_peer::SippOutcome;
use super::{free_port, scenario, Dir, Site};

/// Now as seconds since the Unix epoch (comparable with SIPp trace stamps, which the
/// peers write in UTC).
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn checker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pidf")
}

/// What the independent parsers made of one PIDF document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidfSeen {
    pub entity: String,
    /// The `<basic>` of every tuple: `open` or `closed`.
    pub basic: Vec<String>,
    /// RPID activity element names under `dm:person` (`busy`, `on-the-phone`, `other`...).
    pub activities: Vec<String>,
    /// How many notes (PIDF and data-model) it carries.
    pub notes: usize,
}

impl PidfSeen {
    pub fn open(&self) -> bool {
        self.basic.iter().any(|b| b == "open")
    }

    pub fn has(&self, activity: &str) -> bool {
        self.activities.iter().any(|a| a == activity)
    }
}

/// What the independent parsers made of an RFC 4662 list notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RlmiSeen {
    pub uri: String,
    pub version: u32,
    pub full_state: bool,
    pub resources: usize,
    /// `<instance>` elements (RFC 4662 §5.2: one per subscription to the resource).
    pub instances: usize,
    /// The PIDF parts, each validated on its own.
    pub parts: Vec<PidfSeen>,
}

/// What the independent parser made of an RFC 4235 dialog-info document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogSeen {
    pub entity: String,
    pub version: u32,
    /// `full` or `partial`.
    pub state: String,
    /// The state of each dialog, in document order (`confirmed`, `terminated`...).
    pub dialogs: Vec<String>,
}

/// A presence body as other parsers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Pidf(PidfSeen),
    Rlmi(RlmiSeen),
    Dialog(DialogSeen),
}

fn field<'a>(words: &[&'a str], key: &str) -> &'a str {
    words
        .iter()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn pidf_line(words: &[&str]) -> PidfSeen {
    PidfSeen {
        entity: words.get(1).copied().unwrap_or("").to_string(),
        basic: list(field(words, "basic")),
        activities: list(field(words, "activities")),
        notes: field(words, "notes").parse().unwrap_or(0),
    }
}

/// Checks a NOTIFY body of `content_type` with `check_presence.py` (schema validation by
/// xmllint, namespaces and structure by Python); `Err` carries the reason it gave.
pub fn check_body(content_type: &str, body: &[u8]) -> Result<Seen, String> {
    let dir = Dir::new("pidf-check");
    let path = dir.path().join("body");
    std::fs::write(&path, body).unwrap();
    let out = Command::new("python3")
        .arg(checker_dir().join("check_presence.py"))
        .arg(content_type)
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run python3 (and xmllint, Debian's libxml2-utils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{text}{}\n--- body ({content_type}) ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(body)
        ));
    }
    let mut rlmi: Option<RlmiSeen> = None;
    let mut dialog: Option<DialogSeen> = None;
    let mut pidfs = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"pidf") => pidfs.push(pidf_line(&words)),
            Some(&"dialog") => {
                dialog = Some(DialogSeen {
                    entity: words.get(1).copied().unwrap_or("").to_string(),
                    version: field(&words, "version").parse().unwrap_or(u32::MAX),
                    state: field(&words, "state").to_string(),
                    dialogs: list(field(&words, "dialogs")),
                })
            }
            Some(&"rlmi") => {
                rlmi = Some(RlmiSeen {
                    uri: words.get(1).copied().unwrap_or("").to_string(),
                    version: field(&words, "version").parse().unwrap_or(u32::MAX),
                    full_state: matches!(field(&words, "full"), "true" | "1"),
                    resources: field(&words, "resources").parse().unwrap_or(0),
                    instances: field(&words, "instances").parse().unwrap_or(0),
                    parts: Vec::new(),
                })
            }
            _ => {}
        }
    }
    if let Some(d) = dialog {
        return Ok(Seen::Dialog(d));
    }
    match rlmi {
        Some(mut r) => {
            r.parts = pidfs;
            Ok(Seen::Rlmi(r))
        }
        None => pidfs
            .pop()
            .map(Seen::Pidf)
            .ok_or_else(|| format!("checker printed nothing:\n{text}")),
    }
}

/// [`check_body`] for a PIDF body; panics with the checker's reason otherwise.
pub fn check_pidf(content_type: &str, body: &[u8]) -> PidfSeen {
    match check_body(content_type, body) {
        Ok(Seen::Pidf(p)) => p,
        Ok(other) => panic!("expected a PIDF document, got {other:?}"),
        Err(why) => panic!("the PIDF is not valid to other parsers: {why}"),
    }
}

/// A SIP message split into start line, headers and body.
#[derive(Debug, Clone)]
pub struct SipMsg {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When it was read (test side), as epoch seconds.
    pub at: f64,
}

/// Compact header names (RFC 3261 §7.3.3) the server may use.
fn long_name(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "v" => "Via",
        "f" => "From",
        "t" => "To",
        "i" => "Call-ID",
        "m" => "Contact",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "o" => "Event",
        "u" => "Allow-Events",
        "k" => "Supported",
        _ => name,
    }
}

impl SipMsg {
    /// Parses headers and body from text (header lines end in `\n` or `\r\n`).
    pub fn parse(text: &[u8], at: f64) -> SipMsg {
        let split = find(text, b"\r\n\r\n")
            .map(|i| (i, i + 4))
            .or_else(|| find(text, b"\n\n").map(|i| (i, i + 2)))
            .unwrap_or((text.len(), text.len()));
        let head = String::from_utf8_lossy(&text[..split.0]).into_owned();
        let mut lines = head.lines();
        let start = lines.next().unwrap_or("").trim().to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((long_name(n.trim()).to_string(), v.trim().to_string()));
            }
        }
        SipMsg {
            start,
            headers,
            body: text[split.1..].to_vec(),
            at,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn is_request(&self, method: &str) -> bool {
        self.start.starts_with(&format!("{method} "))
    }

    pub fn status(&self) -> Option<u16> {
        self.start
            .strip_prefix("SIP/2.0 ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The tag parameter of From or To.
    pub fn tag(&self, header: &str) -> Option<String> {
        self.header(header)?
            .split(';')
            .find_map(|p| p.trim().strip_prefix("tag="))
            .map(|t| t.trim().to_string())
    }

    /// The whole message as text, for failure reports.
    pub fn text(&self) -> String {
        let mut s = self.start.clone();
        for (n, v) in &self.headers {
            s.push_str(&format!("\n{n}: {v}"));
        }
        s.push_str("\n\n");
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A SIP user agent over one TCP connection to the server: sends requests (answering a
/// 401/407 once with MD5 digest), reads messages framed by Content-Length (RFC 3261
/// §18.3), and answers every NOTIFY with 200 at once, keeping them in order.
pub struct TcpWatcher {
    stream: TcpStream,
    buf: Vec<u8>,
    pub user: String,
    password: String,
    pub local: String,
    cseq: u32,
    /// NOTIFYs received so far, in order.
    pub notifies: Vec<SipMsg>,
    /// Every message received, in order (for failure reports).
    pub log: Vec<SipMsg>,
}

impl TcpWatcher {
    /// Connects to the site's SIP port as `user` (`sip:USER@127.0.0.1`).
    pub fn connect(site: &Site, user: &str, password: &str) -> TcpWatcher {
        let stream = TcpStream::connect(("127.0.0.1", site.sip_port)).expect("connect over TCP");
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap().to_string();
        TcpWatcher {
            stream,
            buf: Vec::new(),
            user: user.to_string(),
            password: password.to_string(),
            local,
            cseq: 0,
            notifies: Vec::new(),
            log: Vec::new(),
        }
    }

    fn send_raw(&mut self, text: &str) {
        self.stream
            .write_all(text.as_bytes())
            .expect("send over TCP");
    }

    /// The next message from the server within `within`; NOTIFYs are answered with 200
    /// and kept. `None` at the deadline.
    pub fn next(&mut self, within: Duration) -> Option<SipMsg> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(msg) = self.take_framed() {
                self.log.push(msg.clone());
                if msg.is_request("NOTIFY") {
                    self.answer(&msg, 200, "OK");
                    self.notifies.push(msg.clone());
                }
                return Some(msg);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("reading from the server: {e}"),
            }
        }
    }

    /// One whole message from the buffer, if it holds one (CRLF keep-alives skipped).
    fn take_framed(&mut self) -> Option<SipMsg> {
        while self.buf.starts_with(b"\r\n") {
            self.buf.drain(..2);
        }
        let end = find(&self.buf, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l"))
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if self.buf.len() < end + 4 + len {
            return None;
        }
        let raw: Vec<u8> = self.buf.drain(..end + 4 + len).collect();
        Some(SipMsg::parse(&raw, epoch_now()))
    }

    /// Answers a request from the server (Via, From, To, Call-ID, CSeq copied).
    pub fn answer(&mut self, req: &SipMsg, status: u16, reason: &str) {
        let mut text = format!("SIP/2.0 {status} {reason}\r\n");
        for v in req.all("Via") {
            text.push_str(&format!("Via: {v}\r\n"));
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = req.header(name) {
                text.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        self.send_raw(&text);
    }

    /// Sends an out-of-dialog or in-dialog SUBSCRIBE and returns its final response,
    /// answering one digest challenge. NOTIFYs that arrive meanwhile are kept.
    pub fn subscribe(&mut self, s: &Subscribe) -> SipMsg {
        self.request("SUBSCRIBE", s, None)
    }

    /// A PUBLISH (RFC 3903) of `pidf` (None: no body, a refresh or removal) with the
    /// headers of `s` (Event, Expires, extra lines such as `SIP-If-Match`); its final
    /// response, one digest challenge answered.
    pub fn publish(&mut self, s: &Subscribe, pidf: Option<&str>) -> SipMsg {
        self.request("PUBLISH", s, pidf.map(|b| ("application/pidf+xml", b)))
    }

    fn request(&mut self, method: &str, s: &Subscribe, body: Option<(&str, &str)>) -> SipMsg {
        let mut auth: Option<(String, String)> = None;
        for _ in 0..2 {
            self.cseq += 1;
            let branch = format!("z9hG4bK-sub-{}-{}", std::process::id(), super::unique());
            let mut text = format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch={branch};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag={ftag}\r\nTo: <{to}>{ttag}\r\n\
                 Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\n\
                 Contact: <sip:{user}@{local};transport=tcp>\r\nEvent: {event}\r\nExpires: {exp}\r\n",
                uri = s.uri,
                local = self.local,
                user = self.user,
                ftag = s.from_tag,
                to = s.to,
                ttag = s.to_tag.as_deref().map(|t| format!(";tag={t}")).unwrap_or_default(),
                cid = s.call_id,
                cseq = self.cseq,
                event = s.event,
                exp = s.expires,
            );
            for h in &s.extra {
                text.push_str(h);
                text.push_str("\r\n");
            }
            if let Some((name, value)) = &auth {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            match body {
                Some((ct, b)) => text.push_str(&format!(
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                )),
                None => text.push_str("Content-Length: 0\r\n\r\n"),
            }
            self.send_raw(&text);
            let resp = loop {
                let msg = self.next(Duration::from_secs(10)).unwrap_or_else(|| {
                    panic!("no answer to {method} {}:\n{}", s.uri, self.history())
                });
                if msg.status().is_some_and(|c| c >= 200)
                    && msg.header("CSeq").is_some_and(|c| c.ends_with(method))
                {
                    break msg;
                }
            };
            match resp.status() {
                Some(401) | Some(407) if auth.is_none() => {
                    let (ask, give) = if resp.status() == Some(401) {
                        ("WWW-Authenticate", "Authorization")
                    } else {
                        ("Proxy-Authenticate", "Proxy-Authorization")
                    };
                    let challenge =
                        match parse_challenge(resp.header(ask).expect("challenge header")) {
                            Ok(AuthValue::Digest(c)) => c,
                            other => panic!("not a digest challenge: {other:?}"),
                        };
                    auth = Some((
                        give.to_string(),
                        self.credentials(&challenge, method, &s.uri),
                    ));
                }
                _ => return resp,
            }
        }
        unreachable!("the loop returns on the second answer")
    }

    fn credentials(&self, c: &sb_sip_auth::Challenge, method: &str, uri: &str) -> String {
        let ha1 = Ha1::compute(
            sb_sip_auth::Algorithm::Md5,
            &self.user,
            &c.realm,
            &self.password,
        );
        let qop = c.qop.iter().any(|q| q == "auth").then_some("auth");
        let cnonce = format!("{:08x}", super::unique() + 0x5eed);
        let parts = qop.map(|q| QopParts {
            qop: q,
            nc: "00000001",
            cnonce: &cnonce,
        });
        let response = request_digest(&ha1, &c.nonce, parts, method, uri);
        let creds = Credentials {
            username: self.user.clone(),
            realm: c.realm.clone(),
            nonce: c.nonce.clone(),
            uri: uri.to_string(),
            response,
            algorithm: Some("MD5".into()),
            cnonce: qop.map(|_| cnonce.clone()),
            opaque: c.opaque.clone(),
            qop: qop.map(str::to_string),
            nc: qop.map(|_| "00000001".to_string()),
            other: Vec::new(),
        };
        creds.to_string()
    }

    /// Reads until a NOTIFY satisfying `f` arrives (answering every one), or `None` at
    /// the deadline.
    pub fn wait_notify(&mut self, within: Duration, f: impl Fn(&SipMsg) -> bool) -> Option<SipMsg> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let msg = self.next(left)?;
            if msg.is_request("NOTIFY") && f(&msg) {
                return Some(msg);
            }
        }
    }

    /// Everything received, for failure reports.
    pub fn history(&self) -> String {
        self.log
            .iter()
            .map(|m| {
                let mut t = m.text();
                if t.len() > 3000 {
                    t.truncate(3000);
                    t.push_str("\n[...]");
                }
                t
            })
            .collect::<Vec<_>>()
            .join("\n-----\n")
    }
}

/// The parameters of one SUBSCRIBE (or PUBLISH: `event`, `expires`, `extra`).
pub struct Subscribe {
    pub uri: String,
    pub to: String,
    pub to_tag: Option<String>,
    pub from_tag: String,
    pub call_id: String,
    pub event: String,
    pub expires: u32,
    /// Extra header lines (`Supported: eventlist`, `Accept: ...`).
    pub extra: Vec<String>,
}

/// The body of a received message with its Content-Type, checked by [`check_body`].
pub fn seen(msg: &SipMsg) -> Result<Seen, String> {
    let ct = msg.header("Content-Type").unwrap_or("");
    check_body(ct, &msg.body)
}

/// baresip 1.0 as a presence client: `presence.so` PUBLISHes the account's own state
/// (`pubint`) and SUBSCRIBEs to each buddy of its contacts file marked `presence=p2p`;
/// with `outbound` set, both go through the server, which answers them itself. On
/// SIGTERM it unpublishes, unsubscribes and unregisters before it exits.
pub struct PresencePhone {
    child: Child,
    dir: Dir,
    pub user: String,
    server: String,
}

/// One SIP message of baresip's trace (`-s`).
#[derive(Debug, Clone)]
pub struct PhoneMsg {
    pub received: bool,
    pub msg: SipMsg,
}

impl PresencePhone {
    /// Starts baresip as `user@127.0.0.1` over UDP, watching `buddies` (full SIP URIs) and,
    /// when `publish`, publishing its own state (`pubint=600`); it answers calls by itself.
    pub fn start(
        site: &Site,
        user: &str,
        password: &str,
        buddies: &[&str],
        publish: bool,
    ) -> PresencePhone {
        let dir = Dir::new("baresip-presence");
        let port = free_port();
        let config = format!(
            "module_path /usr/lib/baresip/modules\n\
             sip_listen 127.0.0.1:{port}\n\
             module g711.so\n\
             module aubridge.so\n\
             module_app account.so\n\
             module_app contact.so\n\
             module_app presence.so\n\
             module_app menu.so\n\
             audio_player aubridge,nil\n\
             audio_alert aubridge,nil\n\
             audio_source aubridge,nil\n"
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let account = format!(
            "<sip:{user}@127.0.0.1;transport=udp>;auth_pass={password};regint=600;pubint={pubint};\
             answermode=auto;outbound=\"sip:127.0.0.1:{server};transport=udp\"\n",
            server = site.sip_port,
            pubint = if publish { 600 } else { 0 },
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let contacts: String = buddies
            .iter()
            .map(|b| format!("<{b}>;presence=p2p\n"))
            .collect();
        std::fs::write(dir.path().join("contacts"), contacts).unwrap();
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
        PresencePhone {
            child,
            dir,
            user: user.to_string(),
            server: format!("127.0.0.1:{}", site.sip_port),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The messages of its SIP trace, in order (see `support::baresip` for the format).
    pub fn messages(&self) -> Vec<PhoneMsg> {
        let log = self.log();
        let mut out = Vec::new();
        let mut current: Option<(bool, String)> = None;
        let flush = |cur: Option<(bool, String)>, out: &mut Vec<PhoneMsg>| {
            if let Some((received, text)) = cur {
                out.push(PhoneMsg {
                    received,
                    msg: SipMsg::parse(text.as_bytes(), 0.0),
                });
            }
        };
        for line in log.lines() {
            let marker = line
                .strip_prefix("UDP ")
                .or_else(|| line.strip_prefix("TCP "))
                .and_then(|rest| rest.split_once(" -> "));
            if let Some((from, _)) = marker {
                flush(current.take(), &mut out);
                current = Some((from.trim() == self.server, String::new()));
            } else if line.contains('\u{1b}') {
                flush(current.take(), &mut out);
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line.trim_end_matches('\r'));
                text.push_str("\r\n");
            }
        }
        flush(current, &mut out);
        out
    }

    /// The NOTIFYs it received, in order (a retransmission, same CSeq, counted once).
    pub fn notifies(&self) -> Vec<SipMsg> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for m in self.messages() {
            if m.received && m.msg.is_request("NOTIFY") {
                let key = (
                    m.msg.header("Call-ID").map(str::to_string),
                    m.msg.header("CSeq").map(str::to_string),
                );
                if !seen.contains(&key) {
                    seen.push(key);
                    out.push(m.msg);
                }
            }
        }
        out
    }

    /// Whether a PUBLISH of its own was accepted with an entity tag (RFC 3903 §4.1).
    pub fn published(&self) -> bool {
        self.messages().iter().any(|m| {
            m.received
                && m.msg.status() == Some(200)
                && m.msg.header("CSeq").is_some_and(|c| c.ends_with("PUBLISH"))
                && m.msg.header("SIP-ETag").is_some()
        })
    }

    /// Whether a REGISTER of its own with a non-zero expiry was accepted.
    pub fn registered(&self) -> bool {
        self.messages().iter().any(|m| {
            m.received
                && m.msg.status() == Some(200)
                && m.msg
                    .header("CSeq")
                    .is_some_and(|c| c.ends_with("REGISTER"))
                && !m.msg.text().contains("expires=0")
        })
    }

    /// SIGTERM: baresip signs out (PUBLISH and REGISTER with expiry 0) and exits.
    pub fn sign_out(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }
}

impl Drop for PresencePhone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SIPp caller of our own domain (`-s USER -au USER -ap PASSWORD`) running a scenario of
/// `tests/sipp/presence/` to the site, killed by pid when dropped.
pub struct AuthCaller {
    child: Child,
    work: Dir,
    name: String,
}

impl AuthCaller {
    pub fn start(
        site: &Site,
        scenario_name: &str,
        user: &str,
        password: &str,
        callee: &str,
    ) -> AuthCaller {
        let work = Dir::new("sipp-caller");
        let port = free_port();
        let child = Command::new("sipp")
            .current_dir(work.path())
            .env("TZ", "UTC")
            .arg("-sf")
            .arg(scenario(&format!("presence/{scenario_name}")))
            .args(["-t", "u1", "-m", "1", "-nostdin"])
            .args(["-timeout", "60s", "-timeout_error"])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-s", user, "-au", user, "-ap", password])
            .args(["-key", "callee", callee])
            // SIPp digests over `sip:` + this; by default it would use the server's
            // address, not the Request-URI the server checks (RFC 3261 §22.4).
            .args(["-auth_uri", &format!("{callee}@127.0.0.1")])
            .args(["-trace_msg", "-message_file"])
            .arg(work.path().join("messages.log"))
            .args(["-trace_err", "-error_file"])
            .arg(work.path().join("errors.log"))
            .arg(format!("127.0.0.1:{}", site.sip_port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("run sipp (install Debian's sip-tester)");
        AuthCaller {
            child,
            work,
            name: format!("{scenario_name} as {user}"),
        }
    }

    /// Waits for the call to end (killed after `within`) and reports like a SIPp peer.
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
        let read = |n: &str| std::fs::read_to_string(self.work.path().join(n)).unwrap_or_default();
        let messages = read("messages.log");
        SippOutcome {
            ok: status.is_some_and(|s| s.success()),
            report: format!(
                "SIPp {}: {:?}\n--- sipp errors ---\n{}\n--- stderr ---\n{}\n--- messages ---\n{messages}",
                self.name,
                status.map(|s| s.code()),
                read("errors.log"),
                read("stderr.log"),
            ),
            messages,
        }
    }
}

impl Drop for AuthCaller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
