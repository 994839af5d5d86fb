//! User call handling: forwarding, simultaneous ring, deflection, History-Info and
//! Diversion, PBX co-existence, loops, rule validation, the trace.

mod common;

use common::*;
use sb_routing::*;

#[test]
fn forward_all_goes_to_the_target_with_history() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("sip:carol@example.com"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(uris(dl), ["sip:carol@192.0.2.30"]);
    assert_eq!(
        header_values(dl, "History-Info"),
        [
            "<sip:bob@example.com?Reason=SIP%3Bcause%3D302>;index=1",
            "<sip:carol@example.com;cause=302>;index=1.1;mp=1",
        ]
    );
    assert_eq!(
        header_values(dl, "Diversion"),
        ["<sip:bob@example.com>;reason=unconditional;counter=1"]
    );
}

#[test]
fn forwarding_causes_per_rule() {
    // (rule, RFC 4458 cause, RFC 5806 reason)
    let cases: [(&str, u16, &str); 3] = [
        ("unanswered", 408, "no-answer"),
        ("busy", 486, "user-busy"),
        ("offline", 404, "unavailable"),
    ];
    for (rule, cause, reason) in cases {
        let mut d = directory();
        set_rules(&mut d, "bob", |r| match rule {
            "unanswered" => {
                r.forward_unanswered = Some(Unanswered {
                    target: target("sip:carol@example.com"),
                    after_secs: 20,
                })
            }
            "busy" => r.forward_busy = Some(target("sip:carol@example.com")),
            _ => r.forward_offline = Some(target("sip:carol@example.com")),
        });
        if rule == "offline" {
            d.contacts.remove(&id("bob"));
        }
        let r = call(&d, "alice", "sip:bob@example.com");
        let dl = delivery(&r);
        let then: &Decision = match rule {
            "unanswered" => {
                let na = dl.on_no_answer.as_ref().expect("an unanswered follow-up");
                assert_eq!(na.after_secs, 20);
                assert_eq!(uris(dl).len(), 2, "bob's devices ring first");
                &na.then
            }
            "busy" => {
                assert_eq!(uris(dl).len(), 2, "bob's devices ring first");
                dl.on_busy.as_deref().expect("a busy follow-up")
            }
            _ => &r.decision,
        };
        let then = then.as_delivery().expect("the follow-up delivers");
        assert_eq!(uris(then), ["sip:carol@192.0.2.30"], "{rule}");
        assert_eq!(
            header_values(then, "History-Info"),
            [
                format!("<sip:bob@example.com?Reason=SIP%3Bcause%3D{cause}>;index=1"),
                format!("<sip:carol@example.com;cause={cause}>;index=1.1;mp=1"),
            ],
            "{rule}"
        );
        assert_eq!(
            header_values(then, "Diversion"),
            [format!("<sip:bob@example.com>;reason={reason};counter=1")],
            "{rule}"
        );
    }
}

#[test]
fn not_signed_in_without_a_rule_is_480() {
    let mut d = directory();
    d.contacts.remove(&id("bob"));
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(rejection(&r), (480, "sip:bob@example.com is not signed in"));
}

#[test]
fn forwarding_to_a_number_goes_out_under_the_forwarders_policy() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("0 206 555 0199"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(uris(dl), ["tel:+12065550199"]);
    assert!(
        matches!(&dl.branches[0].kind, BranchKind::Pstn { route, .. } if route.as_str() == "national")
    );
    assert_eq!(
        header_values(dl, "History-Info")[1],
        "<tel:+12065550199;cause=302>;index=1.1;mp=1"
    );

    // bob (domestic) may not forward abroad, whoever calls.
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("+44 20 7123 4567"))
    });
    let r = route(
        &facts("sip:bob@example.com"),
        &Caller::User(id("carol")), // carol could call abroad herself
        &d,
        &table(),
    );
    assert_eq!(
        rejection(&r),
        (
            403,
            "international calls are not allowed by policy 'domestic'"
        )
    );
}

