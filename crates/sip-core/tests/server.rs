//! Server transactions (RFC 3261 §17.2, RFC 6026 §7.1), matching (§17.2.3, §9.2) and the
//! UAS 2xx retransmission schedule (§13.3.1.4), on a virtual clock.

mod common;

use common::{peer, Harness};
use sb_netsim::sip::{response_to, simple_request, RequestBuilder};
use sb_sip_core::{
    InviteServerState, NonInviteServerState, TimerConfig, TransportKind, TsxError, TsxEvent, TsxId,
    TsxState, Uas2xxEvent, Uas2xxRetransmitter,
};
use sb_sip_msg::{Method, Request, StatusCode};

fn new_request_ids(h: &Harness) -> Vec<TsxId> {
    h.events
        .iter()
        .filter_map(|(_, e)| match e {
            TsxEvent::NewRequest { tsx, .. } => Some(*tsx),
            _ => None,
        })
        .collect()
}

/// The ACK a UAC sends for a non-2xx: same branch as the INVITE, To with the tag.
fn ack_for(invite: &Request, to_tag: &str) -> Request {
    let mut ack = invite.clone();
    ack.method = Method::Ack;
    for h in ack.headers.0.iter_mut() {
        match h {
            sb_sip_msg::Header::CSeq(c) => c.method = Method::Ack,
            sb_sip_msg::Header::To(t) => t.params.set("tag", Some(to_tag)),
            _ => {}
        }
    }
    ack
}

fn receive_invite(h: &mut Harness, invite: &Request, kind: TransportKind) -> TsxId {
    h.recv_request(invite.clone(), peer(kind));
    *new_request_ids(h).last().expect("a NewRequest event")
}

#[test]
fn invite_server_sends_100_trying_at_200ms_unless_the_tu_answered() {
    let mut h = Harness::new();
    let invite = simple_request(Method::Invite, "s1", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.run_until(300);
    assert_eq!(h.response_times(StatusCode::TRYING), vec![200]);
    let trying = match &h.sent[0].1.message {
        sb_sip_msg::Message::Response(r) => r.clone(),
        m => panic!("{m:?}"),
    };
    assert_eq!(trying.headers.to().unwrap().tag(), None, "no To tag on 100");
    assert_eq!(
        trying.headers.vias().collect::<Vec<_>>(),
        invite.headers.vias().collect::<Vec<_>>()
    );
    // A retransmitted INVITE gets the last provisional again, and no new TU event.
    h.recv_request(invite.clone(), peer(TransportKind::Udp));
    assert_eq!(h.response_times(StatusCode::TRYING), vec![200, 300]);
    assert_eq!(new_request_ids(&h), vec![tsx]);

    let mut h = Harness::new();
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.run_until(150);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode::RINGING, Some("u")),
        )
        .unwrap();
    h.drain();
    h.run_until(5_000);
    assert!(h.response_times(StatusCode::TRYING).is_empty());
    assert_eq!(h.response_times(StatusCode::RINGING), vec![150]);
}

#[test]
fn invite_server_retransmits_a_non_2xx_final_on_timer_g_until_the_ack() {
    let mut h = Harness::new();
    let invite = simple_request(Method::Invite, "s2", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode(486), Some("u")),
        )
        .unwrap();
    h.drain();
    h.run_until(10_000);
    h.recv_request(ack_for(&invite, "u"), peer(TransportKind::Udp));
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteServer(InviteServerState::Confirmed))
    );
    h.recv_request(ack_for(&invite, "u"), peer(TransportKind::Udp)); // absorbed in Confirmed
    h.run_until(60_000);
    assert_eq!(
        h.response_times(StatusCode(486)),
        vec![0, 500, 1500, 3500, 7500]
    );
    assert!(
        h.events_where(|e| matches!(e, TsxEvent::Ack2xx { .. }))
            .is_empty(),
        "ACK absorbed"
    );
    // Timer I = T4 after the ACK.
    assert!(h.events.contains(&(15_000, TsxEvent::Terminated { tsx })));
}

