//! Outbound calls: a client, through the front end, calls the PSTN through a gateway.

mod common;

use std::time::Duration;

use common::*;
use sb_media_api::Command;
use sb_sip_msg::Method;

#[test]
fn outbound_call_connects_with_anchored_media() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    // Number rules: +1 stripped for gw-a; identity from the front end's assertion.
    assert_eq!(
        inv.uri.to_string(),
        "sip:5551234567@192.0.2.10:5060;user=phone"
    );
    let pai: Vec<_> = inv.headers.other("P-Asserted-Identity").collect();
    assert_eq!(pai.len(), 1);
    assert!(pai[0].contains("5550001111"), "{pai:?}");
    // Our offer toward the gateway: plain RTP, its codecs, telephone-event, our address.
    let offer = String::from_utf8(inv.body.clone()).unwrap();
    assert!(offer.contains("m=audio 2000"), "{offer}");
    assert!(offer.contains("RTP/AVP 0 8 101"), "{offer}");
    assert!(offer.contains("c=IN IP4 10.0.0.1"), "{offer}");
    assert!(
        !offer.contains("crypto") && !offer.contains("ice-ufrag"),
        "{offer}"
    );
    assert!(h.take_media().is_empty(), "no media before any answer");

    let ok = answer(&mut h, &inv);
    let body = String::from_utf8(ok.body.clone()).unwrap();
    // The client's answer: SRTP because it offered SDES, ICE because it had ICE, Opus
    // because it offered Opus first.
    assert!(body.contains("RTP/SAVP 111"), "{body}");
    assert!(
        body.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80"),
        "{body}"
    );
    assert!(body.contains("a=ice-ufrag:"), "{body}");
    assert!(body.contains("c=IN IP4 10.0.0.1"), "{body}");

    let cmds = h.take_media();
    assert!(matches!(cmds[0], Command::CreateSession { .. }), "{cmds:?}");
    let legs = add_legs(&cmds);
    assert_eq!(legs.len(), 2, "{cmds:?}");
    let client = legs
        .iter()
        .find(|l| l.1.codec.name == "opus")
        .expect("client leg");
    let gw = legs
        .iter()
        .find(|l| l.1.codec.name == "PCMU")
        .expect("gateway leg");
    assert!(client.1.srtp.is_some() && client.1.ice.is_some());
    assert_eq!(client.1.remote_rtp, addr("198.51.100.7:40000"));
    assert!(gw.1.srtp.is_none() && gw.1.ice.is_none());
    assert_eq!(gw.1.remote_rtp, addr("192.0.2.10:30000"));
    assert!(gw.1.telephone_event.is_some());
    assert_ne!(client.2, gw.2, "each leg on its own port");
    assert!(cmds.contains(&Command::Connect {
        a: client.0,
        b: gw.0
    }));
    assert_eq!(h.b2bua.len(), 1);
    assert_eq!(
        h.b2bua
            .monitor()
            .state(&"gw-a".into())
            .unwrap()
            .active_calls,
        1
    );
}

#[test]
fn gateway_side_carries_nothing_of_the_client_side() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    let ok = answer(&mut h, &inv);
    // And a BYE from the client, relayed.
    let bye = in_dialog(
        Method::Bye,
        &contact_of(&ok.headers),
        "clientcallid-1@198.51.100.7",
        ok.headers.from().unwrap(),
        ok.headers.to().unwrap(),
        2,
        "10.0.0.2:5060",
        "z9hG4bKbye1",
        None,
    );
    h.deliver_req(&bye, FRONT_END);
    let wire = String::from_utf8_lossy(&h.gateway_bytes).to_string();
    for secret in [
        "198.51.100.7",
        "10.0.0.2",
        "alicetag1",
        "clientcallid-1",
        "z9hG4bKfe1",
        "z9hG4bKcl1",
        "Record-Route",
        "alice@",
    ] {
        assert!(
            !wire.contains(secret),
            "{secret:?} leaked to the gateway:\n{wire}"
        );
    }
    assert!(wire.contains("BYE sip:gw@192.0.2.10"), "{wire}");
}

