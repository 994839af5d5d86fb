//! Presence-based routing: do not disturb with the team exception, "in a call" as busy,
//! and the trace naming the state used (crate docs of `sb_routing::presence`).

mod common;

use std::collections::BTreeMap;

use common::*;
use sb_routing::*;

/// What a call from `from` to bob ends in: the branches rung, or the rejection.
fn outcome(r: &Routed) -> String {
    match &r.decision {
        Decision::Deliver(d) => uris(d).join(" "),
        Decision::Reject { status, reason } => format!("{status} {reason}"),
    }
}

fn presence_lines(r: &Routed) -> Vec<String> {
    r.trace
        .steps()
        .filter(|s| matches!(s, Step::Presence { .. }))
        .map(|s| s.to_string())
        .collect()
}

/// Bob's devices are 192.0.2.21 and .22; carol's phone is 192.0.2.30 and erin's .50.
const BOB_RINGS: &str =
    "sip:bob@192.0.2.21:5060;transport=tcp sip:bob@192.0.2.22:5061;transport=tls";

#[test]
fn presence_decides_per_state_caller_and_rules() {
    // (bob's presence, caller, bob's rules, what happens)
    type Rules = &'static [(&'static str, &'static str)];
    let cases: [(&str, &str, Rules, &str); 13] = [
        ("available", "alice", &[], BOB_RINGS),
        ("dnd", "alice", &[], "480 do not disturb"),
        ("dnd", "carol", &[], BOB_RINGS), // carol is on bob's team
        (
            "dnd",
            "alice",
            &[("forward_unavailable", "sip:erin@example.com")],
            "sip:erin@192.0.2.50",
        ),
        (
            "dnd",
            "alice",
            &[("forward_offline", "sip:erin@example.com")],
            "sip:erin@192.0.2.50",
        ),
        (
            "dnd",
            "alice",
            &[
                ("forward_offline", "sip:carol@example.com"),
                ("forward_unavailable", "sip:erin@example.com"),
            ],
            "sip:erin@192.0.2.50",
        ),
        (
            "dnd",
            "alice",
            &[("forward_busy", "sip:erin@example.com")],
            "480 do not disturb",
        ),
        ("in_call", "alice", &[], "486 Busy Here"),
        ("in_call", "carol", &[], "486 Busy Here"), // the team passes DND, not a busy line
        ("dnd_in_call", "carol", &[], "486 Busy Here"),
        ("dnd_in_call", "alice", &[], "480 do not disturb"),
        (
            "in_call",
            "alice",
            &[("forward_busy", "sip:erin@example.com")],
            "sip:erin@192.0.2.50",
        ),
        (
            "dnd",
            "alice",
            &[("forward_all", "sip:carol@example.com")],
            "sip:carol@192.0.2.30",
        ),
    ];
    let t = table();
    for (state, caller, rules, expected) in cases {
        let mut d = directory();
        let settings: BTreeMap<String, String> = rules
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let bob = d.users.get_mut(&id("bob")).unwrap();
        apply_settings(&t, bob, &settings).unwrap();
        let facts = match state {
            "dnd" => PresenceFacts::do_not_disturb(),
            "in_call" => PresenceFacts::in_a_call(),
            "dnd_in_call" => PresenceFacts {
                in_call: true,
                ..PresenceFacts::do_not_disturb()
            },
            other => PresenceFacts::shown(other),
        };
        d.presence.insert(id("bob"), facts);
        d.passes_dnd.insert(id("bob"), vec![id("carol")]);
        let r = call(&d, caller, "sip:bob@example.com");
        assert_eq!(
            outcome(&r),
            expected,
            "{state} from {caller} with {rules:?}\n{}",
            r.trace
        );
    }
}

#[test]
fn do_not_disturb_forward_carries_its_own_history_cause() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_unavailable = Some(target("sip:erin@example.com"))
    });
    d.presence
        .insert(id("bob"), PresenceFacts::do_not_disturb());
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(
        header_values(dl, "History-Info"),
        [
            "<sip:bob@example.com?Reason=SIP%3Bcause%3D404>;index=1",
            "<sip:erin@example.com;cause=404>;index=1.1;mp=1",
        ]
    );
    assert_eq!(
        header_values(dl, "Diversion"),
        ["<sip:bob@example.com>;reason=do-not-disturb;counter=1"]
    );
    let text = r.trace.to_string();
    assert!(
        text.contains("presence   sip:bob@example.com: do not disturb -> unavailable: forward"),
        "{text}"
    );
    assert!(
        text.contains("rule       sip:bob@example.com: forward unavailable (do not disturb) -> sip:erin@example.com"),
        "{text}"
    );
}

