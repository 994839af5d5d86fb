//! Inside a connected outbound call: hold and resume, glare, INFO DTMF.

mod common;

use std::time::Duration;

use common::*;
use sb_media_api::{Command, Direction as MediaDir, LegId};
use sb_sip_msg::{Method, Request, Response};

struct Connected {
    h: Harness,
    /// The gateway's INVITE (its dialog from our side).
    inv: Request,
    /// The 200 the client got (its dialog).
    ok: Response,
    client_leg: LegId,
    gw_leg: LegId,
}

fn connected() -> Connected {
    let mut h = Harness::new();
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
    }
}

fn client_sdp(version: u32, dir: &str) -> String {
    CLIENT_SDP
        .replace("o=- 1 1", &format!("o=- 1 {version}"))
        .replace("a=sendrecv", &format!("a={dir}"))
}

/// A request from the client inside its dialog.
fn from_client(
    c: &Connected,
    method: Method,
    cseq: u32,
    branch: &str,
    sdp: Option<&str>,
) -> Request {
    in_dialog(
        method,
        &contact_of(&c.ok.headers),
        "clientcallid-1@198.51.100.7",
        c.ok.headers.from().unwrap(),
        c.ok.headers.to().unwrap(),
        cseq,
        "10.0.0.2:5060",
        branch,
        sdp,
    )
}

/// A request from the gateway inside its dialog.
fn from_gateway(
    c: &Connected,
    method: Method,
    cseq: u32,
    branch: &str,
    sdp: Option<&str>,
) -> Request {
    let gw_from: sb_sip_msg::NameAddr = format!("{};tag=gwtag", c.inv.headers.to().unwrap())
        .parse()
        .unwrap();
    in_dialog(
        method,
        &contact_of(&c.inv.headers),
        c.inv.headers.call_id().unwrap().as_str(),
        &gw_from,
        c.inv.headers.from().unwrap(),
        cseq,
        "192.0.2.10:5060",
        branch,
        sdp,
    )
}

fn updates(cmds: &[Command]) -> Vec<(LegId, MediaDir)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::UpdateLeg { leg, spec } => Some((*leg, spec.direction)),
            _ => None,
        })
        .collect()
}

fn body(m: &[u8]) -> String {
    String::from_utf8_lossy(m).to_string()
}

#[test]
fn hold_and_resume_from_the_client_reach_the_gateway() {
    let mut c = connected();
    let hold = from_client(
        &c,
        Method::Invite,
        2,
        "z9hG4bKhold",
        Some(&client_sdp(2, "sendonly")),
    );
    c.h.deliver_req(&hold, FRONT_END);
    let rs = c.h.responses(FRONT_END);
    let ok = rs
        .iter()
        .find(|r| r.status.code() == 200)
        .expect("200 to the hold");
    assert!(body(&ok.body).contains("a=recvonly"), "{}", body(&ok.body));
    assert_eq!(
        updates(&c.h.take_media()),
        vec![(c.client_leg, MediaDir::RecvOnly)]
    );
    let reinv = c.h.one_request(GW_A, Method::Invite);
    assert!(
        body(&reinv.body).contains("a=sendonly"),
        "{}",
        body(&reinv.body)
    );
    assert!(
        body(&reinv.body).contains(" 2 IN IP4 10.0.0.1"),
        "version moved on: {}",
        body(&reinv.body)
    );
    assert_eq!(reinv.headers.to().and_then(|t| t.tag()), Some("gwtag"));
    c.h.deliver_resp(
        &reply(
            &reinv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "recvonly")),
        ),
        GW_A,
    );
    assert_eq!(c.h.take_requests(GW_A, Method::Ack).len(), 1);
    assert_eq!(
        updates(&c.h.take_media()),
        vec![(c.gw_leg, MediaDir::SendOnly)]
    );
    // The client's ACK, then resume.
    let ack = from_client(&c, Method::Ack, 2, "z9hG4bKack2", None);
    c.h.deliver_req(&ack, FRONT_END);
    let resume = from_client(
        &c,
        Method::Invite,
        3,
        "z9hG4bKres",
        Some(&client_sdp(3, "sendrecv")),
    );
    c.h.deliver_req(&resume, FRONT_END);
    let rs = c.h.responses(FRONT_END);
    assert!(rs
        .iter()
        .any(|r| r.status.code() == 200 && body(&r.body).contains("a=sendrecv")));
    let reinv2 = c.h.one_request(GW_A, Method::Invite);
    assert!(body(&reinv2.body).contains("a=sendrecv"));
    assert!(reinv2.headers.cseq().unwrap().seq > reinv.headers.cseq().unwrap().seq);
    c.h.deliver_resp(
        &reply(
            &reinv2,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        GW_A,
    );
    let ups = updates(&c.h.take_media());
    assert!(ups.contains(&(c.client_leg, MediaDir::SendRecv)), "{ups:?}");
    assert!(ups.contains(&(c.gw_leg, MediaDir::SendRecv)), "{ups:?}");
}