#[test]
fn invite_server_gives_up_on_timer_h_without_an_ack() {
    let mut h = Harness::new();
    let invite = simple_request(Method::Invite, "s3", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode(404), Some("u")),
        )
        .unwrap();
    h.drain();
    h.run_until(60_000);
    assert_eq!(
        h.response_times(StatusCode(404)),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Timeout { .. } | TsxEvent::Terminated { .. })),
        vec![
            (32_000, TsxEvent::Timeout { tsx }),
            (32_000, TsxEvent::Terminated { tsx })
        ]
    );
}

#[test]
fn reliable_server_transactions_never_retransmit_and_end_at_once() {
    let mut h = Harness::new();
    let invite = simple_request(Method::Invite, "s4", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Tcp);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode(486), Some("u")),
        )
        .unwrap();
    h.drain();
    h.run_until(5_000);
    h.recv_request(ack_for(&invite, "u"), peer(TransportKind::Tcp));
    assert_eq!(h.response_times(StatusCode(486)), vec![0]);
    assert!(
        h.events.contains(&(5_000, TsxEvent::Terminated { tsx })),
        "Timer I is zero"
    );

    let opts = simple_request(Method::Options, "s4b", 1);
    h.recv_request(opts.clone(), peer(TransportKind::Ws));
    let nid = *new_request_ids(&h).last().unwrap();
    h.layer
        .send_response(h.now(), nid, response_to(&opts, StatusCode::OK, Some("u")))
        .unwrap();
    h.drain();
    assert!(
        h.events
            .contains(&(5_000, TsxEvent::Terminated { tsx: nid })),
        "Timer J is zero"
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn non_invite_server_absorbs_while_trying_and_replays_the_final_until_timer_j() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let req = simple_request(Method::Register, "s5", 1);
    h.recv_request(req.clone(), udp);
    let tsx = new_request_ids(&h)[0];
    h.run_until(500);
    h.recv_request(req.clone(), udp);
    assert!(h.sent.is_empty(), "nothing to replay while Trying");
    h.run_until(1_000);
    let ok = response_to(&req, StatusCode::OK, Some("r"));
    h.layer.send_response(h.now(), tsx, ok.clone()).unwrap();
    h.drain();
    assert_eq!(
        h.layer.send_response(h.now(), tsx, ok.clone()),
        Err(TsxError::InvalidState {
            tsx,
            status: 200,
            state: "Completed"
        })
    );
    h.run_until(1_500);
    h.recv_request(req.clone(), udp);
    assert_eq!(h.response_times(StatusCode::OK), vec![1_000, 1_500]);
    assert_eq!(new_request_ids(&h), vec![tsx]);
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::NonInviteServer(NonInviteServerState::Completed))
    );
    h.run_until(60_000);
    assert!(
        h.events.contains(&(33_000, TsxEvent::Terminated { tsx })),
        "Timer J = 64*T1"
    );
    // After J a retransmission is a new request.
    h.recv_request(req, udp);
    assert_eq!(new_request_ids(&h).len(), 2);
}

#[test]
fn accepted_invite_server_absorbs_invite_retransmissions_and_passes_2xx_through() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "s6", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    let ok = response_to(&invite, StatusCode::OK, Some("u"));
    h.layer.send_response(h.now(), tsx, ok.clone()).unwrap();
    h.drain();
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteServer(InviteServerState::Accepted))
    );
    h.run_until(700);
    h.recv_request(invite.clone(), udp);
    assert_eq!(
        h.response_times(StatusCode::OK),
        vec![0],
        "INVITE retransmission absorbed"
    );
    assert_eq!(new_request_ids(&h), vec![tsx]);
    // The TU's own retransmission passes through (§13.3.1.4 with RFC 6026).
    h.layer.send_response(h.now(), tsx, ok.clone()).unwrap();
    h.drain();
    assert_eq!(h.response_times(StatusCode::OK), vec![0, 700]);
    // The ACK for a 2xx has its own branch and goes to the TU.
    let mut ack = simple_request(Method::Ack, "s6", 1);
    ack.headers
        .top_via_mut()
        .unwrap()
        .params
        .set("branch", Some("z9hG4bKack2xx"));
    h.recv_request(ack.clone(), udp);
    assert!(h.events.contains(&(
        700,
        TsxEvent::Ack2xx {
            tsx: None,
            req: ack,
            from: udp
        }
    )));
    h.run_until(60_000);
    assert!(
        h.events.contains(&(32_000, TsxEvent::Terminated { tsx })),
        "Timer L = 64*T1"
    );
    assert_eq!(
        h.response_times(StatusCode::OK),
        vec![0, 700],
        "never retransmits a 2xx itself"
    );
}

