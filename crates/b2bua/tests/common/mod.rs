//! Scripted peers for the B2BUA: the front end at 10.0.0.2, gateways gw-a (192.0.2.10)
//! and gw-b (192.0.2.11) in pool `pstn`, mediation at 10.0.0.1. Messages are written as
//! wire text or built from what the B2BUA sent, printed and parsed again, so every
//! message crosses the parser like on the network. Time is virtual.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sb_b2bua::{B2bua, B2buaConfig, B2buaEvent, ClientSideConfig, MediaConfig};
use sb_gateways::{GatewayTable, PoolName};
use sb_media_api::{Command, LegId};
use sb_sip_core::{response_for, Peer, TimerConfig, Transmit, TransportKind};
use sb_sip_msg::{
    parse_datagram, ContactValue, Header, Message, Method, NameAddr, Request, Response, StatusCode,
};

pub const MEDIATION: &str = "10.0.0.1:5060";
pub const FRONT_END: &str = "10.0.0.2:5060";
pub const GW_A: &str = "192.0.2.10:5060";
pub const GW_B: &str = "192.0.2.11:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn config() -> B2buaConfig {
    config_with("")
}

/// The test configuration with extra `[[gateways]]` keys for gw-a.
pub fn config_with(gw_a_extra: &str) -> B2buaConfig {
    let text = format!(
        r#"
            [[gateways]]
            name = "gw-a"
            address = "192.0.2.10:5060"
            fail_codes = [503]
            {gw_a_extra}
            [[gateways.outbound]]
            match = "+1."
            strip = 2
            [[gateways.inbound]]
            match = "NXXXXXXXXX"
            prefix = "+1"
            [[gateways]]
            name = "gw-b"
            address = "192.0.2.11:5060"
            codecs = ["PCMA"]
            [[pools]]
            name = "pstn"
            gateways = ["gw-a", "gw-b"]
            "#
    );
    let gateways = GatewayTable::compile(toml::from_str(&text).unwrap()).unwrap();
    B2buaConfig {
        sip_addr: addr(MEDIATION),
        identity_host: "example.com".into(),
        client: ClientSideConfig::new(addr(FRONT_END), TransportKind::Udp, "example.com"),
        gateways,
        gateway_addrs: HashMap::new(),
        default_pool: Some(PoolName::new("pstn")),
        media: MediaConfig {
            ip: "10.0.0.1".parse().unwrap(),
            port_min: 20000,
            port_max: 20100,
            media_timeout_ms: Some(30_000),
        },
    }
}