#[test]
fn a_491_from_the_gateway_is_retried_after_the_glare_wait() {
    let mut c = connected();
    let hold = from_client(
        &c,
        Method::Invite,
        2,
        "z9hG4bKhold",
        Some(&client_sdp(2, "sendonly")),
    );
    c.h.deliver_req(&hold, FRONT_END);
    let reinv = c.h.one_request(GW_A, Method::Invite);
    c.h.deliver_resp(
        &reply(&reinv, 491, "gwtag", "sip:gw@192.0.2.10", None),
        GW_A,
    );
    c.h.take_requests(GW_A, Method::Ack);
    c.h.advance(Duration::from_millis(2000));
    assert!(
        c.h.take_requests(GW_A, Method::Invite).is_empty(),
        "we own the Call-ID: at least 2.1 s (§14.1)"
    );
    c.h.advance(Duration::from_millis(2100));
    let again = c.h.one_request(GW_A, Method::Invite);
    assert!(body(&again.body).contains("a=sendonly"));
    assert!(again.headers.cseq().unwrap().seq > reinv.headers.cseq().unwrap().seq);
}

#[test]
fn a_gateway_reinvite_crossing_ours_gets_491() {
    let mut c = connected();
    let hold = from_client(
        &c,
        Method::Invite,
        2,
        "z9hG4bKhold",
        Some(&client_sdp(2, "sendonly")),
    );
    c.h.deliver_req(&hold, FRONT_END);
    let _ours = c.h.one_request(GW_A, Method::Invite);
    let theirs = from_gateway(
        &c,
        Method::Invite,
        2,
        "z9hG4bKgwre",
        Some(&gateway_sdp(30000, "sendonly")),
    );
    c.h.deliver_req(&theirs, GW_A);
    let st: Vec<u16> = c.h.statuses(GW_A);
    assert!(st.contains(&491), "{st:?}");
}

#[test]
fn info_dtmf_from_the_client_is_sent_toward_the_gateway_leg() {
    let mut c = connected();
    let mut info = from_client(&c, Method::Info, 2, "z9hG4bKinfo", None);
    info.headers.push(sb_sip_msg::Header::ContentType(
        "application/dtmf-relay".into(),
    ));
    info.body = b"Signal=5\r\nDuration=160\r\n".to_vec();
    c.h.deliver_req(&info, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![200]);
    assert_eq!(
        c.h.take_media(),
        vec![Command::SendDtmf {
            leg: c.gw_leg,
            digit: '5',
            duration_ms: 160
        }]
    );
    assert!(
        c.h.take_requests(GW_A, Method::Info).is_empty(),
        "INFO never reaches the gateway"
    );
}

#[test]
fn an_out_of_order_cseq_is_refused_and_changes_nothing() {
    let mut c = connected();
    let bye = from_client(&c, Method::Bye, 1, "z9hG4bKold", None);
    c.h.deliver_req(&bye, FRONT_END);
    assert_eq!(c.h.statuses(FRONT_END), vec![500]);
    assert_eq!(c.h.b2bua.len(), 1);
    assert!(c.h.take_requests(GW_A, Method::Bye).is_empty());
}

#[test]
fn an_unanswered_2xx_is_retransmitted_then_the_call_ends() {
    let mut h = Harness::new();
    let inv = call_to_gateway(&mut h);
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
    assert_eq!(h.statuses(FRONT_END), vec![200]);
    h.advance(Duration::from_secs(2));
    let again = h.statuses(FRONT_END);
    assert!(
        again.len() >= 2 && again.iter().all(|s| *s == 200),
        "{again:?}"
    );
    h.advance(Duration::from_secs(40));
    assert!(
        h.b2bua.is_empty(),
        "no ACK in 64*T1: the call is over (§13.3.1.4)"
    );
    assert_eq!(h.distinct_requests(GW_A, Method::Bye).len(), 1);
    assert_eq!(h.distinct_requests(FRONT_END, Method::Bye).len(), 1);
}

