//! The proxy between a caller and forked callees on the virtual clock: parallel and
//! sequential forking, best response, CANCEL, Timer C, in-dialog routing.

mod sim;

use std::time::Duration;

use sb_netsim::{run_seeds, LinkConfig, RunEnd, Sim};
use sb_proxy::{Failover, Group, Plan, ProxyConfig, Query, RouteDecision, RouteKind, Target};
use sb_sip_core::TimerConfig;
use sb_sip_msg::{Header, OtherHeader, Request};
use sim::*;

const PROXY: usize = 0;
const CALLER: usize = 1;

fn target(n: usize) -> Target {
    Target::new(contact_uri("bob", n), peer(n))
}

fn world(
    seed: u64,
    link: LinkConfig,
    scripts: &[Script],
    tweak: impl FnOnce(&mut ProxyConfig),
    mut plan: impl FnMut(&Query) -> Option<RouteDecision> + 'static,
) -> Sim<SimNode> {
    let timers = TimerConfig::default();
    let mut nodes = vec![
        SimNode::Proxy(Box::new(ProxyNode::new(
            PROXY,
            timers,
            tweak,
            Box::new(move |q| plan(q)),
        ))),
        SimNode::Uac(Box::new(Uac::new(
            CALLER,
            PROXY,
            timers,
            &format!("call-{seed}"),
        ))),
    ];
    for (i, s) in scripts.iter().enumerate() {
        nodes.push(SimNode::Uas(Box::new(Uas::new(i + 2, timers, *s))));
    }
    let mut sim = Sim::new(seed, nodes, link);
    let now = sim.now();
    sim.nodes[CALLER].uac_mut().start(now);
    sim
}

fn fast() -> LinkConfig {
    LinkConfig::fixed(Duration::from_millis(10))
}

/// Routes every initial request to a parallel fork over `callees`.
fn fork_to(callees: Vec<usize>) -> impl FnMut(&Query) -> Option<RouteDecision> {
    move |q| match q {
        Query::Route {
            kind: RouteKind::Initial,
            ..
        } => Some(RouteDecision::Forward(Plan::parallel(
            callees.iter().map(|n| target(*n)).collect(),
        ))),
        _ => None,
    }
}

fn reason(req: &Request) -> String {
    req.headers.other("Reason").collect::<Vec<_>>().join(" | ")
}

fn run_quiet(sim: &mut Sim<SimNode>) {
    let end = sim.run(Duration::from_secs(900), 200_000);
    assert_eq!(end, RunEnd::Quiet, "seed {}", sim.seed());
}

#[test]
fn first_200_wins_the_other_branch_is_cancelled_with_a_reason() {
    let scripts = [Script::answer(100, 1000, 200), Script::ring_forever(100)];
    let mut sim = world(1, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    sim.nodes[CALLER].uac_mut().bye_after = Some(Duration::from_secs(2));
    run_quiet(&mut sim);

    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    // Two early dialogs, each relayed with its own To tag.
    let mut tags: Vec<&str> = uac
        .provisionals
        .iter()
        .filter(|r| r.status.0 == 180)
        .filter_map(|r| r.headers.to().and_then(|t| t.tag()))
        .collect();
    tags.dedup();
    assert_eq!(tags, vec!["uas2-0", "uas3-0"]);

    let loser = sim.nodes[3].uas();
    assert_eq!(loser.got_cancels.len(), 1);
    let why = reason(&loser.got_cancels[0]);
    assert!(
        why.contains("cause=200") && why.contains("Call completed elsewhere"),
        "{why}"
    );
    assert_eq!(loser.finals_sent, vec![487]);

    let winner = sim.nodes[2].uas();
    assert!(winner.got_acks >= 1);
    // The in-dialog BYE came along the route set: through the proxy, with its Via.
    assert_eq!(winner.got_byes.len(), 1);
    assert_eq!(winner.got_byes[0].headers.vias().count(), 2);
    assert_eq!(uac.bye_final, Some(200));

    // The INVITE each callee got: Record-Route with lr, our Via on top, forked
    // Max-Forwards capped (RFC 5393).
    let inv = &winner.got_invites[0];
    let rr: Vec<String> = inv.headers.record_routes().map(|r| r.to_string()).collect();
    assert_eq!(rr, vec!["<sip:192.0.2.1:5060;lr>".to_string()]);
    assert_eq!(inv.headers.vias().count(), 2);
    assert_eq!(inv.headers.max_forwards(), Some(20));
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn when_both_branches_answer_both_2xx_reach_the_caller() {
    let scripts = [Script::answer(50, 500, 200), Script::answer(50, 500, 200)];
    let mut sim = world(2, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200, 200]);
    let tags: Vec<&str> = uac
        .finals
        .iter()
        .filter_map(|r| r.headers.to().and_then(|t| t.tag()))
        .collect();
    assert_ne!(tags[0], tags[1]);
    assert!(sim.nodes[2].uas().got_acks >= 1 && sim.nodes[3].uas().got_acks >= 1);
}

#[test]
fn a_6xx_ends_every_branch_and_is_forwarded() {
    let scripts = [Script::answer(50, 500, 603), Script::ring_forever(50)];
    let mut sim = world(3, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![603]);
    let other = sim.nodes[3].uas();
    assert_eq!(other.finals_sent, vec![487]);
    assert!(reason(&other.got_cancels[0]).contains("cause=603"));
}

#[test]
fn best_response_prefers_the_lowest_class_and_never_forwards_503() {
    let scripts = [
        Script::answer(10, 100, 503),
        Script::answer(10, 200, 486),
        Script::answer(10, 300, 404),
    ];
    let mut sim = world(4, fast(), &scripts, |_| {}, fork_to(vec![2, 3, 4]));
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![486]);

    let scripts = [Script::answer(10, 100, 503), Script::answer(10, 200, 503)];
    let mut sim = world(5, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![500]);
}

