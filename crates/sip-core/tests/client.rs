//! Client transactions (RFC 3261 §17.1, RFC 6026 §7.2) on a virtual clock.

mod common;

use common::{peer, Harness};
use sb_netsim::sip::{response_to, simple_request, RequestBuilder};
use sb_sip_core::{
    InviteClientState, NonInviteClientState, TransportKind, TsxError, TsxEvent, TsxState,
};
use sb_sip_msg::{Header, Method, StatusCode};

fn is_timeout(e: &TsxEvent) -> bool {
    matches!(e, TsxEvent::Timeout { .. })
}

#[test]
fn invite_over_udp_retransmits_on_timer_a_and_times_out_on_timer_b() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let tsx = h
        .layer
        .send_request(h.now(), simple_request(Method::Invite, "c1", 1), udp)
        .unwrap();
    h.drain();
    h.run_until(40_000);
    assert_eq!(
        h.request_times(Method::Invite),
        vec![0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    let timeouts = h.events_where(is_timeout);
    assert_eq!(timeouts, vec![(32_000, TsxEvent::Timeout { tsx })]);
    assert!(h.events.contains(&(32_000, TsxEvent::Terminated { tsx })));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn invite_over_tcp_is_sent_once_and_still_times_out_on_timer_b() {
    let mut h = Harness::new();
    let tcp = peer(TransportKind::Tcp);
    let tsx = h
        .layer
        .send_request(h.now(), simple_request(Method::Invite, "c2", 1), tcp)
        .unwrap();
    h.drain();
    h.run_until(40_000);
    assert_eq!(h.request_times(Method::Invite), vec![0]);
    assert_eq!(
        h.events_where(is_timeout),
        vec![(32_000, TsxEvent::Timeout { tsx })]
    );
}

#[test]
fn non_invite_over_udp_caps_timer_e_at_t2_and_times_out_on_timer_f() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let tsx = h
        .layer
        .send_request(h.now(), simple_request(Method::Options, "c3", 1), udp)
        .unwrap();
    h.drain();
    h.run_until(40_000);
    assert_eq!(
        h.request_times(Method::Options),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        h.events_where(is_timeout),
        vec![(32_000, TsxEvent::Timeout { tsx })]
    );
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn non_invite_after_a_provisional_retransmits_every_t2() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let req = simple_request(Method::Register, "c4", 1);
    let tsx = h.layer.send_request(h.now(), req.clone(), udp).unwrap();
    h.drain();
    h.run_until(700);
    h.recv_response(response_to(&req, StatusCode(183), None), udp);
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::NonInviteClient(NonInviteClientState::Proceeding))
    );
    h.run_until(40_000);
    assert_eq!(
        h.request_times(Method::Register),
        vec![0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]
    );
    assert_eq!(
        h.events_where(is_timeout),
        vec![(32_000, TsxEvent::Timeout { tsx })]
    );
}

#[test]
fn non_invite_final_response_stops_retransmission_and_timer_k_ends_it() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let req = simple_request(Method::Options, "c5", 1);
    let tsx = h.layer.send_request(h.now(), req.clone(), udp).unwrap();
    h.drain();
    h.run_until(600);
    let ok = response_to(&req, StatusCode::OK, Some("b"));
    h.recv_response(ok.clone(), udp);
    h.recv_response(ok.clone(), udp); // retransmission: absorbed in Completed
    h.run_until(20_000);
    assert_eq!(h.request_times(Method::Options), vec![0, 500]);
    let responses = h.events_where(|e| matches!(e, TsxEvent::Response { .. }));
    assert_eq!(responses, vec![(600, TsxEvent::Response { tsx, resp: ok })]);
    // Timer K = T4 = 5 s after the response.
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Terminated { .. })),
        vec![(5600, TsxEvent::Terminated { tsx })]
    );
}

