//! Transfer by the client side of an outbound call: REFER is served by mediation, the
//! gateway sees only re-INVITEs.

mod common;

use std::time::Duration;

use common::*;
use sb_b2bua::B2buaEvent;
use sb_media_api::{Command, LegId};
use sb_sip_msg::{Method, Request, Response};

const CLIENT_CALL_ID: &str = "clientcallid-1@198.51.100.7";

struct Connected {
    h: Harness,
    inv: Request,
    ok: Response,
    client_leg: LegId,
    gw_leg: LegId,
    free_ports: usize,
}

fn connected() -> Connected {
    let mut h = Harness::new();
    let free_ports = h.b2bua.free_ports();
    let inv = call_to_gateway(&mut h);
    let ok = answer(&mut h, &inv);
    let legs = add_legs(&h.take_media());
    let client_leg = legs.iter().find(|l| l.1.codec.name == "opus").unwrap().0;
    let gw_leg = legs.iter().find(|l| l.1.codec.name == "PCMU").unwrap().0;
    Connected {
        h,
        inv,
        ok,
        client_leg,
        gw_leg,
        free_ports,
    }
}

fn body(m: &[u8]) -> String {
    String::from_utf8_lossy(m).to_string()
}

/// A REFER from the client in its dialog, with extra header lines.
fn refer(c: &Connected, cseq: u32, refer_to: &str) -> Request {
    let mut r = in_dialog(
        Method::Refer,
        &contact_of(&c.ok.headers),
        CLIENT_CALL_ID,
        c.ok.headers.from().unwrap(),
        c.ok.headers.to().unwrap(),
        cseq,
        "10.0.0.2:5060",
        &format!("z9hG4bKrefer{cseq}"),
        None,
    );
    for (name, value) in [
        ("Refer-To", refer_to),
        ("Referred-By", "<sip:alice@example.com>"),
    ] {
        r.headers
            .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
                name: name.into(),
                value: format!(" {value}"),
            }));
    }
    r
}

/// The gateway answers a re-INVITE of ours with the mirror of its direction.
fn gateway_accepts(c: &mut Connected, dir: &str) -> Request {
    let reinv = c.h.one_request(GW_A, Method::Invite);
    assert!(
        body(&reinv.body).contains(&format!("a={dir}")),
        "{}",
        body(&reinv.body)
    );
    let answer_dir = match dir {
        "sendonly" => "recvonly",
        d => d,
    };
    c.h.deliver_resp(
        &reply(
            &reinv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, answer_dir)),
        ),
        GW_A,
    );
    assert_eq!(c.h.take_requests(GW_A, Method::Ack).len(), 1);
    reinv
}

/// The NOTIFYs that went to the transferor, answered 200 as a client would:
/// (sipfrag, Subscription-State).
fn notifies(h: &mut Harness) -> Vec<(String, String)> {
    let all = h.distinct_requests(FRONT_END, Method::Notify);
    for n in &all {
        h.deliver_resp(
            &reply(n, 200, "x", "sip:alice@198.51.100.7", None),
            FRONT_END,
        );
    }
    all.into_iter()
        .map(|n| {
            assert_eq!(n.headers.call_id().unwrap().as_str(), CLIENT_CALL_ID);
            assert!(n.headers.other("Event").any(|e| e.starts_with("refer")));
            let state = n.headers.other("Subscription-State").next().unwrap();
            (body(&n.body).trim().to_string(), state.to_string())
        })
        .collect()
}

/// The target's answer: a secure client without ICE, answering our offer's first codec.
fn target_sdp(offer: &str) -> String {
    let m = offer.lines().find(|l| l.starts_with("m=audio")).unwrap();
    let pt = m.split(' ').nth(3).unwrap();
    let rtpmap = offer
        .lines()
        .find(|l| l.starts_with(&format!("a=rtpmap:{pt} ")))
        .unwrap();
    let crypto = offer
        .lines()
        .find(|l| l.starts_with("a=crypto:"))
        .map(|l| {
            let suite = l.split(' ').nth(1).unwrap();
            format!("a=crypto:1 {suite} inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\n",)
        })
        .unwrap_or_default();
    let proto = m.split(' ').nth(2).unwrap();
    format!(
        "v=0
o=- 9 9 IN IP4 198.51.100.9
s=-
c=IN IP4 198.51.100.9
t=0 0
m=audio 42000 {proto} {pt}
{rtpmap}
{crypto}a=sendrecv
"
    )
}

