//! The dialog layer (RFC 3261 §12) against messages written as raw text: creation as UAC
//! and UAS, route sets, in-dialog requests, CSeq rules, forked early dialogs, target
//! refresh and termination.

use sb_sip_core::dialog::{Body, Dialog, DialogError, DialogId, DialogState, Role, Tag};
use sb_sip_msg::{
    parse_datagram, CallId, Header, Message, Method, NameAddr, Request, Response, StatusCode,
};

/// A message from raw text: one header per line (leading spaces trimmed), CRLF line ends
/// and Content-Length added.
fn wire(head: &str, body: &str) -> Vec<u8> {
    let mut s = String::new();
    for line in head.lines().map(str::trim).filter(|l| !l.is_empty()) {
        s.push_str(line);
        s.push_str("\r\n");
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

/// Through the wire and back, with the Via the caller would add.
fn sent(r: &Request) -> Request {
    let mut r = r.clone();
    if r.headers.top_via().is_none() {
        let via = req(
            "OPTIONS sip:x@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKsent",
            "",
        )
        .headers
        .top_via()
        .cloned()
        .expect("via");
        r.headers.push_via_top(via);
    }
    match parse_datagram(&r.to_bytes()).expect("built request parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn sent_resp(r: &Response) -> Response {
    match parse_datagram(&r.to_bytes()).expect("built response parses") {
        Message::Response(r) => r,
        Message::Request(_) => unreachable!(),
    }
}

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0
    Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1
    Max-Forwards: 70
    From: \"Alice\" <sip:alice@example.com>;tag=a1
    To: <sip:bob@example.com>
    Call-ID: call-1@192.0.2.1
    CSeq: 10 INVITE
    Contact: <sip:alice@192.0.2.1:5060>
    Content-Type: application/sdp";

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// Alice's INVITE, with an SDP offer.
fn invite() -> Request {
    req(INVITE, SDP)
}

/// A UAS response with our tag and Contact, carrying SDP.
fn with_sdp(d: &Dialog, r: &Request, status: StatusCode) -> Response {
    let mut out = d.response(r, status);
    out.headers
        .push(Header::ContentType("application/sdp".into()));
    out.body = SDP.as_bytes().to_vec();
    out
}

/// A response to [`INVITE`] with To tag `tag`, extra header lines and status line.
fn answer(status: &str, tag: &str, extra: &str) -> Response {
    answer_to(status, tag, extra, "10 INVITE")
}

/// A response from Bob (tag `tag`) to Alice's request with CSeq `cseq`.
fn answer_to(status: &str, tag: &str, extra: &str, cseq: &str) -> Response {
    resp(
        &format!(
            "SIP/2.0 {status}
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1
            {extra}
            From: \"Alice\" <sip:alice@example.com>;tag=a1
            To: <sip:bob@example.com>;tag={tag}
            Call-ID: call-1@192.0.2.1
            CSeq: {cseq}"
        ),
        "",
    )
}

fn uac_confirmed(record_route: &str) -> Dialog {
    let ok = answer(
        "200 OK",
        "b1",
        &format!("{record_route}\nContact: <sip:bob@198.51.100.7:5062>"),
    );
    Dialog::uac(&invite(), &ok).expect("2xx creates a dialog").0
}

fn uas_contact() -> NameAddr {
    NameAddr::new("sip:bob@198.51.100.7:5062".parse().expect("uri"))
}

fn routes(r: &Request) -> Vec<String> {
    r.headers.routes().map(|n| n.uri.to_string()).collect()
}

#[test]
fn uac_dialog_from_2xx_takes_ids_route_set_and_target() {
    let d = uac_confirmed(
        "Record-Route: <sip:p2.example.net;lr>\nRecord-Route: <sip:p1.example.com;lr>",
    );
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        d.id(),
        &DialogId {
            call_id: CallId("call-1@192.0.2.1".into()),
            local_tag: Tag("a1".into()),
            remote_tag: Tag("b1".into()),
        }
    );
    let rs: Vec<String> = d.route_set().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(rs, ["sip:p1.example.com;lr", "sip:p2.example.net;lr"]);
    assert_eq!(d.remote_target().to_string(), "sip:bob@198.51.100.7:5062");
    assert_eq!(d.local_seq(), Some(10));
    assert_eq!(d.remote_seq(), None);
    assert_eq!(d.local_uri().tag(), Some("a1"));
    assert_eq!(d.remote_uri().tag(), Some("b1"));
    assert!(!d.is_secure());
    assert!(d.ack_due());
}

#[test]
fn uac_refuses_responses_that_create_no_dialog() {
    let no_tag = resp(
        "SIP/2.0 180 Ringing
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1
        From: <sip:alice@example.com>;tag=a1
        To: <sip:bob@example.com>
        Call-ID: call-1@192.0.2.1
        CSeq: 10 INVITE",
        "",
    );
    assert_eq!(
        Dialog::uac(&invite(), &no_tag).unwrap_err(),
        DialogError::NoToTag
    );
    let trying = answer("100 Trying", "b1", "");
    assert_eq!(
        Dialog::uac(&invite(), &trying).unwrap_err(),
        DialogError::NotDialogCreating(100)
    );
    let busy = answer("486 Busy Here", "b1", "");
    assert_eq!(
        Dialog::uac(&invite(), &busy).unwrap_err(),
        DialogError::NotDialogCreating(486)
    );
}

#[test]
fn uas_dialog_from_invite_keeps_record_route_in_order() {
    let inv = req(
        &format!("{INVITE}\nRecord-Route: <sip:p2.example.net;lr>\nRecord-Route: <sip:p1.example.com;lr>"),
        SDP,
    );
    let mut d = Dialog::uas(&inv, "b1", uas_contact()).expect("uas dialog");
    assert_eq!(d.state(), DialogState::Early);
    assert_eq!(
        d.id(),
        &DialogId::of_received_request(&{
            let mut r = inv.clone();
            r.headers
                .to_mut()
                .expect("to")
                .params
                .set("tag", Some("b1"));
            r
        })
        .expect("tags")
    );
    let rs: Vec<String> = d.route_set().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(rs, ["sip:p2.example.net;lr", "sip:p1.example.com;lr"]);
    assert_eq!(d.remote_target().to_string(), "sip:alice@192.0.2.1:5060");
    assert_eq!(d.remote_seq(), Some(10));
    assert_eq!(d.local_seq(), None);

    let ok = with_sdp(&d, &inv, StatusCode::OK);
    assert_eq!(ok.headers.to().and_then(|t| t.tag()), Some("b1"));
    assert_eq!(ok.headers.record_routes().count(), 2);
    assert_eq!(ok.headers.contacts().count(), 1);
    d.record_sent_response(&ok).expect("2xx recorded");
    assert_eq!(d.state(), DialogState::Confirmed);

    // The UAS's own first request: route set in order, CSeq from 1, From/To swapped.
    let bye = d.request(Method::Bye).expect("bye");
    assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5060");
    assert_eq!(
        routes(&bye),
        ["sip:p2.example.net;lr", "sip:p1.example.com;lr"]
    );
    assert_eq!(bye.headers.cseq().map(|c| c.seq), Some(1));
    assert_eq!(bye.headers.from().and_then(|f| f.tag()), Some("b1"));
    assert_eq!(bye.headers.to().and_then(|t| t.tag()), Some("a1"));
    assert_eq!(d.state(), DialogState::Terminated);
}

#[test]
fn uas_non_2xx_final_ends_the_early_dialog() {
    let inv = invite();
    let mut d = Dialog::uas(&inv, "b1", uas_contact()).expect("uas");
    d.record_sent_response(&d.response(&inv, StatusCode::RINGING))
        .expect("180");
    assert!(d.is_early());
    d.record_sent_response(&d.response(&inv, StatusCode(486)))
        .expect("486");
    assert!(d.is_terminated());
}

/// §12.2.1.1 with the route sets of §16.12.1 examples: (Record-Route of the 2xx as the
/// UAC receives it, expected Request-URI, expected Route values).
#[test]
fn request_uri_and_route_per_loose_and_strict_routing() {
    let target = "sip:bob@198.51.100.7:5062";
    let cases: &[(&str, &str, &[&str])] = &[
        // No route set: straight to the remote target.
        ("", target, &[]),
        // Loose: the target stays in the Request-URI, the route set in Route.
        (
            "Record-Route: <sip:p2.example.net;lr>\nRecord-Route: <sip:p1.example.com;lr>",
            target,
            &["sip:p1.example.com;lr", "sip:p2.example.net;lr"],
        ),
        // Strict first hop: it becomes the Request-URI (method param and URI headers
        // stripped, §19.1.1); the target goes last in Route.
        (
            "Record-Route: <sip:p2.example.net;lr>\nRecord-Route: <sip:p1.example.com;method=INVITE?x=y>",
            "sip:p1.example.com",
            &["sip:p2.example.net;lr", target],
        ),
        // Strict router further along (not first): still loose routing from here.
        (
            "Record-Route: <sip:p2.example.net>\nRecord-Route: <sip:p1.example.com;lr>",
            target,
            &["sip:p1.example.com;lr", "sip:p2.example.net"],
        ),
        // RFC 5658 double Record-Route: one multi-homed proxy, one entry per interface;
        // both are hops and keep their order.
        (
            "Record-Route: <sip:10.0.0.1;transport=tcp;lr>\nRecord-Route: <sip:203.0.113.1;lr>",
            target,
            &["sip:203.0.113.1;lr", "sip:10.0.0.1;transport=tcp;lr"],
        ),
    ];
    for (rr, ruri, want_routes) in cases {
        let mut d = uac_confirmed(rr);
        let info = d.request(Method::Info).expect("info");
        assert_eq!(info.uri.to_string(), *ruri, "Request-URI for {rr:?}");
        assert_eq!(routes(&info), *want_routes, "Route for {rr:?}");
        // The built request survives the wire.
        let back = sent(&info);
        assert_eq!(routes(&back), *want_routes);
    }
}

#[test]
fn sips_request_uri_makes_a_secure_dialog() {
    let inv = req(&INVITE.replace("INVITE sip:bob", "INVITE sips:bob"), SDP);
    let ok = answer("200 OK", "b1", "Contact: <sips:bob@198.51.100.7>");
    let (d, _) = Dialog::uac(&inv, &ok).expect("dialog");
    assert!(d.is_secure());
    let uas = Dialog::uas(&inv, "b1", uas_contact()).expect("uas");
    assert!(uas.is_secure());
}

#[test]
fn in_dialog_requests_carry_dialog_headers_and_next_cseq() {
    let mut d = uac_confirmed("");
    d.ack(None).expect("ack");
    let info = d.request(Method::Info).expect("info");
    assert_eq!(
        info.headers.cseq().map(|c| (c.seq, c.method.clone())),
        Some((11, Method::Info))
    );
    assert_eq!(info.headers.max_forwards(), Some(70));
    assert_eq!(
        info.headers.call_id().map(|c| c.as_str()),
        Some("call-1@192.0.2.1")
    );
    assert_eq!(info.headers.from().and_then(|f| f.tag()), Some("a1"));
    assert_eq!(info.headers.to().and_then(|f| f.tag()), Some("b1"));
    assert_eq!(
        info.headers.contacts().count(),
        0,
        "INFO refreshes no target"
    );
    let reinvite = d.request(Method::Invite).expect("re-INVITE");
    assert_eq!(reinvite.headers.cseq().map(|c| c.seq), Some(12));
    assert_eq!(
        reinvite.headers.contacts().count(),
        1,
        "target refresh has Contact"
    );
    assert_eq!(d.local_seq(), Some(12));
}

#[test]
fn cancel_ack_and_prack_are_not_plain_dialog_requests() {
    let mut d = uac_confirmed("");
    assert_eq!(
        d.request(Method::Cancel),
        Err(DialogError::CancelIsNotInDialog)
    );
    assert_eq!(
        d.request(Method::Ack),
        Err(DialogError::UseDedicatedBuilder("ACK"))
    );
    assert_eq!(
        d.request(Method::Prack),
        Err(DialogError::UseDedicatedBuilder("PRACK"))
    );
    assert_eq!(d.local_seq(), Some(10), "a refused request uses no CSeq");
}

#[test]
fn ack_for_2xx_uses_the_invite_cseq_and_is_resent_for_retransmissions() {
    let mut d = uac_confirmed("Record-Route: <sip:p1.example.com;lr>");
    let ack = d.ack(None).expect("ack due");
    let c = ack.headers.cseq().expect("cseq");
    assert_eq!((c.seq, &c.method), (10, &Method::Ack));
    assert_eq!(routes(&ack), ["sip:p1.example.com;lr"]);
    assert_eq!(d.ack(None), Err(DialogError::NoAckDue));

    let again = d
        .handle_response(&answer(
            "200 OK",
            "b1",
            "Contact: <sip:bob@198.51.100.7:5062>",
        ))
        .expect("same dialog");
    assert!(again.retransmission);
    assert_eq!(d.last_ack(), Some(&ack));

    // A re-INVITE's ACK carries the re-INVITE's number.
    let re = d.request(Method::Invite).expect("re-INVITE");
    let seq = re.headers.cseq().expect("cseq").seq;
    let ok = answer_to("200 OK", "b1", "", &format!("{seq} INVITE"));
    d.handle_response(&ok).expect("2xx to re-INVITE");
    assert_eq!(
        d.ack(None).expect("ack").headers.cseq().map(|c| c.seq),
        Some(seq)
    );
}

/// A confirmed UAS dialog for [`INVITE`] that received its ACK.
fn uas_confirmed() -> Dialog {
    let inv = invite();
    let mut d = Dialog::uas(&inv, "b1", uas_contact()).expect("uas");
    d.record_sent_response(&with_sdp(&d, &inv, StatusCode::OK))
        .expect("2xx");
    d
}

/// A request from Alice inside the dialog with tags a1/b1.
fn from_alice(method: &str, cseq: u32, extra: &str) -> Request {
    req(
        &format!(
            "{method} sip:bob@198.51.100.7:5062 SIP/2.0
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{method}{cseq}
            Max-Forwards: 70
            From: <sip:alice@example.com>;tag=a1
            To: <sip:bob@example.com>;tag=b1
            Call-ID: call-1@192.0.2.1
            CSeq: {cseq} {method}
            {extra}"
        ),
        "",
    )
}

#[test]
fn remote_cseq_must_grow_except_for_ack_and_cancel() {
    let mut d = uas_confirmed();
    // (method, CSeq, accepted?) in order of arrival.
    let table: &[(&str, u32, Result<(), DialogError>)] = &[
        ("ACK", 10, Ok(())),
        (
            "INFO",
            9,
            Err(DialogError::CSeqOutOfOrder { got: 9, last: 10 }),
        ),
        (
            "INFO",
            10,
            Err(DialogError::CSeqOutOfOrder { got: 10, last: 10 }),
        ),
        ("INFO", 11, Ok(())),
        ("CANCEL", 3, Ok(())),
        ("OPTIONS", 20, Ok(())),
        (
            "INFO",
            15,
            Err(DialogError::CSeqOutOfOrder { got: 15, last: 20 }),
        ),
    ];
    for (method, cseq, want) in table {
        let r = from_alice(method, *cseq, "");
        let got = d.handle_request(&r).map(|_| ());
        assert_eq!(&got, want, "{method} {cseq}");
        if let Err(e) = got {
            let out = e.response(&r, 0).expect("peer error has a response");
            assert_eq!(out.status, StatusCode::SERVER_INTERNAL_ERROR);
        }
    }
    assert_eq!(d.remote_seq(), Some(20));
}

#[test]
fn requests_of_other_dialogs_get_481() {
    let mut d = uas_confirmed();
    let wrong_tag = req(
        "BYE sip:bob@198.51.100.7 SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx
        From: <sip:alice@example.com>;tag=a1
        To: <sip:bob@example.com>;tag=other
        Call-ID: call-1@192.0.2.1
        CSeq: 11 BYE",
        "",
    );
    let e = d.handle_request(&wrong_tag).unwrap_err();
    assert_eq!(e, DialogError::NoSuchDialog);
    assert_eq!(
        e.response(&wrong_tag, 0).map(|r| r.status.code()),
        Some(481)
    );
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        DialogId::of_received_request(&from_alice("BYE", 11, "")).as_ref(),
        Some(d.id())
    );
}

#[test]
fn bye_received_ends_the_dialog_and_later_requests_get_481() {
    let mut d = uas_confirmed();
    d.handle_request(&from_alice("BYE", 11, "")).expect("bye");
    assert!(d.is_terminated());
    let late = from_alice("INFO", 12, "");
    let e = d.handle_request(&late).unwrap_err();
    assert_eq!(e.response(&late, 0).map(|r| r.status.code()), Some(481));
    assert_eq!(d.request(Method::Info), Err(DialogError::Terminated));
}

#[test]
fn target_refresh_moves_the_remote_target_only_on_2xx() {
    let mut d = uas_confirmed();
    d.handle_request(&from_alice("ACK", 10, "")).expect("ack");
    let re = from_alice("INVITE", 11, "Contact: <sip:alice@203.0.113.50:5070>");
    d.handle_request(&re).expect("re-INVITE");
    assert_eq!(d.remote_target().to_string(), "sip:alice@192.0.2.1:5060");
    d.record_sent_response(&with_sdp(&d, &re, StatusCode::OK))
        .expect("2xx with the offer the re-INVITE asked for");
    assert_eq!(d.remote_target().to_string(), "sip:alice@203.0.113.50:5070");

    // A refused UPDATE leaves it.
    let up = from_alice("UPDATE", 12, "Contact: <sip:alice@203.0.113.99>");
    d.handle_request(&up).expect("update");
    d.record_sent_response(&d.response(&up, StatusCode(488)))
        .expect("488");
    assert_eq!(d.remote_target().to_string(), "sip:alice@203.0.113.50:5070");
    assert_eq!(
        d.request(Method::Bye).expect("bye").uri.to_string(),
        "sip:alice@203.0.113.50:5070"
    );
}

#[test]
fn uac_target_refresh_on_2xx_to_update() {
    let mut d = uac_confirmed("");
    d.ack(None).expect("ack");
    let up = d.request(Method::Update).expect("update");
    let ok = resp(
        &format!(
            "SIP/2.0 200 OK
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKu
            From: <sip:alice@example.com>;tag=a1
            To: <sip:bob@example.com>;tag=b1
            Call-ID: call-1@192.0.2.1
            CSeq: {} UPDATE
            Contact: <sip:bob@198.51.100.8>",
            up.headers.cseq().expect("cseq").seq
        ),
        "",
    );
    d.handle_response(&ok).expect("2xx");
    assert_eq!(d.remote_target().to_string(), "sip:bob@198.51.100.8");
}

#[test]
fn a_481_or_408_to_an_in_dialog_request_ends_the_dialog() {
    for code in ["481 Call/Transaction Does Not Exist", "408 Request Timeout"] {
        let mut d = uac_confirmed("");
        d.ack(None).expect("ack");
        let info = d.request(Method::Info).expect("info");
        let seq = info.headers.cseq().expect("cseq").seq;
        let r = resp(
            &format!(
                "SIP/2.0 {code}
                Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKi
                From: <sip:alice@example.com>;tag=a1
                To: <sip:bob@example.com>;tag=b1
                Call-ID: call-1@192.0.2.1
                CSeq: {seq} INFO"
            ),
            "",
        );
        d.handle_response(&r).expect("same dialog");
        assert!(d.is_terminated(), "{code}");
    }
}

#[test]
fn forked_early_dialogs_are_separate_and_the_2xx_confirms_one() {
    let inv = invite();
    let r1 = answer(
        "180 Ringing",
        "fork1",
        "Record-Route: <sip:edge.example.com;lr>\nContact: <sip:bob@198.51.100.1>",
    );
    let r2 = answer(
        "183 Session Progress",
        "fork2",
        "Record-Route: <sip:edge.example.com;lr>\nContact: <sip:bob@198.51.100.2>",
    );
    let (mut d1, _) = Dialog::uac(&inv, &r1).expect("first early dialog");
    let (mut d2, _) = Dialog::uac(&inv, &r2).expect("second early dialog");
    assert!(d1.is_early() && d2.is_early());
    assert_ne!(d1.id(), d2.id());
    assert_eq!(DialogId::of_received_response(&r2).as_ref(), Some(d2.id()));
    assert_eq!(d1.handle_response(&r2), Err(DialogError::NoSuchDialog));
    assert_eq!(d2.remote_target().to_string(), "sip:bob@198.51.100.2");

    // An early dialog can carry a request of its own (an UPDATE), and a re-INVITE must
    // wait: the initial INVITE is still in progress (§14.1).
    assert_eq!(d1.request(Method::Invite), Err(DialogError::OfferPending));

    // The 2xx from fork 2 confirms it with the route set of the 2xx (§13.2.2.4), which
    // here went through one more proxy.
    let ok = answer(
        "200 OK",
        "fork2",
        "Record-Route: <sip:core.example.com;lr>\nRecord-Route: <sip:edge.example.com;lr>\nContact: <sip:bob@198.51.100.22>",
    );
    let out = d2.handle_response(&ok).expect("same dialog");
    assert!(!out.retransmission);
    assert_eq!(d2.state(), DialogState::Confirmed);
    let rs: Vec<String> = d2.route_set().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(rs, ["sip:edge.example.com;lr", "sip:core.example.com;lr"]);
    assert_eq!(d2.remote_target().to_string(), "sip:bob@198.51.100.22");
    assert!(
        d1.is_early(),
        "the other fork stays early until the caller ends it"
    );

    // A non-2xx final in the early state ends that early dialog (§12.3).
    d1.handle_response(&answer("487 Request Terminated", "fork1", ""))
        .expect("same dialog");
    assert!(d1.is_terminated());
}

#[test]
fn request_bodies_are_typed() {
    let mut d = uac_confirmed("");
    d.ack(None).expect("ack");
    let info = d
        .request_with_body(
            Method::Info,
            Some(Body {
                content_type: "application/dtmf-relay".into(),
                bytes: b"Signal=5\r\nDuration=160\r\n".to_vec(),
            }),
        )
        .expect("info");
    assert_eq!(info.headers.content_type(), Some("application/dtmf-relay"));
    let back = sent(&info);
    assert_eq!(back.body, b"Signal=5\r\nDuration=160\r\n");
    assert!(back
        .headers
        .iter()
        .any(|h| matches!(h, Header::ContentType(_))));
}

#[test]
fn uac_and_uas_dialogs_talk_through_the_wire() {
    // Alice's UAC dialog and Bob's UAS dialog, every message printed and parsed again.
    let inv = req(
        &format!("{INVITE}\nRecord-Route: <sip:p1.example.com;lr>"),
        SDP,
    );
    let mut bob = Dialog::uas(&inv, "b1", uas_contact()).expect("uas");
    let ok = sent_resp(&with_sdp(&bob, &inv, StatusCode::OK));
    bob.record_sent_response(&ok).expect("2xx");
    let (mut alice, _) = Dialog::uac(&inv, &ok).expect("uac");
    assert_eq!(alice.id().local_tag, bob.id().remote_tag);
    assert_eq!(alice.id().remote_tag, bob.id().local_tag);

    bob.handle_request(&sent(&alice.ack(None).expect("ack")))
        .expect("ack arrives");
    let info = sent(&alice.request(Method::Info).expect("info"));
    assert_eq!(routes(&info), ["sip:p1.example.com;lr"]);
    bob.handle_request(&info).expect("info arrives");
    let ok = sent_resp(&bob.response(&info, StatusCode::OK));
    bob.record_sent_response(&ok).expect("200 INFO");
    alice.handle_response(&ok).expect("200 INFO arrives");

    let bye = sent(&bob.request(Method::Bye).expect("bye"));
    assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5060");
    assert_eq!(routes(&bye), ["sip:p1.example.com;lr"]);
    alice.handle_request(&bye).expect("bye arrives");
    assert!(alice.is_terminated() && bob.is_terminated());
}

#[test]
fn a_request_that_times_out_ends_the_dialog_like_a_408() {
    // The initial INVITE of an early dialog.
    let (mut early, _) = Dialog::uac(&invite(), &answer("180 Ringing", "b1", "")).expect("early");
    early.handle_request_failed(Method::Invite, 10);
    assert!(early.is_terminated());

    // An in-dialog request of a confirmed one.
    let mut d = uac_confirmed("");
    d.ack(None).expect("ack");
    let re = d
        .request_with_body(Method::Invite, Some(Body::sdp(SDP)))
        .expect("re-INVITE");
    assert!(d.invite_in_progress());
    let seq = re.headers.cseq().expect("cseq").seq;
    d.handle_request_failed(Method::Invite, seq);
    assert!(d.is_terminated());
    assert!(!d.invite_in_progress());
    assert!(!d.offer_answer().is_pending());
}

#[test]
fn errors_map_to_the_status_a_uas_sends() {
    let table: &[(DialogError, Option<u16>)] = &[
        (DialogError::NoSuchDialog, Some(481)),
        (DialogError::Terminated, Some(481)),
        (DialogError::NoMatchingProvisional, Some(481)),
        (DialogError::CSeqOutOfOrder { got: 1, last: 2 }, Some(500)),
        (DialogError::RetryLater, Some(500)),
        (DialogError::RequestPending, Some(491)),
        (
            DialogError::SessionIntervalTooSmall { min_se: 90 },
            Some(422),
        ),
        (DialogError::MissingHeader("CSeq"), Some(400)),
        (DialogError::BadHeader("RAck"), Some(400)),
        // The caller's own mistakes never reach the wire.
        (DialogError::OfferPending, None),
        (DialogError::CancelIsNotInDialog, None),
        (DialogError::NoAckDue, None),
        (DialogError::UnacknowledgedProvisional, None),
    ];
    for (e, want) in table {
        assert_eq!(StatusCode::try_from(e).ok().map(|s| s.code()), *want, "{e}");
    }
}