#[test]
fn timer_c_cancels_a_branch_that_rings_too_long() {
    let scripts = [Script::ring_forever(100)];
    let tweak = |c: &mut ProxyConfig| c.timer_c = Duration::from_secs(10);
    let mut sim = world(6, fast(), &scripts, tweak, fork_to(vec![2]));
    let base = sim.clock.base();
    sim.run_until(base + Duration::from_millis(9_900));
    assert!(sim.nodes[CALLER].uac().finals.is_empty());
    assert!(sim.nodes[2].uas().got_cancels.is_empty());
    // The 180 reset Timer C at ~120 ms, so it fires at ~10.12 s.
    sim.run_until(base + Duration::from_millis(10_300));
    assert_eq!(sim.nodes[2].uas().got_cancels.len(), 1);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![487]);
}

#[test]
fn timer_c_without_any_answer_is_a_408() {
    let scripts = [Script::silent()];
    let tweak = |c: &mut ProxyConfig| c.timer_c = Duration::from_secs(10);
    let mut sim = world(7, fast(), &scripts, tweak, fork_to(vec![2]));
    let base = sim.clock.base();
    sim.run_until(base + Duration::from_millis(9_900));
    assert!(sim.nodes[CALLER].uac().finals.is_empty());
    sim.run_until(base + Duration::from_millis(10_100));
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![408]);
}

#[test]
fn upstream_cancel_cancels_every_branch_and_the_caller_gets_487() {
    let scripts = [Script::ring_forever(50), Script::ring_forever(50)];
    let mut sim = world(8, fast(), &scripts, |_| {}, fork_to(vec![2, 3]));
    let at = sim.clock.at(Duration::from_secs(1));
    sim.nodes[CALLER].uac_mut().cancel_at = Some(at);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![487]);
    for n in [2, 3] {
        let uas = sim.nodes[n].uas();
        assert_eq!(uas.got_cancels.len(), 1, "callee {n}");
        assert_eq!(uas.finals_sent, vec![487], "callee {n}");
    }
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn sequential_failover_moves_to_the_next_target_on_503() {
    let scripts = [Script::answer(10, 100, 503), Script::answer(10, 100, 200)];
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan::sequential(vec![
            target(2),
            target(3),
        ]))),
        _ => None,
    };
    let mut sim = world(9, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert_eq!(sim.nodes[2].uas().finals_sent, vec![503]);
    assert_eq!(sim.nodes[3].uas().got_invites.len(), 1);
}

#[test]
fn sequential_search_stops_on_busy_when_failing_over_only_on_unavailable() {
    let scripts = [Script::answer(10, 100, 486), Script::answer(10, 100, 200)];
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan::sequential(vec![
            target(2),
            target(3),
        ]))),
        _ => None,
    };
    let mut sim = world(10, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![486]);
    assert!(sim.nodes[3].uas().got_invites.is_empty());
}

