//! Inbound calls: the PSTN calls in through a gateway; mediation calls the front end.

mod common;

use common::*;
use sb_media_api::Command;
use sb_sip_msg::{Method, Request};

fn gateway_invite(privacy: bool) -> String {
    let extra = if privacy { "Privacy: id\n" } else { "" };
    format!(
        "INVITE sip:4255550100@10.0.0.1:5060;user=phone SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgwin1
Max-Forwards: 70
From: \"Bob\" <sip:2065550199@192.0.2.10;user=phone>;tag=gwfrom1
To: <sip:4255550100@10.0.0.1;user=phone>
Call-ID: gwcall-1@192.0.2.10
CSeq: 101 INVITE
Contact: <sip:gw@192.0.2.10:5060>
P-Asserted-Identity: \"Bob\" <sip:2065550199@192.0.2.10;user=phone>
{extra}Content-Type: application/sdp

{}",
        gateway_sdp(30010, "sendrecv")
    )
}

const FRONT_END_ANSWER: &str = "v=0
o=fe 9 9 IN IP4 198.51.100.20
s=-
c=IN IP4 198.51.100.20
t=0 0
m=audio 42000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
";

fn to_front_end(h: &mut Harness, privacy: bool) -> Request {
    h.deliver_text(&gateway_invite(privacy), GW_A);
    assert_eq!(h.statuses(GW_A), vec![100]);
    h.one_request(FRONT_END, Method::Invite)
}

#[test]
fn inbound_call_reaches_the_front_end_with_e164_numbers_and_connects() {
    let mut h = Harness::new();
    let inv = to_front_end(&mut h, false);
    // Inbound rules of gw-a: national numbers become E.164.
    assert_eq!(
        inv.uri.to_string(),
        "sip:+14255550100@example.com;user=phone"
    );
    let from = inv.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Bob"));
    assert!(from
        .uri
        .to_string()
        .starts_with("sip:+12065550199@example.com"));
    let pai: Vec<_> = inv.headers.other("P-Asserted-Identity").collect();
    assert!(pai[0].contains("+12065550199"), "{pai:?}");
    // Our offer toward the front end: G.711 and Opus, plain RTP by default.
    let offer = String::from_utf8(inv.body.clone()).unwrap();
    assert!(
        offer.contains("RTP/AVP") && offer.contains("opus/48000/2") && offer.contains("PCMU/8000")
    );
    assert!(!offer.contains("crypto"));
    // Nothing of the gateway leg on the client side.
    let bytes = String::from_utf8_lossy(&inv.to_bytes()).to_string();
    for secret in ["gwcall-1", "gwfrom1", "192.0.2.10", "z9hG4bKgwin1"] {
        assert!(!bytes.contains(secret), "{secret} leaked:\n{bytes}");
    }

    h.deliver_resp(
        &reply(&inv, 180, "fetag", "sip:bob@10.0.0.2", None),
        FRONT_END,
    );
    assert_eq!(
        h.statuses(GW_A),
        vec![180],
        "ringing relayed; the gateway plays its own ringback"
    );
    assert!(h.take_media().is_empty());

    h.deliver_resp(
        &reply(
            &inv,
            200,
            "fetag",
            "sip:bob@10.0.0.2",
            Some(FRONT_END_ANSWER),
        ),
        FRONT_END,
    );
    assert_eq!(h.distinct_requests(FRONT_END, Method::Ack).len(), 1);
    let rs = h.responses(GW_A);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].status.code(), 200);
    let answer = String::from_utf8(rs[0].body.clone()).unwrap();
    assert!(
        answer.contains("m=audio 2000") && answer.contains("RTP/AVP 0 101"),
        "{answer}"
    );
    assert_eq!(
        rs[0].headers.call_id().unwrap().as_str(),
        "gwcall-1@192.0.2.10"
    );
    let cmds = h.take_media();
    let legs = add_legs(&cmds);
    assert_eq!(legs.len(), 2, "{cmds:?}");
    let gw = legs
        .iter()
        .find(|l| l.1.remote_rtp == addr("192.0.2.10:30010"))
        .unwrap();
    let fe = legs
        .iter()
        .find(|l| l.1.remote_rtp == addr("198.51.100.20:42000"))
        .unwrap();
    assert!(!gw.1.symmetric_latching, "a gateway's SDP is trusted");
    assert!(fe.1.symmetric_latching);
    assert!(fe.1.ice.is_none(), "an answer without ICE runs no ICE");
    assert!(cmds.contains(&Command::Connect { a: gw.0, b: fe.0 }));

    // The gateway ACKs; the front end hangs up; the gateway gets the BYE.
    let ack = "ACK sip:mediation@10.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgwack
