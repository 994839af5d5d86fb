//! Request processing of RFC 3261 §16.3–16.6 and §16.11 on the proxy alone: what leaves
//! it for a given request.

use std::net::SocketAddr;
use std::time::Instant;

use sb_netsim::sip::{response_to, sip_uri, RequestBuilder};
use sb_proxy::{Plan, Proxy, ProxyConfig, ProxyEvent, Query, RouteDecision, RouteKind, Target};
use sb_sip_core::{Peer, TimerConfig, Transmit};
use sb_sip_msg::{Header, Message, Method, NameAddr, Request, Response, StatusCode, Uri};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

const ME: &str = "192.0.2.1:5060";
const CALLER: &str = "192.0.2.2:5060";
const CALLEE: &str = "192.0.2.3:5060";

fn proxy() -> Proxy {
    Proxy::new(ProxyConfig::udp(addr(ME)), TimerConfig::default(), 9)
}

fn invite(method: Method, uri: Uri, branch: &str) -> RequestBuilder {
    RequestBuilder::new(method, "bob", "example.com")
        .uri(uri)
        .via_udp("192.0.2.2", 5060, Some(branch))
        .from("alice", "example.com", "a1")
        .call_id("c1")
        .cseq(1)
}

fn drain(p: &mut Proxy) -> Vec<Transmit> {
    std::iter::from_fn(|| p.poll_transmit()).collect()
}

fn responses(out: &[Transmit]) -> Vec<&Response> {
    out.iter()
        .filter_map(|t| match &t.message {
            Message::Response(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn requests(out: &[Transmit]) -> Vec<(&Request, Peer)> {
    out.iter()
        .filter_map(|t| match &t.message {
            Message::Request(r) => Some((r, t.to)),
            _ => None,
        })
        .collect()
}

fn route_query(p: &mut Proxy) -> Option<(sb_proxy::QueryId, RouteKind, Request)> {
    p.poll_query().map(|q| match q {
        Query::Route {
            id, kind, request, ..
        } => (id, kind, request),
        _ => unreachable!("only route queries exist"),
    })
}

fn our_uri() -> Uri {
    let mut u = sip_uri("", "192.0.2.1");
    if let Uri::Sip(s) = &mut u {
        s.port = Some(5060);
        s.params.set("lr", None);
    }
    u
}

fn ua_uri(host: &str) -> Uri {
    let mut u = sip_uri("bob", host);
    if let Uri::Sip(s) = &mut u {
        s.port = Some(5060);
    }
    u
}

#[test]
fn max_forwards_zero_is_483_but_options_to_us_is_answered() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bK1")
        .no_max_forwards()
        .header(Header::MaxForwards(0))
        .build();
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    assert_eq!(responses(&out)[0].status, StatusCode::TOO_MANY_HOPS);
    assert!(p.poll_query().is_none());

    let mut opts = invite(Method::Options, our_uri(), "z9hG4bK2")
        .no_max_forwards()
        .header(Header::MaxForwards(0))
        .build();
    opts.uri = sip_uri("", "192.0.2.1");
    p.handle_request(now, opts, Peer::udp(addr(CALLER)));
    assert_eq!(responses(&drain(&mut p))[0].status, StatusCode::OK);
}

#[test]
fn unknown_proxy_require_is_420_with_unsupported() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bK1")
        .header(Header::ProxyRequire("foo".into()))
        .build();
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    let r = responses(&out)[0];
    assert_eq!(r.status, StatusCode::BAD_EXTENSION);
    assert!(r
        .headers
        .iter()
        .any(|h| matches!(h, Header::Unsupported(t) if t == "foo")));
}

/// Sends `req` in, routes it to `target_uri` at the callee, returns what was forwarded.
fn forward_once(p: &mut Proxy, now: Instant, req: Request, target_uri: Uri) -> Request {
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let (id, _, _) = route_query(p).expect("a route query");
    let t = Target::new(target_uri, Peer::udp(addr(CALLEE)));
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![t])));
    let out = drain(p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(to.addr, addr(CALLEE));
    fwd.clone()
}