#[test]
fn non_invite_over_tcp_terminates_on_the_final_response() {
    let mut h = Harness::new();
    let tcp = peer(TransportKind::Tcp);
    let req = simple_request(Method::Options, "c6", 1);
    let tsx = h.layer.send_request(h.now(), req.clone(), tcp).unwrap();
    h.drain();
    h.run_until(10_000);
    h.recv_response(response_to(&req, StatusCode::OK, Some("b")), tcp);
    assert_eq!(h.request_times(Method::Options), vec![0]);
    assert!(h.events.contains(&(10_000, TsxEvent::Terminated { tsx })));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn ack_for_a_non_2xx_final_is_built_by_the_transaction() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
        .via_udp("192.0.2.1", 5060, Some("z9hG4bKinv1"))
        .via_udp("192.0.2.50", 5070, Some("z9hG4bKbelow"))
        .route("proxy1.example.com")
        .route("proxy2.example.com")
        .from("alice", "example.com", "ftag")
        .to("bob", "example.com", None)
        .call_id("ack-test")
        .cseq(7)
        .header(Header::ContentLength(0))
        .build();
    let tsx = h.layer.send_request(h.now(), invite.clone(), udp).unwrap();
    h.drain();
    h.run_until(100);
    let busy = response_to(&invite, StatusCode(486), Some("totag"));
    h.recv_response(busy.clone(), udp);
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteClient(InviteClientState::Completed))
    );

    let acks = h.sent_requests(Method::Ack);
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(ack.uri, invite.uri);
    let vias: Vec<_> = ack.headers.vias().collect();
    assert_eq!(
        vias,
        vec![invite.headers.top_via().unwrap()],
        "only the INVITE's top Via"
    );
    assert_eq!(vias[0].branch(), Some("z9hG4bKinv1"));
    assert_eq!(ack.headers.to().unwrap().tag(), Some("totag"));
    assert_eq!(ack.headers.from(), invite.headers.from());
    assert_eq!(ack.headers.call_id(), invite.headers.call_id());
    let cseq = ack.headers.cseq().unwrap();
    assert_eq!((cseq.seq, &cseq.method), (7, &Method::Ack));
    assert_eq!(
        ack.headers.routes().collect::<Vec<_>>(),
        invite.headers.routes().collect::<Vec<_>>()
    );

    // A retransmitted 486 means the ACK was lost: the ACK goes again, the TU hears nothing.
    h.run_until(2_000);
    h.recv_response(busy.clone(), udp);
    assert_eq!(h.request_times(Method::Ack), vec![100, 2000]);
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::Response { .. }))
            .len(),
        1
    );
    // A 2xx on the same branch after the 486 (a downstream forker's fork answered) is
    // no business of the Completed transaction: no ACK from it, and it reaches the TU
    // as a stray, so a proxy can still forward it.
    let late = response_to(&invite, StatusCode::OK, Some("other"));
    h.recv_response(late.clone(), udp);
    assert_eq!(h.request_times(Method::Ack), vec![100, 2000]);
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::StrayResponse { .. })),
        vec![(
            2_000,
            TsxEvent::StrayResponse {
                resp: late,
                from: udp
            }
        )]
    );
    // No INVITE retransmission after the final response; Timer D (32 s) ends it.
    h.run_until(40_000);
    assert_eq!(h.request_times(Method::Invite), vec![0]);
    assert!(h.events.contains(&(32_100, TsxEvent::Terminated { tsx })));
}

#[test]
fn invite_over_tcp_terminates_at_once_after_acking_a_non_2xx() {
    let mut h = Harness::new();
    let tcp = peer(TransportKind::Tls);
    let invite = simple_request(Method::Invite, "c7", 1);
    let tsx = h.layer.send_request(h.now(), invite.clone(), tcp).unwrap();
    h.drain();
    h.recv_response(response_to(&invite, StatusCode(603), Some("x")), tcp);
    assert_eq!(h.request_times(Method::Ack), vec![0]);
    assert!(h.events.contains(&(0, TsxEvent::Terminated { tsx })));
}

