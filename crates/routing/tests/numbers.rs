//! Dial plans, number lookup, outbound routes and voice policy, configuration checks.

mod common;

use common::*;
use sb_routing::*;

/// The examples: local forms of one number all reach the same user.
#[test]
fn local_forms_normalize_to_the_same_user() {
    let d = directory();
    // (Request-URI, the dial plan rule expected to match; None: already E.164)
    let cases: &[(&str, Option<usize>)] = &[
        ("sip:0%20425%20555%201212@example.com;user=phone", Some(1)),
        ("sip:04255551212@example.com;user=phone", Some(1)),
        ("sip:5551212@example.com;user=phone", Some(2)),
        ("sip:555-1212@example.com;user=phone", Some(2)),
        ("sip:555.1212@example.com", Some(2)),
        ("tel:555-1212", Some(2)),
        ("tel:+1-425-555-1212", Some(4)),
        ("sip:+14255551212@example.com;user=phone", Some(4)),
        ("sip:1212@example.com;user=phone", Some(3)),
        (
            "sip:1212;phone-context=example.com@example.com;user=phone",
            Some(3),
        ),
    ];
    for (uri, rule) in cases {
        let r = call(&d, "alice", uri);
        let dl = delivery(&r);
        assert_eq!(
            uris(dl),
            [
                "sip:bob@192.0.2.21:5060;transport=tcp",
                "sip:bob@192.0.2.22:5061;transport=tls"
            ],
            "{uri}\n{}",
            r.trace
        );
        let matched = r.trace.steps().find_map(|s| match s {
            Step::Normalized { rule, .. } => Some(*rule),
            _ => None,
        });
        assert_eq!(matched, *rule, "{uri}\n{}", r.trace);
        assert!(
            dl.headers_to_add.is_empty(),
            "no redirection, no History-Info"
        );
    }
}

#[test]
fn dial_plan_results() {
    let t = table();
    let plan = t.dial_plan(&DialPlanName::from("redmond")).unwrap();
    let number = |s: &str| Normalized::Number(e164(s));
    let cases: &[(&str, Option<Normalized>)] = &[
        ("0 425 555 1212", Some(number("+14255551212"))),
        ("(425) 555-1212", None), // ten digits without the 0: no rule
        ("5551212", Some(number("+14255551212"))),
        ("1212", Some(Normalized::Extension("1212".into()))),
        ("011 44 20 7123 4567", Some(number("+442071234567"))),
        ("+44 20 7123 4567", Some(number("+442071234567"))),
        ("12", None),
        ("", None),
        ("alice", None),
    ];
    for (dialled, want) in cases {
        let got = match plan.normalize(dialled) {
            Normalization::Matched { result, .. } => Some(result),
            Normalization::AlreadyE164(n) => Some(Normalized::Number(n)),
            _ => None,
        };
        assert_eq!(&got, want, "{dialled:?}");
    }
}

#[test]
fn extension_lookup_is_within_the_callers_site() {
    let d = directory();
    let r = call(&d, "alice", "sip:9999@example.com;user=phone");
    let (status, reason) = rejection(&r);
    assert_eq!(status, 404);
    assert_eq!(reason, "nobody has extension 9999 of +14255550000");

    // A caller without a site has no main number to look extensions up under.
    let mut d = directory();
    d.users.get_mut(&id("alice")).unwrap().site = None;
    let r = call(&d, "alice", "sip:1212@example.com;user=phone");
    assert_eq!(rejection(&r).0, 404);
}

#[test]
fn undialable_strings_get_484() {
    let d = directory();
    let r = call(&d, "alice", "sip:12@example.com;user=phone");
    let (status, reason) = rejection(&r);
    assert_eq!(status, 484);
    assert!(reason.contains("no rule matches"), "{reason}");
}

#[test]
fn users_by_name_and_unknown_names() {
    let d = directory();
    let r = call(&d, "alice", "sip:carol@EXAMPLE.COM");
    assert_eq!(uris(delivery(&r)), ["sip:carol@192.0.2.30"]);
    let r = call(&d, "alice", "sip:zed@example.com");
    assert_eq!(rejection(&r), (404, "no user zed@example.com here"));
    let r = call(&d, "alice", "sip:bob@example.org");
    assert_eq!(
        rejection(&r),
        (404, "example.org is not a domain served here")
    );
    let r = call(&d, "alice", "mailto:bob@example.com");
    assert_eq!(rejection(&r).0, 416);
}

#[test]
fn callers_that_may_not_call() {
    let mut d = directory();
    let t = table();
    let f = facts("sip:bob@example.com");
    let r = route(&f, &Caller::User(id("mallory")), &d, &t);
    assert_eq!(rejection(&r).0, 403);
    d.users.get_mut(&id("alice")).unwrap().enabled = false;
    let r = route(&f, &Caller::User(id("alice")), &d, &t);
    assert_eq!(
        rejection(&r),
        (403, "caller sip:alice@example.com is disabled")
    );
    // Unauthenticated callers reach users but never the PSTN.
    let r = route(&f, &Caller::Anonymous, &d, &t);
    assert_eq!(uris(delivery(&r)).len(), 2);
    let r = route(&facts("tel:+12065550100"), &Caller::Anonymous, &d, &t);
    assert_eq!(rejection(&r), (404, "no user here has +12065550100"));
}

