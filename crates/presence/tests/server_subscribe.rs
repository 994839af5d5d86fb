//! SUBSCRIBE/NOTIFY for the presence package (RFC 6665, RFC 3856) through
//! `PresenceServer`, on the virtual clock.

mod server_util;
use sb_presence::model::{Availability, ManualState};
use sb_presence::{PresenceEvent, RemoveReason};
use sb_sip_msg::Method;
use server_util::*;

fn manual(a: Availability, note: Option<&str>) -> Option<ManualState> {
    Some(ManualState {
        availability: a,
        note: note.map(str::to_string),
        until: None,
    })
}

#[test]
fn a_200_is_followed_by_an_in_dialog_notify_with_full_state() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    let mut w = Sub::new(ALICE, BOB, "c-1");
    let r = w.send(&mut s, T0, 3_600, Some(ALICE));
    assert_eq!(r.status, 200);
    assert_eq!(reply_header(&r, "Expires").as_deref(), Some("3600"));
    assert!(reply_header(&r, "Contact")
        .unwrap()
        .contains("sip:192.0.2.10:5060"));
    let tag = r.to_tag.clone().expect("the 200 carries our To tag");

    let n = drain(&mut s, T0);
    assert_eq!(n.len(), 1);
    let n = &n[0];
    let req = &n.request;
    assert_eq!(n.flow, 7);
    assert_eq!(req.method, Method::Notify);
    assert_eq!(
        req.uri.to_string(),
        "sip:watcher@192.0.2.1:5070",
        "sent to the Contact"
    );
    assert!(
        req.headers.top_via().is_none(),
        "the transaction layer adds the Via"
    );
    let routes: Vec<String> = req.headers.routes().map(|r| r.uri.to_string()).collect();
    assert_eq!(routes, ["sip:edge.example.com;lr"]);
    assert_eq!(req.headers.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(req.headers.to().unwrap().tag(), Some("ft-c-1"));
    assert_eq!(req.headers.call_id().unwrap().as_str(), "c-1");
    assert_eq!(req.headers.cseq().unwrap().method, Method::Notify);
    assert_eq!(header(n, "Event"), Some("presence"));
    assert_eq!(sub_state(n), "active;expires=3600");
    assert_eq!(req.headers.content_type(), Some("application/pidf+xml"));
    assert!(read_pidf(n).basic_open, "bob is signed in");
    assert!(sb_sip_msg::lint(&{
        let mut with_via = req.clone();
        with_via
            .headers
            .push_via_top("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKn1".parse_via());
        with_via.to_bytes()
    })
    .is_ok());
    assert_eq!(s.subscriptions(), 1);
}

/// Parses a Via value for the lint check above.
trait ParseVia {
    fn parse_via(&self) -> sb_sip_msg::Via;
}
impl ParseVia for str {
    fn parse_via(&self) -> sb_sip_msg::Via {
        let text = format!(
            "OPTIONS sip:x SIP/2.0\r\nVia: {self}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n\
             Call-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match sb_sip_msg::parse_datagram(text.as_bytes()).unwrap() {
            sb_sip_msg::Message::Request(r) => r.headers.top_via().unwrap().clone(),
            _ => unreachable!(),
        }
    }
}

#[test]
fn each_watcher_sees_changes_through_its_access_level() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    let mut colleague = Sub::new(ALICE, BOB, "c-col");
    let mut stranger = Sub::new("sip:eve@elsewhere.test", BOB, "c-str");
    colleague.send(&mut s, T0, 3_600, Some(ALICE));
    stranger.send(&mut s, T0, 3_600, None);
    assert_eq!(drain(&mut s, T0).len(), 2);

    s.set_manual(
        T0 + 10_000,
        BOB,
        manual(Availability::Busy, Some("Quarterly review")),
    );
    let n = drain(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 2);
    let to_colleague = n
        .iter()
        .find(|n| n.request.headers.call_id().unwrap().as_str() == "c-col")
        .unwrap();
    let to_stranger = n
        .iter()
        .find(|n| n.request.headers.call_id().unwrap().as_str() == "c-str")
        .unwrap();
    assert!(body(to_colleague).contains("Quarterly review"));
    assert!(
        !body(to_stranger).contains("Quarterly review"),
        "public level: availability only"
    );

    // Only the note changes: the stranger's view is the same, so only the colleague hears.
    s.set_manual(
        T0 + 20_000,
        BOB,
        manual(Availability::Busy, Some("Budget review")),
    );
    let n = drain(&mut s, T0 + 20_000);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].request.headers.call_id().unwrap().as_str(), "c-col");
    assert!(body(&n[0]).contains("Budget review"));
}

