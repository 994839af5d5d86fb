//! Request-path helpers of RFC 3261 §16: recognising our own URIs, route preprocessing
//! (§16.4), the loop-detection hash (§16.3 step 4, §16.6 step 8), our Via and
//! Record-Route values, and next hops that need no lookup.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use sb_sip_core::{Peer, TransportKind};
use sb_sip_msg::header::BRANCH_MAGIC;
use sb_sip_msg::{Header, Host, NameAddr, Params, Request, SipUri, Transport, Uri, Via};

use crate::types::{Listen, ProxyConfig};

/// FNV-1a, 64 bits: stable across runs and platforms, which a hash carried in a Via
/// branch and compared on a later request must be.
pub(crate) fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(b"\x1f") {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The loop-detection hash of §16.6 step 8 over the fields §16.3 step 4 names: the
/// Request-URI, To tag, From tag, Call-ID, CSeq number, Route values and Proxy-Require,
/// as received. A request that comes back with all of these unchanged is a loop; one
/// that comes back with a new Request-URI is a spiral and is processed again.
pub(crate) fn loop_hash(req: &Request) -> String {
    let uri = req.uri.to_string();
    let to_tag = req.headers.to().and_then(NameAddr::tag).unwrap_or("");
    let from_tag = req.headers.from().and_then(NameAddr::tag).unwrap_or("");
    let call_id = req.headers.call_id().map_or("", |c| c.as_str());
    let cseq = req.headers.cseq().map_or(0, |c| c.seq).to_string();
    let mut routes = String::new();
    for r in req.headers.routes() {
        let _ = write!(routes, "{r},");
    }
    let mut preq = String::new();
    for p in req.headers.proxy_require() {
        let _ = write!(preq, "{p},");
    }
    let h = fnv64(&[
        uri.as_bytes(),
        to_tag.as_bytes(),
        from_tag.as_bytes(),
        call_id.as_bytes(),
        cseq.as_bytes(),
        routes.as_bytes(),
        preq.as_bytes(),
    ]);
    format!("{h:016x}")
}

/// The loop-hash part of a branch we generated: `z9hG4bK<hash>.<unique>`.
pub(crate) fn branch_loop_hash(branch: &str) -> Option<&str> {
    branch.strip_prefix(BRANCH_MAGIC)?.split('.').next()
}

/// The context number in a branch we generated: `z9hG4bK<hash>.<context>.<seq>`.
pub(crate) fn branch_context(branch: &str) -> Option<u64> {
    let mut parts = branch.strip_prefix(BRANCH_MAGIC)?.split('.');
    let _hash = parts.next()?;
    let ctx = parts.next()?;
    u64::from_str_radix(ctx, 16).ok()
}

fn default_port(uri: &SipUri) -> u16 {
    let tls = uri.secure
        || uri
            .params
            .value("transport")
            .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
    if tls {
        5061
    } else {
        5060
    }
}

/// True when `uri` names this proxy: one of our hosts (or aliases) and, for a listen
/// address, its port (RFC 3261 §19.1.4 default ports when absent).
pub(crate) fn is_local(cfg: &ProxyConfig, uri: &Uri) -> bool {
    let Some(u) = uri.as_sip() else {
        return false;
    };
    let port = u.port.unwrap_or_else(|| default_port(u));
    cfg.listen
        .iter()
        .any(|l| l.host.eq_ignore_case(&u.host) && l.port == port)
        || cfg.aliases.iter().any(|a| a.eq_ignore_case(&u.host))
}

/// True when a Via names this proxy as sent-by.
pub(crate) fn is_local_via(cfg: &ProxyConfig, via: &Via) -> bool {
    let port = via.port.unwrap_or(5060);
    cfg.listen
        .iter()
        .any(|l| l.host.eq_ignore_case(&via.host) && l.port == port)
}

/// §16.4 route information preprocessing. If the Request-URI is a value we put in a
/// Record-Route, the previous hop is a strict router (RFC 2543): the real Request-URI is
/// the last Route value, which is removed. Then our own URIs on top of the Route set are
/// removed (one, or two after RFC 5658 double record-routing). Returns whether the
/// strict-route fix-up happened.
pub(crate) fn preprocess(cfg: &ProxyConfig, req: &mut Request) -> bool {
    let mut fixed = false;
    if is_local(cfg, &req.uri) && req.uri.as_sip().is_some_and(|u| u.user.is_none()) {
        let last = req
            .headers
            .0
            .iter()
            .rposition(|h| matches!(h, Header::Route(_)));
        if let Some(at) = last {
            if let Header::Route(r) = req.headers.0.remove(at) {
                req.uri = r.uri;
                fixed = true;
            }
        }
    }
    // Our own URIs on top: one per Record-Route we added, two when we double
    // record-routed across transports (RFC 5658 §4, one value per side). Leaving the
    // second would send the request to ourselves over the other transport.
    while let Some(at) = req
        .headers
        .0
        .iter()
        .position(|h| matches!(h, Header::Route(_)))
    {
        if !matches!(&req.headers.0[at], Header::Route(r) if is_local(cfg, &r.uri)) {
            break;
        }
        req.headers.0.remove(at);
    }
    fixed
}

fn listen_for(cfg: &ProxyConfig, transport: TransportKind) -> &Listen {
    cfg.listen
        .iter()
        .find(|l| l.transport == transport)
        .unwrap_or(&cfg.listen[0])
}

fn via_transport(t: TransportKind) -> Transport {
    match t {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
        TransportKind::Ws => Transport::Ws,
        TransportKind::Wss => Transport::Wss,
    }
}

/// Our Via for a request leaving over `transport` (§16.6 step 8).
pub(crate) fn our_via(cfg: &ProxyConfig, transport: TransportKind, branch: String) -> Via {
    let l = listen_for(cfg, transport);
    let mut params = Params::new();
    params.set("branch", Some(&branch));
    Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: via_transport(transport),
        host: l.host.clone(),
        port: Some(l.port),
        params,
    }
}

