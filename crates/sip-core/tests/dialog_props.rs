//! Arbitrary message sequences between a UAC and a UAS dialog, with stray and forged
//! messages mixed in: nothing panics, every built message parses back, CSeq numbers only
//! grow, and a terminated dialog builds nothing more.

use proptest::prelude::*;
use sb_sip_core::dialog::{Body, Dialog, DialogState};
use sb_sip_msg::{
    parse_datagram, CSeq, Header, Message, Method, NameAddr, Request, Response, StatusCode,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

const METHODS: [Method; 8] = [
    Method::Invite,
    Method::Update,
    Method::Prack,
    Method::Ack,
    Method::Bye,
    Method::Info,
    Method::Cancel,
    Method::Options,
];

/// Weighted toward success, so that dialogs live long enough to re-offer.
const STATUSES: [u16; 14] = [
    100, 180, 183, 183, 200, 200, 200, 200, 202, 408, 481, 486, 491, 500,
];

#[derive(Debug, Clone)]
enum Op {
    /// One side builds a request (and sends it, if the dialog allows).
    Send { alice: bool, method: u8, sdp: bool },
    /// One side answers one of the requests it received.
    Respond {
        alice: bool,
        pick: usize,
        status: u8,
        sdp: bool,
        reliable: bool,
    },
    /// A forged request or response with arbitrary CSeq, tags and body.
    Forge {
        to_alice: bool,
        response: bool,
        method: u8,
        status: u8,
        cseq: u32,
        right_tags: bool,
        sdp: bool,
        rseq: Option<u32>,
    },
    /// Re-deliver a message the side already got (a retransmission or a reordering).
    Replay { to_alice: bool, pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    // Weighted toward the two dialogs talking, so runs get past the first exchange
    // before a forged 481 or a BYE ends them.
    prop_oneof![
        4 => (any::<bool>(), 0u8..8, any::<bool>()).prop_map(|(alice, method, sdp)| Op::Send {
            alice,
            method,
            sdp
        }),
        4 => (
            any::<bool>(),
            0usize..8,
            0u8..14,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(alice, pick, status, sdp, reliable)| Op::Respond {
                alice,
                pick,
                status,
                sdp,
                reliable
            }),
        1 => (
            any::<bool>(),
            any::<bool>(),
            0u8..8,
            0u8..14,
            prop_oneof![0u32..20, any::<u32>()],
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0u32..5)
        )
            .prop_map(
                |(to_alice, response, method, status, cseq, right_tags, sdp, rseq)| Op::Forge {
                    to_alice,
                    response,
                    method,
                    status,
                    cseq,
                    right_tags,
                    sdp,
                    rseq,
                }
            ),
        1 => (any::<bool>(), 0usize..8).prop_map(|(to_alice, pick)| Op::Replay { to_alice, pick }),
    ]
}

fn parse(bytes: &[u8]) -> Message {
    parse_datagram(bytes).expect("every message a dialog builds parses back")
}

fn add_via(mut r: Request) -> Request {
    let via = sb_sip_msg::Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: sb_sip_msg::Transport::Udp,
        host: sb_sip_msg::Host::Domain("192.0.2.99".into()),
        port: None,
        params: sb_sip_msg::Params(vec![("branch".into(), Some("z9hG4bKp".into()))]),
    };
    r.headers.push_via_top(via);
    r
}

fn with_sdp(headers: &mut sb_sip_msg::Headers, body: &mut Vec<u8>) {
    headers.push(Header::ContentType("application/sdp".into()));
    *body = SDP.as_bytes().to_vec();
}

struct Side {
    dialog: Dialog,
    received: Vec<Request>,
    responses: Vec<Response>,
}

fn deliver_request(to: &mut Side, r: Request) {
    let before = to.dialog.remote_seq();
    let _ = to.dialog.handle_request(&r);
    if let (Some(b), Some(a)) = (before, to.dialog.remote_seq()) {
        assert!(a >= b, "remote CSeq went back");
    }
    to.received.push(r);
}

fn deliver_response(to: &mut Side, r: Response) {
    let _ = to.dialog.handle_response(&r);
    to.responses.push(r);
}