#[test]
fn bye_from_client_is_relayed_with_reason_and_media_destroyed() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    let ok = answer(&mut h, &inv);
    h.take_media();
    let mut bye = in_dialog(
        Method::Bye,
        &contact_of(&ok.headers),
        "clientcallid-1@198.51.100.7",
        ok.headers.from().unwrap(),
        ok.headers.to().unwrap(),
        2,
        "10.0.0.2:5060",
        "z9hG4bKbye1",
        None,
    );
    bye.headers
        .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
            name: "Reason".into(),
            value: " Q.850;cause=16;text=\"Normal call clearing\"".into(),
        }));
    h.deliver_req(&bye, FRONT_END);
    assert_eq!(h.statuses(FRONT_END), vec![200]);
    let gbye = h.one_request(GW_A, Method::Bye);
    assert_eq!(
        gbye.headers.other("Reason").collect::<Vec<_>>(),
        vec!["Q.850;cause=16;text=\"Normal call clearing\""]
    );
    assert_eq!(gbye.headers.call_id(), inv.headers.call_id());
    let cmds = h.take_media();
    assert!(
        matches!(cmds.as_slice(), [Command::DestroySession { .. }]),
        "{cmds:?}"
    );
    assert!(h.b2bua.is_empty(), "the call is gone");
    assert_eq!(
        h.b2bua
            .monitor()
            .state(&"gw-a".into())
            .unwrap()
            .active_calls,
        0
    );
    h.deliver_resp(&reply(&gbye, 200, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    h.advance(Duration::from_secs(40));
    assert_eq!(h.b2bua.transactions(), 0);
}

#[test]
fn bye_from_gateway_is_relayed_to_the_client() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    let ok = answer(&mut h, &inv);
    // The gateway's view: From is its To (with its tag), To is our From.
    let gw_from: sb_sip_msg::NameAddr = format!("{};tag=gwtag", inv.headers.to().unwrap())
        .parse()
        .unwrap();
    let bye = in_dialog(
        Method::Bye,
        &contact_of(&inv.headers),
        inv.headers.call_id().unwrap().as_str(),
        &gw_from,
        inv.headers.from().unwrap(),
        1,
        "192.0.2.10:5060",
        "z9hG4bKgwbye",
        None,
    );
    h.deliver_req(&bye, GW_A);
    assert_eq!(h.statuses(GW_A), vec![200]);
    let cbye = h.one_request(FRONT_END, Method::Bye);
    assert_eq!(cbye.headers.call_id(), ok.headers.call_id());
    assert_eq!(
        cbye.headers.to().and_then(|t| t.tag()),
        Some("alicetag1"),
        "BYE goes in the client's dialog"
    );
    assert_eq!(
        cbye.uri.to_string(),
        "sip:alice@198.51.100.7:5061;transport=tls"
    );
    assert!(h.b2bua.is_empty());
}

#[test]
fn early_media_183_is_anchored_and_answered_to_the_client() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(
        &reply(
            &inv,
            183,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        GW_A,
    );
    let rs = h.responses(FRONT_END);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].status.code(), 183);
    let body = String::from_utf8(rs[0].body.clone()).unwrap();
    assert!(
        body.contains("RTP/SAVP 111") && body.contains("c=IN IP4 10.0.0.1"),
        "{body}"
    );
    let cmds = h.take_media();
    assert_eq!(add_legs(&cmds).len(), 2, "{cmds:?}");
    assert!(cmds.iter().any(|c| matches!(c, Command::Connect { .. })));
    assert!(!cmds.iter().any(|c| matches!(c, Command::PlayTone { .. })));
    // The 200 with the same answer adds nothing new to media.
    answer(&mut h, &inv);
    let cmds = h.take_media();
    assert!(
        cmds.iter()
            .all(|c| !matches!(c, Command::AddLeg { .. } | Command::Connect { .. })),
        "{cmds:?}"
    );
}