#[test]
fn a_chain_of_forwards_numbers_history_in_depth() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("sip:carol@example.com"))
    });
    set_rules(&mut d, "carol", |r| {
        r.forward_busy = Some(target("sip:erin@example.com"))
    });
    let r = call(&d, "alice", "sip:1212@example.com;user=phone");
    let dl = delivery(&r);
    assert_eq!(uris(dl), ["sip:carol@192.0.2.30"]);
    let busy = dl
        .on_busy
        .as_deref()
        .and_then(Decision::as_delivery)
        .unwrap();
    assert_eq!(uris(busy), ["sip:erin@192.0.2.50"]);
    assert_eq!(
        header_values(busy, "History-Info"),
        [
            "<sip:bob@example.com?Reason=SIP%3Bcause%3D302>;index=1",
            "<sip:carol@example.com;cause=302?Reason=SIP%3Bcause%3D486>;index=1.1;mp=1",
            "<sip:erin@example.com;cause=486>;index=1.1.1;mp=1.1",
        ]
    );
    assert_eq!(
        header_values(busy, "Diversion"),
        [
            "<sip:carol@example.com>;reason=user-busy;counter=1",
            "<sip:bob@example.com>;reason=unconditional;counter=1",
        ],
        "newest diversion first"
    );
}

#[test]
fn simultaneous_ring_adds_a_pstn_branch_in_parallel() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.simultaneous_ring = Some(target("+1 (206) 555-0199"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(dl.fork, Fork::Parallel);
    assert_eq!(
        uris(dl),
        [
            "sip:bob@192.0.2.21:5060;transport=tcp",
            "sip:bob@192.0.2.22:5061;transport=tls",
            "tel:+12065550199"
        ]
    );
    assert_eq!(
        dl.branches[2].trunks,
        [TrunkName::from("gw-a"), TrunkName::from("gw-b")]
    );
    assert!(
        dl.headers_to_add.is_empty(),
        "simultaneous ring is not a redirection"
    );
}

#[test]
fn simultaneous_ring_the_policy_forbids_is_left_out() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.simultaneous_ring = Some(target("+442071234567"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(uris(delivery(&r)).len(), 2, "only bob's devices");
    assert!(r
        .to_string_lossy()
        .contains("simultaneous ring left out (403"));
}

#[test]
fn simultaneous_ring_to_another_user_rings_their_devices() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.simultaneous_ring = Some(target("sip:erin@example.com"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(uris(dl)[2], "sip:erin@192.0.2.50");
    assert!(matches!(
        &dl.branches[2].kind,
        BranchKind::SimultaneousRingEndpoint { user, of } if *user == id("erin") && *of == id("bob")
    ));
}

#[test]
fn pbx_line_forks_with_a_mark_and_the_marked_return_rings_devices_only() {
    let d = directory();
    let t = table();
    let f = facts("sip:dave@example.com");
    let r = route(&f, &Caller::User(id("alice")), &d, &t);
    let dl = delivery(&r);
    assert_eq!(
        uris(dl),
        ["sip:dave@192.0.2.40", "tel:4567;phone-context=legacy"]
    );
    let pbx_branch = &dl.branches[1];
    assert_eq!(pbx_branch.trunks, [TrunkName::from("pbx-trunk")]);
    let mark = mark_value(&t.config().pbxes[0], &f.call_id);
    assert_eq!(mark.len(), 16);
    assert_eq!(
        pbx_branch.headers_to_add,
        [HeaderField {
            name: "X-Switchboard-Fork".into(),
            value: mark.clone()
        }]
    );

    // The PBX forks the call back to dave's number with our mark: devices only.
    let back = RequestFacts {
        fork_mark: Some(mark.clone()),
        ..facts("sip:dave@example.com")
    };
    let pbx = Caller::Trunk(TrunkName::from("pbx-trunk"));
    let r = route(&back, &pbx, &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:dave@192.0.2.40"]);

    // The same mark from a gateway that is not the PBX means nothing.
    let r = route(&back, &Caller::Trunk(TrunkName::from("gw-a")), &d, &t);
    assert_eq!(uris(delivery(&r)).len(), 2);

    // A mark made for another call is not ours: routed as a new call from the PBX, so
    // dave's rules apply (a valid mark skips them, see the next test).
    let mut d = d;
    set_rules(&mut d, "dave", |r| {
        r.forward_all = Some(target("sip:erin@example.com"))
    });
    let forged = RequestFacts {
        call_id: "another-call".into(),
        ..back.clone()
    };
    let r = route(&forged, &pbx, &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:erin@192.0.2.50"]);
    assert!(r.to_string_lossy().contains("does not belong to this call"));
}

#[test]
fn marked_return_ignores_forwarding_rules() {
    let mut d = directory();
    set_rules(&mut d, "dave", |r| {
        r.forward_all = Some(target("sip:erin@example.com"))
    });
    let t = table();
    let mark = mark_value(&t.config().pbxes[0], "call-1@192.0.2.10");
    let back = RequestFacts {
        fork_mark: Some(mark),
        ..facts("sip:dave@example.com")
    };
    let r = route(&back, &Caller::Trunk(TrunkName::from("pbx-trunk")), &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:dave@192.0.2.40"]);
}

#[test]
fn mark_in_the_request_uri_when_configured() {
    let mut c = config();
    c.pbxes[0].mark = MarkConfig::UriParam {
        name: "sbfork".into(),
    };
    let t = RoutingTable::compile(c).unwrap();
    let d = directory();
    let r = route(
        &facts("sip:dave@example.com"),
        &Caller::User(id("alice")),
        &d,
        &t,
    );
    let dl = delivery(&r);
    let mark = mark_value(&t.config().pbxes[0], "call-1@192.0.2.10");
    assert_eq!(
        uris(dl)[1],
        format!("tel:4567;phone-context=legacy;sbfork={mark}")
    );
    assert!(dl.branches[1].headers_to_add.is_empty());

    // Reading it back off a request from the PBX.
    let wire = format!(
        "INVITE sip:dave@example.com;sbfork={mark} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK1\r\n\
         From: <sip:4567@pbx.example>;tag=1\r\nTo: <sip:dave@example.com>\r\n\
         Call-ID: call-1@192.0.2.10\r\nCSeq: 1 INVITE\r\nMax-Forwards: 69\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let sb_sip_msg::Message::Request(req) = sb_sip_msg::parse_datagram(wire.as_bytes()).unwrap()
    else {
        panic!("a request")
    };
    let pbx = Caller::Trunk(TrunkName::from("pbx-trunk"));
    let f = RequestFacts::from_request(&req, &pbx, &t);
    assert_eq!(f.fork_mark.as_deref(), Some(mark.as_str()));
    let r = route(&f, &pbx, &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:dave@192.0.2.40"]);
}

#[test]
fn forward_all_loop_stops_with_482() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("sip:carol@example.com"))
    });
    set_rules(&mut d, "carol", |r| {
        r.forward_all = Some(target("+14255551212"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(
        rejection(&r),
        (
            482,
            "forwarding loop: sip:bob@example.com -> sip:carol@example.com -> sip:bob@example.com"
        )
    );
}

#[test]
fn unanswered_loop_is_not_applied_and_devices_keep_ringing() {
    let mut d = directory();
    let back_and_forth = |to: &str| Unanswered {
        target: target(to),
        after_secs: 15,
    };
    set_rules(&mut d, "bob", |r| {
        r.forward_unanswered = Some(back_and_forth("sip:carol@example.com"))
    });
    set_rules(&mut d, "carol", |r| {
        r.forward_unanswered = Some(back_and_forth("sip:bob@example.com"))
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let then = delivery(&r).on_no_answer.as_ref().unwrap();
    let carol = then.then.as_delivery().unwrap();
    assert_eq!(uris(carol), ["sip:carol@192.0.2.30"]);
    assert!(
        carol.on_no_answer.is_none(),
        "carol's forward back to bob is a loop"
    );
}

#[test]
fn redirections_are_limited() {
    let mut d = directory();
    let names = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
    for (i, n) in names.iter().enumerate() {
        let mut u = user(n, "domestic");
        if let Some(next) = names.get(i + 1) {
            u.rules.forward_all = Some(target(&format!("sip:{next}@example.com")));
        }
        d.add_user(u, None);
        d.add_contact(&id(n), &format!("sip:{n}@192.0.2.99"));
    }
    let r = call(&d, "alice", "sip:u0@example.com");
    assert_eq!(rejection(&r), (483, "more than 5 redirections"));
    let r = call(&d, "alice", "sip:u3@example.com");
    assert_eq!(
        uris(delivery(&r)),
        ["sip:u7@192.0.2.99"],
        "four hops are fine"
    );
}

#[test]
fn deflection_is_followed_and_continues_the_history() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_all = Some(target("sip:carol@example.com"))
    });
    let t = table();
    let f = facts("sip:bob@example.com");
    let r = route(&f, &Caller::User(id("alice")), &d, &t);
    let first = delivery(&r);
    assert!(first.follow_deflections);
    // carol's phone answers 302 Contact: erin
    let contact: sb_sip_msg::Uri = "sip:erin@example.com".parse().unwrap();
    let r = follow_deflection(&f, &first.history, &id("carol"), &contact, &d, &t);
    let dl = delivery(&r);
    assert_eq!(uris(dl), ["sip:erin@192.0.2.50"]);
    assert_eq!(
        header_values(dl, "History-Info")[1..],
        [
            "<sip:carol@example.com;cause=302?Reason=SIP%3Bcause%3D480>;index=1.1;mp=1",
            "<sip:erin@example.com;cause=480>;index=1.1.1;mp=1.1",
        ]
    );
    assert_eq!(
        header_values(dl, "Diversion")[0],
        "<sip:carol@example.com>;reason=deflection;counter=1"
    );
    // Deflecting back to bob closes a loop.
    let bob: sb_sip_msg::Uri = "sip:bob@example.com".parse().unwrap();
    let r = follow_deflection(&f, &first.history, &id("carol"), &bob, &d, &t);
    assert_eq!(rejection(&r).0, 482);
}

#[test]
fn rules_are_validated_when_set() {
    let t = table();
    let bob = directory().users[&id("bob")].clone();
    let mut rules = CallRules {
        forward_all: Some(target("0 206 555 0199")),
        forward_busy: Some(target("sip:voicemail@example.com")),
        simultaneous_ring: Some(target("tel:5550199")),
        forward_unanswered: Some(Unanswered {
            target: target("1212"),
            after_secs: 20,
        }),
        ..CallRules::default()
    };
    assert_eq!(validate_rules(&t, &bob, &rules), Ok(()));

    rules.forward_offline = Some(target("12"));
    let e = validate_rules(&t, &bob, &rules).unwrap_err().to_string();
    assert_eq!(
        e,
        "sip:bob@example.com: forward offline: \"12\" does not normalize under dial plan \"redmond\""
    );
    rules.forward_offline = None;

    rules.forward_unanswered.as_mut().unwrap().after_secs = 2;
    let e = validate_rules(&t, &bob, &rules).unwrap_err().to_string();
    assert_eq!(
        e,
        "sip:bob@example.com: forward unanswered: 2 s is outside 5..=120 s"
    );

    for bad in [
        "sip:@",
        "mailto:bob@example.com",
        "555-CALL",
        "",
        "sip:example.com",
    ] {
        assert!(ForwardTarget::parse(bad).is_err(), "{bad:?}");
        let e = rules::parse_target(&bob, "forward all", bad).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("sip:bob@example.com: forward all:"),
            "{e}"
        );
    }
}

#[test]
fn rules_round_trip_through_toml() {
    let text = r#"
        forward_busy = "sip:carol@example.com"
        simultaneous_ring = "+1 206 555 0199"
        forward_unanswered = { target = "tel:+14255553333", after_secs = 25 }
        follow_deflections = false
    "#;
    let rules: CallRules = toml::from_str(text).unwrap();
    assert_eq!(rules.forward_unanswered.as_ref().unwrap().after_secs, 25);
    assert!(!rules.follow_deflections);
    let again: CallRules = toml::from_str(&toml::to_string(&rules).unwrap()).unwrap();
    assert_eq!(again, rules);
    assert!(toml::from_str::<CallRules>("forward_all = \"sip:\"").is_err());
}

#[test]
fn trace_reads_as_a_dry_run() {
    let d = directory();
    let r = call(
        &d,
        "alice",
        "sip:0%20206%20555%200100@example.com;user=phone",
    );
    let text = r.trace.to_string();
    let expected = "\
call       sip:0%20206%20555%200100@example.com;user=phone from sip:alice@example.com
normalize  \"0 206 555 0100\" -> +12065550100 (dial plan \"redmond\" rule 1: ^0(\\d{3})(\\d{7})$)
lookup     +12065550100 -> nobody here
route      \"national\" matches (^\\+1\\d{10}$, usage national) via gw-a, then gw-b
policy     \"domestic\" allows national
targets    1. tel:+12065550100 via gw-a, then gw-b (route \"national\")
result     deliver to 1 branch(es), in parallel
";
    assert_eq!(text, expected);

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["decision"]["decision"], "deliver");
    assert_eq!(
        json["decision"]["branches"][0]["request_uri"],
        "tel:+12065550100"
    );
    let steps = json["trace"]["lines"].as_array().unwrap();
    assert_eq!(steps[1]["step"], "normalized");
    assert_eq!(steps[1]["rule"], 1);
    assert_eq!(steps[4]["allowed"], true);
}

#[test]
fn trace_shows_follow_ups_indented() {
    let mut d = directory();
    set_rules(&mut d, "bob", |r| {
        r.forward_unanswered = Some(Unanswered {
            target: target("sip:carol@example.com"),
            after_secs: 20,
        })
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let text = r.trace.to_string();
    assert!(text.contains("\nthen       if unanswered after 20 s:\n  rule       sip:bob@example.com: forward unanswered -> sip:carol@example.com\n"), "{text}");
}

/// The trace as text, for assertions about what it explains.
trait Lossy {
    fn to_string_lossy(&self) -> String;
}

impl Lossy for Routed {
    fn to_string_lossy(&self) -> String {
        self.trace.to_string()
    }
}

#[test]
fn calls_from_the_pbx_never_go_back_to_it() {
    let d = directory();
    let t = table();
    let pbx = Caller::Trunk(TrunkName::from("pbx-trunk"));
    // Unmarked (a PBX user dialling dave's number): dave's devices and rules, but no fork
    // back to the PBX that already rings its own extension.
    let r = route(&facts("sip:dave@example.com"), &pbx, &d, &t);
    assert_eq!(uris(delivery(&r)), ["sip:dave@192.0.2.40"]);
    assert!(r.to_string_lossy().contains("not forked back to it"));
    // A PBX-owned number coming from that PBX would loop.
    let r = route(&facts("tel:+14255557777"), &pbx, &d, &t);
    assert_eq!(
        rejection(&r),
        (
            482,
            "+14255557777 belongs to PBX \"legacy\", which sent the call"
        )
    );
}

#[test]
fn settings_from_the_store_become_rules() {
    let t = table();
    let mut u = UserEntry::new(id("frank"));
    let settings: std::collections::BTreeMap<String, String> = [
        ("site", "redmond"),
        ("voice_policy", "global"),
        ("pbx_line", "legacy:4568"),
        ("forward_busy", "sip:carol@example.com"),
        ("forward_unanswered", "5550199"),
        ("forward_unanswered_secs", "30"),
        ("follow_deflections", "off"),
        ("voicemail", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    apply_settings(&t, &mut u, &settings).unwrap();
    assert_eq!(u.site, Some(SiteName::from("redmond")));
    assert_eq!(u.voice_policy, Some(PolicyName::from("global")));
    assert_eq!(u.pbx_line.as_ref().unwrap().number, "4568");
    assert_eq!(u.rules.forward_busy, Some(target("sip:carol@example.com")));
    let na = u.rules.forward_unanswered.as_ref().unwrap();
    assert_eq!(
        (na.target.to_string().as_str(), na.after_secs),
        ("5550199", 30)
    );
    assert!(!u.rules.follow_deflections);

    let before = u.clone();
    for (k, v, why) in [
        (
            "voice_policy",
            "gold",
            "voice policy \"gold\" is not defined",
        ),
        ("pbx_line", "4567", "is not PBX:NUMBER"),
        (
            "forward_unanswered_secs",
            "500",
            "500 s is outside 5..=120 s",
        ),
        ("forward_all", "12", "does not normalize"),
        ("forward_busy", "sip:", "forward busy"),
    ] {
        let mut s = settings.clone();
        s.insert(k.into(), v.into());
        let e = apply_settings(&t, &mut u, &s).unwrap_err().to_string();
        assert!(e.contains(why), "{k}={v}: {e}");
        assert_eq!(u, before, "a rejected change leaves the user as it was");
    }
}

#[test]
fn devices_are_listed_most_preferred_first() {
    let mut d = directory();
    let bob = d.contacts.get_mut(&id("bob")).unwrap();
    bob[0].q = Some(500);
    bob.push(Contact {
        uri: "sip:bob@192.0.2.23".into(),
        q: Some(800),
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    assert_eq!(
        uris(delivery(&r)),
        [
            "sip:bob@192.0.2.22:5061;transport=tls",
            "sip:bob@192.0.2.23",
            "sip:bob@192.0.2.21:5060;transport=tcp",
        ]
    );
}

#[test]
fn offline_without_an_offline_rule_uses_the_unanswered_target_at_once() {
    let mut d = directory();
    d.contacts.remove(&id("bob"));
    set_rules(&mut d, "bob", |r| {
        r.forward_unanswered = Some(Unanswered {
            target: target("sip:carol@example.com"),
            after_secs: 20,
        })
    });
    let r = call(&d, "alice", "sip:bob@example.com");
    let dl = delivery(&r);
    assert_eq!(uris(dl), ["sip:carol@192.0.2.30"]);
    assert!(dl.on_no_answer.is_none());
    assert_eq!(
        header_values(dl, "Diversion"),
        ["<sip:bob@example.com>;reason=unavailable;counter=1"]
    );
}