fn forged(op: &Op, a: &Side) -> Message {
    let Op::Forge {
        to_alice,
        response,
        method,
        status,
        cseq,
        right_tags,
        sdp,
        rseq,
    } = op
    else {
        unreachable!()
    };
    let method = METHODS[*method as usize % METHODS.len()].clone();
    // Tags as the receiver expects them, or a stranger's.
    let (alice_tag, bob_tag) = if *right_tags {
        ("a1", "b1")
    } else {
        ("zz", "b1")
    };
    let mut from = a.dialog.local_uri().clone();
    let mut to = a.dialog.remote_uri().clone();
    from.params.set("tag", Some(alice_tag));
    to.params.set("tag", Some(bob_tag));
    // A request to Alice comes from Bob; a response to Alice answers Alice's request.
    let (f, t) = if *to_alice == *response {
        (from, to)
    } else {
        (to, from)
    };
    let mut headers = sb_sip_msg::Headers::new();
    headers.push(Header::From(f));
    headers.push(Header::To(t));
    headers.push(Header::CallId(a.dialog.id().call_id.clone()));
    headers.push(Header::CSeq(CSeq {
        seq: *cseq,
        method: method.clone(),
    }));
    headers.push(Header::Contact(sb_sip_msg::ContactValue::Addr(
        NameAddr::new("sip:peer@192.0.2.50".parse().expect("uri")),
    )));
    if let Some(n) = rseq {
        headers.push(Header::Require("100rel".into()));
        headers.push(Header::Other(sb_sip_msg::OtherHeader {
            name: "RSeq".into(),
            value: n.to_string(),
        }));
    }
    headers.push(Header::Other(sb_sip_msg::OtherHeader {
        name: "RAck".into(),
        value: format!("{} {} INVITE", rseq.unwrap_or(1), cseq),
    }));
    let mut body = Vec::new();
    if *sdp {
        with_sdp(&mut headers, &mut body);
    }
    if *response {
        let mut r = Response::new(StatusCode(STATUSES[*status as usize % STATUSES.len()]));
        r.headers = headers;
        r.body = body;
        Message::Response(r)
    } else {
        let mut r = Request::new(method, "sip:x@192.0.2.1".parse().expect("uri"));
        r.headers = headers;
        r.body = body;
        Message::Request(add_via(r))
    }
}

