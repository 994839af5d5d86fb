//! In-dialog requests sent to a user at the proxy's own address with no route set
//! (`BYE sip:bob@<proxy>`, as a UA that ignores Record-Route sends them): the proxy asks
//! for the user's devices ([`RouteKind::InDialogToUser`], RFC 3261 §16.5) instead of
//! forwarding the request to itself, which used to end in 482 (and, for a 2xx ACK, in
//! the ACK bouncing off ourselves until Max-Forwards ran out).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sb_netsim::sip::{response_to, sip_uri, RequestBuilder};
use sb_proxy::{Plan, Proxy, ProxyConfig, ProxyEvent, Query, RouteDecision, RouteKind, Target};
use sb_sip_core::{Peer, TimerConfig, Transmit};
use sb_sip_msg::{Header, Message, Method, NameAddr, Request, Response, StatusCode, Uri};

const ME: &str = "192.0.2.1:5060";
const CALLER: &str = "192.0.2.2:5060";
const DESK: &str = "192.0.2.3:5070";
const PHONE: &str = "192.0.2.4:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn proxy() -> Proxy {
    Proxy::new(ProxyConfig::udp(addr(ME)), TimerConfig::default(), 11)
}

/// `sip:USER@HOST:PORT` from a socket address.
fn uri_at(user: &str, at: &str) -> Uri {
    let a = addr(at);
    let mut u = sip_uri(user, &a.ip().to_string());
    if let Uri::Sip(s) = &mut u {
        s.port = Some(a.port());
    }
    u
}

/// A request of `method` inside the caller's dialog with bob (To tag b1), sent to `uri`.
fn in_dialog(method: Method, uri: Uri, branch: &str) -> RequestBuilder {
    RequestBuilder::new(method, "bob", "192.0.2.1")
        .uri(uri)
        .via_udp("192.0.2.2", 5060, Some(branch))
        .from("caller", "example.org", "a1")
        .to("bob", "192.0.2.1", Some("b1"))
        .call_id("dlg-1")
        .cseq(2)
}

fn drain(p: &mut Proxy) -> Vec<Transmit> {
    std::iter::from_fn(|| p.poll_transmit()).collect()
}

fn requests(out: &[Transmit]) -> Vec<(&Request, Peer)> {
    out.iter()
        .filter_map(|t| match &t.message {
            Message::Request(r) => Some((r, t.to)),
            _ => None,
        })
        .collect()
}

fn responses(out: &[Transmit]) -> Vec<(&Response, Peer)> {
    out.iter()
        .filter_map(|t| match &t.message {
            Message::Response(r) => Some((r, t.to)),
            _ => None,
        })
        .collect()
}

/// The one query the proxy asked, as (id, kind, request).
fn the_query(p: &mut Proxy) -> (sb_proxy::QueryId, RouteKind, Request) {
    let q = p
        .poll_query()
        .expect("the proxy asks where the request goes");
    assert!(p.poll_query().is_none(), "one query only");
    match q {
        Query::Route {
            id, kind, request, ..
        } => (id, kind, request),
        other => panic!("unexpected query {other:?}"),
    }
}

fn devices(contacts: &[(&str, &str)]) -> RouteDecision {
    let targets = contacts
        .iter()
        .map(|(user, at)| Target::new(uri_at(user, at), Peer::udp(addr(at))))
        .collect();
    RouteDecision::Forward(Plan::parallel(targets))
}

fn our_via_on_top(req: &Request) -> bool {
    req.headers
        .top_via()
        .is_some_and(|v| v.host.to_string() == "192.0.2.1" && v.port == Some(5060))
}