#[test]
fn ringback_plays_while_the_gateway_rings_without_early_media() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    let rs = h.responses(FRONT_END);
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0].status.code(),
        183,
        "183 with our SDP, so the client hears us"
    );
    assert!(!rs[0].body.is_empty());
    let cmds = h.take_media();
    let legs = add_legs(&cmds);
    assert_eq!(legs.len(), 1, "only the client leg so far: {cmds:?}");
    let client_leg = legs[0].0;
    assert!(cmds.iter().any(|c| matches!(c, Command::PlayTone { leg, tone } if *leg == client_leg && tone.frequencies == vec![425.0])));
    // A second 180 does not start a second tone.
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    assert!(!h
        .take_media()
        .iter()
        .any(|c| matches!(c, Command::PlayTone { .. })));
    h.responses(FRONT_END);
    answer(&mut h, &inv);
    let cmds = h.take_media();
    let stop = cmds
        .iter()
        .position(|c| *c == Command::StopTone { leg: client_leg })
        .expect("ringback stops at answer");
    let connect = cmds
        .iter()
        .position(|c| matches!(c, Command::Connect { .. }))
        .expect("connect at answer");
    assert!(stop < connect, "{cmds:?}");
}

#[test]
fn failover_to_the_next_gateway_on_503_marks_the_first_down() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 503, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    assert_eq!(
        h.take_requests(GW_A, Method::Ack).len(),
        1,
        "non-2xx ACKed by the transaction"
    );
    assert!(
        h.statuses(FRONT_END).is_empty(),
        "the caller hears nothing of the failure"
    );
    let inv_b = h.one_request(GW_B, Method::Invite);
    assert_ne!(
        inv_b.headers.call_id(),
        inv.headers.call_id(),
        "a new Call-ID per attempt"
    );
    assert_eq!(
        inv_b.uri.to_string(),
        "sip:+15551234567@192.0.2.11:5060;user=phone"
    );
    assert!(
        String::from_utf8_lossy(&inv_b.body).contains("RTP/AVP 8 101"),
        "gw-b takes PCMA only"
    );
    assert_eq!(
        h.b2bua.monitor().state(&"gw-a".into()).unwrap().health,
        sb_gateways::Health::Down,
        "503 is one of gw-a's fail codes"
    );
    assert!(h.events.iter().any(
        |e| matches!(e, sb_b2bua::B2buaEvent::GatewayFailed { status, .. } if status.code() == 503)
    ));
    h.deliver_resp(
        &reply(
            &inv_b,
            200,
            "gwb",
            "sip:gw@192.0.2.11",
            Some(
                &gateway_sdp(30002, "sendrecv")
                    .replace("0 101", "8 101")
                    .replace(":0 PCMU", ":8 PCMA"),
            ),
        ),
        GW_B,
    );
    assert_eq!(h.take_requests(GW_B, Method::Ack).len(), 1);
    assert_eq!(h.statuses(FRONT_END), vec![200]);
}

#[test]
fn every_gateway_failing_gives_503_with_the_last_reason() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 500, "t", "sip:gw@192.0.2.10", None), GW_A);
    let inv_b = h.one_request(GW_B, Method::Invite);
    let fail = with_header(
        reply(&inv_b, 502, "t", "sip:gw@192.0.2.11", None),
        "Reason",
        "Q.850;cause=38;text=\"Network out of order\"",
    );
    h.deliver_resp(&fail, GW_B);
    let rs = h.responses(FRONT_END);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].status.code(), 503);
    assert_eq!(
        rs[0].headers.other("Reason").collect::<Vec<_>>(),
        vec!["Q.850;cause=38;text=\"Network out of order\""]
    );
    assert!(h.b2bua.is_empty());
    assert_eq!(h.b2bua.free_ports(), 50, "ports back in the pool");
}

#[test]
fn busy_is_relayed_with_its_q850_cause_and_no_failover() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    let busy = with_header(
        reply(&inv, 486, "t", "sip:gw@192.0.2.10", None),
        "Reason",
        "Q.850;cause=17;text=\"User busy\"",
    );
    h.deliver_resp(&busy, GW_A);
    assert!(
        h.take_requests(GW_B, Method::Invite).is_empty(),
        "busy is the callee's answer"
    );
    let rs = h.responses(FRONT_END);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].status.code(), 486);
    assert_eq!(
        rs[0].headers.other("Reason").collect::<Vec<_>>(),
        vec!["Q.850;cause=17;text=\"User busy\""]
    );
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_silent_gateway_times_out_and_the_call_fails_over() {
    let mut h = Harness::new();
    let _inv = call_to_gateway(&mut h);
    // Timer B: 64*T1 = 32 s without any response.
    h.advance(Duration::from_secs(33));
    let inv_b = h.take_requests(GW_B, Method::Invite);
    assert!(!inv_b.is_empty(), "failover after the timeout");
    assert!(
        inv_b
            .iter()
            .all(|r| r.headers.call_id() == inv_b[0].headers.call_id()),
        "one call to gw-b (and its retransmissions)"
    );
    assert!(
        h.take_requests(GW_A, Method::Invite).len() >= 5,
        "UDP retransmissions to gw-a"
    );
}