/// A Record-Route value reachable over `transport` (§16.6 step 4), with `lr` so that the
/// UAs loose-route through us.
pub(crate) fn record_route(cfg: &ProxyConfig, transport: TransportKind) -> NameAddr {
    let l = listen_for(cfg, transport);
    let mut params = Params::new();
    match transport {
        TransportKind::Udp => {}
        TransportKind::Tcp => params.set("transport", Some("tcp")),
        TransportKind::Tls => params.set("transport", Some("tls")),
        TransportKind::Ws | TransportKind::Wss => params.set("transport", Some("ws")),
    }
    params.set("lr", None);
    NameAddr::new(Uri::Sip(SipUri {
        secure: false,
        user: None,
        password: None,
        host: l.host.clone(),
        port: Some(l.port),
        params,
        headers: Vec::new(),
    }))
}

/// Record-Route for a request arriving over `inbound` and leaving over `outbound`. When
/// the transports differ, RFC 5658 double record-routing: the value facing the callee
/// goes on top, the one facing the caller below it.
pub(crate) fn insert_record_route(
    cfg: &ProxyConfig,
    req: &mut Request,
    inbound: TransportKind,
    outbound: TransportKind,
) {
    let at = req
        .headers
        .0
        .iter()
        .position(|h| matches!(h, Header::RecordRoute(_)))
        .unwrap_or(req.headers.0.len());
    let mut values = vec![Header::RecordRoute(record_route(cfg, outbound))];
    if inbound != outbound {
        values.push(Header::RecordRoute(record_route(cfg, inbound)));
    }
    for (i, v) in values.into_iter().enumerate() {
        req.headers.0.insert(at + i, v);
    }
}

fn transport_of(uri: &SipUri) -> TransportKind {
    match uri.params.value("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => TransportKind::Tcp,
        Some(t) if t.eq_ignore_ascii_case("tls") => TransportKind::Tls,
        Some(t) if t.eq_ignore_ascii_case("ws") => TransportKind::Ws,
        Some(t) if t.eq_ignore_ascii_case("wss") => TransportKind::Wss,
        _ if uri.secure => TransportKind::Tls,
        _ => TransportKind::Udp,
    }
}

/// The next hop of a URI whose host is an IP literal (no RFC 3263 lookup needed).
pub fn literal_peer(uri: &Uri) -> Option<Peer> {
    let u = uri.as_sip()?;
    let ip = match &u.host {
        Host::V4(a) => IpAddr::V4(*a),
        Host::V6(a) => IpAddr::V6(*a),
        Host::Domain(_) => return None,
    };
    let port = u.port.unwrap_or_else(|| default_port(u));
    Some(Peer::new(transport_of(u), SocketAddr::new(ip, port)))
}

/// Where a response goes when no transaction holds the way back (§18.2.2): the top Via's
/// `received`/`rport`, else its sent-by, when those are IP literals.
pub(crate) fn via_peer(via: &Via) -> Option<Peer> {
    let ip = via.received_ip().or(match &via.host {
        Host::V4(a) => Some(IpAddr::V4(*a)),
        Host::V6(a) => Some(IpAddr::V6(*a)),
        Host::Domain(_) => None,
    })?;
    let port = via.response_port().unwrap_or(5060);
    let t = match via.transport {
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
        Transport::Ws => TransportKind::Ws,
        Transport::Wss => TransportKind::Wss,
        _ => TransportKind::Udp,
    };
    Some(Peer::new(t, SocketAddr::new(ip, port)))
}

/// The next hop of an in-dialog request: the top Route (loose routing, §16.12), else the
/// Request-URI.
pub(crate) fn next_hop_uri(req: &Request) -> Uri {
    req.headers
        .routes()
        .next()
        .map_or_else(|| req.uri.clone(), |r| r.uri.clone())
}

/// The user URI an in-dialog request was sent to when it names a user at this proxy
/// and carries no further Route (see [`crate::RouteKind::InDialogToUser`]): its next hop
/// would be this proxy itself.
pub(crate) fn local_user_target(cfg: &ProxyConfig, req: &Request) -> Option<Uri> {
    let no_route = req.headers.routes().next().is_none();
    let has_user = req.uri.as_sip().is_some_and(|u| u.user.is_some());
    (no_route && has_user && is_local(cfg, &req.uri)).then(|| req.uri.clone())
}

/// Sets Max-Forwards in place (§16.6 step 3), or adds it after the Vias when absent.
pub(crate) fn set_max_forwards(req: &mut Request, value: u32) {
    if let Some(h) = req
        .headers
        .0
        .iter_mut()
        .find(|h| matches!(h, Header::MaxForwards(_)))
    {
        *h = Header::MaxForwards(value);
        return;
    }
    let at = req
        .headers
        .0
        .iter()
        .rposition(|h| matches!(h, Header::Via(_)))
        .map_or(0, |p| p + 1);
    req.headers.0.insert(at, Header::MaxForwards(value));
}