pub struct Harness {
    pub b2bua: B2bua,
    pub now: Instant,
    /// Everything sent, per destination, not yet taken by the test.
    pub outbox: Vec<Transmit>,
    /// Every byte sent toward the gateways, for topology checks.
    pub gateway_bytes: Vec<u8>,
    pub media: Vec<Command>,
    pub events: Vec<B2buaEvent>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(config(), 7)
    }

    pub fn with_config(cfg: B2buaConfig, seed: u64) -> Harness {
        let now = Instant::now();
        let timers = TimerConfig::default();
        let mut h = Harness {
            b2bua: B2bua::new(now, cfg, timers, seed),
            now,
            outbox: Vec::new(),
            gateway_bytes: Vec::new(),
            media: Vec::new(),
            events: Vec::new(),
        };
        h.pump();
        h
    }

    /// Drains every output; gateways answer keep-alives with 200 at once.
    pub fn pump(&mut self) {
        loop {
            let mut any = false;
            while let Some(t) = self.b2bua.poll_transmit() {
                any = true;
                let bytes = match &t.message {
                    Message::Request(r) => r.to_bytes(),
                    Message::Response(r) => r.to_bytes(),
                };
                if t.to.addr.ip().to_string().starts_with("192.0.2.") {
                    self.gateway_bytes.extend_from_slice(&bytes);
                }
                if let Message::Request(r) = &t.message {
                    if r.method == Method::Options && r.headers.to().and_then(|t| t.tag()).is_none()
                    {
                        let resp = response_for(r, StatusCode::OK);
                        self.b2bua.handle_response(
                            self.now,
                            reparse_resp(&resp),
                            Peer::udp(t.to.addr),
                        );
                        continue;
                    }
                }
                self.outbox.push(t);
            }
            while let Some(c) = self.b2bua.poll_media() {
                any = true;
                self.media.push(c);
            }
            while let Some(e) = self.b2bua.poll_event() {
                any = true;
                self.events.push(e);
            }
            if !any {
                break;
            }
        }
    }

    /// Delivers wire text from `from` (UDP).
    pub fn deliver_text(&mut self, text: &str, from: &str) {
        let msg = parse_datagram(&wire(text)).expect("test message parses");
        self.b2bua
            .handle_message(self.now, msg, Peer::udp(addr(from)));
        self.pump();
    }

    pub fn deliver_req(&mut self, req: &Request, from: &str) {
        let msg = parse_datagram(&req.to_bytes()).expect("request parses");
        self.b2bua
            .handle_message(self.now, msg, Peer::udp(addr(from)));
        self.pump();
    }

    pub fn deliver_resp(&mut self, resp: &Response, from: &str) {
        self.b2bua
            .handle_response(self.now, reparse_resp(resp), Peer::udp(addr(from)));
        self.pump();
    }

    /// Moves the clock by `d`, running every timer due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.b2bua.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.b2bua.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
        self.b2bua.handle_timeout(self.now);
        self.pump();
    }

    /// Takes what was sent to `to`.
    pub fn take(&mut self, to: &str) -> Vec<Message> {
        let to = addr(to);
        let (mine, rest): (Vec<_>, Vec<_>) = self.outbox.drain(..).partition(|t| t.to.addr == to);
        self.outbox = rest;
        mine.into_iter().map(|t| t.message).collect()
    }

    pub fn take_requests(&mut self, to: &str, method: Method) -> Vec<Request> {
        let all = self.take(to);
        let mut out = Vec::new();
        for m in all {
            match m {
                Message::Request(r) if r.method == method => out.push(r),
                other => self.outbox.push(Transmit {
                    to: Peer::udp(addr(to)),
                    message: other,
                }),
            }
        }
        out
    }

    /// The requests of `method` sent to `to`, retransmissions (same branch) counted once.
    pub fn distinct_requests(&mut self, to: &str, method: Method) -> Vec<Request> {
        let mut v = self.take_requests(to, method);
        let mut seen = std::collections::HashSet::new();
        v.retain(|r| {
            seen.insert(
                r.headers
                    .top_via()
                    .and_then(|v| v.branch())
                    .map(str::to_string),
            )
        });
        v
    }

    /// The one request of `method` sent to `to`, retransmissions aside (panics otherwise).
    pub fn one_request(&mut self, to: &str, method: Method) -> Request {
        let mut v = self.distinct_requests(to, method.clone());
        assert_eq!(v.len(), 1, "expected one {method} to {to}, got {v:?}");
        v.remove(0)
    }

    pub fn responses(&mut self, to: &str) -> Vec<Response> {
        let all = self.take(to);
        let mut out = Vec::new();
        for m in all {
            match m {
                Message::Response(r) => out.push(r),
                other => self.outbox.push(Transmit {
                    to: Peer::udp(addr(to)),
                    message: other,
                }),
            }
        }
        out
    }

    pub fn statuses(&mut self, to: &str) -> Vec<u16> {
        self.responses(to).iter().map(|r| r.status.code()).collect()
    }

    pub fn take_media(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.media)
    }
}

/// CRLF line ends and a correct Content-Length for readable test text.
pub fn wire(text: &str) -> Vec<u8> {
    let text = text.trim_start().replace("\r\n", "\n");
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h.to_string(), b.to_string()),
        None => (text.trim_end().to_string(), String::new()),
    };
    let body = if body.trim().is_empty() {
        String::new()
    } else {
        body.trim_end().replace('\n', "\r\n") + "\r\n"
    };
    let mut out = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length"))
        .map(|l| l.trim_start().to_string() + "\r\n")
        .collect::<String>();
    out += &format!("Content-Length: {}\r\n\r\n", body.len());
    out += &body;
    out.into_bytes()
}