Max-Forwards: 70
From: \"Bob\" <sip:2065550199@192.0.2.10;user=phone>;tag=gwfrom1
To: <sip:4255550100@10.0.0.1;user=phone>;tag=TAG
Call-ID: gwcall-1@192.0.2.10
CSeq: 101 ACK
"
    .replace("TAG", rs[0].headers.to().unwrap().tag().unwrap());
    h.deliver_text(&ack, GW_A);
    let fe_from: sb_sip_msg::NameAddr = format!("{};tag=fetag", inv.headers.to().unwrap())
        .parse()
        .unwrap();
    let bye = in_dialog(
        Method::Bye,
        &contact_of(&inv.headers),
        inv.headers.call_id().unwrap().as_str(),
        &fe_from,
        inv.headers.from().unwrap(),
        1,
        "10.0.0.2:5060",
        "z9hG4bKfebye",
        None,
    );
    h.deliver_req(&bye, FRONT_END);
    assert_eq!(h.statuses(FRONT_END), vec![200]);
    let gbye = h.one_request(GW_A, Method::Bye);
    assert_eq!(gbye.uri.to_string(), "sip:gw@192.0.2.10:5060");
    assert_eq!(gbye.headers.to().and_then(|t| t.tag()), Some("gwfrom1"));
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_withheld_caller_is_asserted_but_anonymous() {
    let mut h = Harness::new();
    let inv = to_front_end(&mut h, true);
    let from = inv.headers.from().unwrap().uri.to_string();
    assert!(from.contains("anonymous"), "{from}");
    assert_eq!(inv.headers.other("Privacy").collect::<Vec<_>>(), vec!["id"]);
    assert!(inv
        .headers
        .other("P-Asserted-Identity")
        .next()
        .unwrap()
        .contains("+12065550199"));
}

#[test]
fn a_front_end_refusal_goes_back_to_the_gateway() {
    let mut h = Harness::new();
    let inv = to_front_end(&mut h, false);
    h.deliver_resp(
        &reply(&inv, 404, "fetag", "sip:x@10.0.0.2", None),
        FRONT_END,
    );
    assert_eq!(h.statuses(GW_A), vec![404]);
    assert!(h.b2bua.is_empty());
    // Inbound calls never fail over: there is one front end.
    assert!(h.take_requests(FRONT_END, Method::Invite).is_empty());
}

#[test]
fn cancel_from_the_gateway_cancels_the_front_end() {
    let mut h = Harness::new();
    let inv = to_front_end(&mut h, false);
    h.deliver_resp(
        &reply(&inv, 180, "fetag", "sip:bob@10.0.0.2", None),
        FRONT_END,
    );
    h.responses(GW_A);
    h.deliver_text(
        "CANCEL sip:4255550100@10.0.0.1:5060;user=phone SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgwin1
Max-Forwards: 70
From: \"Bob\" <sip:2065550199@192.0.2.10;user=phone>;tag=gwfrom1
To: <sip:4255550100@10.0.0.1;user=phone>
Call-ID: gwcall-1@192.0.2.10
CSeq: 101 CANCEL
",
        GW_A,
    );
    let mut st = h.statuses(GW_A);
    st.sort();
    assert_eq!(st, vec![200, 487]);
    let c = h.one_request(FRONT_END, Method::Cancel);
    h.deliver_resp(
        &reply(&c, 200, "fetag", "sip:bob@10.0.0.2", None),
        FRONT_END,
    );
    h.deliver_resp(
        &reply(&inv, 487, "fetag", "sip:bob@10.0.0.2", None),
        FRONT_END,
    );
    assert!(h.b2bua.is_empty());
}

#[test]
fn inbound_calls_count_against_the_gateways_circuits() {
    let mut h = Harness::new();
    let gw = sb_gateways::GatewayName::from("gw-a");
    let inv = to_front_end(&mut h, false);
    assert_eq!(h.b2bua.monitor().state(&gw).unwrap().active_calls, 1);
    h.deliver_resp(
        &reply(&inv, 486, "fetag", "sip:x@10.0.0.2", None),
        FRONT_END,
    );
    assert_eq!(h.b2bua.monitor().state(&gw).unwrap().active_calls, 0);
}

