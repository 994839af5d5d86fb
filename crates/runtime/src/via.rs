//! The transport layer's Via rules: stamping received requests (RFC 3261 §18.2.1 with
//! RFC 3581) and choosing where a response goes (§18.2.2 with RFC 3581 §4).
//!
//! Pitfall written down once: a client behind a NAT puts its private address in the Via
//! sent-by. Answering to the sent-by sends the response into the void; RFC 3581's `rport`
//! asks us to answer to the source address and port the request came from instead, which is
//! what the NAT binding accepts. We always stamp `received` and fill `rport` on the way in,
//! so the way out only has to read them.

use sb_sip_core::{Peer, TransportKind};
use sb_sip_msg::{Host, Request, Response};
use std::net::{IpAddr, SocketAddr};

/// RFC 3261 §18.2.1: adds `received` to the top Via when its sent-by host is not the
/// address the request came from; RFC 3581 §4: fills a bare `rport` with the source port
/// (and then adds `received` even when the host matches).
pub fn stamp_received(req: &mut Request, source: SocketAddr) {
    let Some(via) = req.headers.top_via_mut() else {
        return;
    };
    let src_ip = source.ip().to_canonical();
    let wants_rport = via.params.contains("rport");
    let host_matches = match &via.host {
        Host::V4(a) => IpAddr::V4(*a) == src_ip,
        Host::V6(a) => IpAddr::V6(*a).to_canonical() == src_ip,
        Host::Domain(_) => false,
    };
    if !host_matches || wants_rport {
        via.params.set("received", Some(&src_ip.to_string()));
    }
    if wants_rport {
        via.params.set("rport", Some(&source.port().to_string()));
    }
}

/// Where a response goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseRoute {
    /// Over the connection the request came in on (if it is still open), else a new
    /// connection to `addr`.
    Connection { peer: Peer, addr: SocketAddr },
    /// A datagram to this address.
    Datagram(SocketAddr),
}

/// RFC 3261 §18.2.2 and RFC 3581 §4: where to send `resp`, given the peer its request came
/// from. Messages without a typed Via (a 400 built from an unparsable request) go back to
/// the source, which is where a client expects an answer from a symmetric server.
pub fn route_response(resp: &Response, peer: Peer) -> ResponseRoute {
    let Some(via) = resp.headers.top_via() else {
        return route_to_source(peer);
    };
    let default_port = match peer.transport {
        TransportKind::Tls | TransportKind::Wss => 5061,
        _ => 5060,
    };
    let received: Option<IpAddr> = via.received().and_then(parse_ip);
    let sent_by_ip: Option<IpAddr> = match &via.host {
        Host::V4(a) => Some(IpAddr::V4(*a)),
        Host::V6(a) => Some(IpAddr::V6(*a)),
        // A domain would need an RFC 3263 lookup; the source address is the best we have.
        Host::Domain(_) => None,
    };
    let port = via.port.unwrap_or(default_port);
    if peer.transport.is_reliable() {
        // §18.2.2: reuse the connection; failing that, connect to received (or the
        // sent-by) with the sent-by port. Not rport: over a stream it is the client's
        // ephemeral source port, where nothing listens once the connection is gone.
        let ip = received.or(sent_by_ip).unwrap_or(peer.addr.ip());
        return ResponseRoute::Connection {
            peer,
            addr: SocketAddr::new(ip, port),
        };
    }
    if let Some(maddr) = via.maddr().and_then(parse_ip) {
        return ResponseRoute::Datagram(SocketAddr::new(maddr, port));
    }
    if let Some(ip) = received {
        // RFC 3581 §4: with rport filled in, answer to the source port.
        let port = via.rport().flatten().unwrap_or(port);
        return ResponseRoute::Datagram(SocketAddr::new(ip, port));
    }
    match sent_by_ip {
        Some(ip) => ResponseRoute::Datagram(SocketAddr::new(ip, port)),
        None => route_to_source(peer),
    }
}

fn route_to_source(peer: Peer) -> ResponseRoute {
    if peer.transport.is_reliable() {
        ResponseRoute::Connection {
            peer,
            addr: peer.addr,
        }
    } else {
        ResponseRoute::Datagram(peer.addr)
    }
}