#[test]
fn unanswered_group_forwards_after_its_timeout_with_the_added_headers() {
    let scripts = [Script::ring_forever(50), Script::answer(50, 500, 200)];
    let plan = |q: &Query| {
        let mut fwd = target(3);
        fwd.add_headers.push(Header::Other(OtherHeader {
            name: "History-Info".into(),
            value: "<sip:bob@example.com>;index=1".into(),
        }));
        match q {
            Query::Route { .. } => Some(RouteDecision::Forward(Plan {
                groups: vec![
                    Group {
                        targets: vec![target(2)],
                        timeout: Some(Duration::from_secs(5)),
                    },
                    Group {
                        targets: vec![fwd],
                        timeout: None,
                    },
                ],
                failover: Failover::AnyFailure,
                max_redirects: 0,
                record_route: true,
                ask_when_exhausted: false,
            })),
            _ => None,
        }
    };
    let mut sim = world(11, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert_eq!(sim.nodes[2].uas().got_cancels.len(), 1);
    let fwd = &sim.nodes[3].uas().got_invites[0];
    assert_eq!(
        fwd.headers.other("History-Info").collect::<Vec<_>>(),
        vec!["<sip:bob@example.com>;index=1"]
    );
}

#[test]
fn a_302_is_followed_when_the_plan_allows_recursion() {
    let scripts = [Script::answer(10, 100, 302), Script::answer(10, 100, 200)];
    let plan = |q: &Query| match q {
        Query::Route {
            kind: RouteKind::Initial,
            ..
        } => {
            let mut p = Plan::parallel(vec![target(2)]);
            p.max_redirects = 1;
            Some(RouteDecision::Forward(p))
        }
        Query::Route {
            kind: RouteKind::Redirect { contacts, .. },
            ..
        } => {
            // The 302's Contact is callee 2's own; redirect it to callee 3 instead.
            assert_eq!(contacts.len(), 1);
            Some(RouteDecision::Forward(Plan::parallel(vec![target(3)])))
        }
        _ => None,
    };
    let mut sim = world(12, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);
    assert_eq!(sim.nodes[3].uas().got_invites.len(), 1);
}

#[test]
fn an_unanswered_route_query_becomes_503() {
    let scripts = [Script::answer(10, 100, 200)];
    let mut sim = world(13, fast(), &scripts, |_| {}, |_| None);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![503]);
    assert!(sim.nodes[2].uas().got_invites.is_empty());
}

#[test]
fn forked_calls_on_a_lossy_network_complete_or_fail_consistently() {
    run_seeds(0..100, |seed| {
        let link = LinkConfig::lossy(
            Duration::from_millis(5),
            Duration::from_millis(60),
            0.1,
            0.05,
            0.1,
        );
        let scripts = [Script::answer(100, 1500, 200), Script::ring_forever(100)];
        let mut sim = world(seed, link, &scripts, |_| {}, fork_to(vec![2, 3]));
        sim.nodes[CALLER].uac_mut().bye_after = Some(Duration::from_secs(3));
        run_quiet(&mut sim);
        let uac = sim.nodes[CALLER].uac();
        let winner = sim.nodes[2].uas();
        let loser = sim.nodes[3].uas();
        match uac.final_codes().as_slice() {
            [200] => {
                assert!(winner.got_acks >= 1, "seed {seed}: 200 never ACKed");
                assert_eq!(loser.finals_sent, vec![487], "seed {seed}");
                assert_eq!(winner.got_byes.len(), 1, "seed {seed}");
            }
            other => {
                assert!(!other.is_empty(), "seed {seed}: the caller got no final");
                assert!(
                    other.iter().all(|c| *c >= 300),
                    "seed {seed}: finals {other:?}"
                );
                assert_ne!(winner.finals_sent.first(), Some(&200), "seed {seed}");
            }
        }
        assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0, "seed {seed}");
    });
}

#[test]
fn a_2xx_racing_the_callers_cancel_still_reaches_the_caller() {
    // The INVITE reaches the callee at 20 ms and it answers at 1020 ms; the caller's
    // CANCEL reaches the proxy at 1015 ms (487 goes up) and the callee at 1025 ms,
    // after its 200 has left.
    let scripts = [Script::answer(50, 1000, 200)];
    let mut sim = world(14, fast(), &scripts, |_| {}, fork_to(vec![2]));
    let at = sim.clock.at(Duration::from_millis(1005));
    sim.nodes[CALLER].uac_mut().cancel_at = Some(at);
    // By 1100 ms, before the callee's first 2xx retransmission (T1 after 1020 ms).
    sim.run_until(sim.clock.at(Duration::from_millis(1100)));
    // What reached the caller's socket: the 487, then the 200 relayed statelessly (the
    // caller's own INVITE transaction, already Completed, is what decides to drop it).
    let wire = &sim.nodes[CALLER].uac().wire_finals;
    assert_eq!(wire.first(), Some(&487), "{wire:?}");
    assert!(wire.contains(&200), "{wire:?}");
}

#[test]
fn forward_when_busy_moves_on_for_486_but_not_for_404() {
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan {
            groups: vec![
                Group {
                    targets: vec![target(2)],
                    timeout: None,
                },
                Group {
                    targets: vec![target(3)],
                    timeout: None,
                },
            ],
            failover: Failover::Statuses(vec![
                sb_sip_msg::StatusCode(486),
                sb_sip_msg::StatusCode(600),
            ]),
            max_redirects: 0,
            record_route: true,
            ask_when_exhausted: false,
        })),
        _ => None,
    };
    let scripts = [Script::answer(10, 100, 486), Script::answer(10, 100, 200)];
    let mut sim = world(15, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![200]);

    let scripts = [Script::answer(10, 100, 404), Script::answer(10, 100, 200)];
    let mut sim = world(16, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![404]);
    assert!(sim.nodes[3].uas().got_invites.is_empty());
}