/// Up to the target's INVITE: 202, NOTIFY 100, the gateway on hold.
fn start_transfer(c: &mut Connected, refer_to: &str) -> Request {
    let r = refer(c, 2, refer_to);
    c.h.deliver_req(&r, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![202]);
    let n = notifies(&mut c.h);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].0, "SIP/2.0 100 Trying");
    assert!(n[0].1.starts_with("active"), "{n:?}");
    gateway_accepts(c, "sendonly");
    let inv = c.h.one_request(FRONT_END, Method::Invite);
    assert_ne!(inv.headers.call_id().unwrap().as_str(), CLIENT_CALL_ID);
    inv
}

fn assert_gateway_saw_no_transfer(h: &Harness, target_inv: &Request) {
    let gw = String::from_utf8_lossy(&h.gateway_bytes).to_string();
    for secret in [
        "REFER",
        "Refer-To",
        "Referred-By",
        "NOTIFY",
        "bob",
        "198.51.100",
        "bobtag",
        target_inv.headers.call_id().unwrap().as_str(),
        target_inv.headers.from().unwrap().tag().unwrap(),
        CLIENT_CALL_ID,
    ] {
        assert!(
            !gw.contains(secret),
            "{secret:?} reached the gateway:\n{gw}"
        );
    }
}

