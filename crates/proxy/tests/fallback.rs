//! Trunk and gateway failover inside one branch on the virtual clock: per-target
//! fallbacks, which statuses trigger them, what stops them, and answer timeouts for a
//! next hop that says nothing at all.

mod sim;

use std::time::{Duration, Instant};

use sb_netsim::{LinkConfig, NodeId};
use sb_proxy::{Failover, Plan, Proxy, ProxyConfig, Query, RouteDecision, Target};
use sb_sip_core::{ConnId, Peer, TimerConfig, TransportKind};
use sb_sip_msg::{Header, Message, OtherHeader};
use sim::*;

/// `primary` with `fallbacks` behind it, alone in a one-group plan (plus `others`).
fn plan_with(primary: Target, others: Vec<Target>) -> impl FnMut(&Query) -> Option<RouteDecision> {
    move |q| match q {
        Query::Route { .. } => {
            let mut targets = vec![primary.clone()];
            targets.extend(others.iter().cloned());
            Some(RouteDecision::Forward(Plan::parallel(targets)))
        }
        _ => None,
    }
}

fn chain(first: usize, rest: &[usize]) -> Target {
    let mut t = target(first);
    t.fallbacks = rest.iter().map(|n| target(*n)).collect();
    t
}

/// Drops everything the proxy sends to node `n`: a gateway that is simply not there.
fn unreachable(sim: &mut sb_netsim::Sim<SimNode>, n: usize) {
    let dead = LinkConfig {
        loss: 1.0,
        ..fast()
    };
    sim.net.set_link(NodeId(PROXY), NodeId(n), dead);
}

#[test]
fn unavailable_gateways_fall_back_in_order_until_one_answers() {
    let scripts = [
        Script::answer(10, 100, 503),
        Script::answer(10, 100, 500),
        Script::answer(10, 100, 200),
    ];
    let mut primary = chain(2, &[3, 4]);
    primary.fallbacks[1]
        .add_headers
        .push(Header::Other(OtherHeader {
            name: "X-Gateway".into(),
            value: "third".into(),
        }));
    let mut sim = world(20, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    for n in [2, 3, 4] {
        assert_eq!(sim.nodes[n].uas().got_invites.len(), 1, "gateway {n}");
    }
    let third = &sim.nodes[4].uas().got_invites[0];
    assert_eq!(third.uri, contact_uri("bob", 4));
    assert_eq!(
        third.headers.other("X-Gateway").collect::<Vec<_>>(),
        vec!["third"]
    );
    // Tried at more than one target: the RFC 5393 cap applies.
    assert_eq!(third.headers.max_forwards(), Some(20));
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn busy_not_found_and_decline_do_not_fall_back() {
    for (seed, code) in [(21, 486), (22, 404), (23, 603)] {
        let scripts = [Script::answer(10, 100, code), Script::answer(10, 100, 200)];
        let mut sim = world(
            seed,
            fast(),
            &scripts,
            |_| {},
            plan_with(chain(2, &[3]), vec![]),
        );
        run_quiet(&mut sim);
        assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![code]);
        assert!(sim.nodes[3].uas().got_invites.is_empty(), "{code}");
    }
}

#[test]
fn a_failed_attempt_still_counts_for_the_best_response() {
    // Fall back on anything: the first gateway's 484 (informative, §16.7 step 6) beats
    // the fallback's 500.
    let scripts = [Script::answer(10, 100, 484), Script::answer(10, 100, 500)];
    let mut primary = chain(2, &[3]);
    primary.fallback_on = Failover::AnyFailure;
    let mut sim = world(24, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[3].uas().got_invites.len(), 1);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![484]);
}