#[test]
fn inbound_from_a_gateway_reaches_the_number_owner() {
    let d = directory();
    // Gateways address us by IP address, so the host is not checked for trunk callers.
    for uri in [
        "tel:+14255551212",
        "sip:+14255551212@example.com;user=phone",
        "sip:+14255551212@192.0.2.1;user=phone",
    ] {
        let r = route(
            &facts(uri),
            &Caller::Trunk(TrunkName::from("gw-a")),
            &d,
            &table(),
        );
        assert_eq!(uris(delivery(&r)).len(), 2, "{uri}");
    }
}

/// Which usages each policy reaches: local / national / international / premium.
#[test]
fn policy_matrix() {
    let numbers = [
        ("tel:+14255550100", "local"),
        ("tel:+12065550100", "national"),
        ("tel:+442071234567", "international"),
        ("tel:+19005550100", "premium"),
    ];
    let policies: &[(&str, [bool; 4])] = &[
        ("local-only", [true, false, false, false]),
        ("domestic", [true, true, false, false]),
        ("global", [true, true, true, false]),
        ("everything", [true, true, true, true]),
        ("undefined-policy", [false, false, false, false]),
    ];
    for (policy, allowed) in policies {
        let mut d = directory();
        d.users.get_mut(&id("alice")).unwrap().voice_policy = Some(PolicyName::from(*policy));
        for ((uri, usage), ok) in numbers.iter().zip(allowed) {
            let r = call(&d, "alice", uri);
            match &r.decision {
                Decision::Deliver(dl) => {
                    assert!(ok, "{policy} must not reach {usage}\n{}", r.trace);
                    let BranchKind::Pstn { route, .. } = &dl.branches[0].kind else {
                        panic!("not a PSTN branch")
                    };
                    assert_eq!(route.as_str(), *usage);
                }
                Decision::Reject { status, reason } => {
                    assert!(!ok, "{policy} must reach {usage}: {reason}");
                    assert_eq!(*status, 403);
                    assert_eq!(
                        reason,
                        &format!("{usage} calls are not allowed by policy '{policy}'")
                    );
                }
            }
        }
    }
}

#[test]
fn forbidden_international_names_the_policy() {
    let d = directory();
    let r = call(&d, "alice", "sip:011442071234567@example.com;user=phone");
    assert_eq!(
        r.decision,
        Decision::Reject {
            status: 403,
            reason: "international calls are not allowed by policy 'domestic'".into()
        }
    );
    assert!(!r.is_allowed());
}

#[test]
fn the_first_matching_route_classifies_the_call() {
    // +1425… matches both "local" and "national", and "local" is listed first.
    let d = directory();
    let r = call(&d, "alice", "sip:5550100@example.com;user=phone");
    let b = &delivery(&r).branches[0];
    assert_eq!(b.request_uri.to_string(), "tel:+14255550100");
    assert!(matches!(&b.kind, BranchKind::Pstn { route, .. } if route.as_str() == "local"));
}

#[test]
fn route_failover_order_and_conditions() {
    let d = directory();
    let r = call(
        &d,
        "alice",
        "sip:0%20206%20555%200100@example.com;user=phone",
    );
    let dl = delivery(&r);
    assert_eq!(dl.branches.len(), 1);
    let b = &dl.branches[0];
    assert_eq!(b.trunks, [TrunkName::from("gw-a"), TrunkName::from("gw-b")]);
    let f = b
        .failover
        .as_ref()
        .expect("trunk branches carry a failover policy");
    for (status, moves_on) in [
        (408, true),
        (500, true),
        (503, true),
        (504, true),
        (404, false),
        (486, false),
        (603, false),
    ] {
        assert_eq!(f.fails_over_on(status), moves_on, "{status}");
    }
    assert!(f.on_timeout && f.honour_retry_after);

    let mut d = directory();
    d.users.get_mut(&id("alice")).unwrap().voice_policy = Some(PolicyName::from("global"));
    let r = call(&d, "alice", "tel:+442071234567");
    assert_eq!(
        delivery(&r).branches[0].trunks,
        [TrunkName::from("gw-intl"), TrunkName::from("gw-a")]
    );
}

