//! A small message-builder DSL for driving `PresenceServer` in tests: requests as SIP text,
//! a virtual clock, and helpers that read NOTIFYs the way a subscriber would.
#![allow(dead_code)]

use sb_presence::model::Published;
use sb_presence::{OutgoingNotify, PresenceConfig, PresenceServer, Reply};
use sb_sip_msg::{parse_datagram, Message, Request};

pub const T0: u64 = 1_700_000_000_000;
pub const BOB: &str = "sip:bob@example.com";
pub const ALICE: &str = "sip:alice@example.com";

pub fn config() -> PresenceConfig {
    PresenceConfig {
        min_expires: 60,
        max_expires: 7_200,
        default_expires: 3_600,
        notify_min_interval_ms: 5_000,
        max_subscriptions_per_watcher: 500,
        our_contact: "sip:192.0.2.10:5060".into(),
    }
}

pub fn server() -> PresenceServer {
    PresenceServer::new(config())
}

/// Parses a request written with `\n` line ends; Content-Length is filled in.
pub fn request(head: &str, body: &str) -> Request {
    let head = head.trim().replace('\n', "\r\n");
    let text = format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    match parse_datagram(text.as_bytes()).expect("test request parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

/// A PUBLISH for `entity` with optional SIP-If-Match, Expires and PIDF body.
pub fn publish(
    entity: &str,
    etag: Option<&str>,
    expires: Option<u32>,
    body: Option<&str>,
) -> Request {
    let mut head = format!(
        "PUBLISH {entity} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp1\n\
         From: <{entity}>;tag=pf\nTo: <{entity}>\nCall-ID: pub-1\nCSeq: 1 PUBLISH\n\
         Max-Forwards: 70\nEvent: presence"
    );
    if let Some(e) = etag {
        head.push_str(&format!("\nSIP-If-Match: {e}"));
    }
    if let Some(x) = expires {
        head.push_str(&format!("\nExpires: {x}"));
    }
    if body.is_some() {
        head.push_str("\nContent-Type: application/pidf+xml");
    }
    request(&head, body.unwrap_or(""))
}

/// A device's PIDF: open or closed, with an optional note.
pub fn pidf(entity: &str, open: bool, note: Option<&str>) -> String {
    let basic = if open { "open" } else { "closed" };
    let note = note
        .map(|n| format!("<note>{n}</note>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{entity}\">\n\
         <tuple id=\"dev1\"><status><basic>{basic}</basic></status>{note}</tuple>\n</presence>\n"
    )
}

/// A SUBSCRIBE dialog as the subscriber sees it.
#[derive(Clone)]
pub struct Sub {
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub event: String,
    pub cseq: u32,
    pub extra: String,
}

impl Sub {
    pub fn new(from: &str, to: &str, call_id: &str) -> Sub {
        Sub {
            from: from.into(),
            to: to.into(),
            call_id: call_id.into(),
            from_tag: format!("ft-{call_id}"),
            to_tag: None,
            event: "presence".into(),
            cseq: 0,
            extra: String::new(),
        }
    }

    pub fn event(mut self, e: &str) -> Sub {
        self.event = e.into();
        self
    }

    pub fn header(mut self, h: &str) -> Sub {
        self.extra.push('\n');
        self.extra.push_str(h);
        self
    }

    /// The next SUBSCRIBE in this dialog with this Expires.
    pub fn request(&mut self, expires: u32) -> Request {
        self.cseq += 1;
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let head = format!(
            "SUBSCRIBE {to} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKs{cseq}{cid}\n\
             From: <{from}>;tag={ftag}\nTo: <{to}>{to_tag}\nCall-ID: {cid}\nCSeq: {cseq} SUBSCRIBE\n\
             Max-Forwards: 70\nContact: <sip:watcher@192.0.2.1:5070>\nEvent: {event}\n\
             Record-Route: <sip:edge.example.com;lr>\nExpires: {expires}{extra}",
            to = self.to,
            from = self.from,
            ftag = self.from_tag,
            cid = self.call_id,
            cseq = self.cseq,
            event = self.event,
            extra = self.extra,
        );
        request(&head, "")
    }

    /// Sends the SUBSCRIBE; on 200 remembers our dialog's To tag.
    pub fn send(
        &mut self,
        s: &mut PresenceServer,
        now: u64,
        expires: u32,
        watcher: Option<&str>,
    ) -> Reply {
        let req = self.request(expires);
        let reply = s.handle_subscribe(now, &req, &self.to.clone(), watcher, 7);
        if reply.status == 200 && self.to_tag.is_none() {
            self.to_tag = reply.to_tag.clone();
        }
        reply
    }
}

/// Every NOTIFY waiting, answered 200.
pub fn drain(s: &mut PresenceServer, now: u64) -> Vec<OutgoingNotify> {
    let mut out = Vec::new();
    while let Some(n) = s.poll_notify() {
        out.push(n);
    }
    for n in &out {
        s.handle_notify_response(now, n.id, 200);
    }
    out
}

pub fn header<'a>(n: &'a OutgoingNotify, name: &'a str) -> Option<&'a str> {
    n.request.headers.other(name).next()
}

pub fn sub_state(n: &OutgoingNotify) -> &str {
    header(n, "Subscription-State").unwrap_or("")
}

pub fn body(n: &OutgoingNotify) -> String {
    String::from_utf8_lossy(&n.request.body).into_owned()
}

/// The NOTIFY's PIDF as a device would read it.
pub fn read_pidf(n: &OutgoingNotify) -> Published {
    sb_presence::doc::pidf::parse(&n.request.body).expect("NOTIFY carries a PIDF that parses")
}

/// Runs every timer up to `until`, in order, collecting the NOTIFYs.
pub fn run_until(s: &mut PresenceServer, until: u64) -> Vec<(u64, OutgoingNotify)> {
    let mut out = Vec::new();
    while let Some(t) = s.poll_timeout() {
        if t > until {
            break;
        }
        s.handle_timeout(t);
        for n in drain(s, t) {
            out.push((t, n));
        }
    }
    out
}

pub fn reply_header(r: &Reply, name: &str) -> Option<String> {
    r.headers.iter().find_map(|h| {
        let text = h.to_string();
        let (n, v) = text.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}