#[test]
fn the_same_request_coming_back_unchanged_is_a_loop_482() {
    let now = Instant::now();
    let mut p = proxy();
    let uri = sip_uri("bob", "example.com");
    let req = invite(Method::Invite, uri.clone(), "z9hG4bKloop").build();
    // Routed onward with the Request-URI unchanged, and the next hop sends it back.
    let fwd = forward_once(&mut p, now, req, uri);
    p.handle_request(now, fwd, Peer::udp(addr(CALLEE)));
    let out = drain(&mut p);
    let r = responses(&out);
    assert_eq!(r.len(), 1, "{out:?}");
    assert_eq!(r[0].status, StatusCode::LOOP_DETECTED);
    assert!(route_query(&mut p).is_none());
}

#[test]
fn a_spiral_with_a_new_request_uri_is_proxied_again() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bKsp").build();
    let mut fwd = forward_once(&mut p, now, req, sip_uri("bob", "pbx.example.com"));
    // The PBX retargets to another user and sends it back to us.
    fwd.uri = sip_uri("carol", "example.com");
    p.handle_request(now, fwd, Peer::udp(addr(CALLEE)));
    let out = drain(&mut p);
    assert!(responses(&out)
        .iter()
        .all(|r| r.status != StatusCode::LOOP_DETECTED));
    let (_, kind, q) = route_query(&mut p).expect("spiral is routed again");
    assert_eq!(kind, RouteKind::Initial);
    assert_eq!(q.uri, sip_uri("carol", "example.com"));
}

#[test]
fn forwarded_request_has_our_via_record_route_and_one_less_max_forwards() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bKf").build();
    let fwd = forward_once(&mut p, now, req, ua_uri("192.0.2.3"));
    assert_eq!(fwd.uri, ua_uri("192.0.2.3"));
    assert_eq!(fwd.headers.max_forwards(), Some(69));
    let top = fwd.headers.top_via().expect("via");
    assert_eq!(top.host.to_string(), "192.0.2.1");
    assert!(top.has_rfc3261_branch());
    let rr: Vec<String> = fwd.headers.record_routes().map(|r| r.to_string()).collect();
    assert_eq!(rr, vec!["<sip:192.0.2.1:5060;lr>"]);
    // The caller got 100 Trying at once.
    let _ = p.poll_event();
}

#[test]
fn tcp_to_udp_is_double_record_routed() {
    let now = Instant::now();
    let mut cfg = ProxyConfig::udp(addr(ME));
    cfg.listen.push(sb_proxy::Listen {
        transport: sb_sip_core::TransportKind::Tcp,
        host: sb_sip_msg::Host::V4("192.0.2.1".parse().unwrap()),
        port: 5060,
    });
    let mut p = Proxy::new(cfg, TimerConfig::default(), 1);
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bKt").build();
    let from = Peer::new(sb_sip_core::TransportKind::Tcp, addr(CALLER));
    p.handle_request(now, req, from);
    let (id, _, _) = route_query(&mut p).unwrap();
    let t = Target::new(ua_uri("192.0.2.3"), Peer::udp(addr(CALLEE)));
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![t])));
    let out = drain(&mut p);
    let (fwd, _) = requests(&out)[0];
    let rr: Vec<String> = fwd.headers.record_routes().map(|r| r.to_string()).collect();
    assert_eq!(
        rr,
        vec![
            "<sip:192.0.2.1:5060;lr>".to_string(),
            "<sip:192.0.2.1:5060;transport=tcp;lr>".to_string()
        ]
    );
}

fn route(uri: Uri) -> Header {
    Header::Route(NameAddr::new(uri))
}

