//! Small builders and readers for the headers the B2BUA writes itself.

use std::net::{IpAddr, SocketAddr};

use sb_sip_core::TransportKind;
use sb_sip_msg::{
    ContactValue, Header, Headers, Host, Method, NameAddr, OtherHeader, Params, Request, Response,
    SipUri, Transport, Uri, Via,
};

/// The methods we take inside a mediated dialog.
pub(crate) const ALLOW: [Method; 7] = [
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Info,
    Method::Update,
];

pub(crate) fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::V4(v4),
        IpAddr::V6(v6) => Host::V6(v6),
    }
}

fn transport_token(t: TransportKind) -> Transport {
    match t {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
        TransportKind::Ws => Transport::Ws,
        TransportKind::Wss => Transport::Wss,
    }
}

/// Our Via; `branch` is `None` for requests the transaction layer gives a branch to.
pub(crate) fn via(addr: SocketAddr, t: TransportKind, branch: Option<String>) -> Via {
    let mut params = Params::new();
    if let Some(b) = branch {
        params.set("branch", Some(&b));
    }
    // RFC 3581: ask for responses to the port we sent from.
    params.set("rport", None);
    Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: transport_token(t),
        host: host_of(addr.ip()),
        port: Some(addr.port()),
        params,
    }
}

/// Our Contact on a leg: the B2BUA's own address, nothing of the other leg.
pub(crate) fn contact(addr: SocketAddr, t: TransportKind) -> NameAddr {
    let mut params = Params::new();
    match t {
        TransportKind::Udp => {}
        TransportKind::Tcp => params.set("transport", Some("tcp")),
        TransportKind::Tls => params.set("transport", Some("tls")),
        TransportKind::Ws | TransportKind::Wss => params.set("transport", Some("ws")),
    }
    NameAddr::new(Uri::Sip(SipUri {
        secure: false,
        user: Some("mediation".into()),
        password: None,
        host: host_of(addr.ip()),
        port: Some(addr.port()),
        params,
        headers: Vec::new(),
    }))
}

pub(crate) fn contact_header(c: &NameAddr) -> Header {
    Header::Contact(ContactValue::Addr(c.clone()))
}

pub(crate) fn other(name: &str, value: impl Into<String>) -> Header {
    Header::Other(OtherHeader {
        name: name.to_string(),
        // The printer writes values as received, after the colon's space.
        value: format!(" {}", value.into().trim_start()),
    })
}

/// The RFC 3326 Reason values of a message, as written.
pub(crate) fn reasons(h: &Headers) -> Vec<String> {
    h.other("Reason").map(str::to_string).collect()
}

pub(crate) fn reason_headers(values: &[String]) -> Vec<Header> {
    values.iter().map(|v| other("Reason", v.clone())).collect()
}

/// Q.850 cause 34, "no circuit/channel available": what a caller hears when every
/// gateway of the pool failed (RFC 3326 §2, ITU-T Q.850 Table 1).
pub(crate) const NO_CIRCUIT: &str = "Q.850;cause=34;text=\"No circuit/channel available\"";

/// Puts an SDP body on a message.
pub(crate) fn set_sdp(headers: &mut Headers, body: &mut Vec<u8>, sdp: &sb_sdp::SessionDescription) {
    headers.remove(sb_sip_msg::HeaderName::ContentType);
    headers.push(Header::ContentType("application/sdp".into()));
    *body = sdp.to_string().into_bytes();
}

/// `Allow` and `Supported` on our INVITEs and 2xx responses.
pub(crate) fn capabilities_headers(h: &mut Headers, supported: &[&str]) {
    for m in ALLOW {
        h.push(Header::Allow(m));
    }
    for s in supported {
        h.push(Header::Supported((*s).to_string()));
    }
}

/// A digit and its duration from an `application/dtmf-relay` INFO body
/// (`Signal=5\r\nDuration=160`), the de-facto format of Cisco and most gateways.
pub(crate) fn dtmf_relay(body: &[u8]) -> Option<(char, u32)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut digit = None;
    let mut duration = 250;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "signal" => {
                let c = match v {
                    "10" => '*',
                    "11" => '#',
                    _ if v.len() == 1 => v.chars().next()?.to_ascii_uppercase(),
                    _ => return None,
                };
                if !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D') {
                    return None;
                }
                digit = Some(c);
            }
            "duration" => duration = v.parse::<u32>().ok()?.clamp(40, 5000),
            _ => {}
        }
    }
    digit.map(|d| (d, duration))
}

/// True when the message's Content-Type is `media` (parameters ignored).
pub(crate) fn content_type_is(h: &Headers, media: &str) -> bool {
    h.content_type().is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(media)
    })
}

/// The `;pool=` parameter of a Request-URI: the front end's route names the pool.
pub(crate) fn pool_param(req: &Request) -> Option<String> {
    match &req.uri {
        Uri::Sip(u) => u.params.value("pool").map(str::to_string),
        Uri::Tel(t) => t.params.value("pool").map(str::to_string),
        Uri::Other { .. } => None,
    }
}

/// A response to `req` with `Warning` (RFC 3261 §20.43) naming why.
pub(crate) fn with_warning(mut resp: Response, code: u16, host: &str, text: &str) -> Response {
    resp.headers.push(other(
        "Warning",
        format!("{code} {host} \"{}\"", text.replace('"', "'")),
    ));
    resp
}
