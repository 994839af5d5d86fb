//! Calls through the front end with no sockets: who is calling (trunk by address, a user
//! named by From when authentication is off, anonymous), the routing decision, and the
//! plan handed to the forking proxy (targets on the devices' own flows, trunk fallbacks,
//! the unanswered timer, follow-ups for forward-busy and forward-unanswered).

use sb_frontend::{
    CallSettings, Frontend, FrontendConfig, RegistrarConfig, ReqKey, ServicesConfig, Source,
    TrunkAddr, WallClock,
};
use sb_proxy::{Plan, RouteDecision};
use sb_routing::{
    apply_settings, MemoryDirectory, RoutingConfig, RoutingTable, TrunkName, UserEntry, UserId,
    E164,
};
use sb_sip_core::{Peer, TransportKind};
use sb_sip_msg::{Header, Message, Request, StatusCode, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
    domains = ["example.com"]
    default_dial_plan = "redmond"
    default_voice_policy = "domestic"
    [[dial_plans]]
    name = "redmond"
    rules = [ { pattern = '^(\d{7})$', translation = '+1425$1' },
              { pattern = '^011(\d+)$', translation = '+$1' } ]
    [[routes]]
    name = "us"
    pattern = '^\+1\d{10}$'
    usage = "national"
    trunks = ["gw-a", "gw-b"]
    [[routes]]
    name = "world"
    pattern = '^\+'
    usage = "international"
    trunks = ["gw-a"]
    [[voice_policies]]
    name = "domestic"
    usages = ["national"]
    [[voice_policies]]
    name = "global"
    usages = ["national", "international"]
"#;

struct Rig {
    fe: Frontend,
    t0: Instant,
    key: u64,
}

fn gw(name: &str, addr: &str) -> TrunkAddr {
    TrunkAddr {
        name: TrunkName::from(name),
        peer: Peer::new(TransportKind::Udp, addr.parse().unwrap()),
        host: addr.to_string(),
        uri_params: String::new(),
    }
}

/// Users: alice (domestic policy), bob (+14255550100, rules given), carol; no digest.
fn rig(bob_rules: &[(&str, &str)]) -> Rig {
    let table = RoutingTable::compile(toml::from_str::<RoutingConfig>(CONFIG).unwrap()).unwrap();
    let mut dir = MemoryDirectory::default();
    let id = |u: &str| UserId::new(u, "example.com");
    dir.add_user(UserEntry::new(id("alice")), None);
    let mut bob = UserEntry::new(id("bob"));
    bob.number = E164::parse("+14255550100");
    let rules: BTreeMap<String, String> = bob_rules
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    apply_settings(&table, &mut bob, &rules).unwrap();
    dir.add_user(bob, None);
    dir.add_user(UserEntry::new(id("carol")), None);
    let mut global = UserEntry::new(id("gina"));
    global.voice_policy = Some("global".into());
    dir.add_user(global, None);
    let t0 = Instant::now();
    let services = ServicesConfig::new(
        RegistrarConfig {
            domains: vec!["example.com".into()],
            ..Default::default()
        },
        None,
    );
    let mut fe = Frontend::with_services(
        FrontendConfig {
            domains: vec!["example.com".into()],
            tag_seed: 7,
            ..Default::default()
        },
        services,
        WallClock {
            at: t0,
            unix: 1_800_000_000,
        },
    )
    .with_calls(CallSettings {
        table: Arc::new(table),
        trunks: vec![gw("gw-a", "192.0.2.60:5060"), gw("gw-b", "192.0.2.61:5080")],
        trunk_answer_timeout: Duration::from_secs(4),
        record_route: true,
    });
    fe.set_directory(Arc::new(dir));
    Rig { fe, t0, key: 0 }
}

fn parse(text: &str) -> Request {
    match sb_sip_msg::parse_datagram(text.replace('\n', "\r\n").as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    }
}

fn register(user: &str, contact: &str) -> Request {
    parse(&format!(
        "REGISTER sip:example.com SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-r-{user}-{}\n\
         Max-Forwards: 70\nFrom: <sip:{user}@example.com>;tag=r\nTo: <sip:{user}@example.com>\n\
         Call-ID: reg-{user}-{contact}\nCSeq: 1 REGISTER\nContact: <{contact}>\nExpires: 600\n\
         Content-Length: 0\n\n",
        contact.len()
    ))
}

fn invite(from: &str, ruri: &str, branch: &str) -> Request {
    parse(&format!(
        "INVITE {ruri} SIP/2.0\n\
         Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-{branch}\n\
         Max-Forwards: 70\nFrom: <{from}>;tag=c1\nTo: <{ruri}>\n\
         Call-ID: call-{branch}\nCSeq: 1 INVITE\nContact: <sip:caller@198.51.100.9>\n\
         Content-Length: 0\n\n"
    ))
}

fn src(transport: Transport, addr: &str) -> Source {
    Source {
        transport,
        addr: addr.parse().unwrap(),
    }
}

impl Rig {
    fn register(&mut self, user: &str, contact: &str, from: Source) {
        self.key += 1;
        self.fe
            .handle_request_at(self.t0, ReqKey(self.key), &register(user, contact), from);
        let (_, resp) = self.fe.poll_response().expect("an answer");
        assert_eq!(resp.status.0, 200, "{resp:?}");
    }

    fn call(&mut self, req: &Request, from: Source) -> RouteDecision {
        self.key += 1;
        self.fe
            .handle_proxied_at(self.t0, ReqKey(self.key), req, from);
        let (key, d) = self.fe.poll_route().expect("a decision at once");
        assert_eq!(key, ReqKey(self.key));
        d
    }
}

fn plan(d: RouteDecision) -> Plan {
    match d {
        RouteDecision::Forward(p) => p,
        RouteDecision::Reject { status, headers } => panic!("rejected {status:?} {headers:?}"),
    }
}

fn header_text(headers: &[Header], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| match h {
            Header::Other(o) if o.name.eq_ignore_ascii_case(name) => {
                Some(o.value.trim().to_string())
            }
            _ => None,
        })
        .collect()
}