#[test]
fn in_dialog_bye_follows_the_route_set_and_pops_our_route() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = invite(Method::Bye, ua_uri("192.0.2.3"), "z9hG4bKbye")
        .to("bob", "example.com", Some("b1"))
        .header(route(our_uri()))
        .build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    assert!(p.poll_query().is_none(), "an IP next hop needs no lookup");
    let out = drain(&mut p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(to.addr, addr(CALLEE));
    assert_eq!(fwd.method, Method::Bye);
    assert_eq!(fwd.headers.routes().count(), 0);
    assert_eq!(fwd.headers.record_routes().count(), 0);

    // The callee's 200 goes back to the caller with our Via removed.
    let ok = response_to(fwd, StatusCode::OK, Some("b1"));
    p.handle_response(now, ok, Peer::udp(addr(CALLEE)));
    let out = drain(&mut p);
    let r = responses(&out);
    assert_eq!(r[0].status, StatusCode::OK);
    assert_eq!(r[0].headers.vias().count(), 1);
    assert_eq!(out[0].to.addr, addr(CALLER));
}

#[test]
fn in_dialog_request_with_a_further_loose_route_goes_to_that_hop() {
    let now = Instant::now();
    let mut p = proxy();
    let next = {
        let mut u = sip_uri("", "192.0.2.9");
        if let Uri::Sip(s) = &mut u {
            s.params.set("lr", None);
        }
        u
    };
    let info = invite(Method::Info, ua_uri("192.0.2.3"), "z9hG4bKinfo")
        .to("bob", "example.com", Some("b1"))
        .header(route(our_uri()))
        .header(route(next.clone()))
        .build();
    p.handle_request(now, info, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(to.addr, addr("192.0.2.9:5060"));
    assert_eq!(fwd.uri, ua_uri("192.0.2.3"));
    assert_eq!(
        fwd.headers
            .routes()
            .map(|r| r.uri.clone())
            .collect::<Vec<_>>(),
        vec![next]
    );
}

/// RFC 5658 §4: a request coming back with both of our double Record-Route values as its
/// top Routes has both removed and goes straight to the remote target, not to ourselves
/// over the other transport (which would add a second Via of ours).
#[test]
fn in_dialog_request_with_both_double_record_route_values_pops_both() {
    let now = Instant::now();
    let mut cfg = ProxyConfig::udp(addr(ME));
    cfg.listen.push(sb_proxy::Listen {
        transport: sb_sip_core::TransportKind::Tcp,
        host: sb_sip_msg::Host::V4("192.0.2.1".parse().unwrap()),
        port: 5060,
    });
    let mut p = Proxy::new(cfg, TimerConfig::default(), 1);
    let mut tcp_side = our_uri();
    if let Uri::Sip(s) = &mut tcp_side {
        s.params.set("transport", Some("tcp"));
    }
    // The TCP caller's route set: the Record-Route values reversed (§12.1.2).
    let reinvite = invite(Method::Invite, ua_uri("192.0.2.3"), "z9hG4bKdrr")
        .to("bob", "example.com", Some("b1"))
        .header(route(tcp_side))
        .header(route(our_uri()))
        .build();
    let from = Peer::new(sb_sip_core::TransportKind::Tcp, addr(CALLER));
    p.handle_request(now, reinvite, from);
    assert!(p.poll_query().is_none(), "an IP next hop needs no lookup");
    let out = drain(&mut p);
    let sent = requests(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    let (fwd, to) = sent[0];
    assert_eq!(to.addr, addr(CALLEE), "not to ourselves");
    assert_eq!(fwd.headers.routes().count(), 0);
    assert_eq!(fwd.headers.vias().count(), 2, "one Via of ours");
}

/// A further Route naming a host (not an address) is asked as `InDialog`; the answer
/// says where that hop is, and the request goes there with its Request-URI (the remote
/// target) unchanged and the Route kept (§16.12 loose routing).
#[test]
fn in_dialog_route_to_a_named_hop_keeps_the_request_uri() {
    let now = Instant::now();
    let mut p = proxy();
    let next = {
        let mut u = sip_uri("", "gw.example.net");
        if let Uri::Sip(s) = &mut u {
            s.params.set("lr", None);
        }
        u
    };
    let bye = invite(Method::Bye, ua_uri("192.0.2.3"), "z9hG4bKnamed")
        .to("bob", "example.com", Some("b1"))
        .header(route(our_uri()))
        .header(route(next.clone()))
        .build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    let (id, kind, _) = route_query(&mut p).expect("a name needs resolving");
    assert_eq!(
        kind,
        RouteKind::InDialog {
            next_hop: next.clone()
        }
    );
    let hop = Target::new(next.clone(), Peer::udp(addr("192.0.2.9:5060")));
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![hop])));
    let out = drain(&mut p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(to.addr, addr("192.0.2.9:5060"));
    assert_eq!(fwd.uri, ua_uri("192.0.2.3"), "the remote target stays");
    assert_eq!(
        fwd.headers
            .routes()
            .map(|r| r.uri.clone())
            .collect::<Vec<_>>(),
        vec![next]
    );
}