#[test]
fn a_bye_to_a_user_at_our_address_is_asked_as_a_lookup_and_reaches_the_device() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = in_dialog(Method::Bye, uri_at("bob", ME), "z9hG4bKbye1").build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));

    assert!(
        requests(&drain(&mut p)).is_empty(),
        "nothing may be forwarded before the lookup (it would go to ourselves)"
    );
    let (id, kind, asked) = the_query(&mut p);
    assert_eq!(
        kind,
        RouteKind::InDialogToUser {
            uri: uri_at("bob", ME)
        }
    );
    assert_eq!(asked.method, Method::Bye);

    p.handle_route_decision(now, id, devices(&[("bob", DESK)]));
    let out = drain(&mut p);
    let sent = requests(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    let (fwd, to) = sent[0];
    assert_eq!(to.addr, addr(DESK));
    assert_eq!(fwd.uri, uri_at("bob", DESK), "§16.6 step 2: the contact");
    assert!(our_via_on_top(fwd));
    assert_eq!(fwd.headers.vias().count(), 2);
    assert_eq!(fwd.headers.record_routes().count(), 0, "never in a dialog");
    assert_eq!(fwd.headers.max_forwards(), Some(69));

    // The device's 200 goes back to the caller without our Via.
    let ok = response_to(fwd, StatusCode::OK, Some("b1"));
    p.handle_response(now, ok, Peer::udp(addr(DESK)));
    let out = drain(&mut p);
    let back = responses(&out);
    assert_eq!(back.len(), 1, "{out:?}");
    assert_eq!(back[0].0.status, StatusCode::OK);
    assert_eq!(back[0].1.addr, addr(CALLER));
    assert_eq!(back[0].0.headers.vias().count(), 1);
    let events: Vec<ProxyEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ProxyEvent::Rejected { .. })),
        "{events:?}"
    );
}

#[test]
fn our_route_popped_leaves_a_user_at_our_address_which_is_looked_up_too() {
    let now = Instant::now();
    let mut p = proxy();
    let mut ours = sip_uri("", "192.0.2.1");
    if let Uri::Sip(s) = &mut ours {
        s.port = Some(5060);
        s.params.set("lr", None);
    }
    let info = in_dialog(Method::Info, uri_at("bob", ME), "z9hG4bKinfo1")
        .header(Header::Route(NameAddr::new(ours)))
        .build();
    p.handle_request(now, info, Peer::udp(addr(CALLER)));
    let (_, kind, asked) = the_query(&mut p);
    assert_eq!(
        kind,
        RouteKind::InDialogToUser {
            uri: uri_at("bob", ME)
        }
    );
    assert_eq!(
        asked.headers.routes().count(),
        0,
        "our Route is popped (§16.4)"
    );
}

#[test]
fn a_user_at_another_address_is_still_forwarded_there_without_a_lookup() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = in_dialog(Method::Bye, uri_at("bob", DESK), "z9hG4bKbye2").build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    assert!(p.poll_query().is_none(), "an IP next hop needs no lookup");
    let out = drain(&mut p);
    assert_eq!(requests(&out)[0].1.addr, addr(DESK));
}

#[test]
fn a_user_without_devices_gets_the_lookups_rejection_not_482() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = in_dialog(Method::Bye, uri_at("bob", ME), "z9hG4bKbye3").build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    let (id, _, _) = the_query(&mut p);
    p.handle_route_decision(
        now,
        id,
        RouteDecision::Reject {
            status: StatusCode(480),
            headers: Vec::new(),
        },
    );
    let out = drain(&mut p);
    let back = responses(&out);
    assert_eq!(back.len(), 1, "{out:?}");
    assert_eq!(back[0].0.status.0, 480);
    assert!(requests(&out).is_empty());
}

#[test]
fn a_2xx_ack_to_a_user_at_our_address_goes_to_each_device_once_statelessly() {
    let now = Instant::now();
    let mut p = proxy();
    let ack = in_dialog(Method::Ack, uri_at("bob", ME), "z9hG4bKack1")
        .cseq(1)
        .build();
    p.handle_request(now, ack, Peer::udp(addr(CALLER)));
    assert!(requests(&drain(&mut p)).is_empty(), "not to ourselves");
    let (id, kind, _) = the_query(&mut p);
    assert_eq!(
        kind,
        RouteKind::InDialogToUser {
            uri: uri_at("bob", ME)
        }
    );
    p.handle_route_decision(now, id, devices(&[("bob", DESK), ("bob", PHONE)]));
    let out = drain(&mut p);
    let sent = requests(&out);
    let mut got: Vec<(String, SocketAddr)> = sent
        .iter()
        .map(|(r, to)| (r.uri.to_string(), to.addr))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (uri_at("bob", DESK).to_string(), addr(DESK)),
            (uri_at("bob", PHONE).to_string(), addr(PHONE)),
        ]
    );
    assert!(sent
        .iter()
        .all(|(r, _)| r.method == Method::Ack && our_via_on_top(r)));
    assert_eq!(p.transactions(), 0, "no transaction for a 2xx ACK");

    // Nothing comes back to us later: no copy of the ACK was sent to our own address.
    p.handle_timeout(now + Duration::from_secs(40));
    assert!(drain(&mut p).iter().all(|t| t.to.addr != addr(ME)));
}