fn run(ops: &[Op], invite_sdp: bool) {
    let mut invite = Request::new(Method::Invite, "sip:bob@example.com".parse().expect("uri"));
    let mut from = NameAddr::new("sip:alice@example.com".parse().expect("uri"));
    from.params.set("tag", Some("a1"));
    invite.headers.push(Header::From(from));
    invite.headers.push(Header::To(NameAddr::new(
        "sip:bob@example.com".parse().expect("uri"),
    )));
    invite
        .headers
        .push(Header::CallId(sb_sip_msg::CallId("p-1".into())));
    invite.headers.push(Header::CSeq(CSeq {
        seq: 1,
        method: Method::Invite,
    }));
    invite
        .headers
        .push(Header::Contact(sb_sip_msg::ContactValue::Addr(
            NameAddr::new("sip:alice@192.0.2.1".parse().expect("uri")),
        )));
    if invite_sdp {
        with_sdp(&mut invite.headers, &mut invite.body);
    }
    let invite = match parse(&add_via(invite).to_bytes()) {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    };
    let bob_dialog = Dialog::uas(
        &invite,
        "b1",
        NameAddr::new("sip:bob@198.51.100.7".parse().expect("uri")),
    )
    .expect("uas");
    let mut ringing = bob_dialog.response(&invite, StatusCode::RINGING);
    ringing.headers.remove(sb_sip_msg::HeaderName::Via);
    let (alice_dialog, _) = Dialog::uac(&invite, &ringing).expect("uac");
    let mut alice = Side {
        dialog: alice_dialog,
        received: Vec::new(),
        responses: Vec::new(),
    };
    let mut bob = Side {
        dialog: bob_dialog,
        received: vec![invite],
        responses: Vec::new(),
    };

    for op in ops {
        match op {
            Op::Send {
                alice: is_alice,
                method,
                sdp,
            } => {
                let (me, peer) = if *is_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                let method = METHODS[*method as usize % METHODS.len()].clone();
                let body = sdp.then(|| Body::sdp(SDP));
                let seq_before = me.dialog.local_seq();
                let was_terminated = me.dialog.is_terminated();
                let built = match method {
                    Method::Ack => me.dialog.ack(body),
                    Method::Prack => match me.responses.last().and_then(|r| {
                        sb_sip_core::dialog::rseq_of(r).ok().flatten().map(|rseq| {
                            sb_sip_core::dialog::RAck {
                                rseq,
                                cseq: r.headers.cseq().map_or(1, |c| c.seq),
                                method: Method::Invite,
                            }
                        })
                    }) {
                        Some(rack) => me.dialog.prack(&rack, body),
                        None => continue,
                    },
                    m => me.dialog.request_with_body(m, body),
                };
                if let (Some(b), Some(a)) = (seq_before, me.dialog.local_seq()) {
                    assert!(a >= b, "local CSeq went back");
                }
                if let Ok(req) = built {
                    assert!(
                        !was_terminated || req.method == Method::Ack,
                        "a terminated dialog built {}",
                        req.method
                    );
                    let Message::Request(r) = parse(&add_via(req).to_bytes()) else {
                        unreachable!()
                    };
                    deliver_request(peer, r);
                }
            }
            Op::Respond {
                alice: is_alice,
                pick,
                status,
                sdp,
                reliable,
            } => {
                let (me, peer) = if *is_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                if me.received.is_empty() {
                    continue;
                }
                let r = me.received[pick % me.received.len()].clone();
                if r.method == Method::Ack {
                    continue;
                }
                let status = StatusCode(STATUSES[*status as usize % STATUSES.len()]);
                let mut resp = me.dialog.response(&r, status);
                if *sdp {
                    with_sdp(&mut resp.headers, &mut resp.body);
                }
                if *reliable
                    && r.method == Method::Invite
                    && status.code() > 100
                    && status.code() < 200
                {
                    let _ = me.dialog.make_reliable(&mut resp);
                }
                let _ = me.dialog.record_sent_response(&resp);
                resp.headers.remove(sb_sip_msg::HeaderName::Via);
                let Message::Response(resp) = parse(&resp.to_bytes()) else {
                    unreachable!()
                };
                deliver_response(peer, resp);
            }
            Op::Forge { to_alice, .. } => {
                let msg = forged(op, &alice);
                let target = if *to_alice { &mut alice } else { &mut bob };
                match parse(&msg.to_bytes()) {
                    Message::Request(r) => deliver_request(target, r),
                    Message::Response(r) => deliver_response(target, r),
                }
            }
            Op::Replay { to_alice, pick } => {
                let target = if *to_alice { &mut alice } else { &mut bob };
                if *pick % 2 == 0 && !target.received.is_empty() {
                    let r = target.received[pick % target.received.len()].clone();
                    let _ = target.dialog.handle_request(&r);
                } else if !target.responses.is_empty() {
                    let r = target.responses[pick % target.responses.len()].clone();
                    let _ = target.dialog.handle_response(&r);
                }
            }
        }
        for side in [&alice, &bob] {
            if side.dialog.state() == DialogState::Terminated {
                let mut d = side.dialog.clone();
                assert!(d.request(Method::Info).is_err());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_message_sequence_panics(ops in proptest::collection::vec(op(), 0..40), sdp in any::<bool>()) {
        run(&ops, sdp);
    }

    #[test]
    fn sdp_detection_never_panics(
        ct in "(application/sdp|multipart/mixed|multipart/é|x)(;boundary=\"?[a-z-]{0,6}\"?)?",
        body in proptest::collection::vec(any::<u8>(), 0..200),
        boundary_body in "(--[a-z-]{0,6}(\r?\n[cC]ontent-[Tt]ype: application/sdp)?(\r?\n){1,2}[ -~]{0,10}){0,4}(--)?",
    ) {
        let mut headers = sb_sip_msg::Headers::new();
        headers.push(Header::ContentType(ct));
        let _ = sb_sip_core::dialog::has_sdp(&headers, &body);
        let _ = sb_sip_core::dialog::has_sdp(&headers, boundary_body.as_bytes());
    }
}