#[test]
fn strict_router_upstream_is_fixed_up() {
    let now = Instant::now();
    let mut p = proxy();
    // An RFC 2543 strict router put our Record-Route value in the Request-URI and moved
    // the remote target to the end of the Route set.
    let mut ours = sip_uri("", "192.0.2.1");
    if let Uri::Sip(s) = &mut ours {
        s.port = Some(5060);
        s.params.set("lr", None);
    }
    let bye = invite(Method::Bye, ours, "z9hG4bKstrict")
        .to("bob", "example.com", Some("b1"))
        .header(route(ua_uri("192.0.2.3")))
        .build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(fwd.uri, ua_uri("192.0.2.3"));
    assert_eq!(fwd.headers.routes().count(), 0);
    assert_eq!(to.addr, addr(CALLEE));
}

#[test]
fn ack_for_2xx_is_forwarded_statelessly_with_a_stable_branch() {
    let now = Instant::now();
    let mut p = proxy();
    let ack = invite(Method::Ack, ua_uri("192.0.2.3"), "z9hG4bKack")
        .to("bob", "example.com", Some("b1"))
        .header(route(our_uri()))
        .build();
    p.handle_request(now, ack.clone(), Peer::udp(addr(CALLER)));
    p.handle_request(now, ack, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    let sent = requests(&out);
    assert_eq!(sent.len(), 2, "each ACK copy is forwarded");
    let b0 = sent[0]
        .0
        .headers
        .top_via()
        .and_then(|v| v.branch())
        .unwrap();
    let b1 = sent[1]
        .0
        .headers
        .top_via()
        .and_then(|v| v.branch())
        .unwrap();
    assert_eq!(b0, b1);
    assert_eq!(sent[0].1.addr, addr(CALLEE));
    assert_eq!(p.transactions(), 0, "no transaction for a 2xx ACK");
}

#[test]
fn a_rejected_route_answers_with_its_status_and_headers() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(Method::Invite, sip_uri("bob", "example.com"), "z9hG4bKr").build();
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let (id, _, _) = route_query(&mut p).unwrap();
    let warning = Header::Other(sb_sip_msg::OtherHeader {
        name: "Warning".into(),
        value: "399 sb \"international calls not allowed\"".into(),
    });
    p.handle_route_decision(
        now,
        id,
        RouteDecision::Reject {
            status: StatusCode(403),
            headers: vec![warning],
        },
    );
    let out = drain(&mut p);
    let finals: Vec<&Response> = responses(&out)
        .into_iter()
        .filter(|r| r.status.0 >= 200)
        .collect();
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0].status.0, 403);
    assert_eq!(finals[0].headers.other("Warning").count(), 1);
    assert!(finals[0].headers.to().and_then(|t| t.tag()).is_some());
    let events: Vec<ProxyEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(events.contains(&ProxyEvent::Finished {
        ctx: sb_proxy::ContextId(0),
        status: StatusCode(403)
    }));
    assert_eq!(p.contexts(), 0);
}