#[test]
fn blind_transfer_connects_the_gateway_to_the_target() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    assert_eq!(inv.uri.to_string(), "sip:bob@example.com");
    let from = inv.headers.from().unwrap().to_string();
    assert!(
        from.contains("+15551234567"),
        "the PSTN party calls: {from}"
    );
    assert_eq!(
        inv.headers.other("Referred-By").next(),
        Some("<sip:alice@example.com>")
    );
    let offer = body(&inv.body);
    assert!(offer.contains("c=IN IP4 10.0.0.1"), "{offer}");
    c.h.deliver_resp(
        &reply(&inv, 180, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    assert!(notifies(&mut c.h).is_empty());
    c.h.take_media();
    c.h.deliver_resp(
        &reply(
            &inv,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    let acks = c.h.take_requests(FRONT_END, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].headers.call_id(), inv.headers.call_id());
    // The engine: the old pair apart, the target's leg joined to the gateway's.
    let media = c.h.take_media();
    let new_leg = add_legs(&media)[0].0;
    assert!(media.contains(&Command::Disconnect {
        a: c.client_leg,
        b: c.gw_leg
    }));
    assert!(media.contains(&Command::RemoveLeg { leg: c.client_leg }));
    assert!(
        media.contains(&Command::Connect {
            a: new_leg,
            b: c.gw_leg
        }) || media.contains(&Command::Connect {
            a: c.gw_leg,
            b: new_leg
        })
    );
    gateway_accepts(&mut c, "sendrecv");
    let n = notifies(&mut c.h);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, "SIP/2.0 200 OK");
    assert!(n[0].1.starts_with("terminated"), "{n:?}");
    let bye = c.h.one_request(FRONT_END, Method::Bye);
    assert_eq!(bye.headers.call_id().unwrap().as_str(), CLIENT_CALL_ID);
    assert!(c
        .h
        .events
        .iter()
        .any(|e| matches!(e, B2buaEvent::CallTransferred { .. })));
    assert_gateway_saw_no_transfer(&c.h, &inv);
    // The gateway hangs up: the BYE goes to the target, and nothing is left.
    let gw_from: sb_sip_msg::NameAddr = format!("{};tag=gwtag", c.inv.headers.to().unwrap())
        .parse()
        .unwrap();
    let gw_bye = in_dialog(
        Method::Bye,
        &contact_of(&c.inv.headers),
        c.inv.headers.call_id().unwrap().as_str(),
        &gw_from,
        c.inv.headers.from().unwrap(),
        9,
        "192.0.2.10:5060",
        "z9hG4bKgwbye",
        None,
    );
    c.h.deliver_req(&gw_bye, GW_A);
    assert_eq!(c.h.statuses(GW_A), vec![200]);
    let bye = c.h.one_request(FRONT_END, Method::Bye);
    assert_eq!(bye.headers.call_id(), inv.headers.call_id());
    assert!(c.h.b2bua.is_empty());
    assert_eq!(c.h.b2bua.free_ports(), c.free_ports);
}

#[test]
fn a_busy_target_leaves_the_call_as_it_was() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    c.h.take_media();
    c.h.deliver_resp(
        &reply(&inv, 486, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    assert_eq!(c.h.take_requests(FRONT_END, Method::Ack).len(), 1);
    let n = notifies(&mut c.h);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, "SIP/2.0 486 Busy Here");
    assert!(n[0].1.starts_with("terminated"));
    gateway_accepts(&mut c, "sendrecv");
    let media = c.h.take_media();
    assert!(
        !media.iter().any(|m| matches!(
            m,
            Command::Disconnect { .. } | Command::RemoveLeg { .. } | Command::AddLeg { .. }
        )),
        "{media:?}"
    );
    assert!(c.h.take_requests(FRONT_END, Method::Bye).is_empty());
    assert_eq!(c.h.b2bua.len(), 1);
    assert_gateway_saw_no_transfer(&c.h, &inv);
    // The transferor may try again once the first is over.
    let again = refer(&c, 3, "<sip:carol@example.com>");
    c.h.deliver_req(&again, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![202]);
}

#[test]
fn an_unanswered_target_is_cancelled_and_the_transferor_told_408() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    c.h.deliver_resp(
        &reply(&inv, 180, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    c.h.advance(sb_b2bua::TRANSFER_NO_ANSWER - Duration::from_secs(1));
    assert!(c.h.take_requests(FRONT_END, Method::Cancel).is_empty());
    c.h.advance(Duration::from_secs(2));
    let cancel = c.h.one_request(FRONT_END, Method::Cancel);
    assert_eq!(cancel.headers.call_id(), inv.headers.call_id());
    c.h.deliver_resp(
        &reply(&inv, 487, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    let n = notifies(&mut c.h);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].0, "SIP/2.0 408 Request Timeout");
    gateway_accepts(&mut c, "sendrecv");
    assert_eq!(c.h.b2bua.len(), 1);
}

#[test]
fn a_silent_target_times_out_as_408() {
    let mut c = connected();
    let _inv = start_transfer(&mut c, "<sip:bob@example.com>");
    c.h.advance(Duration::from_secs(40));
    let n = notifies(&mut c.h);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].0, "SIP/2.0 408 Request Timeout");
    gateway_accepts(&mut c, "sendrecv");
}

#[test]
fn refer_before_the_call_is_answered_is_refused() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
    h.deliver_resp(&reply(&inv, 180, "gwtag", "sip:gw@192.0.2.10", None), GW_A);
    let ringing = h
        .responses(FRONT_END)
        .into_iter()
        .find(|r| matches!(r.status.code(), 180 | 183))
        .expect("ringing reaches the client");
    let mut r = in_dialog(
        Method::Refer,
        &contact_of(&ringing.headers),
        CLIENT_CALL_ID,
        ringing.headers.from().unwrap(),
        ringing.headers.to().unwrap(),
        2,
        "10.0.0.2:5060",
        "z9hG4bKearly",
        None,
    );
    r.headers
        .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
            name: "Refer-To".into(),
            value: " <sip:bob@example.com>".into(),
        }));
    h.deliver_req(&r, FRONT_END);
    let st = h.statuses(FRONT_END);
    assert_eq!(st, vec![403], "{st:?}");
    assert!(h.take_requests(FRONT_END, Method::Invite).is_empty());
    assert!(h.take_requests(GW_A, Method::Invite).is_empty());
}