#[test]
fn the_trace_names_the_state_used_and_nothing_without_presence() {
    let mut d = directory();
    let r = call(&d, "alice", "sip:bob@example.com");
    assert!(presence_lines(&r).is_empty(), "{}", r.trace);

    d.presence.insert(id("bob"), PresenceFacts::in_a_call());
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(
        presence_lines(&r),
        ["presence   sip:bob@example.com: in a call (on the phone) -> busy, and no busy rule: reject without ringing"]
    );
    let json = serde_json::to_value(&r.trace).unwrap();
    let step = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["step"] == "presence")
        .expect("a presence step in the JSON trace");
    assert_eq!(step["state"], "in a call (on the phone)");

    d.presence
        .insert(id("bob"), PresenceFacts::shown("be right back"));
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(
        presence_lines(&r),
        ["presence   sip:bob@example.com: be right back -> no effect: ring"]
    );
}

#[test]
fn a_marked_return_from_the_pbx_ignores_presence() {
    let mut d = directory();
    d.presence
        .insert(id("dave"), PresenceFacts::do_not_disturb());
    let t = table();
    let r = route(
        &facts("sip:dave@example.com"),
        &Caller::User(id("alice")),
        &d,
        &t,
    );
    assert_eq!(rejection(&r), (480, "do not disturb"));

    let mark = mark_value(&t.config().pbxes[0], "call-1@192.0.2.10");
    let back = RequestFacts {
        fork_mark: Some(mark),
        ..facts("sip:dave@example.com")
    };
    let r = route(&back, &Caller::Trunk(TrunkName::from("pbx-trunk")), &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:dave@192.0.2.40"]);
    assert!(presence_lines(&r).is_empty());
}

#[test]
fn a_forward_target_in_do_not_disturb_applies_its_own_presence() {
    // bob forwards everything to erin, who is in a call: erin's busy rule, not a ring.
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("sip:erin@example.com"))
    });
    d.presence.insert(id("erin"), PresenceFacts::in_a_call());
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(rejection(&r), (486, "Busy Here"));
}

#[test]
fn forward_unavailable_is_read_from_settings_and_validated() {
    let t = table();
    let mut bob = directory().users[&id("bob")].clone();
    let mut settings = BTreeMap::new();
    settings.insert("forward_unavailable".to_string(), "5550199".to_string());
    apply_settings(&t, &mut bob, &settings).unwrap();
    assert_eq!(bob.rules.forward_unavailable, Some(target("5550199")));

    settings.insert("forward_unavailable".to_string(), "12".to_string());
    let e = apply_settings(&t, &mut bob, &settings)
        .unwrap_err()
        .to_string();
    assert!(e.contains("forward unavailable"), "{e}");
}

/// Every combination of presence, caller and rules: a callee who is busy, or in do not
/// disturb for this caller, never has a device rung (nor their simultaneous ring or PBX
/// line); one who is neither rings exactly as without presence; the trace names the state
/// once unless forward all took the call first.
#[test]
fn no_combination_rings_a_callee_who_should_not_ring() {
    let t = table();
    for bits in 0u32..1 << 8 {
        let bit = |i: u32| bits & (1 << i) != 0;
        let (dnd, in_call, passes) = (bit(0), bit(1), bit(2));
        let mut d = directory();
        set_rules(&mut d, "dave", |r| {
            if bit(3) {
                r.forward_all = Some(target("sip:erin@example.com"));
            }
            if bit(4) {
                r.forward_unavailable = Some(target("sip:carol@example.com"));
            }
            if bit(5) {
                r.forward_offline = Some(target("sip:carol@example.com"));
            }
            if bit(6) {
                r.forward_busy = Some(target("sip:erin@example.com"));
            }
            if bit(7) {
                r.simultaneous_ring = Some(target("sip:bob@example.com"));
            }
        });
        let alice = Caller::User(id("alice"));
        let without = route(&facts("sip:dave@example.com"), &alice, &d, &t);
        d.presence.insert(
            id("dave"),
            PresenceFacts {
                shown: "some state".into(),
                dnd,
                in_call,
                caller_passes_dnd: passes,
            },
        );
        let r = route(&facts("sip:dave@example.com"), &alice, &d, &t);
        let case = format!("bits {bits:08b}\n{}", r.trace);
        let rings_dave = match &r.decision {
            Decision::Deliver(dl) => dl.branches.iter().any(|b| {
                matches!(&b.kind, BranchKind::Endpoint { user } if *user == id("dave"))
                    || matches!(&b.kind, BranchKind::Pbx { .. })
                    || matches!(&b.kind, BranchKind::SimultaneousRingEndpoint { of, .. } if *of == id("dave"))
            }),
            Decision::Reject { .. } => false,
        };
        let held = in_call || (dnd && !passes);
        if bit(3) {
            assert_eq!(r.decision, without.decision, "forward all first: {case}");
            assert!(presence_lines(&r).is_empty(), "{case}");
            continue;
        }
        assert_eq!(presence_lines(&r).len(), 1, "{case}");
        if held {
            assert!(!rings_dave, "{case}");
        } else {
            assert_eq!(r.decision, without.decision, "{case}");
        }
    }
}