#[test]
fn an_unanswered_lookup_ends_in_the_route_timeout_status() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = in_dialog(Method::Bye, uri_at("bob", ME), "z9hG4bKbye4").build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    let _ = the_query(&mut p);
    let _ = drain(&mut p);
    p.handle_timeout(now + Duration::from_secs(6));
    let out = drain(&mut p);
    let back = responses(&out);
    assert_eq!(back.len(), 1, "{out:?}");
    assert_eq!(back[0].0.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn a_bye_to_two_devices_relays_the_dialogs_200_not_the_other_devices_481() {
    let now = Instant::now();
    let mut p = proxy();
    let bye = in_dialog(Method::Bye, uri_at("bob", ME), "z9hG4bKbye5").build();
    p.handle_request(now, bye, Peer::udp(addr(CALLER)));
    let (id, _, _) = the_query(&mut p);
    p.handle_route_decision(now, id, devices(&[("bob", DESK), ("bob", PHONE)]));
    let out = drain(&mut p);
    let sent = requests(&out);
    assert_eq!(sent.len(), 2, "{out:?}");
    let to = |at: &str| sent.iter().find(|(_, p)| p.addr == addr(at)).unwrap().0;

    // The phone holds no such dialog (§12.2.2): 481. The desk holds it: 200.
    let no_dialog = response_to(to(PHONE), StatusCode::CALL_DOES_NOT_EXIST, Some("b1"));
    p.handle_response(now, no_dialog, Peer::udp(addr(PHONE)));
    assert!(
        responses(&drain(&mut p)).is_empty(),
        "a 481 waits while another branch may still answer 2xx (§16.7 step 6)"
    );
    let ok = response_to(to(DESK), StatusCode::OK, Some("b1"));
    p.handle_response(now, ok, Peer::udp(addr(DESK)));
    let out = drain(&mut p);
    let back = responses(&out);
    assert_eq!(back.len(), 1, "{out:?}");
    assert_eq!(back[0].0.status, StatusCode::OK);
    assert_eq!(back[0].1.addr, addr(CALLER));
}

#[test]
fn a_reinvite_to_a_user_at_our_address_gets_100_at_once_and_the_devices_200() {
    let now = Instant::now();
    let mut p = proxy();
    let reinvite = in_dialog(Method::Invite, uri_at("bob", ME), "z9hG4bKre1").build();
    p.handle_request(now, reinvite, Peer::udp(addr(CALLER)));
    let out = drain(&mut p);
    let early = responses(&out);
    assert_eq!(early.len(), 1, "{out:?}");
    assert_eq!(
        early[0].0.status,
        StatusCode::TRYING,
        "§16.2: 100 while we look"
    );
    let (id, kind, _) = the_query(&mut p);
    assert!(matches!(kind, RouteKind::InDialogToUser { .. }), "{kind:?}");
    p.handle_route_decision(now, id, devices(&[("bob", DESK)]));
    let out = drain(&mut p);
    let (fwd, to) = requests(&out)[0];
    assert_eq!(to.addr, addr(DESK));
    assert_eq!(fwd.method, Method::Invite);
    assert_eq!(
        fwd.headers.record_routes().count(),
        0,
        "no Record-Route in a dialog"
    );
    let ok = response_to(fwd, StatusCode::OK, Some("b1"));
    p.handle_response(now, ok, Peer::udp(addr(DESK)));
    let out = drain(&mut p);
    let back = responses(&out);
    assert_eq!(back.len(), 1, "{out:?}");
    assert_eq!(back[0].0.status, StatusCode::OK);
    assert_eq!(back[0].1.addr, addr(CALLER));
}
