//! Offer/answer bookkeeping (RFC 3261 §13.2.1, §14; RFC 3311; RFC 6337 §3) and reliable
//! provisional responses (RFC 3262) on dialogs driven by raw-text messages.

use sb_sip_core::dialog::{
    Body, Carrier, Dialog, DialogError, OaKind, OaMessage, OaState, OfferAnswer, Provisional, RAck,
    SdpRole, Side,
};
use sb_sip_msg::{
    parse_datagram, Header, Message, Method, NameAddr, Request, Response, StatusCode,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn wire(head: &str, body: &str) -> Vec<u8> {
    let mut s = String::new();
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        s.push_str(line);
        s.push_str("\r\n");
    }
    if !body.is_empty() {
        s.push_str("Content-Type: application/sdp\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

fn req(head: &str, body: &str) -> Request {
    match parse_datagram(&wire(head, body)).expect("test request parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn resp(head: &str, body: &str) -> Response {
    match parse_datagram(&wire(head, body)).expect("test response parses") {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// Printed and parsed again, with a Via as the transaction layer's caller would add.
fn over_wire(r: &Request) -> Request {
    let mut text = String::from_utf8(r.to_bytes()).expect("utf8");
    let at = text.find("\r\n").expect("request line") + 2;
    text.insert_str(at, "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKw\r\n");
    match parse_datagram(text.as_bytes()).expect("built request parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn over_wire_resp(r: &Response) -> Response {
    match parse_datagram(&r.to_bytes()).expect("built response parses") {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}

fn sdp() -> Option<Body> {
    Some(Body::sdp(SDP))
}

fn invite(body: &str) -> Request {
    req(
        "INVITE sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1
        Max-Forwards: 70
        From: <sip:alice@example.com>;tag=a1
        To: <sip:bob@example.com>
        Call-ID: oa-1@192.0.2.1
        CSeq: 1 INVITE
        Supported: 100rel
        Contact: <sip:alice@192.0.2.1>",
        body,
    )
}

/// A request from Alice inside the dialog.
fn from_alice(method: &str, cseq: u32, body: &str) -> Request {
    req(
        &format!(
            "{method} sip:bob@198.51.100.7 SIP/2.0
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{method}{cseq}
            From: <sip:alice@example.com>;tag=a1
            To: <sip:bob@example.com>;tag=b1
            Call-ID: oa-1@192.0.2.1
            CSeq: {cseq} {method}
            Contact: <sip:alice@192.0.2.1>"
        ),
        body,
    )
}

/// A response from Bob with the given status line, CSeq and extra header lines.
fn from_bob(status: &str, cseq: &str, extra: &str, body: &str) -> Response {
    resp(
        &format!(
            "SIP/2.0 {status}
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx
            From: <sip:alice@example.com>;tag=a1
            To: <sip:bob@example.com>;tag=b1
            Call-ID: oa-1@192.0.2.1
            CSeq: {cseq}
            Contact: <sip:bob@198.51.100.7>
            {extra}"
        ),
        body,
    )
}

fn bob_contact() -> NameAddr {
    NameAddr::new("sip:bob@198.51.100.7".parse().expect("uri"))
}

fn with_sdp(mut r: Response) -> Response {
    r.headers
        .push(Header::ContentType("application/sdp".into()));
    r.body = SDP.as_bytes().to_vec();
    r
}

/// Bob's dialog, confirmed, ACK received, after an INVITE with offer and a 2xx with answer.
fn bob_confirmed() -> Dialog {
    let inv = invite(SDP);
    let mut bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    assert_eq!(
        bob.record_sent_response(&with_sdp(bob.response(&inv, StatusCode::OK))),
        Ok(Some(SdpRole::Answer))
    );
    bob.handle_request(&from_alice("ACK", 1, "")).expect("ack");
    assert!(!bob.offer_answer().is_pending());
    bob
}

/// Alice's dialog, confirmed and ACKed.
fn alice_confirmed() -> Dialog {
    let (mut alice, out) =
        Dialog::uac(&invite(SDP), &from_bob("200 OK", "1 INVITE", "", SDP)).expect("uac");
    assert_eq!(out.sdp, Some(SdpRole::Answer));
    alice.ack(None).expect("ack");
    alice
}

#[test]
fn reinvite_glare_gets_491() {
    let mut bob = bob_confirmed();
    bob.request_with_body(Method::Invite, sdp())
        .expect("bob's re-INVITE");
    let theirs = from_alice("INVITE", 2, SDP);
    let e = bob.handle_request(&theirs).unwrap_err();
    assert_eq!(e, DialogError::RequestPending);
    assert_eq!(e.response(&theirs, 4).map(|r| r.status.code()), Some(491));
}

#[test]
fn overlapping_reinvite_gets_500_with_retry_after() {
    let mut bob = bob_confirmed();
    assert_eq!(
        bob.handle_request(&from_alice("INVITE", 2, SDP)),
        Ok(Some(SdpRole::Offer))
    );
    let second = from_alice("INVITE", 3, SDP);
    let e = bob.handle_request(&second).unwrap_err();
    assert_eq!(e, DialogError::RetryLater);
    let out = e.response(&second, 7).expect("wire answer");
    assert_eq!(out.status.code(), 500);
    assert_eq!(out.headers.other("Retry-After").next(), Some("7"));
    // Without SDP the second re-INVITE is refused the same way: the first is in progress.
    assert_eq!(
        bob.handle_request(&from_alice("INVITE", 4, "")),
        Err(DialogError::RetryLater)
    );
}

#[test]
fn update_offers_collide_with_491_or_500() {
    // Our UPDATE offer is out: theirs gets 491 (RFC 3311 §5.2).
    let mut bob = bob_confirmed();
    bob.request_with_body(Method::Update, sdp())
        .expect("bob's UPDATE");
    assert_eq!(
        bob.handle_request(&from_alice("UPDATE", 2, SDP)),
        Err(DialogError::RequestPending)
    );

    // Their UPDATE offer is unanswered: a second one gets 500 + Retry-After.
    let mut bob = bob_confirmed();
    let first = from_alice("UPDATE", 2, SDP);
    assert_eq!(bob.handle_request(&first), Ok(Some(SdpRole::Offer)));
    assert_eq!(
        bob.handle_request(&from_alice("UPDATE", 3, SDP)),
        Err(DialogError::RetryLater)
    );
    // Bob answers; then a new offer is fine.
    assert_eq!(
        bob.record_sent_response(&with_sdp(bob.response(&first, StatusCode::OK))),
        Ok(Some(SdpRole::Answer))
    );
    assert_eq!(
        bob.handle_request(&from_alice("UPDATE", 4, SDP)),
        Ok(Some(SdpRole::Offer))
    );
    // An UPDATE without SDP is no offer and passes.
    let mut bob = bob_confirmed();
    bob.request_with_body(Method::Update, sdp())
        .expect("bob's UPDATE");
    assert_eq!(bob.handle_request(&from_alice("UPDATE", 2, "")), Ok(None));
}

#[test]
fn a_local_offer_while_one_is_pending_is_refused_and_uses_no_cseq() {
    let mut alice = alice_confirmed();
    alice
        .request_with_body(Method::Update, sdp())
        .expect("first offer");
    let seq = alice.local_seq();
    assert_eq!(
        alice.request_with_body(Method::Update, sdp()),
        Err(DialogError::OfferPending)
    );
    assert_eq!(
        alice.request_with_body(Method::Invite, sdp()),
        Err(DialogError::OfferPending)
    );
    assert_eq!(alice.local_seq(), seq);
    // Requests without SDP still go.
    alice.request(Method::Info).expect("info");
}

#[test]
fn late_offer_answer_goes_in_the_ack() {
    // UAC side: INVITE without SDP, offer in the 2xx, answer in the ACK.
    let inv = invite("");
    let (mut alice, out) =
        Dialog::uac(&inv, &from_bob("200 OK", "1 INVITE", "", SDP)).expect("uac");
    assert_eq!(out.sdp, Some(SdpRole::Offer));
    assert_eq!(
        alice.offer_answer().state(),
        &OaState::Offered {
            by: Side::Remote,
            method: Method::Invite,
            cseq: 1,
            carrier: Carrier::Success
        }
    );
    assert_eq!(alice.ack(None), Err(DialogError::MissingAnswer("ACK")));
    assert!(alice.ack_due(), "a refused ACK can be built again");
    let ack = alice.ack(sdp()).expect("ack with answer");
    assert_eq!(ack.headers.content_type(), Some("application/sdp"));
    assert_eq!(alice.offer_answer().exchanges(), 1);

    // UAS side: the ACK without the answer is reported so the UAS can hang up.
    let mut bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    assert_eq!(
        bob.record_sent_response(&with_sdp(bob.response(&inv, StatusCode::OK))),
        Ok(Some(SdpRole::Offer))
    );
    let bare_ack = from_alice("ACK", 1, "");
    let e = bob.handle_request(&bare_ack).unwrap_err();
    assert_eq!(e, DialogError::MissingAnswer("ACK"));
    assert_eq!(e.response(&bare_ack, 0), None, "an ACK is never answered");

    let mut bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    bob.record_sent_response(&with_sdp(bob.response(&inv, StatusCode::OK)))
        .expect("offer in 2xx");
    assert_eq!(
        bob.handle_request(&over_wire(&ack)),
        Ok(Some(SdpRole::Answer))
    );
}

#[test]
fn a_2xx_without_the_owed_answer_is_flagged_but_still_acked() {
    let (mut alice, out) =
        Dialog::uac(&invite(SDP), &from_bob("200 OK", "1 INVITE", "", "")).expect("uac");
    assert_eq!(
        out.offer_answer_error,
        Some(DialogError::MissingAnswer("2xx"))
    );
    assert!(alice.ack(None).is_ok());
}

#[test]
fn a_rejected_reinvite_withdraws_its_offer() {
    let mut alice = alice_confirmed();
    let re = alice
        .request_with_body(Method::Invite, sdp())
        .expect("re-INVITE");
    let seq = re.headers.cseq().expect("cseq").seq;
    assert!(alice.offer_answer().is_pending());
    let out = alice
        .handle_response(&from_bob(
            "488 Not Acceptable Here",
            &format!("{seq} INVITE"),
            "",
            "",
        ))
        .expect("same dialog");
    assert_eq!(out.sdp, None);
    assert!(!alice.offer_answer().is_pending());
    assert!(
        !alice.is_terminated(),
        "a failed re-INVITE keeps the dialog"
    );
    alice
        .request_with_body(Method::Invite, sdp())
        .expect("a new offer may go");
}

#[test]
fn sdp_in_an_unreliable_1xx_is_a_preview() {
    let inv = invite(SDP);
    let (alice, out) =
        Dialog::uac(&inv, &from_bob("183 Session Progress", "1 INVITE", "", SDP)).expect("uac");
    assert_eq!(out.sdp, Some(SdpRole::Copy));
    assert_eq!(out.prack, None);
    assert!(
        alice.offer_answer().is_pending(),
        "the 2xx still owes the answer"
    );
}

/// RFC 6337 Table 1 rows, message by message, straight on the state machine.
#[test]
fn offer_answer_table() {
    use OaKind::{Request as Rq, Response as Rs};
    let r = |from, kind, cseq, has_sdp| OaMessage {
        from,
        kind,
        cseq,
        has_sdp,
    };
    let rel = |method, code| Rs {
        method,
        status: StatusCode(code),
        reliable: true,
    };
    let unrel = |method, code| Rs {
        method,
        status: StatusCode(code),
        reliable: false,
    };
    type Row = (OaMessage, Result<Option<SdpRole>, DialogError>);
    let flows: Vec<(&str, Vec<Row>)> = vec![
        (
            "offer in reliable 1xx, answer in PRACK, copy in 2xx",
            vec![
                (r(Side::Local, Rq(Method::Invite), 1, false), Ok(None)),
                (
                    r(Side::Remote, rel(Method::Invite, 183), 1, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Local, Rq(Method::Prack), 2, true),
                    Ok(Some(SdpRole::Answer)),
                ),
                (
                    r(Side::Remote, unrel(Method::Prack, 200), 2, false),
                    Ok(None),
                ),
                (
                    r(Side::Remote, unrel(Method::Invite, 200), 1, true),
                    Ok(Some(SdpRole::Copy)),
                ),
            ],
        ),
        (
            "offer in INVITE, answer in reliable 1xx, then offer in PRACK (RFC 3262 §5)",
            vec![
                (
                    r(Side::Local, Rq(Method::Invite), 1, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Remote, rel(Method::Invite, 180), 1, true),
                    Ok(Some(SdpRole::Answer)),
                ),
                (
                    r(Side::Local, Rq(Method::Prack), 2, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Remote, unrel(Method::Prack, 200), 2, true),
                    Ok(Some(SdpRole::Answer)),
                ),
                (
                    r(Side::Remote, unrel(Method::Invite, 200), 1, true),
                    Ok(Some(SdpRole::Copy)),
                ),
            ],
        ),
        (
            "UPDATE offer answered in its 2xx during the early dialog",
            vec![
                (
                    r(Side::Remote, Rq(Method::Invite), 1, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Local, rel(Method::Invite, 183), 1, true),
                    Ok(Some(SdpRole::Answer)),
                ),
                (
                    r(Side::Remote, Rq(Method::Update), 2, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Remote, Rq(Method::Update), 3, true),
                    Err(DialogError::RetryLater),
                ),
                (
                    r(Side::Local, unrel(Method::Update, 200), 2, true),
                    Ok(Some(SdpRole::Answer)),
                ),
            ],
        ),
        (
            "a 2xx to an offerless INVITE must carry the offer",
            vec![
                (r(Side::Remote, Rq(Method::Invite), 7, false), Ok(None)),
                (
                    r(Side::Local, unrel(Method::Invite, 200), 7, false),
                    Err(DialogError::MissingOffer),
                ),
                (
                    r(Side::Local, Rq(Method::Update), 1, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Remote, unrel(Method::Update, 200), 1, true),
                    Ok(Some(SdpRole::Answer)),
                ),
            ],
        ),
        (
            // Equal CSeq numbers in the two directions are different transactions: the
            // 491 we send to their UPDATE does not withdraw our own UPDATE offer.
            "a refusal of their request leaves our offer standing",
            vec![
                (
                    r(Side::Local, Rq(Method::Update), 5, true),
                    Ok(Some(SdpRole::Offer)),
                ),
                (
                    r(Side::Remote, Rq(Method::Update), 5, true),
                    Err(DialogError::RequestPending),
                ),
                (
                    r(Side::Local, unrel(Method::Update, 491), 5, false),
                    Ok(None),
                ),
                (
                    r(Side::Remote, unrel(Method::Update, 200), 5, true),
                    Ok(Some(SdpRole::Answer)),
                ),
            ],
        ),
    ];
    for (name, rows) in flows {
        let mut oa = OfferAnswer::new();
        for (i, (msg, want)) in rows.into_iter().enumerate() {
            assert_eq!(oa.handle(&msg), want, "{name}: step {i}");
        }
        assert!(!oa.is_pending(), "{name}: ends stable");
    }
}

#[test]
fn rack_parses_and_prints() {
    let ok = RAck::parse("  776656  1   INVITE ").expect("valid");
    assert_eq!(
        ok,
        RAck {
            rseq: 776656,
            cseq: 1,
            method: Method::Invite
        }
    );
    assert_eq!(ok.to_string(), "776656 1 INVITE");
    assert_eq!(RAck::parse(&ok.to_string()), Ok(ok));
    for bad in [
        "",
        "0 1 INVITE",
        "1 x INVITE",
        "1 1",
        "1 1 INVITE extra",
        "99999999999 1 INVITE",
    ] {
        assert_eq!(
            RAck::parse(bad),
            Err(DialogError::BadHeader("RAck")),
            "{bad:?}"
        );
    }
}

#[test]
fn prack_flow_through_the_wire() {
    // Alice offers; Bob answers in a reliable 183, Alice PRACKs, Bob answers 200 INVITE.
    let inv = invite(SDP);
    let mut bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    bob.set_first_rseq(500);
    let mut p183 = with_sdp(bob.response(&inv, StatusCode(183)));
    let rack = bob.make_reliable(&mut p183).expect("first reliable 1xx");
    assert_eq!(rack.rseq, 500);
    assert_eq!(p183.headers.other("RSeq").next(), Some("500"));
    assert!(p183.headers.require().any(|r| r == "100rel"));
    assert_eq!(bob.record_sent_response(&p183), Ok(Some(SdpRole::Answer)));
    // RFC 3262 §3: no second reliable 1xx before the PRACK.
    let mut p180 = bob.response(&inv, StatusCode::RINGING);
    assert_eq!(
        bob.make_reliable(&mut p180),
        Err(DialogError::UnacknowledgedProvisional)
    );

    let p183 = over_wire_resp(&p183);
    let (mut alice, out) = Dialog::uac(&inv, &p183).expect("early dialog");
    assert_eq!(out.sdp, Some(SdpRole::Answer));
    let rack = out.prack.expect("PRACK due");
    assert_eq!(rack.to_string(), "500 1 INVITE");
    // The retransmitted 183 draws no second PRACK and no second answer.
    let again = alice.handle_response(&p183).expect("same dialog");
    assert!(again.retransmission && again.prack.is_none() && again.sdp.is_none());

    let prack = alice.prack(&rack, None).expect("prack");
    let c = prack.headers.cseq().expect("cseq");
    assert_eq!((c.seq, &c.method), (2, &Method::Prack));
    let prack = over_wire(&prack);
    assert_eq!(prack.headers.other("RAck").next(), Some("500 1 INVITE"));

    // A PRACK naming something else gets 481 and leaves the 183 unacknowledged.
    let mut wrong = prack.clone();
    wrong.headers.remove_other("RAck");
    wrong.headers.push(
        RAck {
            rseq: 499,
            ..rack.clone()
        }
        .header(),
    );
    let e = bob.handle_request(&wrong).unwrap_err();
    assert_eq!(e.response(&wrong, 0).map(|r| r.status.code()), Some(481));
    assert!(bob.prack_state().unacknowledged().is_some());

    let mut prack2 = prack.clone();
    if let Some(Header::CSeq(c)) = prack2
        .headers
        .0
        .iter_mut()
        .find(|h| matches!(h, Header::CSeq(_)))
    {
        c.seq = 3;
    }
    assert_eq!(bob.handle_request(&prack2), Ok(None));
    assert!(bob.prack_state().unacknowledged().is_none());
    let ok_prack = bob.response(&prack2, StatusCode::OK);
    bob.record_sent_response(&ok_prack).expect("200 PRACK");

    // Now the next reliable 1xx may go, numbered one up.
    let mut p180 = bob.response(&inv, StatusCode::RINGING);
    assert_eq!(bob.make_reliable(&mut p180).map(|r| r.rseq), Ok(501));

    // Alice: an RSeq that skips one is dropped; the next in order is PRACKed.
    let skip = from_bob("180 Ringing", "1 INVITE", "Require: 100rel\nRSeq: 502", "");
    let out = alice.handle_response(&skip).expect("same dialog");
    assert!(out.discarded && out.prack.is_none());
    let next = over_wire_resp(&p180);
    assert_eq!(
        alice
            .handle_response(&next)
            .expect("same dialog")
            .prack
            .map(|r| r.rseq),
        Some(501)
    );

    // The 2xx repeats the answer: a copy, and the dialog confirms.
    let ok = over_wire_resp(&with_sdp(bob.response(&inv, StatusCode::OK)));
    assert_eq!(bob.record_sent_response(&ok), Ok(Some(SdpRole::Copy)));
    let out = alice.handle_response(&ok).expect("same dialog");
    assert_eq!(out.sdp, Some(SdpRole::Copy));
    assert!(!alice.is_early());
    let ack = over_wire(&alice.ack(None).expect("ack"));
    assert_eq!(bob.handle_request(&ack), Ok(None));
    assert!(!bob.offer_answer().is_pending() && !alice.offer_answer().is_pending());
}

#[test]
fn provisional_classification() {
    let mut uac = sb_sip_core::Prack::new(1);
    let plain = from_bob("180 Ringing", "1 INVITE", "", "");
    assert_eq!(uac.handle_provisional(&plain), Ok(Provisional::Unreliable));
    let r = |n: u32| {
        from_bob(
            "180 Ringing",
            "1 INVITE",
            &format!("Require: 100rel\nRSeq: {n}"),
            "",
        )
    };
    assert!(matches!(
        uac.handle_provisional(&r(9)),
        Ok(Provisional::New(_))
    ));
    assert_eq!(
        uac.handle_provisional(&r(9)),
        Ok(Provisional::Retransmission)
    );
    assert_eq!(
        uac.handle_provisional(&r(8)),
        Ok(Provisional::Retransmission)
    );
    assert_eq!(uac.handle_provisional(&r(11)), Ok(Provisional::OutOfOrder));
    assert!(matches!(
        uac.handle_provisional(&r(10)),
        Ok(Provisional::New(_))
    ));
    let bad = from_bob("180 Ringing", "1 INVITE", "Require: 100rel\nRSeq: 0", "");
    assert_eq!(
        uac.handle_provisional(&bad),
        Err(DialogError::BadHeader("RSeq"))
    );
}

#[test]
fn a_prack_refused_for_its_offer_does_not_acknowledge() {
    // Bob answered Alice's INVITE offer in a reliable 183 and then offered in UPDATE;
    // Alice's PRACK carrying a new offer collides with it: 491, and the 183 stays
    // unacknowledged (so Bob keeps retransmitting it).
    let inv = invite(SDP);
    let mut bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    let mut p183 = with_sdp(bob.response(&inv, StatusCode(183)));
    let rack = bob.make_reliable(&mut p183).expect("reliable");
    bob.record_sent_response(&p183).expect("answer");
    bob.request_with_body(Method::Update, sdp())
        .expect("bob offers");
    let prack = from_alice("PRACK", 2, SDP);
    let mut prack = prack;
    prack.headers.push(rack.header());
    assert_eq!(bob.handle_request(&prack), Err(DialogError::RequestPending));
    assert!(bob.prack_state().unacknowledged().is_some());
    // Without the offer the same RAck is accepted.
    let mut plain = from_alice("PRACK", 3, "");
    plain.headers.push(rack.header());
    assert_eq!(bob.handle_request(&plain), Ok(None));
    assert!(bob.prack_state().unacknowledged().is_none());
}

#[test]
fn sdp_inside_a_multipart_body_counts_as_sdp() {
    // A SIP-T gateway's INVITE: SDP beside ISUP in multipart/mixed (RFC 3204 §3).
    let isup_body = "--unique-boundary-1\r\n\
        Content-Type: application/sdp\r\n\r\n\
        v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\
        --unique-boundary-1\r\n\
        Content-Type: application/ISUP;version=itu-t92+\r\n\r\n\
        \x01\x00\x49\r\n\
        --unique-boundary-1--\r\n";
    let text = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKm\r\n\
         From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: mp-1\r\nCSeq: 1 INVITE\r\nContact: <sip:gw@192.0.2.1>\r\n\
         Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"\r\n\
         Content-Length: {}\r\n\r\n{isup_body}",
        isup_body.len()
    );
    let Message::Request(inv) = parse_datagram(text.as_bytes()).expect("parses") else {
        unreachable!()
    };
    assert!(sb_sip_core::dialog::has_sdp(&inv.headers, &inv.body));
    let bob = Dialog::uas(&inv, "b1", bob_contact()).expect("uas");
    assert!(matches!(
        bob.offer_answer().state(),
        OaState::Offered {
            by: Side::Remote,
            ..
        }
    ));

    // ISUP alone, an empty SDP part, or no boundary: no SDP.
    let mut headers = inv.headers.clone();
    let isup_only = "--b\r\nContent-Type: application/ISUP\r\n\r\nxx\r\n--b--\r\n";
    headers.remove(sb_sip_msg::HeaderName::ContentType);
    headers.push(Header::ContentType("multipart/mixed; boundary=b".into()));
    assert!(!sb_sip_core::dialog::has_sdp(
        &headers,
        isup_only.as_bytes()
    ));
    let empty_sdp = "--b\r\nContent-Type: application/sdp\r\n\r\n\r\n--b--\r\n";
    assert!(!sb_sip_core::dialog::has_sdp(
        &headers,
        empty_sdp.as_bytes()
    ));
    let lf_sdp = "--b\nc: application/sdp\n\nv=0\n--b--\n";
    assert!(sb_sip_core::dialog::has_sdp(&headers, lf_sdp.as_bytes()));
    headers.remove(sb_sip_msg::HeaderName::ContentType);
    headers.push(Header::ContentType("multipart/mixed".into()));
    assert!(!sb_sip_core::dialog::has_sdp(&headers, lf_sdp.as_bytes()));
}