#[test]
fn a_second_refer_while_one_runs_gets_491() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    let again = refer(&c, 3, "<sip:carol@example.com>");
    c.h.deliver_req(&again, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![491]);
    assert!(c.h.take_requests(FRONT_END, Method::Invite).is_empty());
    assert!(c.h.take_requests(GW_A, Method::Invite).is_empty());
    assert!(notifies(&mut c.h).is_empty());
    // The first goes on.
    c.h.deliver_resp(
        &reply(&inv, 486, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    assert_eq!(notifies(&mut c.h)[0].0, "SIP/2.0 486 Busy Here");
}

#[test]
fn refer_without_a_usable_refer_to_is_refused() {
    let mut c = connected();
    let r = refer(&c, 2, "<mailto:bob@example.com>");
    c.h.deliver_req(&r, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![416]);
    let mut r = refer(&c, 3, "<sip:bob@example.com>");
    r.headers.remove_other("Refer-To");
    c.h.deliver_req(&r, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![400]);
    assert!(c.h.take_requests(GW_A, Method::Invite).is_empty());
}

#[test]
fn refer_from_the_gateway_is_not_served() {
    let mut c = connected();
    let gw_from: sb_sip_msg::NameAddr = format!("{};tag=gwtag", c.inv.headers.to().unwrap())
        .parse()
        .unwrap();
    let mut r = in_dialog(
        Method::Refer,
        &contact_of(&c.inv.headers),
        c.inv.headers.call_id().unwrap().as_str(),
        &gw_from,
        c.inv.headers.from().unwrap(),
        2,
        "192.0.2.10:5060",
        "z9hG4bKgwrefer",
        None,
    );
    r.headers
        .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
            name: "Refer-To".into(),
            value: " <sip:+15550009999@192.0.2.10>".into(),
        }));
    c.h.deliver_req(&r, GW_A);
    assert_eq!(c.h.statuses(GW_A), vec![501]);
    assert!(c.h.take(FRONT_END).is_empty());
}

