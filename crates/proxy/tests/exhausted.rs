//! Plans that ask before giving up (`Plan::ask_when_exhausted`): forward when busy,
//! forward when unanswered, a refusal, a question nobody answers, and the caller hanging
//! up while the question is open.

mod sim;

use std::time::Duration;

use sb_proxy::{Group, Plan, Query, RouteDecision, RouteKind};
use sb_sip_msg::StatusCode;
use sim::*;

/// The first question routes to the devices (2 and 3) with `ask_when_exhausted`; the
/// Exhausted question is answered by `then` (None: held, as a slow store would).
fn devices_then(
    timeout: Option<Duration>,
    mut then: impl FnMut(StatusCode, bool) -> Option<RouteDecision> + 'static,
) -> impl FnMut(&Query) -> Option<RouteDecision> {
    move |q| match q {
        Query::Route {
            kind: RouteKind::Initial,
            ..
        } => {
            let mut plan = Plan::parallel(vec![target(2), target(3)]);
            plan.groups[0].timeout = timeout;
            plan.ask_when_exhausted = true;
            Some(RouteDecision::Forward(plan))
        }
        Query::Route {
            kind: RouteKind::Exhausted { best, timed_out },
            ..
        } => then(*best, *timed_out),
        _ => None,
    }
}

fn voicemail() -> RouteDecision {
    RouteDecision::Forward(Plan::parallel(vec![target(4)]))
}