fn caller_src() -> Source {
    src(Transport::Udp, "198.51.100.9:5060")
}

#[test]
fn a_call_to_a_user_forks_to_each_device_over_its_own_flow() {
    let mut r = rig(&[]);
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    r.register(
        "bob",
        "sip:bob@192.0.2.2;transport=tcp",
        src(Transport::Tcp, "203.0.113.2:50123"),
    );
    let p = plan(r.call(
        &invite("sip:someone@elsewhere.net", "sip:bob@example.com", "a1"),
        caller_src(),
    ));
    assert_eq!(p.groups.len(), 1);
    assert!(p.record_route);
    assert!(!p.ask_when_exhausted, "no rules, no follow-ups");
    let mut got: Vec<(String, Peer)> = p.groups[0]
        .targets
        .iter()
        .map(|t| (t.uri.to_string(), t.peer))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            (
                "sip:bob@192.0.2.1:5060".to_string(),
                Peer::new(TransportKind::Udp, "203.0.113.1:40000".parse().unwrap())
            ),
            (
                "sip:bob@192.0.2.2;transport=tcp".to_string(),
                Peer::new(TransportKind::Tcp, "203.0.113.2:50123".parse().unwrap())
            ),
        ]
    );
}

#[test]
fn a_user_without_devices_or_a_stranger_gets_the_refusal_with_its_reason() {
    let mut r = rig(&[]);
    let d = r.call(
        &invite("sip:x@elsewhere.net", "sip:carol@example.com", "b1"),
        caller_src(),
    );
    let RouteDecision::Reject { status, headers } = d else {
        panic!("{d:?}")
    };
    assert_eq!(status.0, 480, "carol is not signed in anywhere");
    assert_eq!(header_text(&headers, "Warning").len(), 1, "{headers:?}");
    let d = r.call(
        &invite("sip:x@elsewhere.net", "sip:nobody@example.com", "b2"),
        caller_src(),
    );
    assert!(
        matches!(
            d,
            RouteDecision::Reject {
                status: StatusCode(404),
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn an_outbound_call_goes_to_the_first_trunk_with_the_second_as_fallback() {
    let mut r = rig(&[]);
    // Authentication is off, so From names the caller: alice, a domestic user.
    let p = plan(r.call(
        &invite(
            "sip:alice@example.com",
            "sip:5551212@example.com;user=phone",
            "c1",
        ),
        caller_src(),
    ));
    let t = &p.groups[0].targets[0];
    assert_eq!(
        t.uri.to_string(),
        "sip:+14255551212@192.0.2.60:5060;user=phone"
    );
    assert_eq!(t.peer.addr, "192.0.2.60:5060".parse().unwrap());
    assert_eq!(t.answer_timeout, Some(Duration::from_secs(4)));
    assert_eq!(t.fallbacks.len(), 1);
    assert_eq!(
        t.fallbacks[0].uri.to_string(),
        "sip:+14255551212@192.0.2.61:5080;user=phone"
    );
    assert_eq!(t.fallbacks[0].peer.addr, "192.0.2.61:5080".parse().unwrap());
}

#[test]
fn policy_decides_who_may_call_abroad_and_strangers_never_reach_the_pstn() {
    let mut r = rig(&[]);
    let abroad = "sip:+442079460000@example.com;user=phone";
    let d = r.call(&invite("sip:alice@example.com", abroad, "d1"), caller_src());
    let RouteDecision::Reject { status, headers } = d else {
        panic!("{d:?}")
    };
    assert_eq!(status.0, 403);
    let w = header_text(&headers, "Warning").join(" ");
    assert!(w.contains("international"), "{w}");
    let p = plan(r.call(&invite("sip:gina@example.com", abroad, "d2"), caller_src()));
    assert_eq!(
        p.groups[0].targets[0].uri.to_string(),
        "sip:+442079460000@192.0.2.60:5060;user=phone"
    );
    // A stranger may reach our users, never the PSTN: to them the number is not here.
    let d = r.call(
        &invite("sip:mallory@elsewhere.net", abroad, "d3"),
        caller_src(),
    );
    assert!(
        matches!(
            d,
            RouteDecision::Reject {
                status: StatusCode(404),
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn a_call_from_a_trunk_address_is_the_trunks_and_reaches_the_numbers_owner() {
    let mut r = rig(&[]);
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    // From claims to be alice, but the source is gw-a: the trunk is the caller, and a
    // trunk is never challenged or taken at its From's word.
    let p = plan(r.call(
        &invite(
            "sip:alice@example.com",
            "sip:+14255550100@192.0.2.10;user=phone",
            "e1",
        ),
        src(Transport::Udp, "192.0.2.60:5060"),
    ));
    assert_eq!(p.groups[0].targets.len(), 1);
    assert_eq!(
        p.groups[0].targets[0].uri.to_string(),
        "sip:bob@192.0.2.1:5060"
    );
}

#[test]
fn forward_busy_is_asked_for_when_the_devices_are_busy_and_adds_history_info() {
    let mut r = rig(&[("forward_busy", "sip:carol@example.com")]);
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    r.register(
        "carol",
        "sip:carol@192.0.2.3:5060",
        src(Transport::Udp, "203.0.113.3:40000"),
    );
    let req = invite("sip:x@elsewhere.net", "sip:bob@example.com", "f1");
    let p = plan(r.call(&req, caller_src()));
    assert!(p.ask_when_exhausted);
    assert_eq!(p.groups[0].timeout, None);
    // Busy everywhere: the proxy asks, and the call goes to carol with History-Info.
    r.fe.handle_exhausted(r.t0, ReqKey(900), &req, StatusCode(486), false);
    let (key, d) = r.fe.poll_route().unwrap();
    assert_eq!(key, ReqKey(900));
    let p = plan(d);
    let t = &p.groups[0].targets[0];
    assert_eq!(t.uri.to_string(), "sip:carol@192.0.2.3:5060");
    let hi = header_text(&t.add_headers, "History-Info").join(", ");
    assert!(hi.contains("sip:bob@example.com"), "{hi}");
    assert!(hi.contains("cause=486"), "{hi}");
    // Asked again (carol is busy too): no further follow-up, the best answer stands.
    r.fe.handle_exhausted(r.t0, ReqKey(901), &req, StatusCode(486), false);
    let (_, d) = r.fe.poll_route().unwrap();
    assert!(matches!(d, RouteDecision::Reject { .. }), "{d:?}");
    assert_eq!(r.fe.calls_with_followups(), 0);
}

#[test]
fn forward_unanswered_sets_the_group_timer_and_forwards_only_on_timeout() {
    let mut r = rig(&[
        ("forward_unanswered", "sip:carol@example.com"),
        ("forward_unanswered_secs", "7"),
    ]);
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    r.register(
        "carol",
        "sip:carol@192.0.2.3:5060",
        src(Transport::Udp, "203.0.113.3:40000"),
    );
    let req = invite("sip:x@elsewhere.net", "sip:bob@example.com", "g1");
    let p = plan(r.call(&req, caller_src()));
    assert_eq!(p.groups[0].timeout, Some(Duration::from_secs(7)));
    assert!(p.ask_when_exhausted);
    // A 486 is not "unanswered": the busy answer stands.
    r.fe.handle_exhausted(r.t0, ReqKey(902), &req, StatusCode(486), false);
    assert!(matches!(
        r.fe.poll_route().unwrap().1,
        RouteDecision::Reject { .. }
    ));

    let req = invite("sip:x@elsewhere.net", "sip:bob@example.com", "g2");
    plan(r.call(&req, caller_src()));
    r.fe.handle_exhausted(r.t0, ReqKey(903), &req, StatusCode(408), true);
    let p = plan(r.fe.poll_route().unwrap().1);
    let t = &p.groups[0].targets[0];
    assert_eq!(t.uri.to_string(), "sip:carol@192.0.2.3:5060");
    let hi = header_text(&t.add_headers, "History-Info").join(", ");
    assert!(hi.contains("cause=408") || hi.contains("cause=480"), "{hi}");
}

#[test]
fn do_not_disturb_sends_callers_to_the_unavailable_rule_except_the_team() {
    use sb_presence::model::{AccessLevel, AccessRule, Availability, ManualState, WatcherMatch};
    let mut r = rig(&[("forward_unavailable", "sip:carol@example.com")]);
    r.fe.enable_presence(sb_presence::PresenceConfig::default());
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    r.register(
        "carol",
        "sip:carol@192.0.2.3:5060",
        src(Transport::Udp, "203.0.113.3:40000"),
    );
    let t0 = r.t0;
    r.fe.with_presence_server(t0, |p, ms| {
        p.set_manual(
            ms,
            "sip:bob@example.com",
            Some(ManualState {
                availability: Availability::DoNotDisturb,
                note: None,
                until: None,
            }),
        );
        p.set_access_rules(
            ms,
            "sip:bob@example.com",
            vec![AccessRule {
                watcher: WatcherMatch::User("sip:gina@example.com".into()),
                level: AccessLevel::Team,
            }],
        );
    })
    .expect("presence is on");
    // alice is a colleague: DND sends her to carol, bob's phone does not ring.
    let p = plan(r.call(
        &invite("sip:alice@example.com", "sip:bob@example.com", "h1"),
        caller_src(),
    ));
    let uris: Vec<String> = p.groups[0]
        .targets
        .iter()
        .map(|t| t.uri.to_string())
        .collect();
    assert_eq!(uris, ["sip:carol@192.0.2.3:5060"]);
    // gina is on bob's team: her call rings bob.
    let p = plan(r.call(
        &invite("sip:gina@example.com", "sip:bob@example.com", "h2"),
        caller_src(),
    ));
    let uris: Vec<String> = p.groups[0]
        .targets
        .iter()
        .map(|t| t.uri.to_string())
        .collect();
    assert_eq!(uris, ["sip:bob@192.0.2.1:5060"]);
}

#[test]
fn an_answered_call_leaves_no_follow_ups_behind() {
    let mut r = rig(&[("forward_busy", "sip:carol@example.com")]);
    r.register(
        "bob",
        "sip:bob@192.0.2.1:5060",
        src(Transport::Udp, "203.0.113.1:40000"),
    );
    let req = invite("sip:x@elsewhere.net", "sip:bob@example.com", "k1");
    plan(r.call(&req, caller_src()));
    assert_eq!(r.fe.calls_with_followups(), 1);
    // The 200 the proxy relays upstream carries the caller's Via on top.
    let ok = sb_frontend::response_to(&req, StatusCode::OK, Some("callee"));
    r.fe.call_answered(&ok);
    assert_eq!(
        r.fe.calls_with_followups(),
        0,
        "kept for a call that is over"
    );
}
