//! Any order of peer messages, retransmissions, timeouts and media events: the B2BUA
//! never panics, and once the peers hang up and time passes, no call, port or media
//! session is left behind.

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use sb_media_api::{Command, Event, LegId};
use sb_sip_msg::{Message, Method, Request, Response};

#[derive(Default)]
struct Peers {
    /// The 200 the client got for its INVITE.
    ok: Option<Response>,
    client_cseq: u32,
    /// The last initial INVITE a gateway got, and which gateway.
    gw_invite: Option<(Request, &'static str)>,
    /// The gateway answered it with 2xx.
    gw_answered: bool,
    gw_cseq: u32,
    /// Re-INVITEs we sent to a gateway, unanswered.
    gw_reinvites: Vec<(Request, &'static str)>,
    last_gw_response: Option<(Response, &'static str)>,
}

/// Moves what the B2BUA sent into the peers' state; peers answer BYE, CANCEL, PRACK and
/// re-INVITEs toward the client at once.
fn sync(h: &mut Harness, p: &mut Peers) {
    for _ in 0..50 {
        if h.outbox.is_empty() {
            return;
        }
        let sent: Vec<_> = h.outbox.drain(..).collect();
        for t in sent {
            let to = t.to.addr.to_string();
            let gw: &'static str = match to.as_str() {
                GW_A => GW_A,
                GW_B => GW_B,
                _ => "",
            };
            match t.message {
                Message::Response(r) => {
                    let invite1 = r
                        .headers
                        .cseq()
                        .is_some_and(|c| c.method == Method::Invite && c.seq == 1);
                    if gw.is_empty() && invite1 && r.status.is_success() {
                        p.ok = Some(r);
                    }
                }
                Message::Request(r) => {
                    let in_dialog = r.headers.to().and_then(|t| t.tag()).is_some();
                    match (r.method.clone(), gw.is_empty()) {
                        (Method::Ack, _) => {}
                        (Method::Invite, false) if !in_dialog => {
                            p.gw_invite = Some((r, gw));
                            p.gw_answered = false;
                        }
                        (Method::Invite, false) => p.gw_reinvites.push((r, gw)),
                        (Method::Invite, true) => {
                            let sdp = CLIENT_SDP.replace("o=- 1 1", "o=- 1 9");
                            h.deliver_resp(
                                &reply(&r, 200, "x", "sip:alice@198.51.100.7", Some(&sdp)),
                                FRONT_END,
                            );
                        }
                        (_, true) => {
                            h.deliver_resp(&reply(&r, 200, "x", "sip:a@10.0.0.2", None), FRONT_END)
                        }
                        (_, false) => {
                            h.deliver_resp(&reply(&r, 200, "gwtag", "sip:gw@192.0.2.10", None), gw)
                        }
                    }
                }
            }
        }
    }
}

fn gw_respond(h: &mut Harness, p: &mut Peers, status: u16, sdp: bool) {
    let Some((inv, gw)) = p.gw_invite.clone() else {
        return;
    };
    let body = gateway_sdp(30000, "sendrecv");
    let body = if gw == GW_B {
        body.replace("0 101", "8 101").replace(":0 PCMU", ":8 PCMA")
    } else {
        body
    };
    let r = reply(
        &inv,
        status,
        "gwtag",
        "sip:gw@192.0.2.10",
        sdp.then_some(body.as_str()),
    );
    if (200..300).contains(&status) {
        p.gw_answered = true;
    }
    p.last_gw_response = Some((r.clone(), gw));
    h.deliver_resp(&r, gw);
}

fn client_req(p: &mut Peers, method: Method, sdp: Option<&str>) -> Option<Request> {
    let ok = p.ok.as_ref()?;
    p.client_cseq += 1;
    let cseq = if method == Method::Ack {
        1
    } else {
        p.client_cseq
    };
    Some(in_dialog(
        method,
        &contact_of(&ok.headers),
        "clientcallid-1@198.51.100.7",
        ok.headers.from().unwrap(),
        ok.headers.to().unwrap(),
        cseq,
        "10.0.0.2:5060",
        &format!("z9hG4bKc{}", p.client_cseq),
        sdp,
    ))
}

const CANCEL: &str = "CANCEL sip:+15551234567@10.0.0.1;user=phone;pool=pstn SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKfe1
Max-Forwards: 70
From: \"Alice\" <sip:alice@example.com>;tag=alicetag1
To: <sip:+15551234567@example.com;user=phone>
Call-ID: clientcallid-1@198.51.100.7
CSeq: 1 CANCEL
";

fn step(h: &mut Harness, p: &mut Peers, action: u8, arg: u8) {
    match action % 19 {
        0 => gw_respond(h, p, 180, false),
        1 => gw_respond(h, p, 183, true),
        2 => gw_respond(h, p, 200, true),
        3 => gw_respond(h, p, 486, false),
        4 => gw_respond(h, p, 503, false),
        5 => h.deliver_text(CANCEL, FRONT_END),
        6 => {
            if let Some(ack) = client_req(p, Method::Ack, None) {
                p.client_cseq -= 1;
                h.deliver_req(&ack, FRONT_END);
            }
        }
        7 => {
            if let Some(bye) = client_req(p, Method::Bye, None) {
                h.deliver_req(&bye, FRONT_END);
            }
        }
        8 => {
            if let (Some((inv, gw)), true) = (p.gw_invite.clone(), p.gw_answered) {
                p.gw_cseq += 1;
                let from = format!("{};tag=gwtag", inv.headers.to().unwrap())
                    .parse()
                    .unwrap();
                let bye = in_dialog(
                    Method::Bye,
                    &contact_of(&inv.headers),
                    inv.headers.call_id().unwrap().as_str(),
                    &from,
                    inv.headers.from().unwrap(),
                    p.gw_cseq,
                    "192.0.2.10:5060",
                    &format!("z9hG4bKg{}", p.gw_cseq),
                    None,
                );
                h.deliver_req(&bye, gw);
            }
        }
        9 => {
            let dir = if arg & 1 == 0 { "sendonly" } else { "sendrecv" };
            let sdp = CLIENT_SDP
                .replace("o=- 1 1", &format!("o=- 1 {}", p.client_cseq + 2))
                .replace("a=sendrecv", &format!("a={dir}"));
            if let Some(re) = client_req(p, Method::Invite, Some(&sdp)) {
                h.deliver_req(&re, FRONT_END);
            }
        }
        10 | 11 => {
            if let Some((re, gw)) = p.gw_reinvites.pop() {
                let status = if action % 19 == 10 { 200 } else { 491 };
                let sdp = gateway_sdp(30000, "recvonly");
                h.deliver_resp(
                    &reply(
                        &re,
                        status,
                        "gwtag",
                        "sip:gw@192.0.2.10",
                        (status == 200).then_some(sdp.as_str()),
                    ),
                    gw,
                );
            }
        }
        12 => h.advance(Duration::from_millis(u64::from(arg) * 20)),
        13 => h.advance(Duration::from_secs(35)),
        14 => h.deliver_text(&client_invite("+15551234567", Some(CLIENT_SDP)), FRONT_END),
        15 => {
            h.b2bua.handle_media_event(
                h.now,
                Event::MediaTimeout {
                    leg: LegId(u64::from(arg % 12)),
                },
            );
            h.pump();
        }
        16 => {
            if let Some(mut info) = client_req(p, Method::Info, None) {
                info.headers.push(sb_sip_msg::Header::ContentType(
                    "application/dtmf-relay".into(),
                ));
                info.body = format!("Signal={}\r\nDuration=100\r\n", arg % 12).into_bytes();
                h.deliver_req(&info, FRONT_END);
            }
        }
        17 => {
            if let (Some((inv, gw)), true) = (p.gw_invite.clone(), p.gw_answered) {
                p.gw_cseq += 1;
                let from = format!("{};tag=gwtag", inv.headers.to().unwrap())
                    .parse()
                    .unwrap();
                let re = in_dialog(
                    Method::Invite,
                    &contact_of(&inv.headers),
                    inv.headers.call_id().unwrap().as_str(),
                    &from,
                    inv.headers.from().unwrap(),
                    p.gw_cseq,
                    "192.0.2.10:5060",
                    &format!("z9hG4bKg{}", p.gw_cseq),
                    Some(&gateway_sdp(
                        30000,
                        if arg & 1 == 0 { "sendonly" } else { "sendrecv" },
                    )),
                );
                h.deliver_req(&re, gw);
            }
        }
        _ => {
            if let Some((r, gw)) = p.last_gw_response.clone() {
                h.deliver_resp(&r, gw);
            }
        }
    }
    sync(h, p);
}

/// The peers hang up whatever state they are in, answer what is left, and time passes.
fn finish(h: &mut Harness, p: &mut Peers) {
    if p.ok.is_some() {
        step(h, p, 6, 0);
        step(h, p, 7, 0);
    } else {
        step(h, p, 5, 0);
    }
    for _ in 0..4 {
        gw_respond(h, p, 487, false);
        while let Some((re, gw)) = p.gw_reinvites.pop() {
            h.deliver_resp(&reply(&re, 200, "gwtag", "sip:gw@192.0.2.10", None), gw);
        }
        sync(h, p);
        h.advance(Duration::from_secs(40));
        sync(h, p);
    }
}

fn run(actions: &[(u8, u8)], seed: u64) {
    let mut h = Harness::with_config(config(), seed);
    let mut p = Peers {
        client_cseq: 1,
        gw_cseq: 100,
        ..Peers::default()
    };
    h.deliver_text(&client_invite("+15551234567", Some(CLIENT_SDP)), FRONT_END);
    sync(&mut h, &mut p);
    for &(a, arg) in actions {
        step(&mut h, &mut p, a, arg);
    }
    finish(&mut h, &mut p);
    assert!(h.b2bua.is_empty(), "a call leaked after {actions:?}");
    assert_eq!(h.b2bua.free_ports(), 50, "ports leaked after {actions:?}");
    let created = h
        .media
        .iter()
        .filter(|c| matches!(c, Command::CreateSession { .. }))
        .count();
    let destroyed = h
        .media
        .iter()
        .filter(|c| matches!(c, Command::DestroySession { .. }))
        .count();
    assert_eq!(
        created, destroyed,
        "media sessions leaked after {actions:?}: {:?}",
        h.media
    );
    assert!(
        h.b2bua.monitor().states().all(|(_, s)| s.active_calls == 0),
        "gateway reservations leaked after {actions:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_order_of_events_leaves_nothing_behind(
        actions in proptest::collection::vec((0u8..19, any::<u8>()), 0..25),
        seed in any::<u64>(),
    ) {
        run(&actions, seed);
    }
}

#[test]
fn a_connected_call_with_hold_and_glare_ends_clean() {
    // 200 from the gateway, ACK, hold, 491, resume, answers, BYE from the gateway.
    run(
        &[
            (2, 0),
            (6, 0),
            (9, 0),
            (11, 0),
            (12, 200),
            (13, 0),
            (10, 0),
            (9, 1),
            (10, 0),
            (8, 0),
        ],
        1,
    );
}