#[test]
fn partitioned_pbx_numbers_go_to_the_pbx_unmarked() {
    let d = directory();
    let r = call(&d, "alice", "sip:5557777@example.com;user=phone");
    let dl = delivery(&r);
    assert_eq!(dl.branches.len(), 1);
    let b = &dl.branches[0];
    assert!(matches!(&b.kind, BranchKind::Pbx { pbx } if pbx.as_str() == "legacy"));
    assert_eq!(b.trunks, [TrunkName::from("pbx-trunk")]);
    assert_eq!(b.request_uri.to_string(), "tel:+14255557777");
    assert!(b.headers_to_add.is_empty());
}

#[test]
fn status_matches_parse() {
    let ok: Vec<StatusMatch> = ["408", "5xx", "6XX"]
        .iter()
        .map(|s| StatusMatch::try_from(s.to_string()).unwrap())
        .collect();
    assert_eq!(
        ok,
        [
            StatusMatch::Exact(408),
            StatusMatch::Class(5),
            StatusMatch::Class(6)
        ]
    );
    for bad in ["2xx", "99", "abc", "5x", "700"] {
        assert!(StatusMatch::try_from(bad.to_string()).is_err(), "{bad}");
    }
}

#[test]
fn bad_configuration_names_the_item() {
    let with = |edit: &dyn Fn(&mut RoutingConfig)| {
        let mut c = config();
        edit(&mut c);
        RoutingTable::compile(c).unwrap_err().to_string()
    };
    let e = with(&|c| c.dial_plans[0].rules[2].pattern = "^(\\d{4}$".into());
    assert!(
        e.starts_with("dial_plan \"redmond\" rule 3: pattern"),
        "{e}"
    );
    let e = with(&|c| c.dial_plans[0].rules[0].translation = "+1$1$3".into());
    assert_eq!(
        e,
        "dial_plan \"redmond\" rule 1: translation \"+1$1$3\" uses $3 but the pattern has 2 group(s)"
    );
    let e = with(&|c| c.dial_plans[0].rules[1].translation = "+1${1".into());
    assert!(
        e.starts_with("dial_plan \"redmond\" rule 2: translation"),
        "{e}"
    );
    let e = with(&|c| c.routes[1].trunks.clear());
    assert_eq!(e, "route \"local\": lists no trunks");
    let e = with(&|c| c.routes[0].pattern = "[".into());
    assert!(e.starts_with("route \"premium\": pattern"), "{e}");
    let e = with(&|c| c.default_dial_plan = Some(DialPlanName::from("paris")));
    assert!(e.contains("\"paris\""), "{e}");
    let e = with(&|c| c.sites[0].dial_plan = Some(DialPlanName::from("paris")));
    assert!(e.starts_with("site \"redmond\""), "{e}");
    let e = with(&|c| {
        let dup = c.voice_policies[0].clone();
        c.voice_policies.push(dup)
    });
    assert_eq!(e, "voice_policy \"local-only\" is defined twice");
    let e = with(&|c| {
        c.pbxes[0].mark = MarkConfig::Header {
            name: "X Bad".into(),
        }
    });
    assert!(e.starts_with("pbx \"legacy\""), "{e}");

    let unknown: Result<RoutingConfig, _> = toml::from_str("domains = []\nroutez = []");
    assert!(unknown.is_err(), "unknown keys are refused");
}

#[test]
fn a_rule_producing_garbage_is_reported_not_routed() {
    let mut c = config();
    c.dial_plans[0].rules.insert(
        0,
        NormalizationRule {
            pattern: "^9(\\d+)$".into(),
            translation: "$1".into(),
            description: String::new(),
        },
    );
    let t = RoutingTable::compile(c).unwrap();
    let d = directory();
    let r = route(
        &facts("sip:95551212@example.com;user=phone"),
        &Caller::User(id("alice")),
        &d,
        &t,
    );
    let (status, reason) = rejection(&r);
    assert_eq!(status, 484);
    assert!(reason.contains("rule 1 produced \"5551212\""), "{reason}");
}

#[test]
fn reasons_are_safe_for_a_status_line() {
    let d = directory();
    let r = call(&d, "alice", "sip:x%0D%0AVia:%20evil@example.com");
    let (status, reason) = rejection(&r);
    assert_eq!(status, 404);
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
    assert_eq!(reason, "no user x??Via@example.com here");
    let long = "9".repeat(500);
    let r = call(&d, "alice", &format!("sip:{long}@example.com;user=phone"));
    assert!(rejection(&r).1.chars().count() <= 200);
}

#[test]
fn the_example_site_file_compiles() {
    let text = include_str!("../examples/redmond.toml");
    let mut file: toml::Table = toml::from_str(text).unwrap();
    let routing: RoutingConfig = file.remove("routing").unwrap().try_into().unwrap();
    let table = RoutingTable::compile(routing).unwrap();
    assert_eq!(table.routes().len(), 3);
    let users = file["users"].as_array().unwrap();
    for u in users {
        let mut u = u.as_table().unwrap().clone();
        u.remove("contacts");
        let entry: UserEntry = u.try_into().unwrap();
        validate_rules(&table, &entry, &entry.rules).unwrap();
    }
}