#[test]
fn a_lost_connection_to_the_first_gateway_fails_over_to_the_second() {
    let now = Instant::now();
    let mut p = proxy();
    let req = invite(
        Method::Invite,
        sip_uri("+14255551212", "example.com"),
        "z9hG4bKgw",
    )
    .build();
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let (id, _, _) = route_query(&mut p).unwrap();
    let gw1 = Peer::new(sb_sip_core::TransportKind::Tcp, addr("192.0.2.20:5060"))
        .with_conn(sb_sip_core::ConnId(7));
    let gw2 = Peer::udp(addr("192.0.2.21:5060"));
    let plan = Plan::sequential(vec![
        Target::new(ua_uri("192.0.2.20"), gw1),
        Target::new(ua_uri("192.0.2.21"), gw2),
    ]);
    p.handle_route_decision(now, id, RouteDecision::Forward(plan));
    let out = drain(&mut p);
    let sent: Vec<Peer> = requests(&out).iter().map(|(_, to)| *to).collect();
    assert_eq!(sent, vec![gw1]);

    p.handle_connection_lost(now, sb_sip_core::ConnId(7));
    let out = drain(&mut p);
    let sent: Vec<Peer> = requests(&out).iter().map(|(_, to)| *to).collect();
    assert_eq!(sent, vec![gw2]);
    assert!(responses(&out).iter().all(|r| r.status.0 < 200));
}

#[test]
fn a_forked_message_gets_exactly_one_final_answer_upstream() {
    let now = Instant::now();
    let mut p = proxy();
    let msg = invite(Method::Message, sip_uri("bob", "example.com"), "z9hG4bKm").build();
    p.handle_request(now, msg, Peer::udp(addr(CALLER)));
    let (id, _, _) = route_query(&mut p).unwrap();
    let a = Target::new(ua_uri("192.0.2.3"), Peer::udp(addr(CALLEE)));
    let b = Target::new(ua_uri("192.0.2.4"), Peer::udp(addr("192.0.2.4:5060")));
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![a, b])));
    let out = drain(&mut p);
    let fwd: Vec<Request> = requests(&out).iter().map(|(r, _)| (*r).clone()).collect();
    assert_eq!(fwd.len(), 2);
    let mut up = Vec::new();
    for (i, f) in fwd.iter().enumerate() {
        let ok = response_to(f, StatusCode::OK, Some(&format!("t{i}")));
        p.handle_response(now, ok, Peer::udp(addr(CALLEE)));
        up.extend(drain(&mut p));
    }
    let finals: Vec<u16> = responses(&up).iter().map(|r| r.status.0).collect();
    assert_eq!(finals, vec![200]);
}

#[test]
fn a_request_forked_back_to_ourselves_unchanged_ends_in_482_not_a_storm() {
    let now = Instant::now();
    let mut p = proxy();
    let uri = sip_uri("bob", "example.com");
    let req = invite(Method::Invite, uri.clone(), "z9hG4bKstorm").build();
    p.handle_request(now, req, Peer::udp(addr(CALLER)));
    let (id, _, _) = route_query(&mut p).unwrap();
    // A misconfigured route: two branches, both back to this proxy, URI unchanged.
    let me = Peer::udp(addr(ME));
    let plan = Plan::parallel(vec![Target::new(uri.clone(), me), Target::new(uri, me)]);
    p.handle_route_decision(now, id, RouteDecision::Forward(plan));
    // Deliver everything sent to ourselves back to ourselves until nothing is left.
    let mut to_caller = Vec::new();
    let mut rounds = 0;
    loop {
        let out = drain(&mut p);
        if out.is_empty() {
            break;
        }
        rounds += 1;
        assert!(rounds < 10, "messages keep circulating");
        for t in out {
            if t.to.addr == addr(ME) {
                p.handle_message(now, t.message, me);
            } else {
                to_caller.push(t);
            }
        }
        assert!(
            p.poll_query().is_none(),
            "a looped request must not be routed again"
        );
    }
    let finals: Vec<u16> = responses(&to_caller)
        .iter()
        .map(|r| r.status.0)
        .filter(|c| *c >= 200)
        .collect();
    assert_eq!(finals, vec![482]);
}