/// An IP in a Via parameter; RFC 5118 §4.5 asks us to tolerate brackets around IPv6.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_sip_core::ConnId;
    use sb_sip_msg::{Header, Method, Params, SipUri, Transport, Uri, Via};

    fn via(host: Host, port: Option<u16>, params: &[(&str, Option<&str>)]) -> Via {
        let mut p = Params::new();
        for (n, v) in params {
            p.set(n, *v);
        }
        Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport: Transport::Udp,
            host,
            port,
            params: p,
        }
    }

    fn request(v: Via) -> Request {
        let uri = Uri::Sip(SipUri {
            secure: false,
            user: None,
            password: None,
            host: Host::Domain("example.com".into()),
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        });
        let mut r = Request::new(Method::Options, uri);
        r.headers.push(Header::Via(v));
        r
    }

    fn response(v: Via) -> Response {
        let mut r = Response::new(sb_sip_msg::StatusCode::OK);
        r.headers.push(Header::Via(v));
        r
    }

    const SRC: &str = "192.0.2.7:40000";

    #[test]
    fn received_is_added_only_when_the_host_differs() {
        let src: SocketAddr = SRC.parse().unwrap();
        let mut same = request(via(Host::V4([192, 0, 2, 7].into()), Some(5060), &[]));
        stamp_received(&mut same, src);
        assert_eq!(same.headers.top_via().unwrap().received(), None);

        let mut other = request(via(Host::Domain("pc.example.com".into()), None, &[]));
        stamp_received(&mut other, src);
        assert_eq!(
            other.headers.top_via().unwrap().received(),
            Some("192.0.2.7")
        );
        assert_eq!(other.headers.top_via().unwrap().rport(), None);
    }

    #[test]
    fn rport_is_filled_and_forces_received() {
        let src: SocketAddr = SRC.parse().unwrap();
        let mut r = request(via(
            Host::V4([192, 0, 2, 7].into()),
            Some(5060),
            &[("rport", None)],
        ));
        stamp_received(&mut r, src);
        let v = r.headers.top_via().unwrap();
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.received(), Some("192.0.2.7"));
    }

    #[test]
    fn ipv4_mapped_sources_compare_as_ipv4() {
        let src: SocketAddr = "[::ffff:192.0.2.7]:5060".parse().unwrap();
        let mut r = request(via(Host::V4([192, 0, 2, 7].into()), Some(5060), &[]));
        stamp_received(&mut r, src);
        assert_eq!(r.headers.top_via().unwrap().received(), None);
    }

    #[test]
    fn udp_routing_table() {
        let peer = Peer::udp(SRC.parse().unwrap());
        let d = |s: &str| ResponseRoute::Datagram(s.parse().unwrap());
        let v4 = || Host::V4([198, 51, 100, 1].into());
        let cases = [
            (
                "sent-by ip and port",
                via(v4(), Some(5070), &[]),
                d("198.51.100.1:5070"),
            ),
            (
                "sent-by default port",
                via(v4(), None, &[]),
                d("198.51.100.1:5060"),
            ),
            (
                "received",
                via(v4(), Some(5070), &[("received", Some("192.0.2.7"))]),
                d("192.0.2.7:5070"),
            ),
            (
                "received and rport",
                via(
                    v4(),
                    Some(5070),
                    &[("received", Some("192.0.2.7")), ("rport", Some("40000"))],
                ),
                d("192.0.2.7:40000"),
            ),
            (
                "maddr",
                via(v4(), Some(5070), &[("maddr", Some("239.0.0.1"))]),
                d("239.0.0.1:5070"),
            ),
            (
                "domain without received",
                via(Host::Domain("h.example".into()), None, &[]),
                d(SRC),
            ),
            (
                "bracketed ipv6 received (RFC 5118 4.5)",
                via(v4(), None, &[("received", Some("[2001:db8::9]"))]),
                d("[2001:db8::9]:5060"),
            ),
        ];
        for (name, v, want) in cases {
            assert_eq!(route_response(&response(v), peer), want, "{name}");
        }
    }

    #[test]
    fn reliable_routing_prefers_the_connection_then_received() {
        let peer = Peer::new(TransportKind::Tcp, SRC.parse().unwrap()).with_conn(ConnId(3));
        let v = via(
            Host::Domain("h.example".into()),
            Some(5070),
            &[("received", Some("192.0.2.7")), ("rport", Some("40000"))],
        );
        assert_eq!(
            route_response(&response(v), peer),
            ResponseRoute::Connection {
                peer,
                addr: "192.0.2.7:5070".parse().unwrap()
            }
        );
        let no_via = Response::new(sb_sip_msg::StatusCode::BAD_REQUEST);
        assert_eq!(
            route_response(&no_via, peer),
            ResponseRoute::Connection {
                peer,
                addr: SRC.parse().unwrap()
            }
        );
    }
}