#[test]
fn accepted_invite_client_passes_every_2xx_to_the_tu_and_never_acks_them() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "c8", 1);
    let tsx = h.layer.send_request(h.now(), invite.clone(), udp).unwrap();
    h.drain();
    h.run_until(300);
    h.recv_response(
        response_to(&invite, StatusCode::RINGING, Some("fork1")),
        udp,
    );
    h.run_until(1_000);
    let ok1 = response_to(&invite, StatusCode::OK, Some("fork1"));
    let ok2 = response_to(&invite, StatusCode::OK, Some("fork2"));
    h.recv_response(ok1.clone(), udp);
    assert_eq!(
        h.layer.state(tsx),
        Some(TsxState::InviteClient(InviteClientState::Accepted))
    );
    h.run_until(1_500);
    h.recv_response(ok1.clone(), udp); // retransmission of the same 2xx
    h.recv_response(ok2.clone(), udp); // another fork answered
    h.recv_response(response_to(&invite, StatusCode(486), Some("fork3")), udp); // absorbed
    let got: Vec<_> = h.events_where(|e| matches!(e, TsxEvent::Response { .. }));
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got[1],
        (
            1_000,
            TsxEvent::Response {
                tsx,
                resp: ok1.clone()
            }
        )
    );
    assert_eq!(got[2], (1_500, TsxEvent::Response { tsx, resp: ok1 }));
    assert_eq!(got[3], (1_500, TsxEvent::Response { tsx, resp: ok2 }));
    assert!(
        h.sent_requests(Method::Ack).is_empty(),
        "the 2xx ACK is the TU's job"
    );
    // Only the first request was sent before the 180 at 300 ms (Timer A: 500 ms).
    assert_eq!(h.request_times(Method::Invite), vec![0]);
    // Timer M = 64*T1 after the first 2xx.
    h.run_until(40_000);
    assert!(h.events.contains(&(33_000, TsxEvent::Terminated { tsx })));
}

#[test]
fn cancel_waits_for_a_provisional_response_and_copies_the_invite() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
        .via_udp("192.0.2.1", 5060, Some("z9hG4bKcan1"))
        .route("edge.example.com")
        .from("alice", "example.com", "ft")
        .to("bob", "example.com", None)
        .call_id("cancel-1")
        .cseq(3)
        .build();
    let inv = h.layer.send_request(h.now(), invite.clone(), udp).unwrap();
    h.drain();
    h.run_until(100);
    let cancel = h.layer.cancel(h.now(), inv).unwrap();
    h.drain();
    assert!(
        h.sent_requests(Method::Cancel).is_empty(),
        "§9.1: not before a provisional"
    );
    assert_eq!(
        h.layer.cancel(h.now(), inv),
        Err(TsxError::NothingToCancel(inv))
    );
    h.run_until(700);
    h.recv_response(response_to(&invite, StatusCode::RINGING, Some("t")), udp);
    let sent = h.sent_requests(Method::Cancel);
    assert_eq!(h.request_times(Method::Cancel), vec![700]);
    let c = &sent[0];
    assert_eq!(c.uri, invite.uri);
    assert_eq!(
        c.headers.vias().collect::<Vec<_>>(),
        vec![invite.headers.top_via().unwrap()]
    );
    assert_eq!(
        c.headers.to(),
        invite.headers.to(),
        "To of the INVITE, without the response's tag"
    );
    assert_eq!(c.headers.from(), invite.headers.from());
    assert_eq!(c.headers.call_id(), invite.headers.call_id());
    assert_eq!(
        c.headers.cseq().map(|x| (x.seq, x.method.clone())),
        Some((3, Method::Cancel))
    );
    assert_eq!(c.headers.routes().count(), 1);
    // The 200 to the CANCEL reaches the CANCEL transaction, not the INVITE one.
    let c_ok = response_to(c, StatusCode::OK, Some("t"));
    h.recv_response(c_ok.clone(), udp);
    assert!(h.events.contains(&(
        700,
        TsxEvent::Response {
            tsx: cancel,
            resp: c_ok
        }
    )));
    let r487 = response_to(&invite, StatusCode::REQUEST_TERMINATED, Some("t"));
    h.recv_response(r487.clone(), udp);
    assert!(h.events.contains(&(
        700,
        TsxEvent::Response {
            tsx: inv,
            resp: r487
        }
    )));
}