fn reparse_resp(r: &Response) -> Response {
    match parse_datagram(&r.to_bytes()).expect("response parses") {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}

pub const CLIENT_SDP: &str = "v=0
o=- 1 1 IN IP4 198.51.100.7
s=-
c=IN IP4 198.51.100.7
t=0 0
m=audio 40000 RTP/SAVP 111 0 101
a=rtpmap:111 opus/48000/2
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/48000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
a=ice-ufrag:abcd
a=ice-pwd:0123456789012345678901234
a=candidate:1 1 UDP 2130706431 198.51.100.7 40000 typ host
a=sendrecv
";

/// An INVITE as the front end's proxy forwards a client's call to mediation: the
/// client's own Via, Record-Route, Contact, tag and Call-ID are what must not leak.
pub fn client_invite(number: &str, sdp: Option<&str>) -> String {
    let mut t = format!(
        "INVITE sip:{number}@10.0.0.1;user=phone;pool=pstn SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKfe1
Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKcl1;received=198.51.100.7
Record-Route: <sip:10.0.0.2;lr>
Max-Forwards: 69
From: \"Alice\" <sip:alice@example.com>;tag=alicetag1
To: <sip:{number}@example.com;user=phone>
Call-ID: clientcallid-1@198.51.100.7
CSeq: 1 INVITE
Contact: <sip:alice@198.51.100.7:5061;transport=tls>
P-Asserted-Identity: \"Alice\" <sip:+15550001111@example.com;user=phone>
"
    );
    match sdp {
        Some(s) => t += &format!("Content-Type: application/sdp\n\n{s}"),
        None => t += "\n",
    }
    t
}

pub fn gateway_sdp(port: u16, dir: &str) -> String {
    format!(
        "v=0
o=gw 5 5 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a={dir}
"
    )
}

/// A response from a peer to a request it received: its To tag and Contact, and SDP.
pub fn reply(
    req: &Request,
    status: u16,
    to_tag: &str,
    contact: &str,
    sdp: Option<&str>,
) -> Response {
    let mut r = response_for(req, StatusCode(status));
    if status > 100 {
        if let Some(to) = r.headers.to_mut() {
            if to.tag().is_none() {
                to.params.set("tag", Some(to_tag));
            }
        }
    }
    if (101..300).contains(&status) {
        r.headers
            .push(Header::Contact(ContactValue::Addr(NameAddr::new(
                contact.parse().unwrap(),
            ))));
    }
    if let Some(s) = sdp {
        r.headers
            .push(Header::ContentType("application/sdp".into()));
        r.body = wire_body(s);
    }
    r
}

pub fn wire_body(s: &str) -> Vec<u8> {
    s.trim_end()
        .replace('\n', "\r\n")
        .into_bytes()
        .into_iter()
        .chain(*b"\r\n")
        .collect()
}

pub fn with_header(mut r: Response, name: &str, value: &str) -> Response {
    r.headers.push(Header::Other(sb_sip_msg::OtherHeader {
        name: name.into(),
        value: format!(" {value}"),
    }));
    r
}

/// An in-dialog request from a peer, built from the dialog it sees: `from` and `to` as
/// in a message it received from us (its side's view), the next `cseq`.
#[allow(clippy::too_many_arguments)]
pub fn in_dialog(
    method: Method,
    target: &str,
    call_id: &str,
    from: &NameAddr,
    to: &NameAddr,
    cseq: u32,
    via_host: &str,
    branch: &str,
    sdp: Option<&str>,
) -> Request {
    let mut text = format!(
        "{method} {target} SIP/2.0
Via: SIP/2.0/UDP {via_host};branch={branch}
Max-Forwards: 70
From: {from}
To: {to}
Call-ID: {call_id}
CSeq: {cseq} {method}
Contact: <sip:peer@{via_host}>
"
    );
    match sdp {
        Some(s) => text += &format!("Content-Type: application/sdp\n\n{s}"),
        None => text += "\n",
    }
    match parse_datagram(&wire(&text)).expect("in-dialog request parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

pub fn contact_of(m: &sb_sip_msg::Headers) -> String {
    m.contacts()
        .find_map(|c| match c {
            ContactValue::Addr(a) => Some(a.uri.to_string()),
            ContactValue::Star => None,
        })
        .unwrap()
}

/// A client call up to the gateway's INVITE; returns it.
pub fn call_to_gateway(h: &mut Harness) -> Request {
    h.deliver_text(&client_invite("+15551234567", Some(CLIENT_SDP)), FRONT_END);
    assert_eq!(h.statuses(FRONT_END), vec![100], "100 Trying at once");
    h.one_request(GW_A, Method::Invite)
}

pub fn ack_for(ok: &Response) -> Request {
    let to = ok.headers.to().unwrap().clone();
    let from = ok.headers.from().unwrap().clone();
    in_dialog(
        Method::Ack,
        &contact_of(&ok.headers),
        ok.headers.call_id().unwrap().as_str(),
        &from,
        &to,
        1,
        "10.0.0.2:5060",
        "z9hG4bKack1",
        None,
    )
}

/// Answers the gateway INVITE with 200 and the client's 200 with ACK; returns the 200
/// the client got.
pub fn answer(h: &mut Harness, inv: &Request) -> Response {
    h.deliver_resp(
        &reply(
            inv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        GW_A,
    );
    let acks = h.take_requests(GW_A, Method::Ack);
    assert_eq!(acks.len(), 1, "the gateway's 2xx is ACKed");
    let ok = h
        .responses(FRONT_END)
        .into_iter()
        .find(|r| r.status.code() == 200)
        .expect("200 to the client");
    h.deliver_req(&ack_for(&ok), FRONT_END);
    ok
}

pub fn add_legs(cmds: &[Command]) -> Vec<(LegId, sb_media_api::LegSpec, std::net::SocketAddr)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::AddLeg {
                leg, spec, local, ..
            } => Some((*leg, spec.clone(), *local)),
            _ => None,
        })
        .collect()
}