#[test]
fn refresh_extends_and_resends_state_and_unknown_dialogs_get_481() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "c-r");
    w.send(&mut s, T0, 600, Some(ALICE));
    let first = drain(&mut s, T0);
    let r = w.send(&mut s, T0 + 500_000, 600, Some(ALICE));
    assert_eq!(r.status, 200);
    assert_eq!(reply_header(&r, "Expires").as_deref(), Some("600"));
    let n = drain(&mut s, T0 + 500_000);
    assert_eq!(
        n.len(),
        1,
        "a refresh is answered with a NOTIFY too (RFC 6665 §4.2.1.2)"
    );
    assert_eq!(sub_state(&n[0]), "active;expires=600");
    assert_eq!(
        n[0].request.headers.cseq().unwrap().seq,
        first[0].request.headers.cseq().unwrap().seq + 1
    );
    // Without the refresh it would have ended at 600 s; now it lives to 1100 s.
    assert!(run_until(&mut s, T0 + 1_000_000).is_empty());
    assert_eq!(s.subscriptions(), 1);

    let mut lost = w.clone();
    lost.to_tag = Some("not-ours".into());
    assert_eq!(
        lost.send(&mut s, T0 + 1_000_000, 600, Some(ALICE)).status,
        481
    );
}

#[test]
fn expiry_sends_terminated_timeout_and_removes_the_subscription() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "c-x");
    w.send(&mut s, T0, 120, Some(ALICE));
    drain(&mut s, T0);
    while s.poll_event().is_some() {}
    assert_eq!(s.poll_timeout(), Some(T0 + 120_000));
    let n = run_until(&mut s, T0 + 120_000);
    assert_eq!(n.len(), 1);
    assert_eq!(sub_state(&n[0].1), "terminated;reason=timeout");
    assert_eq!(s.subscriptions(), 0);
    assert!(matches!(
        s.poll_event(),
        Some(PresenceEvent::SubscriptionRemoved {
            reason: RemoveReason::Expired,
            ..
        })
    ));
    s.set_manual(T0 + 130_000, BOB, manual(Availability::Away, None));
    assert!(
        drain(&mut s, T0 + 130_000).is_empty(),
        "nobody is watching any more"
    );
}

#[test]
fn unsubscribe_and_fetch_end_with_a_terminated_notify() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "c-u");
    w.send(&mut s, T0, 600, Some(ALICE));
    drain(&mut s, T0);
    let r = w.send(&mut s, T0 + 1_000, 0, Some(ALICE));
    assert_eq!(r.status, 200);
    let n = drain(&mut s, T0 + 1_000);
    assert_eq!(n.len(), 1);
    assert!(sub_state(&n[0]).starts_with("terminated"));
    assert_eq!(s.subscriptions(), 0);

    // A fetch: Expires 0 on a new SUBSCRIBE gives the state once and keeps nothing.
    let mut f = Sub::new(ALICE, BOB, "c-f");
    assert_eq!(f.send(&mut s, T0 + 2_000, 0, Some(ALICE)).status, 200);
    let n = drain(&mut s, T0 + 2_000);
    assert_eq!(n.len(), 1);
    assert!(sub_state(&n[0]).starts_with("terminated"));
    read_pidf(&n[0]);
    assert_eq!(s.subscriptions(), 0);
}

#[test]
fn throttling_coalesces_changes_and_sends_the_latest_when_the_interval_ends() {
    let mut s = server(); // notify_min_interval_ms = 5000
    s.set_signed_in(T0, BOB, true);
    let mut w = Sub::new(ALICE, BOB, "c-t");
    w.send(&mut s, T0, 3_600, Some(ALICE));
    assert_eq!(drain(&mut s, T0).len(), 1);

    s.set_manual(T0 + 1_000, BOB, manual(Availability::Busy, Some("one")));
    s.set_manual(T0 + 2_000, BOB, manual(Availability::Away, Some("two")));
    s.set_manual(
        T0 + 3_000,
        BOB,
        manual(Availability::DoNotDisturb, Some("three")),
    );
    assert!(
        drain(&mut s, T0 + 3_000).is_empty(),
        "inside the interval nothing leaves"
    );
    assert_eq!(s.poll_timeout(), Some(T0 + 5_000));
    let n = run_until(&mut s, T0 + 9_999);
    assert_eq!(n.len(), 1, "one NOTIFY for three changes");
    assert_eq!(n[0].0, T0 + 5_000);
    assert!(body(&n[0].1).contains("three"));
    assert!(!body(&n[0].1).contains("two"));

    // The next change inside the new interval waits until 10 s.
    s.set_manual(T0 + 6_000, BOB, manual(Availability::Available, None));
    assert!(drain(&mut s, T0 + 6_000).is_empty());
    let n = run_until(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, T0 + 10_000);
}