#[test]
fn cancel_is_its_own_transaction_and_names_the_invite_it_targets() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "s7", 1);
    let inv = receive_invite(&mut h, &invite, TransportKind::Udp);
    let mut cancel = invite.clone();
    cancel.method = Method::Cancel;
    for x in cancel.headers.0.iter_mut() {
        if let sb_sip_msg::Header::CSeq(c) = x {
            c.method = Method::Cancel;
        }
    }
    h.recv_request(cancel.clone(), udp);
    let (ctsx, target) = h
        .events
        .iter()
        .find_map(|(_, e)| match e {
            TsxEvent::Cancel { tsx, target, .. } => Some((*tsx, *target)),
            _ => None,
        })
        .expect("a Cancel event");
    assert_eq!(target, Some(inv));
    assert_ne!(ctsx, inv);
    h.layer
        .send_response(
            h.now(),
            ctsx,
            response_to(&cancel, StatusCode::OK, Some("u")),
        )
        .unwrap();
    h.layer
        .send_response(
            h.now(),
            inv,
            response_to(&invite, StatusCode::REQUEST_TERMINATED, Some("u")),
        )
        .unwrap();
    h.drain();
    // A retransmitted CANCEL hits the CANCEL transaction: replayed 200, no new event.
    h.recv_request(cancel.clone(), udp);
    assert_eq!(h.response_times(StatusCode::OK).len(), 2);
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Cancel { .. }))
            .len(),
        1
    );

    // A CANCEL whose branch matches no INVITE: target None (the TU answers 481).
    let mut stray = cancel.clone();
    stray
        .headers
        .top_via_mut()
        .unwrap()
        .params
        .set("branch", Some("z9hG4bKnothing"));
    h.recv_request(stray, udp);
    let last = h.events_where(|e| matches!(e, TsxEvent::Cancel { .. }));
    assert!(matches!(last[1].1, TsxEvent::Cancel { target: None, .. }));
}

#[test]
fn rfc2543_requests_match_on_uri_tags_call_id_cseq_and_via() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
        .via_udp("192.0.2.1", 5060, None)
        .from("alice", "example.com", "old-from")
        .to("bob", "example.com", None)
        .call_id("old-style")
        .cseq(5)
        .build();
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.recv_request(invite.clone(), udp);
    assert_eq!(
        new_request_ids(&h),
        vec![tsx],
        "retransmission matched without a branch"
    );
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode(480), Some("srv")),
        )
        .unwrap();
    h.drain();

    // An ACK with some other To tag does not match: it goes to the TU.
    h.recv_request(ack_for(&invite, "wrong"), udp);
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Ack2xx { .. }))
            .len(),
        1
    );
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteServer(InviteServerState::Completed))
    );
    // The ACK with our tag matches and is absorbed.
    h.recv_request(ack_for(&invite, "srv"), udp);
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteServer(InviteServerState::Confirmed))
    );
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Ack2xx { .. }))
            .len(),
        1
    );

    // A new CSeq is a new transaction.
    let next = RequestBuilder::new(Method::Invite, "bob", "example.com")
        .via_udp("192.0.2.1", 5060, None)
        .from("alice", "example.com", "old-from")
        .to("bob", "example.com", None)
        .call_id("old-style")
        .cseq(6)
        .build();
    h.recv_request(next, udp);
    assert_eq!(new_request_ids(&h).len(), 2);
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let a = simple_request(Method::Options, "sb", 1);
    let mut b = a.clone();
    b.headers.top_via_mut().unwrap().host = sb_netsim::sip::host("198.51.100.7");
    h.recv_request(a, udp);
    h.recv_request(b, udp);
    assert_eq!(new_request_ids(&h).len(), 2);
}

