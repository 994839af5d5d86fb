//! Gateway health on a virtual clock, and choosing a gateway of a pool.

use std::collections::BTreeSet;
use std::time::Duration;

use sb_gateways::*;
use sb_netsim::VirtualClock;
use sb_sip_msg::{lint, CallId, Header, Host, Method, Response, StatusCode};

fn table(extra_a: &str, strategy: &str) -> GatewayTable {
    let interval_a = if extra_a.contains("options_interval_s") {
        ""
    } else {
        "options_interval_s = 10"
    };
    let s = format!(
        r#"
        [[gateways]]
        name = "gw-a"
        address = "192.0.2.1:5060"
        {interval_a}
        {extra_a}
        [[gateways]]
        name = "gw-b"
        address = "gw-b.example.net"
        transport = "tcp"
        options_interval_s = 10
        [[gateways]]
        name = "gw-c"
        address = "192.0.2.3"
        options_interval_s = 10
        [[pools]]
        name = "pool"
        gateways = ["gw-a", "gw-b", "gw-c"]
        strategy = "{strategy}"
        "#
    );
    GatewayTable::compile(toml::from_str(&s).unwrap()).unwrap()
}

fn monitor(clock: &VirtualClock, t: &GatewayTable) -> GatewayMonitor {
    let cfg = MonitorConfig::new(Host::Domain("sb.example.com".into()), Some(5060), 0x100);
    GatewayMonitor::new(clock.now(), t, cfg)
}

fn gw(n: &str) -> GatewayName {
    GatewayName::from(n)
}

fn drain(m: &mut GatewayMonitor) -> Vec<KeepAlive> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

fn events(m: &mut GatewayMonitor) -> Vec<MonitorEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// The gateway's answer to a keep-alive.
fn answer(k: &KeepAlive, status: u16) -> Response {
    let mut r = Response::new(StatusCode(status));
    let call_id = k.request.headers.call_id().unwrap().clone();
    r.headers.push(Header::CallId(call_id));
    r
}

