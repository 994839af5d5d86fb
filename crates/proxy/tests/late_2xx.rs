//! Every 2xx reaches the caller (RFC 3261 §16.7 step 5), however late: after we
//! cancelled its branch, after its branch's 487, after the caller's own CANCEL. And a
//! CANCEL for a request we never saw gets 481 without breaking what follows.

mod sim;

use std::time::{Duration, Instant};

use sb_netsim::sip::{response_to, sip_uri, RequestBuilder};
use sb_proxy::{Failover, Group, Plan, Proxy, ProxyConfig, Query, RouteDecision};
use sb_sip_core::{Peer, TimerConfig};
use sb_sip_msg::{Message, Method, StatusCode};
use sim::*;

fn tags(finals: &[sb_sip_msg::Response]) -> Vec<(u16, String)> {
    finals
        .iter()
        .map(|r| {
            let tag = r.headers.to().and_then(|t| t.tag()).unwrap_or("");
            (r.status.0, tag.to_string())
        })
        .collect()
}

fn downstream_forker() -> Script {
    Script {
        fork_200_after_cancel: true,
        ..Script::ring_forever(50)
    }
}

#[test]
fn a_2xx_from_a_branch_we_already_cancelled_is_relayed() {
    // Callee 3 answers 5 ms after callee 2: our CANCEL (sent when 2's 200 arrives) reaches
    // it after its own 200 left.
    let scripts = [Script::answer(50, 1000, 200), Script::answer(50, 1005, 200)];
    let mut sim = world(50, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(
        tags(&uac.finals),
        vec![(200, "uas2-0".to_string()), (200, "uas3-0".to_string())]
    );
    let late = sim.nodes[3].uas();
    assert_eq!(late.got_cancels.len(), 1);
    assert_eq!(late.finals_sent, vec![200]);
    // The caller could ACK it (and would BYE it): the dialog is not left dangling.
    assert!(late.got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_2xx_after_its_branchs_487_is_relayed_too() {
    // Callee 3 is a forking proxy: our CANCEL (2 answered) gets its 487, and then a 200
    // from its fork that crossed the CANCEL.
    let scripts = [Script::answer(50, 1000, 200), downstream_forker()];
    let mut sim = world(51, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(
        tags(&uac.finals),
        vec![(200, "uas2-0".to_string()), (200, "fork3".to_string())]
    );
    assert_eq!(sim.nodes[3].uas().finals_sent, vec![487, 200]);
    assert!(sim.nodes[3].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn after_a_group_timeout_a_2xx_behind_a_487_still_wins_the_call() {
    // Group 1 (the forker, node 3) times out at 5 s and is cancelled; its 487 and then its
    // fork's 200 arrive while group 2 (node 4) rings. The 200 is the caller's answer, and
    // node 4 is cancelled as for any 2xx.
    let scripts = [
        Script::silent(),
        downstream_forker(),
        Script::ring_forever(50),
    ];
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan {
            groups: vec![
                Group {
                    targets: vec![target(3)],
                    timeout: Some(Duration::from_secs(5)),
                },
                Group {
                    targets: vec![target(4)],
                    timeout: None,
                },
            ],
            failover: Failover::AnyFailure,
            max_redirects: 0,
            record_route: true,
            ask_when_exhausted: false,
        })),
        _ => None,
    };
    let mut sim = world(52, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(tags(&uac.finals), vec![(200, "fork3".to_string())]);
    let next = sim.nodes[4].uas();
    assert_eq!(next.got_invites.len(), 1);
    assert_eq!(next.got_cancels.len(), 1);
    let why: Vec<&str> = next.got_cancels[0].headers.other("Reason").collect();
    assert!(why.iter().any(|r| r.contains("cause=200")), "{why:?}");
    assert!(sim.nodes[3].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_2xx_behind_the_487_for_the_callers_cancel_reaches_the_caller() {
    let scripts = [downstream_forker()];
    let mut sim = world(53, fast(), &scripts, |_| {}, fork_to(vec![2]));
    sim.nodes[CALLER].uac_mut().cancel_at = Some(sim.clock.at(Duration::from_secs(1)));
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    // The caller's INVITE got 487 from us first, then the fork's 200 (statelessly): it
    // can ACK and BYE that dialog.
    assert_eq!(uac.wire_finals.first(), Some(&487), "{:?}", uac.wire_finals);
    assert_eq!(tags(&uac.finals).last(), Some(&(200, "fork2".to_string())));
    assert!(sim.nodes[2].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_cancel_for_an_unknown_request_gets_481_and_the_invite_after_it_still_works() {
    // On a reordering network the CANCEL may overtake its INVITE.
    let now = Instant::now();
    let me: std::net::SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let caller = Peer::udp("192.0.2.2:5060".parse().unwrap());
    let callee = Peer::udp("192.0.2.3:5060".parse().unwrap());
    let mut p = Proxy::new(ProxyConfig::udp(me), TimerConfig::default(), 5);
    let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
        .via_udp("192.0.2.2", 5060, Some("z9hG4bKearly"))
        .from("alice", "example.com", "a1")
        .call_id("c-early")
        .cseq(1)
        .build();
    let mut cancel = invite.clone();
    cancel.method = Method::Cancel;
    for h in cancel.headers.0.iter_mut() {
        if let sb_sip_msg::Header::CSeq(c) = h {
            c.method = Method::Cancel;
        }
    }
    p.handle_request(now, cancel, caller);
    let out: Vec<_> = std::iter::from_fn(|| p.poll_transmit()).collect();
    let codes: Vec<u16> = out
        .iter()
        .filter_map(|t| match &t.message {
            Message::Response(r) => Some(r.status.0),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![481]);
    assert!(p.poll_query().is_none());

    p.handle_request(now, invite, caller);
    let Some(Query::Route { id, .. }) = p.poll_query() else {
        panic!("the INVITE is routed");
    };
    let t = sb_proxy::Target::new(sip_uri("bob", "192.0.2.3"), callee);
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![t])));
    let out: Vec<_> = std::iter::from_fn(|| p.poll_transmit()).collect();
    let fwd = out
        .iter()
        .find_map(|t| match &t.message {
            Message::Request(r) if r.method == Method::Invite => Some(r.clone()),
            _ => None,
        })
        .expect("the INVITE is forwarded");
    p.handle_response(now, response_to(&fwd, StatusCode::OK, Some("b1")), callee);
    let up: Vec<_> = std::iter::from_fn(|| p.poll_transmit())
        .filter_map(|t| match t.message {
            Message::Response(r) => Some((t.to, r.status.0)),
            _ => None,
        })
        .collect();
    assert_eq!(up, vec![(caller, 200)]);
}