#[test]
fn a_notify_answered_481_ends_the_subscription() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "c-481");
    w.send(&mut s, T0, 3_600, Some(ALICE));
    let n = s.poll_notify().unwrap();
    s.handle_notify_response(T0, n.id, 481);
    assert_eq!(s.subscriptions(), 0);
    s.set_manual(T0 + 10_000, BOB, manual(Availability::Busy, None));
    assert!(drain(&mut s, T0 + 10_000).is_empty());
    // A refresh of the dead dialog is now unknown.
    assert_eq!(w.send(&mut s, T0 + 20_000, 600, Some(ALICE)).status, 481);
}

#[test]
fn a_notify_answered_with_a_non_fatal_error_keeps_the_subscription() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "c-500");
    w.send(&mut s, T0, 3_600, Some(ALICE));
    let n = s.poll_notify().unwrap();
    s.handle_notify_response(T0, n.id, 500);
    assert_eq!(s.subscriptions(), 1);
}

#[test]
fn refusals_interval_event_and_limits() {
    let mut s = server();
    let r = Sub::new(ALICE, BOB, "c-423").send(&mut s, T0, 30, Some(ALICE));
    assert_eq!(r.status, 423);
    assert_eq!(reply_header(&r, "Min-Expires").as_deref(), Some("60"));
    let r =
        Sub::new(ALICE, BOB, "c-489")
            .event("message-summary")
            .send(&mut s, T0, 600, Some(ALICE));
    assert_eq!(r.status, 489);
    assert!(reply_header(&r, "Allow-Events")
        .unwrap()
        .contains("presence"));
    let r = Sub::new(ALICE, BOB, "c-max").send(&mut s, T0, 99_999, Some(ALICE));
    assert_eq!(reply_header(&r, "Expires").as_deref(), Some("7200"));

    let mut cfg = config();
    cfg.max_subscriptions_per_watcher = 2;
    let mut s = sb_presence::PresenceServer::new(cfg);
    for i in 0..2 {
        assert_eq!(
            Sub::new(ALICE, BOB, &format!("l{i}"))
                .send(&mut s, T0, 600, Some(ALICE))
                .status,
            200
        );
    }
    assert_eq!(
        Sub::new(ALICE, BOB, "l2")
            .send(&mut s, T0, 600, Some(ALICE))
            .status,
        403
    );
    assert_eq!(
        Sub::new(BOB, ALICE, "l3")
            .send(&mut s, T0, 600, Some(BOB))
            .status,
        200
    );
}

#[test]
fn manual_state_with_an_end_time_clears_on_its_own() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    let mut w = Sub::new(ALICE, BOB, "c-until");
    w.send(&mut s, T0, 3_600, Some(ALICE));
    drain(&mut s, T0);
    let until_s = T0 / 1000 + 600;
    s.set_manual(
        T0,
        BOB,
        Some(ManualState {
            availability: Availability::BeRightBack,
            note: None,
            until: Some(until_s),
        }),
    );
    // The first change after the initial NOTIFY waits for the 5 s interval.
    let n = run_until(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    assert_eq!(
        s.state_for(T0 + 10_000, BOB, Some(ALICE)).availability,
        Availability::BeRightBack
    );
    let n = run_until(&mut s, T0 + 600_000);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, T0 + 600_000);
    assert_eq!(
        s.state_for(T0 + 600_000, BOB, Some(ALICE)).availability,
        Availability::Available
    );
}

#[test]
fn configuration_is_checked() {
    assert_eq!(config().check(), Ok(()));
    let mut c = config();
    c.min_expires = 10_000;
    assert!(c.check().is_err());
    let mut c = config();
    c.default_expires = 10;
    assert!(c.check().is_err());
    let mut c = config();
    c.our_contact = "not a uri".into();
    assert!(c.check().is_err());
}