#[test]
fn malformed_requests_are_counted_not_answered() {
    let mut h = Harness::new();
    let mut req = simple_request(Method::Options, "m", 1);
    req.headers
        .0
        .retain(|x| !matches!(x, sb_sip_msg::Header::Via(_)));
    h.recv_request(req, peer(TransportKind::Udp));
    let mut req = simple_request(Method::Options, "m2", 1);
    req.method = Method::Info; // CSeq says OPTIONS
    h.recv_request(req, peer(TransportKind::Udp));
    assert!(h.sent.is_empty() && h.events.is_empty());
    assert_eq!(h.layer.stats().malformed, 2);
}

#[test]
fn uas_retransmits_a_2xx_from_t1_doubling_to_t2_until_64_t1() {
    let cfg = TimerConfig::default();
    let clock = sb_netsim::VirtualClock::new();
    let invite = simple_request(Method::Invite, "u1", 1);
    let ok = response_to(&invite, StatusCode::OK, Some("u"));
    let mut r = Uas2xxRetransmitter::new(clock.now(), ok.clone(), &cfg);
    let mut times = Vec::new();
    let mut events = Vec::new();
    while let Some(at) = r.poll_timeout() {
        r.handle_timeout(at);
        let ms = (at - clock.base()).as_millis() as u64;
        while let Some(x) = r.poll_transmit() {
            assert_eq!(x, ok);
            times.push(ms);
        }
        while let Some(e) = r.poll_event() {
            events.push((ms, e));
        }
    }
    assert_eq!(
        times,
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(events, vec![(32_000, Uas2xxEvent::AckTimeout)]);

    let mut r = Uas2xxRetransmitter::new(clock.now(), ok, &cfg);
    let mut sent = 0;
    while let Some(at) = r.poll_timeout() {
        if at >= clock.at(std::time::Duration::from_millis(4_000)) {
            r.handle_ack();
            continue;
        }
        r.handle_timeout(at);
        sent += std::iter::from_fn(|| r.poll_transmit()).count();
    }
    assert_eq!(sent, 3, "500, 1500, 3500, then the ACK at 4 s");
    assert!(r.is_done() && r.poll_event().is_none());
}

#[test]
fn an_ack_reusing_the_invite_branch_reaches_the_tu_through_the_accepted_transaction() {
    // RFC 6026 §8.7: such an ACK (from an RFC 2543-style UAC) matches the Accepted
    // transaction and must still reach the TU, which is waiting for it to stop its 2xx.
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "s8", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Udp);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode::OK, Some("u")),
        )
        .unwrap();
    h.drain();
    let ack = ack_for(&invite, "u");
    h.recv_request(ack.clone(), udp);
    assert!(h.events.contains(&(
        0,
        TsxEvent::Ack2xx {
            tsx: Some(tsx),
            req: ack,
            from: udp
        }
    )));
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteServer(InviteServerState::Accepted))
    );
}

#[test]
fn a_transport_error_on_a_server_transaction_informs_the_tu() {
    // §17.2.4: the response could not be sent; the transaction ends and the TU is told.
    let mut h = Harness::new();
    let invite = simple_request(Method::Invite, "s9", 1);
    let tsx = receive_invite(&mut h, &invite, TransportKind::Tcp);
    h.layer
        .send_response(
            h.now(),
            tsx,
            response_to(&invite, StatusCode(486), Some("u")),
        )
        .unwrap();
    h.drain();
    h.layer.handle_transport_error(h.now(), tsx);
    h.drain();
    assert_eq!(
        h.events_where(|e| matches!(
            e,
            TsxEvent::TransportError { .. } | TsxEvent::Terminated { .. }
        )),
        vec![
            (0, TsxEvent::TransportError { tsx }),
            (0, TsxEvent::Terminated { tsx })
        ]
    );
    assert_eq!(
        h.layer
            .send_response(h.now(), tsx, response_to(&invite, StatusCode(500), None)),
        Err(TsxError::NoSuchTransaction(tsx))
    );
}