#[test]
fn a_fallback_is_part_of_its_group_for_the_group_timeout() {
    // Group of one gateway, 5 s: the first fails at once, the fallback rings; at 5 s the
    // group is over and the next group (voicemail, node 4) answers.
    let scripts = [
        Script::answer(10, 100, 503),
        Script::ring_forever(10),
        Script::answer(10, 100, 200),
    ];
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan {
            groups: vec![
                sb_proxy::Group {
                    targets: vec![chain(2, &[3])],
                    timeout: Some(Duration::from_secs(5)),
                },
                sb_proxy::Group {
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
    let mut sim = world(25, fast(), &scripts, |_| {}, plan);
    sim.run_until(sim.clock.at(Duration::from_millis(4_900)));
    assert!(sim.nodes[4].uas().got_invites.is_empty());
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert_eq!(sim.nodes[3].uas().got_cancels.len(), 1);
    assert_eq!(sim.nodes[4].uas().got_invites.len(), 1);
}

#[test]
fn nothing_falls_back_once_the_search_has_ended() {
    // The primary gateway is unreachable (Timer B, 32 s, would make it a 408) and has a
    // fallback; the call ends first by a 2xx elsewhere, a 6xx elsewhere, or the caller's
    // CANCEL, so the fallback never starts.
    for (seed, other, cancel) in [
        (26, Script::answer(10, 1000, 200), false),
        (27, Script::answer(10, 1000, 603), false),
        (28, Script::ring_forever(10), true),
    ] {
        let scripts = [Script::silent(), Script::answer(10, 100, 200), other];
        let mut sim = world(
            seed,
            fast(),
            &scripts,
            |_| {},
            plan_with(chain(2, &[3]), vec![target(4)]),
        );
        unreachable(&mut sim, 2);
        if cancel {
            sim.nodes[CALLER].uac_mut().cancel_at = Some(sim.clock.at(Duration::from_secs(1)));
        }
        run_quiet(&mut sim);
        let want = if cancel { 487 } else { other.answer.unwrap().1 };
        assert_eq!(
            sim.nodes[CALLER].uac().final_codes(),
            vec![want],
            "seed {seed}"
        );
        assert!(sim.nodes[3].uas().got_invites.is_empty(), "seed {seed}");
        assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0, "seed {seed}");
    }
}

#[test]
fn a_gateway_that_never_answers_is_skipped_after_its_answer_timeout() {
    let scripts = [Script::silent(), Script::answer(10, 100, 200)];
    let mut primary = chain(2, &[3]);
    primary.answer_timeout = Some(Duration::from_secs(2));
    let mut sim = world(29, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    unreachable(&mut sim, 2);
    sim.run_until(sim.clock.at(Duration::from_millis(1_990)));
    assert!(sim.nodes[3].uas().got_invites.is_empty());
    assert!(sim.nodes[CALLER].uac().finals.is_empty());
    // 2 s, then one round trip to the fallback and its 100 ms to answer.
    sim.run_until(sim.clock.at(Duration::from_millis(2_200)));
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert_eq!(sim.nodes[3].uas().got_invites.len(), 1);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert!(sim.nodes[3].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_100_trying_keeps_the_answer_timeout_from_firing() {
    // The gateway only says 100 (its transaction's own, after 200 ms) and answers at 4 s:
    // alive, so no fallback even with a 1 s answer timeout.
    let scripts = [
        Script {
            ring_after: None,
            answer: Some((Duration::from_secs(4), 200)),
            fork_200_after_cancel: false,
        },
        Script::answer(10, 100, 200),
    ];
    let mut primary = chain(2, &[3]);
    primary.answer_timeout = Some(Duration::from_secs(1));
    let mut sim = world(30, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    run_quiet(&mut sim);
    assert!(sim.nodes[3].uas().got_invites.is_empty());
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    assert_eq!(
        uac.finals[0].headers.to().and_then(|t| t.tag()),
        Some("uas2-0")
    );
}

#[test]
fn a_late_2xx_from_a_given_up_gateway_still_reaches_the_caller() {
    // Gateway 2 is 3 s away each way: it rings and answers, but the proxy hears nothing
    // for 6 s and gave up at 1 s; the fallback (3) rings meanwhile. Gateway 2's 180 is not
    // relayed (nobody is listening to it any more), its 200 is (§16.7 step 5), and the
    // fallback is cancelled as for any 2xx.
    let scripts = [Script::answer(50, 100, 200), Script::ring_forever(10)];
    let mut primary = chain(2, &[3]);
    primary.answer_timeout = Some(Duration::from_secs(1));
    let mut sim = world(31, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    let slow = LinkConfig::fixed(Duration::from_secs(3));
    sim.net.set_link(NodeId(PROXY), NodeId(2), slow);
    sim.net.set_link(NodeId(2), NodeId(PROXY), slow);
    sim.run_until(sim.clock.at(Duration::from_millis(1_100)));
    assert_eq!(sim.nodes[3].uas().got_invites.len(), 1);
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    assert_eq!(
        uac.finals[0].headers.to().and_then(|t| t.tag()),
        Some("uas2-0")
    );
    let ringing: Vec<Option<&str>> = uac
        .provisionals
        .iter()
        .filter(|r| r.status.0 == 180)
        .map(|r| r.headers.to().and_then(|t| t.tag()))
        .collect();
    assert!(ringing.iter().all(|t| *t == Some("uas3-0")), "{ringing:?}");
    let fallback = sim.nodes[3].uas();
    assert_eq!(fallback.finals_sent, vec![487]);
    assert!(sim.nodes[2].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_late_failure_from_a_given_up_gateway_is_ignored() {
    // Gateway 2 (3 s away) answers 486 at ~6 s; the fallback answers 200 at 8 s. The 486
    // must neither reach the caller nor end the call.
    let scripts = [Script::answer(50, 100, 486), Script::answer(10, 8_000, 200)];
    let mut primary = chain(2, &[3]);
    primary.answer_timeout = Some(Duration::from_secs(1));
    let mut sim = world(32, fast(), &scripts, |_| {}, plan_with(primary, vec![]));
    let slow = LinkConfig::fixed(Duration::from_secs(3));
    sim.net.set_link(NodeId(PROXY), NodeId(2), slow);
    sim.net.set_link(NodeId(2), NodeId(PROXY), slow);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[2].uas().finals_sent.first(), Some(&486));
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    assert!(
        uac.wire_finals.iter().all(|c| *c == 200),
        "{:?}",
        uac.wire_finals
    );
}

#[test]
fn a_lost_connection_falls_back_to_the_next_gateway() {
    let now = Instant::now();
    let me: std::net::SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let mut p = Proxy::new(ProxyConfig::udp(me), TimerConfig::default(), 3);
    let invite = sb_netsim::sip::RequestBuilder::new(
        sb_sip_msg::Method::Invite,
        "+14255551212",
        "example.com",
    )
    .via_udp("192.0.2.2", 5060, Some("z9hG4bKtcp"))
    .from("alice", "example.com", "a1")
    .call_id("c-tcp")
    .cseq(1)
    .build();
    p.handle_request(now, invite, Peer::udp("192.0.2.2:5060".parse().unwrap()));
    let Some(Query::Route { id, .. }) = p.poll_query() else {
        panic!("a route query");
    };
    let gw1 =
        Peer::new(TransportKind::Tcp, "192.0.2.20:5060".parse().unwrap()).with_conn(ConnId(9));
    let gw2 = Peer::udp("192.0.2.21:5060".parse().unwrap());
    let mut t = Target::new(contact_uri("gw", 19), gw1);
    t.fallbacks = vec![Target::new(contact_uri("gw", 20), gw2)];
    p.handle_route_decision(now, id, RouteDecision::Forward(Plan::parallel(vec![t])));
    let sent = |p: &mut Proxy| -> Vec<Peer> {
        std::iter::from_fn(|| p.poll_transmit())
            .filter(|t| matches!(t.message, Message::Request(_)))
            .map(|t| t.to)
            .collect()
    };
    assert_eq!(sent(&mut p), vec![gw1]);
    p.handle_connection_lost(now, ConnId(9));
    assert_eq!(sent(&mut p), vec![gw2]);
    // Nothing final went to the caller: the fallback is still being tried.
    let finals = std::iter::from_fn(|| p.poll_event())
        .filter(|e| matches!(e, sb_proxy::ProxyEvent::Finished { .. }))
        .count();
    assert_eq!(finals, 0);
}

#[test]
fn failover_and_forwarding_on_a_lossy_network_end_cleanly() {
    // Gateway 2 is dead (answer timeout 1 s), gateway 3 is busy, the plan asks when
    // exhausted and forwards to 4, which answers. Whatever the losses do, the caller
    // gets a final answer, every 2xx it gets is ACKed, and the proxy forgets the call.
    sb_netsim::run_seeds(0..100, |seed| {
        let link = LinkConfig::lossy(
            Duration::from_millis(5),
            Duration::from_millis(60),
            0.1,
            0.05,
            0.1,
        );
        let scripts = [
            Script::silent(),
            Script::answer(20, 200, 486),
            Script::answer(20, 300, 200),
        ];
        let plan = move |q: &Query| match q {
            Query::Route {
                kind: sb_proxy::RouteKind::Initial,
                ..
            } => {
                let mut primary = chain(2, &[3]);
                primary.answer_timeout = Some(Duration::from_secs(1));
                let mut plan = Plan::parallel(vec![primary]);
                plan.ask_when_exhausted = true;
                Some(RouteDecision::Forward(plan))
            }
            Query::Route {
                kind: sb_proxy::RouteKind::Exhausted { .. },
                ..
            } => Some(RouteDecision::Forward(Plan::parallel(vec![target(4)]))),
            _ => None,
        };
        let mut sim = world(seed, link, &scripts, |_| {}, plan);
        unreachable(&mut sim, 2);
        run_quiet(&mut sim);
        let uac = sim.nodes[CALLER].uac();
        let codes = uac.final_codes();
        assert!(!codes.is_empty(), "seed {seed}: no final");
        if codes.contains(&200) {
            assert_eq!(codes, vec![200], "seed {seed}");
            assert!(
                sim.nodes[4].uas().got_acks >= 1,
                "seed {seed}: 200 never ACKed"
            );
        } else {
            assert!(codes.iter().all(|c| *c >= 300), "seed {seed}: {codes:?}");
        }
        assert!(sim.nodes[2].uas().got_invites.is_empty(), "seed {seed}");
        let p = &sim.nodes[PROXY].proxy().proxy;
        assert_eq!(p.contexts(), 0, "seed {seed}");
        assert_eq!(p.transactions(), 0, "seed {seed}");
    });
}