#[test]
fn a_required_extension_we_lack_is_refused_with_420() {
    let mut h = Harness::new();
    let text =
        gateway_invite(false).replace("Max-Forwards: 70\n", "Max-Forwards: 70\nRequire: 100rel\n");
    h.deliver_text(&text, GW_A);
    let rs = h.responses(GW_A);
    assert_eq!(
        rs.iter().map(|r| r.status.code()).collect::<Vec<_>>(),
        vec![100, 420]
    );
    assert_eq!(
        rs[1]
            .headers
            .0
            .iter()
            .filter(|h| matches!(h, sb_sip_msg::Header::Unsupported(u) if u == "100rel"))
            .count(),
        1
    );
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_gateway_invite_without_sdp_gets_our_offer_in_the_200() {
    let mut h = Harness::new();
    let text = gateway_invite(false);
    let text = &text[..text.find("Content-Type").unwrap()];
    h.deliver_text(text, GW_A);
    assert_eq!(h.statuses(GW_A), vec![100]);
    let inv = h.one_request(FRONT_END, Method::Invite);
    h.deliver_resp(
        &reply(
            &inv,
            200,
            "fetag",
            "sip:bob@10.0.0.2",
            Some(FRONT_END_ANSWER),
        ),
        FRONT_END,
    );
    let ok = h.responses(GW_A).remove(0);
    let offer = String::from_utf8(ok.body.clone()).unwrap();
    assert!(offer.contains("RTP/AVP 0 8 101"), "gw-a's codecs: {offer}");
    assert_eq!(
        add_legs(&h.take_media()).len(),
        1,
        "the gateway leg waits for the ACK's answer"
    );
    let ack = format!(
        "ACK sip:mediation@10.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgwack
Max-Forwards: 70
From: \"Bob\" <sip:2065550199@192.0.2.10;user=phone>;tag=gwfrom1
To: <sip:4255550100@10.0.0.1;user=phone>;tag={}
Call-ID: gwcall-1@192.0.2.10
CSeq: 101 ACK
Content-Type: application/sdp

{}",
        ok.headers.to().unwrap().tag().unwrap(),
        gateway_sdp(30010, "sendrecv")
            .replace("0 101", "8")
            .replace(":0 PCMU/8000", ":8 PCMA/8000")
            .replace("a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n", "")
    );
    h.deliver_text(&ack, GW_A);
    let cmds = h.take_media();
    let legs = add_legs(&cmds);
    assert_eq!(legs.len(), 1, "{cmds:?}");
    assert_eq!(legs[0].1.codec.name, "PCMA");
    assert_eq!(legs[0].1.remote_rtp, addr("192.0.2.10:30010"));
    assert!(cmds.iter().any(|c| matches!(c, Command::Connect { .. })));
}

/// A client that runs ICE may send no media to an offer without it (baresip 1.0 with
/// `medianat=ice` never starts its stream), so our offer toward the front end carries
/// host candidates for RTP and RTCP, and an answer with ICE makes us the controlling
/// agent (RFC 8445 §6.1.1).
#[test]
fn the_offer_toward_the_front_end_carries_ice_and_an_ice_answer_runs_it() {
    let mut h = Harness::new();
    let inv = to_front_end(&mut h, false);
    let offer = String::from_utf8(inv.body.clone()).unwrap();
    let port: u16 = offer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("an audio m= line");
    let ufrag = offer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("a=ice-ufrag in our offer")
        .to_string();
    assert!(offer.contains("a=ice-pwd:"), "{offer}");
    for (component, p) in [(1, port), (2, port + 1)] {
        let want = format!(" {component} UDP ");
        assert!(
            offer.lines().any(|l| l.starts_with("a=candidate:")
                && l.contains(&want)
                && l.contains(&format!("10.0.0.1 {p} typ host"))),
            "no host candidate for component {component} on port {p}:\n{offer}"
        );
    }

    let ice_answer = FRONT_END_ANSWER.replace(
        "a=sendrecv\n",
        "a=sendrecv\na=ice-ufrag:fe01\na=ice-pwd:fepassword0123456789abcd\n\
         a=candidate:1 1 UDP 2130706431 198.51.100.20 42000 typ host\n\
         a=candidate:1 2 UDP 2130706430 198.51.100.20 42001 typ host\n",
    );
    h.deliver_resp(
        &reply(&inv, 200, "fetag", "sip:bob@10.0.0.2", Some(&ice_answer)),
        FRONT_END,
    );
    let cmds = h.take_media();
    let legs = add_legs(&cmds);
    let fe = legs
        .iter()
        .find(|l| l.1.remote_rtp == addr("198.51.100.20:42000"))
        .unwrap_or_else(|| panic!("a leg toward the client: {cmds:?}"));
    let ice = fe.1.ice.as_ref().expect("ICE on the client leg");
    assert!(ice.controlling, "the offerer controls");
    assert_eq!(ice.local_ufrag, ufrag);
    assert_eq!(ice.remote_ufrag, "fe01");
    assert_eq!(ice.remote_candidates.len(), 2);
    let gw = legs
        .iter()
        .find(|l| l.1.remote_rtp == addr("192.0.2.10:30010"))
        .unwrap();
    assert!(gw.1.ice.is_none(), "no ICE toward the gateway");
}