#[test]
fn held_cancel_is_dropped_when_the_invite_completes_first() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "c9", 1);
    let inv = h.layer.send_request(h.now(), invite.clone(), udp).unwrap();
    let cancel = h.layer.cancel(h.now(), inv).unwrap();
    h.drain();
    h.recv_response(response_to(&invite, StatusCode(486), Some("t")), udp);
    h.run_until(60_000);
    assert!(h.sent_requests(Method::Cancel).is_empty());
    assert!(h
        .events
        .contains(&(0, TsxEvent::Terminated { tsx: cancel })));
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn branch_is_added_when_missing_and_commands_are_checked() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let req = RequestBuilder::new(Method::Options, "bob", "example.com")
        .via_udp("192.0.2.1", 5060, None)
        .from("alice", "example.com", "f")
        .call_id("nb")
        .build();
    let tsx = h.layer.send_request(h.now(), req.clone(), udp).unwrap();
    h.drain();
    let sent = h.sent_requests(Method::Options);
    let branch = sent[0]
        .headers
        .top_via()
        .unwrap()
        .branch()
        .unwrap()
        .to_string();
    assert!(branch.starts_with("z9hG4bK") && branch.len() > 7);
    // A response carrying that branch matches.
    h.recv_response(response_to(&sent[0], StatusCode::OK, None), udp);
    assert!(h
        .events
        .iter()
        .any(|(_, e)| matches!(e, TsxEvent::Response { tsx: t, .. } if *t == tsx)));

    let ack = simple_request(Method::Ack, "x", 1);
    assert_eq!(
        h.layer.send_request(h.now(), ack, udp),
        Err(TsxError::AckIsNotATransaction)
    );
    let dup = simple_request(Method::Invite, "d", 1);
    h.layer.send_request(h.now(), dup.clone(), udp).unwrap();
    assert!(matches!(
        h.layer.send_request(h.now(), dup, udp),
        Err(TsxError::DuplicateBranch(_))
    ));
}

#[test]
fn responses_matching_nothing_go_to_the_tu_as_strays() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let invite = simple_request(Method::Invite, "s1", 1);
    let _ = h.layer.send_request(h.now(), invite.clone(), udp).unwrap();
    // Same branch, other CSeq method: a different transaction (§17.1.3).
    let mut other = response_to(&invite, StatusCode::OK, None);
    other.headers.0.retain(|x| !matches!(x, Header::CSeq(_)));
    other.headers.push(Header::CSeq(sb_sip_msg::CSeq {
        seq: 1,
        method: Method::Bye,
    }));
    h.drain();
    h.recv_response(other.clone(), udp);
    assert_eq!(
        h.events_where(|e| matches!(e, TsxEvent::StrayResponse { .. })),
        vec![(
            0,
            TsxEvent::StrayResponse {
                resp: other,
                from: udp
            }
        )]
    );
}

#[test]
fn transport_errors_fail_the_transaction() {
    let mut h = Harness::new();
    let conn = sb_sip_core::ConnId(9);
    let tcp = peer(TransportKind::Tcp).with_conn(conn);
    let a = h
        .layer
        .send_request(h.now(), simple_request(Method::Invite, "t1", 1), tcp)
        .unwrap();
    let b = h
        .layer
        .send_request(h.now(), simple_request(Method::Options, "t2", 1), tcp)
        .unwrap();
    let c = h
        .layer
        .send_request(
            h.now(),
            simple_request(Method::Options, "t3", 1),
            peer(TransportKind::Udp),
        )
        .unwrap();
    h.drain();
    h.layer.handle_transport_error(h.now(), a);
    h.drain();
    assert_eq!(
        h.events_where(|_| true),
        vec![
            (0, TsxEvent::TransportError { tsx: a }),
            (0, TsxEvent::Terminated { tsx: a })
        ]
    );
    h.layer.handle_connection_lost(h.now(), conn);
    h.drain();
    assert!(h.events.contains(&(0, TsxEvent::TransportError { tsx: b })));
    assert!(
        h.layer.state(c).is_some(),
        "a UDP transaction is not bound to the connection"
    );
    assert_eq!(h.layer.len(), 1);
}

#[test]
fn a_late_wake_up_sends_one_retransmission_not_a_burst_and_keeps_timer_b() {
    let mut h = Harness::new();
    let udp = peer(TransportKind::Udp);
    let tsx = h
        .layer
        .send_request(h.now(), simple_request(Method::Invite, "late", 1), udp)
        .unwrap();
    h.drain();
    // The shard stalled for 10 s.
    h.clock.advance(std::time::Duration::from_secs(10));
    h.layer.handle_timeout(h.now());
    h.drain();
    assert_eq!(h.request_times(Method::Invite), vec![0, 10_000]);
    h.run_until(40_000);
    assert_eq!(
        h.request_times(Method::Invite),
        vec![0, 10_000, 11_000, 13_000, 17_000, 25_000]
    );
    assert_eq!(
        h.events_where(is_timeout),
        vec![(32_000, TsxEvent::Timeout { tsx })]
    );
}