#[test]
fn media_timeout_ends_the_call_on_both_sides() {
    let mut c = connected();
    c.h.b2bua
        .handle_media_event(c.h.now, sb_media_api::Event::MediaTimeout { leg: c.gw_leg });
    c.h.pump();
    assert!(c.h.b2bua.is_empty());
    assert_eq!(c.h.take_requests(GW_A, Method::Bye).len(), 1);
    assert_eq!(c.h.take_requests(FRONT_END, Method::Bye).len(), 1);
    assert!(matches!(
        c.h.take_media().as_slice(),
        [Command::DestroySession { .. }]
    ));
}

fn timed_call(refresher: &str) -> (Harness, Request) {
    let mut h = Harness::with_config(config_with("session_timer_s = 120"), 7);
    let inv = call_to_gateway(&mut h);
    let se: Vec<_> = inv.headers.other("Session-Expires").collect();
    assert_eq!(se, vec!["120"], "the gateway profile's interval");
    assert_eq!(inv.headers.other("Min-SE").collect::<Vec<_>>(), vec!["90"]);
    let ok = with_header(
        reply(
            &inv,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        "Session-Expires",
        &format!("120;refresher={refresher}"),
    );
    h.deliver_resp(&ok, GW_A);
    h.take_requests(GW_A, Method::Ack);
    let cok = h.responses(FRONT_END).remove(0);
    h.deliver_req(&ack_for(&cok), FRONT_END);
    (h, inv)
}

#[test]
fn we_refresh_the_gateway_session_at_half_the_interval() {
    let (mut h, _inv) = timed_call("uac");
    h.advance(Duration::from_secs(59));
    assert!(h.distinct_requests(GW_A, Method::Invite).is_empty());
    h.advance(Duration::from_secs(2));
    let re = h.one_request(GW_A, Method::Invite);
    assert_eq!(
        re.headers.other("Session-Expires").collect::<Vec<_>>(),
        vec!["120"]
    );
    assert!(body(&re.body).contains("a=sendrecv"));
    let ok = with_header(
        reply(
            &re,
            200,
            "gwtag",
            "sip:gw@192.0.2.10",
            Some(&gateway_sdp(30000, "sendrecv")),
        ),
        "Session-Expires",
        "120;refresher=uac",
    );
    h.deliver_resp(&ok, GW_A);
    // Refreshed: the next one is due 60 s later, and the call lives on past 120 s.
    h.advance(Duration::from_secs(65));
    assert_eq!(h.b2bua.len(), 1);
    assert_eq!(
        h.distinct_requests(GW_A, Method::Invite).len(),
        1,
        "the second refresh"
    );
    assert!(h.take_requests(GW_A, Method::Bye).is_empty());
}

#[test]
fn a_gateway_that_does_not_refresh_is_hung_up() {
    let (mut h, _inv) = timed_call("uas");
    h.advance(Duration::from_secs(80));
    assert_eq!(h.b2bua.len(), 1);
    // 120 s less min(32 s, 40 s): BYE on both sides (RFC 4028 §10).
    h.advance(Duration::from_secs(10));
    assert!(h.b2bua.is_empty());
    let bye = h.one_request(GW_A, Method::Bye);
    assert!(bye.headers.other("Reason").next().unwrap().contains("408"));
    assert_eq!(h.distinct_requests(FRONT_END, Method::Bye).len(), 1);
}

#[test]
fn an_update_hold_from_the_gateway_reaches_the_client_as_a_reinvite() {
    let mut c = connected();
    let up = from_gateway(
        &c,
        Method::Update,
        101,
        "z9hG4bKgwup",
        Some(&gateway_sdp(30000, "inactive")),
    );
    c.h.deliver_req(&up, GW_A);
    let rs = c.h.responses(GW_A);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].status.code(), 200);
    assert!(
        body(&rs[0].body).contains("a=inactive"),
        "{}",
        body(&rs[0].body)
    );
    assert_eq!(
        updates(&c.h.take_media()),
        vec![(c.gw_leg, MediaDir::Inactive)]
    );
    let re = c.h.one_request(FRONT_END, Method::Invite);
    assert!(body(&re.body).contains("a=inactive"));
    assert!(
        body(&re.body).contains("RTP/SAVP"),
        "the client leg keeps SRTP: {}",
        body(&re.body)
    );
    assert_eq!(re.headers.to().and_then(|t| t.tag()), Some("alicetag1"));
}