#[test]
fn cancel_from_the_client_cancels_the_gateway_and_answers_487() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    h.responses(FRONT_END);
    let cancel = "CANCEL sip:+15551234567@10.0.0.1;user=phone;pool=pstn SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKfe1
Max-Forwards: 70
From: \"Alice\" <sip:alice@example.com>;tag=alicetag1
To: <sip:+15551234567@example.com;user=phone>
Call-ID: clientcallid-1@198.51.100.7
CSeq: 1 CANCEL
Reason: Q.850;cause=16
";
    h.deliver_text(cancel, FRONT_END);
    let mut st = h.statuses(FRONT_END);
    st.sort();
    assert_eq!(st, vec![200, 487]);
    let gcancel = h.one_request(GW_A, Method::Cancel);
    assert_eq!(
        gcancel.headers.other("Reason").collect::<Vec<_>>(),
        vec!["Q.850;cause=16"]
    );
    assert_eq!(h.b2bua.len(), 1, "waiting for the gateway's final response");
    h.deliver_resp(
        &reply(&gcancel, 200, "gwtag", "sip:gw@192.0.2.10", None),
        GW_A,
    );
    h.deliver_resp(&reply(&inv, 487, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    assert!(h.b2bua.is_empty());
    let cmds = h.take_media();
    assert!(cmds.contains(&Command::StopTone {
        leg: add_legs(&cmds)[0].0
    }));
    assert!(
        matches!(cmds.last(), Some(Command::DestroySession { .. })),
        "{cmds:?}"
    );
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_hung_up() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    h.responses(FRONT_END);
    h.deliver_text(
        "CANCEL sip:+15551234567@10.0.0.1;user=phone;pool=pstn SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKfe1
Max-Forwards: 70
From: \"Alice\" <sip:alice@example.com>;tag=alicetag1
To: <sip:+15551234567@example.com;user=phone>
Call-ID: clientcallid-1@198.51.100.7
CSeq: 1 CANCEL
",
        FRONT_END,
    );
    h.one_request(GW_A, Method::Cancel);
    h.deliver_resp(
        &reply(
            &inv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        GW_A,
    );
    assert_eq!(h.take_requests(GW_A, Method::Ack).len(), 1);
    let bye = h.one_request(GW_A, Method::Bye);
    assert_eq!(bye.headers.to().and_then(|t| t.tag()), Some("gwtag"));
    assert!(h.b2bua.is_empty());
    let mut st = h.statuses(FRONT_END);
    st.sort();
    assert_eq!(st, vec![200, 487], "the client only sees its CANCEL work");
}

#[test]
fn unknown_source_is_refused() {
    let mut h = Harness::new();
    h.deliver_text(
        &client_invite("+15551234567", Some(CLIENT_SDP)),
        "203.0.113.9:5060",
    );
    assert_eq!(h.statuses("203.0.113.9:5060"), vec![100, 403]);
    assert!(h.b2bua.is_empty());
}

#[test]
fn unacceptable_sdp_is_refused_with_488() {
    let mut h = Harness::new();
    let sdp = "v=0
o=- 1 1 IN IP4 198.51.100.7
s=-
c=IN IP4 198.51.100.7
t=0 0
m=video 40000 RTP/AVP 96
a=rtpmap:96 H264/90000
";
    h.deliver_text(&client_invite("+15551234567", Some(sdp)), FRONT_END);
    assert_eq!(h.statuses(FRONT_END), vec![100, 488]);
    assert!(h.take_requests(GW_A, Method::Invite).is_empty());
    assert!(h.b2bua.is_empty());
    assert_eq!(h.b2bua.free_ports(), 50);
}

#[test]
fn delayed_offer_from_the_client_is_offered_in_our_200() {
    let mut h = Harness::new();
    h.deliver_text(&client_invite("+15551234567", None), FRONT_END);
    h.responses(FRONT_END);
    let inv = h.one_request(GW_A, Method::Invite);
    assert!(!inv.body.is_empty(), "the gateway always gets our offer");
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    assert_eq!(
        h.statuses(FRONT_END),
        vec![180],
        "no SDP to answer with: plain 180"
    );
    h.deliver_resp(
        &reply(
            &inv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        GW_A,
    );
    let ok = h.responses(FRONT_END).remove(0);
    let offer = String::from_utf8(ok.body.clone()).unwrap();
    assert!(offer.contains("opus/48000/2"), "our offer: {offer}");
    let before = add_legs(&h.take_media());
    assert_eq!(
        before.len(),
        1,
        "only the gateway leg until the ACK answers"
    );
    let mut ack = ack_for(&ok);
    ack.headers
        .push(sb_sip_msg::Header::ContentType("application/sdp".into()));
    ack.body = wire_body(
        "v=0
o=- 2 1 IN IP4 198.51.100.8
s=-
c=IN IP4 198.51.100.8
t=0 0
m=audio 41000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
",
    );
    h.deliver_req(&ack, FRONT_END);
    let cmds = h.take_media();
    let legs = add_legs(&cmds);
    assert_eq!(legs.len(), 1);
    assert_eq!(legs[0].1.remote_rtp, addr("198.51.100.8:41000"));
    assert!(cmds.iter().any(|c| matches!(c, Command::Connect { .. })));
}

#[test]
fn a_retransmitted_2xx_is_acked_again_and_a_forked_one_is_hung_up() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    answer(&mut h, &inv);
    let ok = reply(
        &inv,
        200,
        "gwtag",
        "sip:gw@192.0.2.10",
        Some(&gateway_sdp(30000, "sendrecv")),
    );
    h.deliver_resp(&ok, GW_A);
    assert_eq!(
        h.distinct_requests(GW_A, Method::Ack).len(),
        1,
        "our ACK was lost: again"
    );
    assert!(h.take_requests(GW_A, Method::Bye).is_empty());
    let other = reply(
        &inv,
        200,
        "othertag",
        "sip:gw2@192.0.2.10",
        Some(&gateway_sdp(30004, "sendrecv")),
    );
    h.deliver_resp(&other, GW_A);
    let acks = h.distinct_requests(GW_A, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].headers.to().and_then(|t| t.tag()), Some("othertag"));
    let byes = h.distinct_requests(GW_A, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.to().and_then(|t| t.tag()), Some("othertag"));
    assert_eq!(h.b2bua.len(), 1, "the call itself goes on");
    assert!(
        h.statuses(FRONT_END).is_empty(),
        "the client sees none of it"
    );
}

#[test]
fn reliable_provisionals_from_a_100rel_gateway_are_pracked() {
    let mut h = Harness::with_config(config_with("require_100rel = true"), 7);
    let inv = call_to_gateway(&mut h);
    assert_eq!(inv.headers.require().collect::<Vec<_>>(), vec!["100rel"]);
    let mut ringing = reply(
        &inv,
        183,
        "gwtag",
        "sip:gw@192.0.2.10",
        Some(&gateway_sdp(30000, "sendrecv")),
    );
    ringing
        .headers
        .push(sb_sip_msg::Header::Require("100rel".into()));
    let ringing = with_header(ringing, "RSeq", "1");
    h.deliver_resp(&ringing, GW_A);
    let prack = h.one_request(GW_A, Method::Prack);
    assert_eq!(
        prack.headers.other("RAck").collect::<Vec<_>>(),
        vec!["1 1 INVITE"]
    );
    assert_eq!(prack.headers.to().and_then(|t| t.tag()), Some("gwtag"));
    assert_eq!(h.statuses(FRONT_END), vec![183]);
    // A retransmission of the same reliable 183 is not PRACKed twice.
    h.deliver_resp(&ringing, GW_A);
    assert!(h.distinct_requests(GW_A, Method::Prack).is_empty());
}