fn exhausted_queries(sim: &sb_netsim::Sim<SimNode>) -> Vec<RouteKind> {
    sim.nodes[PROXY]
        .proxy()
        .queries
        .iter()
        .filter_map(|q| match q {
            Query::Route {
                kind: k @ RouteKind::Exhausted { .. },
                ..
            } => Some(k.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn forward_when_busy_asks_and_the_new_plan_answers() {
    let scripts = [
        Script::answer(10, 100, 486),
        Script::answer(10, 200, 486),
        Script::answer(10, 100, 200),
    ];
    let mut sim = world(
        40,
        fast(),
        &scripts,
        |_| {},
        devices_then(None, |_, _| Some(voicemail())),
    );
    run_quiet(&mut sim);
    assert_eq!(
        exhausted_queries(&sim),
        vec![RouteKind::Exhausted {
            best: StatusCode(486),
            timed_out: false
        }]
    );
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    assert_eq!(
        uac.finals[0].headers.to().and_then(|t| t.tag()),
        Some("uas4-0")
    );
    // The busy answers never reached the caller: the 200 is the only final on the wire.
    assert!(
        uac.wire_finals.iter().all(|c| *c == 200),
        "{:?}",
        uac.wire_finals
    );
    assert!(sim.nodes[4].uas().got_acks >= 1);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn forward_when_unanswered_cancels_the_ringing_devices_and_asks() {
    let scripts = [
        Script::ring_forever(50),
        Script::ring_forever(50),
        Script::answer(10, 100, 200),
    ];
    let plan = devices_then(Some(Duration::from_secs(5)), |_, _| Some(voicemail()));
    let mut sim = world(41, fast(), &scripts, |_| {}, plan);
    sim.run_until(sim.clock.at(Duration::from_millis(4_950)));
    assert!(sim.nodes[2].uas().got_cancels.is_empty());
    assert!(sim.nodes[4].uas().got_invites.is_empty());
    sim.run_until(sim.clock.at(Duration::from_millis(5_300)));
    assert_eq!(
        exhausted_queries(&sim),
        vec![RouteKind::Exhausted {
            best: StatusCode::REQUEST_TIMEOUT,
            timed_out: true
        }]
    );
    for n in [2, 3] {
        let dev = sim.nodes[n].uas();
        assert_eq!(dev.got_cancels.len(), 1, "device {n}");
        let why: Vec<&str> = dev.got_cancels[0]
            .headers
            .other("Reason")
            .map(str::trim)
            .collect();
        assert_eq!(why, vec!["SIP;cause=408;text=\"Unanswered\""], "device {n}");
        assert_eq!(dev.finals_sent, vec![487], "device {n}");
    }
    run_quiet(&mut sim);
    let uac = sim.nodes[CALLER].uac();
    assert_eq!(uac.final_codes(), vec![200]);
    // The devices' 487s were absorbed.
    assert!(
        uac.wire_finals.iter().all(|c| *c == 200),
        "{:?}",
        uac.wire_finals
    );
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn a_reject_answer_sends_the_best_response_not_its_own_status() {
    let scripts = [Script::answer(10, 100, 486), Script::answer(10, 200, 480)];
    let refuse = |_, _| {
        Some(RouteDecision::Reject {
            status: StatusCode::NOT_FOUND,
            headers: Vec::new(),
        })
    };
    let mut sim = world(42, fast(), &scripts, |_| {}, devices_then(None, refuse));
    run_quiet(&mut sim);
    assert_eq!(exhausted_queries(&sim).len(), 1);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![486]);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn an_unanswered_exhausted_question_ends_in_the_route_timeout_status() {
    let scripts = [Script::answer(10, 100, 486), Script::answer(10, 100, 486)];
    let tweak = |c: &mut sb_proxy::ProxyConfig| c.route_timeout_status = StatusCode(504);
    let mut sim = world(43, fast(), &scripts, tweak, devices_then(None, |_, _| None));
    // Both busy by ~120 ms; the question's 5 s deadline passes at ~5.12 s.
    sim.run_until(sim.clock.at(Duration::from_millis(5_000)));
    assert_eq!(exhausted_queries(&sim).len(), 1);
    assert!(sim.nodes[CALLER].uac().finals.is_empty());
    run_quiet(&mut sim);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![504]);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn the_callers_cancel_while_the_question_is_open_wins_over_a_later_answer() {
    let scripts = [
        Script::answer(10, 100, 486),
        Script::answer(10, 100, 486),
        Script::answer(10, 100, 200),
    ];
    let mut sim = world(
        44,
        fast(),
        &scripts,
        |_| {},
        devices_then(None, |_, _| None),
    );
    sim.nodes[CALLER].uac_mut().cancel_at = Some(sim.clock.at(Duration::from_secs(1)));
    sim.run_until(sim.clock.at(Duration::from_millis(1_500)));
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![487]);
    // The store answers late: forward to voicemail. Nothing may start.
    let held = sim.nodes[PROXY].proxy().held.clone();
    assert_eq!(held.len(), 1);
    let now = sim.now();
    let p = sim.nodes[PROXY].proxy_mut();
    p.proxy.handle_route_decision(now, held[0], voicemail());
    // The answer was the last thing the call waited for: it is forgotten at once.
    assert_eq!(p.proxy.contexts(), 0);
    run_quiet(&mut sim);
    assert!(sim.nodes[4].uas().got_invites.is_empty());
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![487]);
    assert_eq!(sim.nodes[PROXY].proxy().proxy.contexts(), 0);
}

#[test]
fn the_forwarded_plan_may_ask_again_and_a_6xx_never_asks() {
    // Devices busy -> forward to 4 (busy too) with its own ask -> second question ->
    // Reject: 486 upstream.
    let scripts = [
        Script::answer(10, 100, 486),
        Script::answer(10, 100, 486),
        Script::answer(10, 100, 486),
    ];
    let mut asked = 0;
    let then = move |_, _| {
        asked += 1;
        if asked == 1 {
            let mut plan = Plan::parallel(vec![target(4)]);
            plan.ask_when_exhausted = true;
            Some(RouteDecision::Forward(plan))
        } else {
            Some(RouteDecision::Reject {
                status: StatusCode::OK,
                headers: Vec::new(),
            })
        }
    };
    let mut sim = world(45, fast(), &scripts, |_| {}, devices_then(None, then));
    run_quiet(&mut sim);
    assert_eq!(exhausted_queries(&sim).len(), 2);
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![486]);

    // A 603 from one device ends the search: no question, the 603 goes upstream.
    let scripts = [Script::answer(10, 100, 603), Script::ring_forever(10)];
    let mut sim = world(
        46,
        fast(),
        &scripts,
        |_| {},
        devices_then(None, |_, _| Some(voicemail())),
    );
    run_quiet(&mut sim);
    assert!(exhausted_queries(&sim).is_empty());
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![603]);
}

#[test]
fn an_exhausted_plan_without_ask_answers_at_once() {
    // The same busy devices with the flag off: 486 upstream, no question.
    let scripts = [Script::answer(10, 100, 486), Script::answer(10, 100, 486)];
    let plan = |q: &Query| match q {
        Query::Route { .. } => Some(RouteDecision::Forward(Plan {
            groups: vec![Group {
                targets: vec![target(2), target(3)],
                timeout: None,
            }],
            ..Plan::parallel(Vec::new())
        })),
        _ => None,
    };
    let mut sim = world(47, fast(), &scripts, |_| {}, plan);
    run_quiet(&mut sim);
    assert!(exhausted_queries(&sim).is_empty());
    assert_eq!(sim.nodes[CALLER].uac().final_codes(), vec![486]);
}

#[test]
fn a_device_answering_as_its_group_times_out_still_connects_on_a_lossy_network() {
    // Device 2 answers around the 2 s group timeout (before, at, or after our CANCEL);
    // forward-when-unanswered goes to 4. Every 2xx anyone sent reaches the caller and is
    // ACKed; the proxy forgets the call.
    sb_netsim::run_seeds(0..100, |seed| {
        let link = sb_netsim::LinkConfig::lossy(
            Duration::from_millis(5),
            Duration::from_millis(40),
            0.1,
            0.05,
            0.1,
        );
        let scripts = [
            Script::answer(20, 1_940 + seed, 200),
            Script::ring_forever(20),
            Script::answer(20, 100, 200),
        ];
        let plan = devices_then(Some(Duration::from_secs(2)), |_, _| Some(voicemail()));
        let mut sim = world(seed, link, &scripts, |_| {}, plan);
        run_quiet(&mut sim);
        let uac = sim.nodes[CALLER].uac();
        assert!(!uac.finals.is_empty(), "seed {seed}: no final");
        for n in [2, 4] {
            let uas = sim.nodes[n].uas();
            if uas.finals_sent.first() == Some(&200) {
                let tag = format!("uas{n}-0");
                let got = uac
                    .finals
                    .iter()
                    .any(|r| r.headers.to().and_then(|t| t.tag()) == Some(tag.as_str()));
                assert!(got, "seed {seed}: the caller never saw {tag}'s 200");
                assert!(uas.got_acks >= 1, "seed {seed}: {tag}'s 200 never ACKed");
            }
        }
        let p = &sim.nodes[PROXY].proxy().proxy;
        assert_eq!(p.contexts(), 0, "seed {seed}");
        assert_eq!(p.transactions(), 0, "seed {seed}");
    });
}