#[test]
fn keep_alives_are_well_formed_and_spaced_by_the_interval() {
    let mut clock = VirtualClock::new();
    let t = table("", "priority");
    let mut m = monitor(&clock, &t);
    let first = drain(&mut m);
    assert_eq!(first.len(), 3, "one keep-alive per gateway at start");
    let k = &first[1];
    assert_eq!(k.gateway, gw("gw-b"));
    assert_eq!(k.address.to_string(), "gw-b.example.net");
    assert_eq!(k.transport, GatewayTransport::Tcp);
    let req = &k.request;
    assert_eq!(req.method, Method::Options);
    assert_eq!(req.uri.to_string(), "sip:gw-b.example.net;transport=tcp");
    assert_eq!(req.headers.max_forwards(), Some(70));
    let via = req.headers.top_via().unwrap();
    assert_eq!(via.transport.as_str(), "TCP");
    // The counter starts at the seed (0x100): the second keep-alive is number 0x102.
    assert_eq!(via.branch(), Some("z9hG4bK0000000000000102"));
    assert_eq!(
        req.headers.call_id(),
        Some(&CallId("0000000000000102@sb.example.com".into()))
    );
    assert_eq!(req.headers.from().unwrap().tag(), Some("102"));
    assert_eq!(req.headers.cseq().unwrap().seq, 1);
    assert!(lint(&req.to_bytes()).is_ok(), "{req}");
    // Distinct ids for every keep-alive.
    let branches: BTreeSet<String> = first
        .iter()
        .map(|k| {
            k.request
                .headers
                .top_via()
                .unwrap()
                .branch()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(branches.len(), 3);

    for k in &first {
        m.handle_response(clock.now(), &k.gateway, StatusCode::OK);
    }
    assert_eq!(m.poll_timeout(), Some(clock.at(Duration::from_secs(10))));
    clock.advance(Duration::from_millis(9_999));
    m.handle_timeout(clock.now());
    assert!(drain(&mut m).is_empty(), "nothing before the interval");
    clock.advance(Duration::from_millis(1));
    m.handle_timeout(clock.now());
    let second = drain(&mut m);
    assert_eq!(second.len(), 3);
    assert_eq!(second[0].request.headers.cseq().unwrap().seq, 2);
    assert_ne!(
        second[0].request.headers.call_id(),
        first[0].request.headers.call_id()
    );
}

#[test]
fn misses_mark_down_and_any_answer_but_503_marks_up() {
    let mut clock = VirtualClock::new();
    let t = table("down_after = 2", "priority");
    let mut m = monitor(&clock, &t);
    let a = gw("gw-a");
    assert_eq!(m.state(&a).unwrap().health, Health::Unknown);
    drain(&mut m);
    // A 404 to OPTIONS is an answer: the gateway is alive.
    m.handle_response(clock.now(), &a, StatusCode(404));
    assert_eq!(
        events(&mut m),
        [MonitorEvent::GatewayUp {
            gateway: a.clone(),
            reason: Reason::Answered(404)
        }]
    );
    // Two rounds without an answer (10 s each: the interval is shorter than 32 s).
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    drain(&mut m);
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    assert_eq!(m.state(&a).unwrap().missed, 1);
    assert_eq!(m.state(&a).unwrap().health, Health::Up, "one miss of two");
    events(&mut m);
    drain(&mut m);
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    let st = m.state(&a).unwrap();
    assert_eq!(st.health, Health::Down);
    assert_eq!(st.since, Some(clock.now()));
    assert_eq!(st.reason, Some(Reason::NoAnswer { missed: 2 }));
    assert!(events(&mut m).contains(&MonitorEvent::GatewayDown {
        gateway: a.clone(),
        reason: Reason::NoAnswer { missed: 2 }
    }));
    // Provisional answers say nothing; a 500 is an answer.
    m.handle_response(clock.now(), &a, StatusCode(100));
    assert_eq!(m.state(&a).unwrap().health, Health::Down);
    m.handle_response(clock.now(), &a, StatusCode(500));
    assert_eq!(m.state(&a).unwrap().health, Health::Up);
    assert_eq!(m.state(&a).unwrap().missed, 0);
    // 503 means unavailable: down at once.
    m.handle_response(clock.now(), &a, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(m.state(&a).unwrap().health, Health::Down);
    assert_eq!(m.state(&a).unwrap().reason, Some(Reason::Unavailable));
    let ev = events(&mut m);
    assert_eq!(ev.len(), 2, "{ev:?}");
}

#[test]
fn the_answer_timeout_is_32_seconds_when_the_interval_is_longer() {
    let mut clock = VirtualClock::new();
    let t = table("options_interval_s = 60", "priority");
    let mut m = monitor(&clock, &t);
    let a = gw("gw-a");
    drain(&mut m);
    for g in ["gw-b", "gw-c"] {
        m.handle_response(clock.now(), &gw(g), StatusCode::OK);
    }
    assert_eq!(m.poll_timeout(), Some(clock.at(Duration::from_secs(10))));
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    // gw-b and gw-c probe again; gw-a's first keep-alive is still awaited until 32 s.
    for k in drain(&mut m) {
        m.handle_response(clock.now(), &k.gateway, StatusCode::OK);
    }
    clock.advance_to(clock.at(Duration::from_millis(31_999)));
    m.handle_timeout(clock.now());
    assert_eq!(m.state(&a).unwrap().health, Health::Unknown);
    clock.advance_to(clock.at(Duration::from_secs(32)));
    m.handle_timeout(clock.now());
    assert_eq!(m.state(&a).unwrap().health, Health::Down);
}

#[test]
fn responses_are_matched_by_call_id_and_failures_count_as_misses() {
    let clock = VirtualClock::new();
    let t = table("", "priority");
    let mut m = monitor(&clock, &t);
    let ks = drain(&mut m);
    assert_eq!(
        m.gateway_for_call_id(ks[2].request.headers.call_id().unwrap().as_str()),
        Some(&gw("gw-c"))
    );
    assert!(m.handle_options_response(clock.now(), &answer(&ks[2], 200)));
    assert_eq!(m.state(&gw("gw-c")).unwrap().health, Health::Up);
    assert!(m.state(&gw("gw-c")).unwrap().last_answer.is_some());
    // A Call-ID we never sent matches nothing.
    let mut stray = answer(&ks[2], 200);
    stray.headers.0.clear();
    stray
        .headers
        .push(Header::CallId(CallId("nobody@else".into())));
    assert!(!m.handle_options_response(clock.now(), &stray));
    // The caller could not reach gw-b.
    m.handle_failure(clock.now(), &gw("gw-b"));
    assert_eq!(m.state(&gw("gw-b")).unwrap().health, Health::Down);
    assert_eq!(
        m.state(&gw("gw-b")).unwrap().reason,
        Some(Reason::TransportFailure)
    );
    // Unknown gateways are ignored, not a panic.
    m.handle_response(clock.now(), &gw("nope"), StatusCode::OK);
    m.call_failed(clock.now(), &gw("nope"), StatusCode(503));
    m.release(&gw("nope"));
    assert!(!m.reserve(&gw("nope")));
}

#[test]
fn configured_call_failures_mark_down_until_a_keep_alive_is_answered() {
    let mut clock = VirtualClock::new();
    let t = table("fail_codes = [503, 502]", "priority");
    let mut m = monitor(&clock, &t);
    let a = gw("gw-a");
    for k in drain(&mut m) {
        m.handle_options_response(clock.now(), &answer(&k, 200));
    }
    events(&mut m);
    m.call_failed(clock.now(), &a, StatusCode(486));
    m.call_failed(clock.now(), &a, StatusCode(500));
    assert_eq!(m.state(&a).unwrap().health, Health::Up, "not configured");
    m.call_failed(clock.now(), &a, StatusCode(502));
    assert_eq!(m.state(&a).unwrap().health, Health::Down);
    assert_eq!(
        events(&mut m),
        [MonitorEvent::GatewayDown {
            gateway: a.clone(),
            reason: Reason::CallFailed(502)
        }]
    );
    let pool = t.pool(&"pool".into()).unwrap();
    assert_eq!(pick(pool, &m), Some(gw("gw-b")));
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    for k in drain(&mut m) {
        m.handle_options_response(clock.now(), &answer(&k, 200));
    }
    assert_eq!(m.state(&a).unwrap().health, Health::Up);
    assert_eq!(pick(pool, &m), Some(a));
}

#[test]
fn selection_table() {
    // (strategy, gw-a capacity, down gateways, calls to reserve in order, expected order)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );
    let table_rows: [Row; 6] = [
        ("priority", "", &[], &[], &["gw-a", "gw-b", "gw-c"]),
        ("priority", "", &["gw-a"], &[], &["gw-b", "gw-c"]),
        (
            "priority",
            "capacity = 1",
            &[],
            &["gw-a"],
            &["gw-b", "gw-c"],
        ),
        ("priority", "", &["gw-a", "gw-b", "gw-c"], &[], &[]),
        (
            "round_robin",
            "",
            &[],
            &["gw-a", "gw-b"],
            &["gw-c", "gw-a", "gw-b"],
        ),
        ("round_robin", "", &["gw-c"], &["gw-b"], &["gw-a", "gw-b"]),
    ];
    for (strategy, cap, down, reserved, want) in table_rows {
        let clock = VirtualClock::new();
        let t = table(cap, strategy);
        let mut m = monitor(&clock, &t);
        for g in down {
            m.handle_response(clock.now(), &gw(g), StatusCode(503));
        }
        for g in reserved {
            assert!(m.reserve(&gw(g)), "reserve {g}");
        }
        let pool = t.pool(&"pool".into()).unwrap();
        let got: Vec<String> = candidates(pool, &m).iter().map(|g| g.to_string()).collect();
        assert_eq!(
            got, want,
            "{strategy} {cap} down={down:?} reserved={reserved:?}"
        );
        assert_eq!(
            pick(pool, &m).map(|g| g.to_string()).as_deref(),
            want.first().copied()
        );
    }
}

#[test]
fn round_robin_takes_turns_and_capacity_is_counted() {
    let clock = VirtualClock::new();
    let t = table("capacity = 2", "round_robin");
    let mut m = monitor(&clock, &t);
    let pool = t.pool(&"pool".into()).unwrap();
    let mut order = Vec::new();
    for _ in 0..6 {
        let g = pick(pool, &m).unwrap();
        assert!(m.reserve(&g));
        order.push(g.to_string());
    }
    assert_eq!(order, ["gw-a", "gw-b", "gw-c", "gw-a", "gw-b", "gw-c"]);
    let a = gw("gw-a");
    assert_eq!(m.state(&a).unwrap().active_calls, 2);
    assert!(!m.reserve(&a), "gw-a is full");
    assert!(!candidates(pool, &m).contains(&a));
    m.release(&a);
    assert!(m.is_available(&a));
    m.release(&a);
    m.release(&a);
    assert_eq!(
        m.state(&a).unwrap().active_calls,
        0,
        "extra releases ignored"
    );
}

#[test]
fn a_new_configuration_keeps_live_state() {
    let clock = VirtualClock::new();
    let t = table("", "priority");
    let mut m = monitor(&clock, &t);
    drain(&mut m);
    m.handle_response(clock.now(), &gw("gw-a"), StatusCode::OK);
    assert!(m.reserve(&gw("gw-a")));
    let mut c: GatewaysConfig = toml::from_str(
        "[[gateways]]\nname = \"gw-a\"\naddress = \"192.0.2.1:5060\"\ncapacity = 5\n\
         [[gateways]]\nname = \"gw-d\"\naddress = \"192.0.2.4\"\n",
    )
    .unwrap();
    c.gateways[0].options_interval_s = 10;
    m.update(clock.now(), &GatewayTable::compile(c).unwrap());
    let a = m.state(&gw("gw-a")).unwrap();
    assert_eq!(
        (a.health, a.active_calls, a.capacity),
        (Health::Up, 1, Some(5))
    );
    assert!(m.state(&gw("gw-b")).is_none());
    let sent: Vec<GatewayName> = drain(&mut m).into_iter().map(|k| k.gateway).collect();
    assert_eq!(sent, [gw("gw-d")], "only the new gateway is probed at once");
}

/// The issue's scenario on a virtual clock: the first gateway of a pool stops answering;
/// within one keep-alive interval plus the answer timeout new calls go to the second;
/// when it answers again, it is used again within one interval.
#[test]
fn failover_and_back_on_a_virtual_clock() {
    let mut clock = VirtualClock::new();
    let t = table("", "priority");
    let mut m = monitor(&clock, &t);
    let pool = t.pool(&"pool".into()).unwrap().clone();
    let interval = Duration::from_secs(10);
    let timeout = interval.min(Duration::from_secs(32));
    let rtt = Duration::from_millis(20);

    // Gateways answer after `rtt` while alive; in flight: (due, response).
    let mut in_flight: Vec<(std::time::Instant, Response)> = Vec::new();
    let mut a_alive = true;
    let mut killed_at = None;
    let mut revived_at = None;
    let mut moved_at = None;
    let mut back_at = None;
    let end = clock.at(Duration::from_secs(120));
    while clock.now() < end {
        let t_now = clock.now();
        if killed_at.is_none() && t_now >= clock.at(Duration::from_secs(35)) {
            a_alive = false;
            killed_at = Some(t_now);
        }
        if revived_at.is_none() && t_now >= clock.at(Duration::from_secs(80)) {
            a_alive = true;
            revived_at = Some(t_now);
        }
        m.handle_timeout(t_now);
        let (due, later): (Vec<_>, Vec<_>) = in_flight.into_iter().partition(|(d, _)| *d <= t_now);
        in_flight = later;
        for (_, r) in due {
            m.handle_options_response(t_now, &r);
        }
        for k in drain(&mut m) {
            if k.gateway != gw("gw-a") || a_alive {
                in_flight.push((t_now + rtt, answer(&k, 200)));
            }
        }
        let picked = pick(&pool, &m);
        if killed_at.is_some() && moved_at.is_none() && picked == Some(gw("gw-b")) {
            moved_at = Some(t_now);
        }
        if revived_at.is_some() && back_at.is_none() && picked == Some(gw("gw-a")) {
            back_at = Some(t_now);
        }
        if killed_at.is_none() {
            assert_eq!(picked, Some(gw("gw-a")), "at {:?}", clock.elapsed());
        }
        // Wake at the monitor's timer, the next response, or in 100 ms to sample picks.
        let next = [
            m.poll_timeout(),
            in_flight.iter().map(|(d, _)| *d).min(),
            Some(t_now + Duration::from_millis(100)),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
        clock.advance_to(next.max(t_now + Duration::from_millis(1)));
    }
    let moved = moved_at.expect("calls never moved to gw-b") - killed_at.unwrap();
    assert!(
        moved <= interval + timeout,
        "moved after {moved:?}, more than {:?}",
        interval + timeout
    );
    let back = back_at.expect("gw-a never used again") - revived_at.unwrap();
    assert!(back <= interval + rtt, "back after {back:?}");
    assert_eq!(m.state(&gw("gw-a")).unwrap().health, Health::Up);
    assert_eq!(m.state(&gw("gw-b")).unwrap().health, Health::Up);
}

#[test]
fn a_late_answer_after_a_miss_still_proves_the_gateway_alive() {
    let mut clock = VirtualClock::new();
    let t = table("", "priority");
    let mut m = monitor(&clock, &t);
    let a = gw("gw-a");
    let first = drain(&mut m).remove(0);
    // Unanswered within the 10 s window: missed, down; the next keep-alive goes out.
    clock.advance(Duration::from_secs(10));
    m.handle_timeout(clock.now());
    assert_eq!(m.state(&a).unwrap().health, Health::Down);
    let second = drain(&mut m).remove(0);
    assert_ne!(
        first.request.headers.call_id(),
        second.request.headers.call_id()
    );
    // The first keep-alive's answer arrives late (its transaction waits 32 s).
    clock.advance(Duration::from_secs(5));
    assert!(m.handle_options_response(clock.now(), &answer(&first, 200)));
    assert_eq!(m.state(&a).unwrap().health, Health::Up);
    assert_eq!(m.state(&a).unwrap().health.to_string(), "up");
    // Two rounds later it is forgotten.
    for _ in 0..2 {
        clock.advance(Duration::from_secs(10));
        m.handle_timeout(clock.now());
        drain(&mut m);
    }
    assert!(!m.handle_options_response(clock.now(), &answer(&first, 200)));
}