#[test]
fn attended_transfer_carries_replaces_to_the_target() {
    let mut c = connected();
    let inv = start_transfer(
        &mut c,
        "<sip:bob@example.com?Replaces=consult1%40198.51.100.7%3Bto-tag%3Dbt1%3Bfrom-tag%3Dat1>",
    );
    assert_eq!(inv.uri.to_string(), "sip:bob@example.com");
    assert_eq!(
        inv.headers.other("Replaces").next(),
        Some("consult1@198.51.100.7;to-tag=bt1;from-tag=at1")
    );
    let offer = body(&inv.body);
    c.h.deliver_resp(
        &reply(
            &inv,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    gateway_accepts(&mut c, "sendrecv");
    assert_eq!(notifies(&mut c.h)[0].0, "SIP/2.0 200 OK");
    assert_gateway_saw_no_transfer(&c.h, &inv);
}

#[test]
fn a_transferor_that_hangs_up_after_202_leaves_the_call_to_the_target() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    let bye = in_dialog(
        Method::Bye,
        &contact_of(&c.ok.headers),
        CLIENT_CALL_ID,
        c.ok.headers.from().unwrap(),
        c.ok.headers.to().unwrap(),
        3,
        "10.0.0.2:5060",
        "z9hG4bKearlybye",
        None,
    );
    c.h.deliver_req(&bye, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![200]);
    assert!(
        c.h.take_requests(GW_A, Method::Bye).is_empty(),
        "the gateway stays"
    );
    let offer = body(&inv.body);
    c.h.deliver_resp(
        &reply(
            &inv,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    gateway_accepts(&mut c, "sendrecv");
    assert!(notifies(&mut c.h).is_empty());
    assert!(c.h.take_requests(FRONT_END, Method::Bye).is_empty());
    assert_eq!(c.h.b2bua.len(), 1);
}

#[test]
fn a_transferor_gone_and_a_failed_target_end_the_call() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    let bye = in_dialog(
        Method::Bye,
        &contact_of(&c.ok.headers),
        CLIENT_CALL_ID,
        c.ok.headers.from().unwrap(),
        c.ok.headers.to().unwrap(),
        3,
        "10.0.0.2:5060",
        "z9hG4bKearlybye",
        None,
    );
    c.h.deliver_req(&bye, FRONT_END);
    c.h.deliver_resp(
        &reply(&inv, 480, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    assert_eq!(c.h.take_requests(GW_A, Method::Bye).len(), 1);
    assert!(c.h.b2bua.is_empty());
    assert_eq!(c.h.b2bua.free_ports(), c.free_ports);
}

/// An inbound call (gateway → front end) whose client answers and then transfers: the
/// client leg is the one we called, and the target sees the PSTN caller calling.
#[test]
fn an_inbound_call_transferred_by_its_client_reaches_the_target_from_the_caller() {
    let mut h = Harness::new();
    let free_ports = h.b2bua.free_ports();
    h.deliver_text(
        &format!(
            "INVITE sip:4255550100@10.0.0.1:5060;user=phone SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKgwin1
Max-Forwards: 70
From: \"Carol\" <sip:2065550199@192.0.2.10;user=phone>;tag=gwfrom1
To: <sip:4255550100@10.0.0.1;user=phone>
Call-ID: gwcall-1@192.0.2.10
CSeq: 101 INVITE
Contact: <sip:gw@192.0.2.10:5060>
Content-Type: application/sdp

{}",
            gateway_sdp(30010, "sendrecv")
        ),
        GW_A,
    );
    let inv = h.one_request(FRONT_END, Method::Invite);
    let offer = body(&inv.body);
    h.deliver_resp(
        &reply(
            &inv,
            200,
            "fetag",
            "sip:alice@10.0.0.2",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    assert_eq!(h.distinct_requests(FRONT_END, Method::Ack).len(), 1);
    let ok = h
        .responses(GW_A)
        .into_iter()
        .find(|r| r.status.code() == 200)
        .unwrap();
    h.deliver_req(
        &in_dialog(
            Method::Ack,
            &contact_of(&ok.headers),
            "gwcall-1@192.0.2.10",
            ok.headers.from().unwrap(),
            ok.headers.to().unwrap(),
            101,
            "192.0.2.10:5060",
            "z9hG4bKgwack",
            None,
        ),
        GW_A,
    );
    let legs = add_legs(&h.take_media());
    let gw_leg = legs.iter().find(|l| l.1.codec.name == "PCMU").unwrap().0;
    // The client refers; it is the UAS of the dialog we made.
    let mut r = in_dialog(
        Method::Refer,
        &contact_of(&inv.headers),
        inv.headers.call_id().unwrap().as_str(),
        &format!("{};tag=fetag", inv.headers.to().unwrap())
            .parse()
            .unwrap(),
        inv.headers.from().unwrap(),
        1,
        "10.0.0.2:5060",
        "z9hG4bKinrefer",
        None,
    );
    r.headers
        .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
            name: "Refer-To".into(),
            value: " <sip:bob@example.com>".into(),
        }));
    h.deliver_req(&r, FRONT_END);
    assert_eq!(h.statuses(FRONT_END), vec![202]);
    let trying = h.distinct_requests(FRONT_END, Method::Notify);
    assert_eq!(trying.len(), 1);
    assert_eq!(trying[0].headers.call_id(), inv.headers.call_id());
    let hold = h.one_request(GW_A, Method::Invite);
    assert!(body(&hold.body).contains("a=sendonly"));
    h.deliver_resp(
        &reply(
            &hold,
            200,
            "gwfrom1",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30010, "recvonly")),
        ),
        GW_A,
    );
    let target = h.one_request(FRONT_END, Method::Invite);
    let from = target.headers.from().unwrap().to_string();
    assert!(
        from.contains("+12065550199"),
        "the PSTN caller calls the target: {from}"
    );
    assert!(target
        .headers
        .other("P-Asserted-Identity")
        .any(|p| p.contains("+12065550199")));
    let offer = body(&target.body);
    h.take_media();
    h.deliver_resp(
        &reply(
            &target,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    let media = h.take_media();
    let new_leg = add_legs(&media)[0].0;
    assert!(
        media.contains(&Command::Connect {
            a: gw_leg,
            b: new_leg
        }) || media.contains(&Command::Connect {
            a: new_leg,
            b: gw_leg
        }),
        "{media:?}"
    );
    let resume = h.one_request(GW_A, Method::Invite);
    assert!(body(&resume.body).contains("a=sendrecv"));
    let byes = h.distinct_requests(FRONT_END, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.call_id(), inv.headers.call_id());
    assert_gateway_saw_no_transfer(&h, &target);
    // A retransmitted 2xx from the target is ACKed again.
    h.take_requests(FRONT_END, Method::Ack);
    h.deliver_resp(
        &reply(
            &target,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    assert_eq!(h.take_requests(FRONT_END, Method::Ack).len(), 1);
    // The caller hangs up: the target gets the BYE.
    h.deliver_resp(
        &reply(
            &resume,
            200,
            "gwfrom1",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30010, "sendrecv")),
        ),
        GW_A,
    );
    let gw_bye = in_dialog(
        Method::Bye,
        &contact_of(&ok.headers),
        "gwcall-1@192.0.2.10",
        ok.headers.from().unwrap(),
        ok.headers.to().unwrap(),
        102,
        "192.0.2.10:5060",
        "z9hG4bKgwbye",
        None,
    );
    h.deliver_req(&gw_bye, GW_A);
    let bye = h.one_request(FRONT_END, Method::Bye);
    assert_eq!(bye.headers.call_id(), target.headers.call_id());
    assert!(h.b2bua.is_empty());
    assert_eq!(h.b2bua.free_ports(), free_ports);
}

#[test]
fn a_target_answering_after_the_call_ended_is_acked_and_hung_up() {
    let mut c = connected();
    let inv = start_transfer(&mut c, "<sip:bob@example.com>");
    c.h.deliver_resp(
        &reply(&inv, 180, "bobtag", "sip:bob@198.51.100.9", None),
        FRONT_END,
    );
    let gw_from: sb_sip_msg::NameAddr = format!("{};tag=gwtag", c.inv.headers.to().unwrap())
        .parse()
        .unwrap();
    let gw_bye = in_dialog(
        Method::Bye,
        &contact_of(&c.inv.headers),
        c.inv.headers.call_id().unwrap().as_str(),
        &gw_from,
        c.inv.headers.from().unwrap(),
        9,
        "192.0.2.10:5060",
        "z9hG4bKgwbye",
        None,
    );
    c.h.deliver_req(&gw_bye, GW_A);
    assert!(c.h.b2bua.is_empty());
    let cancel = c.h.one_request(FRONT_END, Method::Cancel);
    assert_eq!(cancel.headers.call_id(), inv.headers.call_id());
    c.h.take_requests(FRONT_END, Method::Bye);
    // The target's 200 crossed the CANCEL.
    let offer = body(&inv.body);
    c.h.deliver_resp(
        &reply(
            &inv,
            200,
            "bobtag",
            "sip:bob@198.51.100.9",
            Some(&target_sdp(&offer)),
        ),
        FRONT_END,
    );
    assert_eq!(c.h.take_requests(FRONT_END, Method::Ack).len(), 1);
    let bye = c.h.one_request(FRONT_END, Method::Bye);
    assert_eq!(bye.headers.call_id(), inv.headers.call_id());
    assert_eq!(c.h.b2bua.free_ports(), c.free_ports);
}
