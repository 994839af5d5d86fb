//! Session timers (RFC 4028): header parsing, negotiation on both sides, 422 and Min-SE,
//! and the refresh/expiry schedule on a virtual clock.

use std::time::Duration;

use sb_netsim::VirtualClock;
use sb_sip_core::dialog::{
    DialogError, MinSe, Negotiated, Refresher, SessionExpires, SessionTimer, SessionTimerConfig,
    SessionTimerEvent,
};
use sb_sip_core::response_for;
use sb_sip_msg::{parse_datagram, Message, Request, Response, StatusCode};

fn wire(head: &str) -> Vec<u8> {
    let mut s = String::new();
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        s.push_str(line);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

fn invite(extra: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1
        From: <sip:alice@example.com>;tag=a1
        To: <sip:bob@example.com>
        Call-ID: st-1
        CSeq: 1 INVITE
        Contact: <sip:alice@192.0.2.1>
        {extra}"
    );
    match parse_datagram(&wire(&text)).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn response(status: &str, extra: &str) -> Response {
    let text = format!(
        "SIP/2.0 {status}
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKt1
        From: <sip:alice@example.com>;tag=a1
        To: <sip:bob@example.com>;tag=b1
        Call-ID: st-1
        CSeq: 1 INVITE
        {extra}"
    );
    match parse_datagram(&wire(&text)).expect("parses") {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}

#[test]
fn session_expires_parses_and_prints() {
    let ok: &[(&str, u32, Option<Refresher>, &str)] = &[
        ("1800", 1800, None, "1800"),
        (
            "1800;refresher=uac",
            1800,
            Some(Refresher::Uac),
            "1800;refresher=uac",
        ),
        (
            " 90 ; Refresher = UAS ;foo=bar",
            90,
            Some(Refresher::Uas),
            "90;refresher=uas",
        ),
        ("4294967296000", u32::MAX, None, "4294967295"),
    ];
    for (text, interval, refresher, printed) in ok {
        let se = SessionExpires::parse(text).expect(text);
        assert_eq!(
            (se.interval, se.refresher),
            (*interval, *refresher),
            "{text}"
        );
        assert_eq!(se.to_string(), *printed);
        assert_eq!(SessionExpires::parse(&se.to_string()), Ok(se));
    }
    for bad in ["", "abc", "-5", "1800;refresher=both", "1800;refresher"] {
        assert_eq!(
            SessionExpires::parse(bad),
            Err(DialogError::BadHeader("Session-Expires")),
            "{bad:?}"
        );
    }
    assert_eq!(MinSe::parse("120;x=y"), Ok(MinSe(120)));
    assert_eq!(MinSe::parse("x"), Err(DialogError::BadHeader("Min-SE")));

    // The compact form `x` is the same header.
    let req = invite("x: 1200;refresher=uas");
    assert_eq!(
        SessionExpires::of(&req.headers),
        Ok(Some(SessionExpires {
            interval: 1200,
            refresher: Some(Refresher::Uas)
        }))
    );
    let twice = invite("Session-Expires: 1200\nSession-Expires: 1300");
    assert!(SessionExpires::of(&twice.headers).is_err());
}

#[test]
fn uas_negotiation_table() {
    let dflt = SessionTimerConfig::default();
    let strict = SessionTimerConfig::new(1800, 300, Refresher::Uas);
    let lets_uac = SessionTimerConfig::new(1800, 90, Refresher::Uac);
    let n = |interval, refresher| {
        Ok(Negotiated {
            interval,
            refresher,
        })
    };
    let cases: &[(&str, SessionTimerConfig, Result<Negotiated, DialogError>)] = &[
        (
            "Supported: timer\nSession-Expires: 1800",
            dflt,
            n(1800, Refresher::Uas),
        ),
        (
            "Supported: timer\nSession-Expires: 1800;refresher=uac",
            dflt,
            n(1800, Refresher::Uac),
        ),
        (
            "Supported: timer\nSession-Expires: 1800",
            lets_uac,
            n(1800, Refresher::Uac),
        ),
        // Too small: 422 with our Min-SE (never below 90).
        (
            "Session-Expires: 60",
            dflt,
            Err(DialogError::SessionIntervalTooSmall { min_se: 90 }),
        ),
        (
            "Session-Expires: 200",
            strict,
            Err(DialogError::SessionIntervalTooSmall { min_se: 300 }),
        ),
        // Long intervals are cut to ours, not below the request's Min-SE.
        ("Session-Expires: 7200", dflt, n(1800, Refresher::Uas)),
        (
            "Session-Expires: 7200\nMin-SE: 3600",
            dflt,
            n(3600, Refresher::Uas),
        ),
        // No Session-Expires: we still time the session, refreshing ourselves when the
        // UAC cannot.
        ("", dflt, n(1800, Refresher::Uas)),
        ("", lets_uac, n(1800, Refresher::Uas)),
        ("Supported: timer", lets_uac, n(1800, Refresher::Uac)),
        // A UAC that does not support timer cannot be the refresher.
        (
            "Session-Expires: 1800;refresher=uac",
            dflt,
            n(1800, Refresher::Uas),
        ),
    ];
    for (headers, cfg, want) in cases {
        assert_eq!(&cfg.negotiate_uas(&invite(headers)), want, "{headers:?}");
    }
    let req = invite("Session-Expires: 60");
    let e = dflt.negotiate_uas(&req).unwrap_err();
    let r422 = e.response(&req, 0).expect("422");
    assert_eq!(r422.status.code(), 422);
    assert_eq!(r422.headers.other("Min-SE").next(), Some("90"));
}

#[test]
fn uas_answer_carries_the_agreement() {
    let agreed = Negotiated {
        interval: 1800,
        refresher: Refresher::Uac,
    };
    let mut ok = response_for(&invite(""), StatusCode::OK);
    agreed.apply(&mut ok);
    assert_eq!(
        ok.headers.other("Session-Expires").next(),
        Some("1800;refresher=uac")
    );
    assert!(ok.headers.require().any(|r| r == "timer"));
    assert!(agreed.local_refreshes(Refresher::Uac));
    assert!(!agreed.local_refreshes(Refresher::Uas));

    let mut ok = response_for(&invite(""), StatusCode::OK);
    Negotiated {
        interval: 600,
        refresher: Refresher::Uas,
    }
    .apply(&mut ok);
    assert_eq!(ok.headers.require().count(), 0);
}

#[test]
fn uac_reads_the_2xx_and_retries_after_422() {
    let cfg = SessionTimerConfig::default();
    assert_eq!(
        cfg.negotiate_uac(&response("200 OK", "Session-Expires: 1200;refresher=uas")),
        Ok(Some(Negotiated {
            interval: 1200,
            refresher: Refresher::Uas
        }))
    );
    assert_eq!(cfg.negotiate_uac(&response("200 OK", "")), Ok(None));

    let mut cfg = SessionTimerConfig::new(120, 90, Refresher::Uas);
    let mut req = invite("");
    cfg.apply_to_request(&mut req);
    assert_eq!(req.headers.other("Session-Expires").next(), Some("120"));
    assert_eq!(req.headers.other("Min-SE").next(), Some("90"));
    assert!(req.headers.supported().any(|s| s == "timer"));

    let r422 = response("422 Session Interval Too Small", "Min-SE: 600");
    assert_eq!(cfg.handle_422(&r422), Ok(600));
    cfg.apply_to_request(&mut req);
    assert_eq!(req.headers.other("Session-Expires").next(), Some("600"));
    assert_eq!(req.headers.other("Min-SE").next(), Some("600"));
    assert_eq!(req.headers.other("Session-Expires").count(), 1);
    // The retried request now passes a UAS that wants 600.
    let uas = SessionTimerConfig::new(1800, 600, Refresher::Uas);
    assert!(uas.negotiate_uas(&req).is_ok());
    assert_eq!(
        cfg.handle_422(&response("422 Session Interval Too Small", "")),
        Err(DialogError::MissingHeader("Min-SE"))
    );
}

/// Runs a timer to `secs` after the clock's base, firing every deadline on its own time,
/// and returns the events with the second they fired.
fn run(t: &mut SessionTimer, clock: &mut VirtualClock, secs: u64) -> Vec<(u64, SessionTimerEvent)> {
    let end = clock.at(Duration::from_secs(secs));
    let mut out = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at > end {
            break;
        }
        clock.advance_to(at);
        t.handle_timeout(clock.now());
        while let Some(ev) = t.poll_event() {
            out.push((clock.elapsed().as_secs(), ev));
        }
    }
    clock.advance_to(end);
    out
}

#[test]
fn refresher_refreshes_at_half_and_the_other_side_expires_early() {
    let agreed = Negotiated {
        interval: 1800,
        refresher: Refresher::Uac,
    };
    let mut clock = VirtualClock::new();
    let mut alice = SessionTimer::new(clock.now(), &agreed, true);
    let mut bob = SessionTimer::new(clock.now(), &agreed, false);
    assert_eq!(alice.refresh_at(), Some(clock.at(Duration::from_secs(900))));
    assert_eq!(bob.refresh_at(), None);
    // RFC 4028 §10: the non-refresher gives up 32 s before the interval ends.
    assert_eq!(bob.expires_at(), Some(clock.at(Duration::from_secs(1768))));

    let mut c2 = clock;
    assert_eq!(run(&mut alice, &mut clock, 899), vec![]);
    assert_eq!(
        run(&mut alice, &mut clock, 900),
        vec![(900, SessionTimerEvent::Refresh)]
    );
    // The refresh succeeded at 905: both restart from there.
    clock.advance_to(clock.at(Duration::from_secs(905)));
    alice.handle_refresh(clock.now(), &agreed, true);
    assert_eq!(
        run(&mut alice, &mut clock, 1805),
        vec![(1805, SessionTimerEvent::Refresh)]
    );

    // Bob never hears a refresh: he ends the session at 1768, once.
    assert_eq!(
        run(&mut bob, &mut c2, 4000),
        vec![(1768, SessionTimerEvent::Expired)]
    );
    assert_eq!(bob.poll_timeout(), None);
}

#[test]
fn short_intervals_use_a_third_as_margin_and_a_failed_refresher_expires() {
    let agreed = Negotiated {
        interval: 90,
        refresher: Refresher::Uas,
    };
    let mut clock = VirtualClock::new();
    let mut other = SessionTimer::new(clock.now(), &agreed, false);
    // A copy of the clock, so the refresher below starts from zero too.
    let mut other_clock = clock;
    assert_eq!(
        run(&mut other, &mut other_clock, 200),
        vec![(60, SessionTimerEvent::Expired)]
    );
    // The refresher whose refresh never succeeds: refresh at 45, expired at 90.
    let mut me = SessionTimer::new(clock.now(), &agreed, true);
    assert_eq!(
        run(&mut me, &mut clock, 200),
        vec![
            (45, SessionTimerEvent::Refresh),
            (90, SessionTimerEvent::Expired)
        ]
    );
    let mut stopped = SessionTimer::new(clock.now(), &agreed, true);
    stopped.stop();
    assert_eq!(stopped.poll_timeout(), None);
}

#[test]
fn reliable_1xx_is_resent_doubling_without_cap_until_prack_or_64_t1() {
    use sb_sip_core::dialog::{Reliable1xxEvent, Reliable1xxRetransmitter};
    let cfg = sb_sip_core::TimerConfig::default();
    let r183 = response("183 Session Progress", "Require: 100rel\nRSeq: 1");
    let mut clock = VirtualClock::new();
    let mut rt = Reliable1xxRetransmitter::new(clock.now(), r183.clone(), &cfg);
    let mut sent = Vec::new();
    let mut events = Vec::new();
    while let Some(at) = rt.poll_timeout() {
        clock.advance_to(at);
        rt.handle_timeout(clock.now());
        if let Some(r) = rt.poll_transmit() {
            assert_eq!(r, r183);
            sent.push(clock.elapsed().as_millis());
        }
        events.extend(rt.poll_event().map(|e| (clock.elapsed().as_millis(), e)));
    }
    // T1 = 500 ms: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; the 2xx schedule would cap at T2.
    assert_eq!(sent, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(events, [(32000, Reliable1xxEvent::PrackTimeout)]);
    assert!(rt.is_done());

    let mut clock = VirtualClock::new();
    let mut rt = Reliable1xxRetransmitter::new(clock.now(), r183, &cfg);
    clock.advance(Duration::from_millis(500));
    rt.handle_timeout(clock.now());
    assert!(rt.poll_transmit().is_some());
    rt.handle_prack();
    assert_eq!(rt.poll_timeout(), None);
    assert!(rt.is_done());
}

/// Two dialogs agree on a session timer in the INVITE, refresh it with UPDATE at half the
/// interval, and the callee's expiry moves with each refresh; when the caller stops
/// refreshing, the callee's timer says BYE.
#[test]
fn session_refreshed_by_update_between_two_dialogs() {
    use sb_sip_core::dialog::Dialog;
    use sb_sip_msg::{Method, NameAddr};

    let cfg = SessionTimerConfig::new(600, 90, Refresher::Uac);
    let mut clock = VirtualClock::new();
    let mut inv = invite("");
    cfg.apply_to_request(&mut inv);
    let inv = reparse_req(&inv);

    let mut bob = Dialog::uas(
        &inv,
        "b1",
        NameAddr::new("sip:bob@198.51.100.7".parse().expect("uri")),
    )
    .expect("uas");
    let agreed = cfg.negotiate_uas(&inv).expect("acceptable");
    assert_eq!(agreed.refresher, Refresher::Uac);
    let mut ok = bob.response(&inv, StatusCode::OK);
    agreed.apply(&mut ok);
    let _ = bob.record_sent_response(&ok);
    let ok = reparse_resp(&ok);
    let (mut alice, _) = Dialog::uac(&inv, &ok).expect("uac");
    let theirs = cfg
        .negotiate_uac(&ok)
        .expect("valid")
        .expect("timer agreed");
    assert_eq!(theirs, agreed);
    let mut alice_timer =
        SessionTimer::new(clock.now(), &theirs, theirs.local_refreshes(Refresher::Uac));
    let mut bob_timer =
        SessionTimer::new(clock.now(), &agreed, agreed.local_refreshes(Refresher::Uas));
    alice.ack(None).expect("ack");

    for round in 1..=3u64 {
        let at = alice_timer.poll_timeout().expect("alice refreshes");
        assert_eq!(at, clock.at(Duration::from_secs(300 * round)));
        clock.advance_to(at);
        alice_timer.handle_timeout(clock.now());
        assert_eq!(alice_timer.poll_event(), Some(SessionTimerEvent::Refresh));
        bob_timer.handle_timeout(clock.now());
        assert_eq!(
            bob_timer.poll_event(),
            None,
            "bob has not expired at {round}"
        );

        let mut update = alice.request(Method::Update).expect("update");
        cfg.apply_to_request(&mut update);
        let mut update = reparse_req(&update);
        update
            .headers
            .push_via_top(inv.headers.top_via().cloned().expect("via"));
        bob.handle_request(&update).expect("in dialog");
        let renewed = cfg.negotiate_uas(&update).expect("acceptable");
        let mut ok = bob.response(&update, StatusCode::OK);
        renewed.apply(&mut ok);
        bob.record_sent_response(&ok).expect("200 UPDATE");
        bob_timer.handle_refresh(
            clock.now(),
            &renewed,
            renewed.local_refreshes(Refresher::Uas),
        );
        let ok = reparse_resp(&ok);
        alice.handle_response(&ok).expect("in dialog");
        let agreed = cfg.negotiate_uac(&ok).expect("valid").expect("agreed");
        alice_timer.handle_refresh(clock.now(), &agreed, agreed.local_refreshes(Refresher::Uac));
    }
    // Alice goes quiet: Bob's session ends 32 s before the interval after the last refresh.
    let last = clock.now();
    let at = bob_timer.poll_timeout().expect("expiry armed");
    assert_eq!(at, last + Duration::from_secs(600 - 32));
    clock.advance_to(at);
    bob_timer.handle_timeout(clock.now());
    assert_eq!(bob_timer.poll_event(), Some(SessionTimerEvent::Expired));
    let bye = bob.request(Method::Bye).expect("bye");
    alice
        .handle_request(&reparse_req(&bye))
        .expect("bye arrives");
    assert!(alice.is_terminated() && bob.is_terminated());
}

fn reparse_req(r: &Request) -> Request {
    match parse_datagram(&r.to_bytes()).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn reparse_resp(r: &Response) -> Response {
    match parse_datagram(&r.to_bytes()).expect("parses") {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}
